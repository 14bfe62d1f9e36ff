/**
 * The GPU in the real web shell, as an analyst sees it: on a machine without a usable Vulkan driver the status bar
 * and the Train view say in one line that there is no GPU and why, and a run that asks for webgpu
 * (LAYERLAB_BACKEND=webgpu) trains on wasm and says why; with SwiftShader (a software adapter) the GPU shows as
 * software, is chosen only when asked for, and a run asked for it trains on webgpu.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import { callApi, screenshot, type Shell, openAnalystSession, closeAnalystSession } from './harness'
import { swiftShaderEnv, useSwiftShader } from '../fixtures/webgpu'

const missing = useSwiftShader()
const NO_DRIVER = '/nonexistent/vulkan_icd.json'

/** The digits example imported, its default MLP built, the Train view open with a short end-to-end run set up. */
async function toTrain(page: Page, epochs: number): Promise<void> {
  await page.getByTestId('import-example-digits').click()
  await page.getByTestId('dataset-detail').waitFor({ timeout: 60_000 })
  await page.getByTestId('build-model').click()
  await page.getByTestId('layer-stack').waitFor({ timeout: 30_000 })
  await page.getByTestId('nav-train').click()
  await page.getByTestId('view-train').waitFor()
  await page.getByTestId('mode-end-to-end').click()
  await page.getByTestId('epochs').locator('input').fill(String(epochs))
  await page.getByTestId('epochs').locator('input').blur()
}

/** The backend menu's options as shown: label and whether it can be picked. */
async function backendOptions(page: Page): Promise<Array<{ label: string; disabled: boolean }>> {
  await page.getByTestId('train-backend').click()
  const options = page.locator('.n-base-select-option')
  await options.first().waitFor()
  const shown = await options.evaluateAll((els) =>
    els.map((el) => ({ label: el.textContent?.trim() ?? '', disabled: el.classList.contains('n-base-select-option--disabled') }))
  )
  return shown
}

describe('no GPU: the web shell says so in one line and trains on wasm', () => {
  let shell: Shell
  let browser: Browser
  let page: Page
  let errors: string[]

  beforeAll(async () => {
    // LAYERLAB_BACKEND=webgpu: every run asks for the GPU; the driver path leads nowhere, as on a machine without one.
    ;({ shell, browser, page, errors } = await openAnalystSession({ ...swiftShaderEnv(), VK_ICD_FILENAMES: NO_DRIVER, LAYERLAB_BACKEND: 'webgpu' }))
  })
  afterAll(async () => {
    await closeAnalystSession({ shell, browser })
  })

  it('the status bar and the Train view name the missing adapter; the GPU cannot be picked', async () => {
    await expect.poll(() => page.getByTestId('status-gpu').textContent(), { timeout: 30_000 }).toBe('none')
    const info = await callApi<{ gpu: { label: string | null; reason: string }; backend: { name: string; reason: string } }>(shell, 'app.info')
    expect(info.gpu.label).toBeNull()
    expect(info.gpu.reason).toMatch(/^no WebGPU adapter \(.*VK_ERROR_INCOMPATIBLE_DRIVER\)$/)
    expect(info.backend.name).toBe('wasm')
    expect(info.backend.reason).toMatch(/^webgpu unavailable \(no WebGPU adapter \(.*\)\); wasm \(XNNPACK, \d threads?\)$/)
    await expect(page.getByTestId('status-bar').textContent()).resolves.toContain('webgpu unavailable (no WebGPU adapter')

    await toTrain(page, 2)
    const note = page.getByTestId('train-gpu-note')
    await expect(note.textContent()).resolves.toBe(`No GPU for training: ${info.gpu.reason}`)
    // One line: the note's height is one line of its text.
    const box = (await note.boundingBox())!
    expect(box.height).toBeLessThan(24)
    const options = await backendOptions(page)
    expect(options).toContainEqual({ label: 'GPU (none found)', disabled: true })
    await screenshot(page, 'gpu-1-none-backend-menu')
    await page.keyboard.press('Escape')
  })

  it('a run that asks for webgpu trains on wasm and says why in one line', async () => {
    await page.getByTestId('train-start').click()
    await page.getByTestId('run-status').filter({ hasText: 'completed' }).waitFor({ timeout: 180_000 })
    await expect(page.getByTestId('run-backend').textContent()).resolves.toBe('wasm')
    const fallback = page.getByTestId('run-backend-fallback')
    await expect(fallback.textContent()).resolves.toMatch(
      /^Not on the GPU: webgpu unavailable \(no WebGPU adapter \(.*\)\); wasm \(XNNPACK, \d threads?\)$/
    )
    expect((await fallback.boundingBox())!.height).toBeLessThan(24)
    await screenshot(page, 'gpu-2-none-run-on-wasm')
    expect(errors).toEqual([])
  })
})

describe.skipIf(missing)('a software GPU (SwiftShader): shown as software, used when asked for', { timeout: 10 * 60_000 }, () => {
  let shell: Shell
  let browser: Browser
  let page: Page
  let errors: string[]

  beforeAll(async () => {
    const env = swiftShaderEnv()
    delete env.LAYERLAB_BACKEND
    ;({ shell, browser, page, errors } = await openAnalystSession(env))
  })
  afterAll(async () => {
    await closeAnalystSession({ shell, browser })
  })

  it('the status bar shows the adapter as software; auto does not pick it; the menu offers it', async () => {
    await expect.poll(() => page.getByTestId('status-gpu').textContent(), { timeout: 30_000 }).toBe('SwiftShader Device (Subzero)')
    await expect(page.getByTestId('status-bar').textContent()).resolves.toContain('(software)')
    await expect(page.getByTestId('status-backend').textContent()).resolves.toBe('wasm')
    await toTrain(page, 1)
    await expect(page.getByTestId('train-gpu-note').textContent()).resolves.toMatch(
      /^GPU: webgpu \(SwiftShader Device \(Subzero\), Vulkan, software\), a software adapter/
    )
    const options = await backendOptions(page)
    expect(options.map((o) => o.label)).toEqual(['auto', 'GPU (software)', 'wasm (CPU)', 'plain JS (CPU)'])
    expect(options.every((o) => !o.disabled)).toBe(true)
    await page.locator('.n-base-select-option', { hasText: 'GPU (software)' }).click()
    await screenshot(page, 'gpu-3-software-chosen')
  })

  it('a run set to the GPU trains on webgpu and records the adapter', async () => {
    await page.getByTestId('train-start').click()
    await expect
      .poll(() => page.getByTestId('run-backend').textContent(), { timeout: 120_000 })
      .toBe('webgpu (SwiftShader Device (Subzero), Vulkan, software)')
    await page.getByTestId('run-status').filter({ hasText: 'completed' }).waitFor({ timeout: 300_000 })
    await expect(page.getByTestId('run-backend-fallback').count()).resolves.toBe(0)
    const runs = await callApi<Array<{ backend: string; status: string }>>(shell, 'runs.list')
    expect(runs.map((r) => [r.backend, r.status])).toEqual([['webgpu (SwiftShader Device (Subzero), Vulkan, software)', 'completed']])
    await screenshot(page, 'gpu-4-software-run')
    expect(errors).toEqual([])
  })
})
