/**
 * The desktop host: one window over the same router as the web shell and the CLI.
 *
 * Security (Electron's checklist): the renderer is sandboxed with context isolation and no Node; it reaches the
 * main process only through the preload's `window.lab`, whose two channels (invoke, pick a path) check that the
 * sender is our own page; navigation and new windows are refused; the page carries a CSP. electronPolicy.ts holds
 * the rest: only the built files in a packaged app, every permission denied, external links only to allow-listed
 * hosts.
 */
import path from 'node:path'
import { app, BrowserWindow, dialog, ipcMain, session, shell, type IpcMainInvokeEvent, type WebFrameMain } from 'electron'
import { openLab, type Lab } from '../lab'
import { errorText } from '../shared/format'
import { LabError } from '../shared/errors'
import { allowExternal, permissionGranted, rendererUrl as policyRendererUrl } from './electronPolicy'

export const INVOKE_CHANNEL = 'lab:invoke'
export const PICK_CHANNEL = 'lab:pick'
export const EVENT_CHANNEL = 'lab:event'

function rendererUrl(): string {
  // electron-vite sets ELECTRON_RENDERER_URL in dev (vite's server); a packaged app always loads its own file.
  return policyRendererUrl({ isPackaged: app.isPackaged, env: process.env, dir: __dirname })
}

function isTrustedSender(frame: WebFrameMain | null): boolean {
  if (!frame) return false
  const expected = new URL(rendererUrl())
  try {
    const actual = new URL(frame.url)
    return expected.protocol === 'file:' ? actual.protocol === 'file:' && actual.pathname === expected.pathname : actual.origin === expected.origin
  } catch {
    return false
  }
}

function createWindow(lab: Lab): BrowserWindow {
  const win = new BrowserWindow({
    width: 1280,
    height: 800,
    minWidth: 960,
    minHeight: 600,
    title: 'LayerLab',
    show: false,
    webPreferences: {
      preload: path.join(__dirname, '../preload/index.js'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true
    }
  })
  win.once('ready-to-show', () => win.show())
  win.webContents.on('will-navigate', (event, url) => {
    if (url !== win.webContents.getURL()) event.preventDefault()
  })
  win.webContents.setWindowOpenHandler(({ url }) => {
    if (allowExternal(url)) void shell.openExternal(url)
    return { action: 'deny' }
  })
  win.webContents.on('will-attach-webview', (event) => event.preventDefault())
  const unsubscribe = lab.events.subscribe((event, payload) => {
    if (!win.isDestroyed()) win.webContents.send(EVENT_CHANNEL, event, payload)
  })
  win.on('closed', unsubscribe)
  void win.loadURL(rendererUrl())
  return win
}

export function startDesktop(): void {
  app.setName('LayerLab')
  if (!app.requestSingleInstanceLock()) {
    app.quit()
    return
  }
  let lab: Lab | undefined
  app
    .whenReady()
    .then(async () => {
      // The data home: LAYERLAB_HOME, else userData — the folder the CLI and web shell also default to.
      session.defaultSession.setPermissionRequestHandler((_contents, permission, callback) => callback(permissionGranted(permission)))
      session.defaultSession.setPermissionCheckHandler((_contents, permission) => permissionGranted(permission))
      const home = process.env.LAYERLAB_HOME || app.getPath('userData')
      lab = await openLab({ home }).catch(async (error: unknown) => {
        // The store saved in the app's setting cannot be opened (a server down, a changed password): say so in one
        // line and open this computer's file instead, so that the setting can be changed; a store given by
        // LAYERLAB_STORE is the person's explicit choice and fails the start as any other error does.
        if (process.env.LAYERLAB_STORE || !(error instanceof LabError)) throw error
        await dialog.showMessageBox({
          type: 'warning',
          title: 'LayerLab',
          message: 'The saved history store could not be opened',
          detail: `${error.message}\n\nLayerLab opens the SQLite file on this computer instead; the status bar's "history" changes the setting.`
        })
        return openLab({ home, store: 'sqlite' })
      })
      const current = lab
      ipcMain.handle(INVOKE_CHANNEL, (event: IpcMainInvokeEvent, name: unknown, args: unknown) => {
        if (!isTrustedSender(event.senderFrame)) return { ok: false, error: { code: 'bad_request', message: 'refused: untrusted sender' } }
        return current.router.handle(String(name), args)
      })
      ipcMain.handle(PICK_CHANNEL, async (event: IpcMainInvokeEvent, kind: unknown) => {
        if (!isTrustedSender(event.senderFrame)) return null
        const win = BrowserWindow.fromWebContents(event.sender)
        if (kind === 'save-onnx' || kind === 'save-table') {
          const filters =
            kind === 'save-onnx'
              ? [{ name: 'ONNX model', extensions: ['onnx'] }]
              : [
                  { name: 'CSV', extensions: ['csv'] },
                  { name: 'Parquet', extensions: ['parquet'] }
                ]
          const result = win
            ? await dialog.showSaveDialog(win, {
                filters,
                // The app passes overwrite with the chosen path: the dialog itself asks before replacing a file.
                properties: ['showOverwriteConfirmation', 'createDirectory']
              })
            : undefined
          return result && !result.canceled ? (result.filePath ?? null) : null
        }
        const properties: Array<'openFile' | 'openDirectory'> = kind === 'folder' ? ['openDirectory'] : ['openFile']
        const filters =
          kind === 'folder'
            ? []
            : [{ name: 'Tables', extensions: ['csv', 'tsv', 'txt', 'gz', 'xlsx', 'xlsm', 'xls', 'ods', 'parquet', 'jsonl', 'ndjson'] }]
        const result = win ? await dialog.showOpenDialog(win, { properties, filters }) : undefined
        return result && !result.canceled ? (result.filePaths[0] ?? null) : null
      })
      createWindow(current)
      app.on('activate', () => {
        if (BrowserWindow.getAllWindows().length === 0) createWindow(current)
      })
    })
    .catch((error: unknown) => {
      dialog.showErrorBox('LayerLab could not start', errorText(error))
      app.exit(1)
    })
  // Quitting (the last window closed, Cmd+Q, the menu) first closes the lab: a running training is cancelled and
  // waits for its worker to close the GPU device. Exiting while the worker is inside Dawn would abort the app
  // (see main/train/worker.ts); app.quit() from anywhere else lands in before-quit, which waits the same way.
  let closed = false
  let closing: Promise<void> | null = null
  const closeThenQuit = () => {
    closing ??= (lab ? lab.close() : Promise.resolve()).finally(() => {
      closed = true
      app.quit()
    })
  }
  app.on('window-all-closed', closeThenQuit)
  app.on('before-quit', (event) => {
    if (closed) return
    event.preventDefault()
    closeThenQuit()
  })
}
