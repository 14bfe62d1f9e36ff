import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser } from 'playwright-core'
import { launchBrowser, openPage, screenshot, startShell, type Shell, closeAnalystSession } from './harness'

describe('web shell frame (real server, real Chromium)', () => {
  let shell: Shell
  let browser: Browser

  beforeAll(async () => {
    shell = await startShell()
    browser = await launchBrowser()
  })
  afterAll(async () => {
    await closeAnalystSession({ shell, browser })
  })

  it('prints a loopback URL carrying the token', () => {
    expect(shell.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{48}$/)
  })

  it('shows the LayerLab frame, its status bar and an empty state in every section, with no console errors', async () => {
    const { page, errors } = await openPage(browser, shell.url)
    await expect(page.title()).resolves.toBe('LayerLab')
    await page.getByTestId('status-backend').filter({ hasNotText: '…' }).waitFor()
    expect(await page.getByTestId('status-home').textContent()).toBe(shell.home)
    // The token leaves the address bar before the page loads (traded for a cookie on the first load).
    expect(page.url()).not.toContain('token=')
    for (const section of ['datasets', 'model', 'train', 'experiments', 'export']) {
      await page.getByTestId(`nav-${section}`).click()
      await page.getByTestId(`view-${section}`).waitFor()
      // The menu marks the section shown (and only that one).
      const selected = page.locator('.n-menu-item-content--selected')
      expect(await selected.count()).toBe(1)
      expect(await selected.textContent()).toContain(section.charAt(0).toUpperCase() + section.slice(1))
      // Views that list things show their empty state once the (empty) list has loaded.
      await page.getByTestId('empty-state').first().waitFor({ state: 'visible' })
      await screenshot(page, `frame-${section}`)
    }
    // A reload keeps working (the cookie goes with every request of this origin).
    await page.reload()
    await page.getByTestId('status-backend').filter({ hasNotText: '…' }).waitFor()
    expect(errors).toEqual([])
  })

  it('refuses API calls without the token and from another origin', async () => {
    const token = new URL(shell.url).searchParams.get('token')!
    const noToken = await fetch(`${shell.origin}/api/app.info`, { method: 'POST', body: '{}' })
    expect(noToken.status).toBe(403)
    const wrongOrigin = await fetch(`${shell.origin}/api/app.info`, {
      method: 'POST',
      body: '{}',
      headers: { 'x-layerlab-token': token, origin: 'http://evil.example' }
    })
    expect(wrongOrigin.status).toBe(403)
    const good = await fetch(`${shell.origin}/api/app.info`, {
      method: 'POST',
      body: '{}',
      headers: { 'x-layerlab-token': token, origin: shell.origin }
    })
    expect(good.status).toBe(200)
    expect(((await good.json()) as { ok: boolean }).ok).toBe(true)
  })
})
