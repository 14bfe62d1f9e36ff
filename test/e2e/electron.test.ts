/**
 * The desktop app, driven by Playwright's Electron support, runs the same scenario as the web shell test.
 * Electron ≥ 42 downloads its binary on first launch, from a host these machines cannot reach: where the binary
 * is missing the spec is skipped and says why.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { _electron as electron } from 'playwright-core'
import { ROOT, screenshot } from './harness'

function electronBinary(): string | null {
  try {
    const dist = path.join(ROOT, 'node_modules/electron/dist')
    const pathFile = path.join(ROOT, 'node_modules/electron/path.txt')
    if (!fs.existsSync(pathFile)) return null
    const binary = path.join(dist, fs.readFileSync(pathFile, 'utf8').trim())
    return fs.existsSync(binary) ? binary : null
  } catch {
    return null
  }
}

const binary = electronBinary()
if (!binary)
  console.warn(
    'skipped: no Electron binary (node_modules/electron/dist is empty; Electron downloads it on first launch from a host this machine cannot reach)'
  )

describe.skipIf(!binary)('desktop app (Electron)', () => {
  it('opens the LayerLab window with the frame and the status bar, through the preload bridge', async () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'layerlab-electron-'))
    const app = await electron.launch({ executablePath: binary!, args: [ROOT, '--no-sandbox'], env: { ...process.env, LAYERLAB_HOME: home } })
    try {
      const page = await app.firstWindow()
      await expect(page.title()).resolves.toBe('LayerLab')
      await page.getByTestId('status-backend').filter({ hasNotText: '…' }).waitFor()
      expect(await page.getByTestId('status-home').textContent()).toBe(home)
      for (const section of ['datasets', 'model', 'train', 'experiments', 'export']) {
        await page.getByTestId(`nav-${section}`).click()
        await page.getByTestId(`view-${section}`).waitFor()
      }
      await screenshot(page, 'electron-frame')
    } finally {
      await app.close()
    }
  })
})
