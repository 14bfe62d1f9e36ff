/**
 * State across reloads and per dataset (issue 16, item 7), in the real web shell with two datasets and two pages on
 * one server: a changed model and a long layer-wise run on digits, a reload mid-run (same dataset, model and mode
 * back, no stray "problem"), a second dataset with its own default model and settings (not the 10,000 epochs and
 * patience 0 of the first) that never shows digits' run as its own, and a second page that sees the same.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { callApi, launchBrowser, openTab, screenshot, startShell, type Shell, setLongRun, closeAnalystSession } from './harness'
import { DIGITS_CSV } from '../fixtures/digits'
import { manyClassCsv } from '../fixtures/generate'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { DatasetSummary } from '../../main/shared/contract'

describe('state across reloads, datasets and pages (real web shell, real Chromium)', () => {
  let shell: Shell
  let browser: Browser
  let context: BrowserContext
  let page: Page
  let errors: string[]
  let digits: DatasetSummary
  let species: DatasetSummary
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'layerlab-e2e-state-'))

  const layerCount = (p: Page) => p.getByTestId('layer-row').count()
  const pickDataset = async (p: Page, name: string) => {
    await p.getByTestId('nav-datasets').click()
    await p.getByTestId('dataset-item').filter({ hasText: name }).click()
    await p.getByTestId('dataset-name').filter({ hasText: name }).waitFor()
  }

  beforeAll(async () => {
    shell = await startShell()
    browser = await launchBrowser()
    digits = await callApi<DatasetSummary>(shell, 'datasets.import', { path: DIGITS_CSV })
    const csv = path.join(dir, 'species.csv')
    fs.writeFileSync(csv, manyClassCsv(10, 12))
    species = await callApi<DatasetSummary>(shell, 'datasets.import', { path: csv })
    context = await browser.newContext({ viewport: { width: 1280, height: 800 } })
    ;({ page, errors } = await openTab(context, shell.url))
  })
  afterAll(async () => {
    await closeAnalystSession({ shell, browser })
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it('keeps the dataset, the changed model and the mode across a reload during training', async () => {
    await pickDataset(page, digits.name)
    await page.getByTestId('build-model').click()
    await page.getByTestId('hidden-sizes').locator('input').fill('64, 32')
    await page.getByTestId('rebuild-default').click()
    await expect.poll(() => layerCount(page)).toBe(3)
    // The rebuilt rows, not the default's (both have three layers).
    await expect.poll(() => page.getByTestId('layer-shape').allTextContents()).toEqual(['→ 64', '→ 32', '→ 10'])
    for (let i = 0; i < (await page.getByTestId('block-label').count()); i++) {
      await page.getByTestId('block-label').nth(i).click()
      await page.getByTestId('setting-patience').locator('input').fill('0')
      await page.getByTestId('setting-patience').locator('input').blur()
    }
    await page.getByTestId('go-train').click()
    await page.getByTestId('mode-layer-wise').click()
    await setLongRun(page)
    await page.getByTestId('train-start').click()
    await page.getByTestId('run-status').filter({ hasText: 'running' }).waitFor({ timeout: 60_000 })
    await expect.poll(async () => Number(await page.getByTestId('live-curves').getAttribute('data-points')), { timeout: 60_000 }).toBeGreaterThan(0)

    await page.reload()
    await page.getByTestId('view-train').waitFor()
    await page.getByTestId('run-status').filter({ hasText: 'running' }).waitFor({ timeout: 30_000 })
    // The same dataset, model and settings as before the reload; the model's description has come back clean.
    await expect(page.getByTestId('train-live').textContent()).resolves.toContain(`layer-wise on ${digits.name}`)
    await expect(page.locator('.card .sub').first().textContent()).resolves.toContain(`for ${digits.name} · 3 layers · 2 blocks`)
    await expect(page.getByTestId('mode-layer-wise').getAttribute('class')).resolves.toContain('checked')
    await expect(page.getByTestId('block-epochs').locator('input').inputValue()).resolves.toBe('10000')
    await page.waitForTimeout(600)
    await expect(page.getByTestId('model-problems').count()).resolves.toBe(0)
    await screenshot(page, 'analyst-state-1-after-reload')
    await page.getByTestId('nav-model').click()
    // The Model view renders after the click: read its rows once they are there.
    await expect.poll(() => page.getByTestId('layer-shape').allTextContents()).toEqual(['→ 64', '→ 32', '→ 10'])
  })

  it("gives another dataset its own model and settings, and never shows digits' run as its own", async () => {
    await pickDataset(page, species.name)
    await page.getByTestId('nav-train').click()
    await page.getByTestId('view-train').waitFor()
    await expect(page.locator('.card .sub').first().textContent()).resolves.toContain(`for ${species.name}`)
    // Its own default: 30 epochs per block, and the default model (not digits' 64, 32).
    await expect.poll(() => page.getByTestId('block-epochs').locator('input').inputValue()).toBe('30')
    await expect(page.getByTestId('train-live').count()).resolves.toBe(0)
    await expect(page.getByTestId('run-elsewhere').textContent()).resolves.toContain(`A run is training on ${digits.name}`)
    await screenshot(page, 'analyst-state-2-other-dataset')
    await page.getByTestId('nav-model').click()
    expect(await page.getByTestId('layer-shape').allTextContents()).toEqual(['→ 100', '→ 100', '→ 10'])
    // Its patience was never touched: the default 5, not digits' 0.
    await page.getByTestId('block-label').first().click()
    await expect(page.getByTestId('setting-patience').locator('input').inputValue()).resolves.toBe('5')
    // And back: digits' own model again, and its run.
    await pickDataset(page, digits.name)
    await page.getByTestId('nav-model').click()
    await expect.poll(() => page.getByTestId('layer-shape').allTextContents()).toEqual(['→ 64', '→ 32', '→ 10'])
    await page.getByTestId('nav-train').click()
    await expect(page.getByTestId('block-epochs').locator('input').inputValue()).resolves.toBe('10000')
    await page.getByTestId('run-status').filter({ hasText: 'running' }).waitFor()
  })

  it('shows a second tab of the same browser the same dataset, model and run', async () => {
    // A tab of the same browser (the same storage), as a user opens one.
    const second = await openTab(context, shell.url)
    try {
      await second.page.getByTestId('nav-train').click()
      await second.page.getByTestId('run-status').filter({ hasText: 'running' }).waitFor({ timeout: 30_000 })
      await expect(second.page.locator('.card .sub').first().textContent()).resolves.toContain(`for ${digits.name} · 3 layers`)
      await expect(second.page.getByTestId('block-epochs').locator('input').inputValue()).resolves.toBe('10000')
      await screenshot(second.page, 'analyst-state-3-second-page')
      expect(second.errors).toEqual([])
    } finally {
      await second.page.close()
    }
    await page.getByTestId('train-cancel').click()
    await page.getByTestId('run-status').filter({ hasText: 'cancelled' }).waitFor({ timeout: 60_000 })
    expect(errors).toEqual([])
  })
})
