/**
 * The history store setting in the real web shell: the status bar says where runs are kept; its dialog refuses an
 * unreachable server in one line, saves a reachable one for the next start (the password never on the page), and
 * the next shell on that home opens it.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser } from 'playwright-core'
import { launchBrowser, openPage, screenshot, startShell, type Shell } from './harness'
import { freshPostgresDatabase, postgresPassword, postgresUrl } from '../fixtures/postgres'

describe.skipIf(!postgresUrl())('history store setting (real server, real Chromium)', () => {
  let browser: Browser
  const shells: Shell[] = []

  beforeAll(async () => {
    browser = await launchBrowser()
  })
  afterAll(async () => {
    await browser?.close()
    for (const shell of shells) await shell.stop()
  })

  it('refuses an unreachable server, saves a reachable one, and the next start opens it', async () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'layerlab-e2e-store-'))
    const first = await startShell(home)
    shells.push(first)
    const { page, errors } = await openPage(browser, first.url)
    const status = page.getByTestId('status-store')
    await status.filter({ hasText: 'SQLite' }).waitFor()
    await status.click()
    const dialog = page.getByTestId('store-setting')
    await dialog.waitFor()
    expect(await page.getByTestId('store-location').textContent()).toBe(path.join(home, 'layerlab.sqlite'))

    await page.getByTestId('store-url').locator('input').fill('postgres://ana:hunter2-e2e@127.0.0.1:1/lab')
    await page.getByTestId('store-save').click()
    const error = page.getByTestId('store-error')
    await error.waitFor()
    expect(await error.textContent()).toContain('PostgreSQL store at 127.0.0.1:1: unreachable')
    // What the page shows (the typed URL stays in its password field only).
    expect(await page.locator('body').innerText()).not.toContain('hunter2-e2e')

    const url = await freshPostgresDatabase()
    await page.getByTestId('store-url').locator('input').fill(url)
    await screenshot(page, 'store-setting')
    await page.getByTestId('store-save').click()
    const saved = page.getByTestId('store-saved')
    await saved.waitFor()
    expect(await saved.textContent()).toMatch(/^Saved: postgres:\/\/layerlab@127\.0\.0\.1:\d+\/t_\w+\. LayerLab opens it from its next start\.$/)
    expect(await page.getByTestId('store-url').locator('input').inputValue()).toBe('')
    expect(await page.content()).not.toContain(postgresPassword())
    await screenshot(page, 'store-setting-saved')
    expect(errors).toEqual([])

    await first.stop()
    const next = await startShell(home)
    shells.push(next)
    const reopened = await openPage(browser, next.url)
    await reopened.page.getByTestId('status-store').filter({ hasText: 'PostgreSQL' }).waitFor()
    await screenshot(reopened.page, 'store-status-postgres')
    expect(await reopened.page.content()).not.toContain(postgresPassword())
    expect(reopened.errors).toEqual([])
  })
})
