/**
 * Two tabs on one web shell, as an analyst opens them: the first from the printed URL (with the token), the second
 * from the address bar copied into a new tab (without it). The cookie the first load set lets the second in; a
 * browser without it is told how to get in. A run started in one tab shows in the other as "in progress (started
 * in another window)" beside a disabled Start, until it ends.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { launchBrowser, screenshot, startShell, type Shell, setLongRun, closeAnalystSession } from './harness'

describe('a second tab on the same web shell (real server, real Chromium)', () => {
  let shell: Shell
  let browser: Browser
  let context: BrowserContext
  let first: Page
  let second: Page
  let copied: string
  const errors: string[] = []

  async function open(url: string, on: BrowserContext = context): Promise<Page> {
    const page = await on.newPage()
    page.on('pageerror', (error) => errors.push(error.message))
    await page.goto(url)
    return page
  }
  const ready = (page: Page) => page.getByTestId('status-backend').filter({ hasNotText: '…' }).waitFor({ timeout: 30_000 })

  beforeAll(async () => {
    shell = await startShell()
    browser = await launchBrowser()
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } })
  })
  afterAll(async () => {
    await closeAnalystSession({ shell, browser })
  })

  it('lets a copied URL (without the token) work in a new tab of the same browser, and nowhere else', async () => {
    first = await open(shell.url)
    await ready(first)
    // The router redirects / to #/datasets after the first render; read the URL once it has.
    await first.waitForURL('**/#/datasets', { timeout: 30_000 })
    copied = first.url()
    expect(copied).toBe(`${shell.origin}/#/datasets`)
    second = await open(copied)
    await ready(second)
    expect(await second.getByTestId('status-home').textContent()).toBe(shell.home)
    // Another browser (another profile, another user) has no cookie: it is told how to get in, in words.
    const stranger = await browser.newContext({ viewport: { width: 1280, height: 800 } })
    const outside = await stranger.newPage()
    await outside.goto(copied)
    await expect(outside.getByTestId('api-error').textContent({ timeout: 30_000 })).resolves.toContain('not signed in to this LayerLab web shell')
    await stranger.close()
  })

  it('says a run is in progress (started in another window) beside a disabled Start, until it ends', async () => {
    await first.getByTestId('import-example-digits').click()
    await first.getByTestId('dataset-detail').waitFor({ timeout: 60_000 })
    await first.getByTestId('build-model').click()
    await first.getByTestId('layer-stack').waitFor({ timeout: 30_000 })
    // No early stopping: the run is still going while the other tab looks.
    for (let i = 0; i < (await first.getByTestId('block-label').count()); i++) {
      await first.getByTestId('block-label').nth(i).click()
      await first.getByTestId('setting-patience').locator('input').fill('0')
      await first.getByTestId('setting-patience').locator('input').blur()
    }
    await first.getByTestId('nav-train').click()
    await first.getByTestId('mode-layer-wise').click()
    await setLongRun(first)

    // The second tab is on the Train view of the same data before the run starts.
    await second.reload()
    await ready(second)
    await second.getByTestId('dataset-item').first().click()
    await second.getByTestId('build-model').click()
    await second.getByTestId('layer-stack').waitFor({ timeout: 30_000 })
    await second.getByTestId('nav-train').click()
    await expect(second.getByTestId('train-start').isDisabled()).resolves.toBe(false)

    await first.getByTestId('train-start').click()
    await first.getByTestId('run-status').filter({ hasText: 'running' }).waitFor({ timeout: 60_000 })
    // The second tab hears the run's events and says why Start is off; the tab that started it does not.
    const elsewhere = second.getByTestId('train-elsewhere')
    await elsewhere.waitFor({ timeout: 30_000 })
    expect(await elsewhere.textContent()).toContain('A run is in progress (started in another window)')
    await expect(second.getByTestId('train-start').isDisabled()).resolves.toBe(true)
    await expect(first.getByTestId('train-elsewhere').count()).resolves.toBe(0)
    await second.waitForTimeout(400) // naive-ui's transitions, before the picture
    await screenshot(second, 'train-second-tab')

    await first.getByTestId('train-cancel').click()
    await first.getByTestId('run-status').filter({ hasText: 'cancelled' }).waitFor({ timeout: 60_000 })
    await elsewhere.waitFor({ state: 'detached', timeout: 30_000 })
    await expect(second.getByTestId('train-start').isDisabled()).resolves.toBe(false)
    expect(errors).toEqual([])
  })
})
