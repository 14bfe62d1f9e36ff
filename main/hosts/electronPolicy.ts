/**
 * The desktop window's security decisions, kept apart from Electron so they can be tested without its binary.
 *
 * - A packaged app loads only its own files: ELECTRON_RENDERER_URL (electron-vite's dev server) is honoured only
 *   in development, and only on loopback, so an environment variable cannot point a shipped app at a web page that
 *   would then get window.lab.
 * - Every permission a page can ask for (camera, microphone, notifications, geolocation, USB, …) is denied: the
 *   app needs none.
 * - A link that leaves the app opens in the user's browser only when it is on the allow-list below (https, exact
 *   hosts); anything else is dropped.
 */
import path from 'node:path'

/** Hosts a link in the app may send the user to, in the system browser (documentation); add a host here first. */
export const EXTERNAL_HOSTS: readonly string[] = ['github.com', 'onnx.ai', 'www.tensorflow.org']

const LOOPBACK = new Set(['127.0.0.1', 'localhost', '[::1]'])

/** The page the window loads: the built file, or in development the dev server electron-vite names. */
export function rendererUrl(options: { isPackaged: boolean; env: NodeJS.ProcessEnv; dir: string }): string {
  const file = `file://${path.join(options.dir, '../renderer/index.html')}`
  const dev = options.env.ELECTRON_RENDERER_URL
  if (options.isPackaged || !dev) return file
  try {
    const url = new URL(dev)
    return url.protocol === 'http:' && LOOPBACK.has(url.hostname) ? dev : file
  } catch {
    return file
  }
}

/** Whether a link may open in the system browser. */
export function allowExternal(raw: string): boolean {
  try {
    const url = new URL(raw)
    return url.protocol === 'https:' && url.username === '' && url.password === '' && EXTERNAL_HOSTS.includes(url.hostname)
  } catch {
    return false
  }
}

/** Every permission request and check is answered no. */
export const permissionGranted = (_permission: string): boolean => false
