/**
 * The article's question answered in the UI: an end-to-end and a layer-wise run on digits, compared in the
 * Experiments view (overlaid curves, settings diff); then the better one exported to ONNX with its proof, and
 * used to predict on a CSV uploaded in the Export view.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import { callApi, launchBrowser, openPage, screenshot, startShell, waitForRun, type Shell, closeAnalystSession } from './harness'
import { DIGITS_CSV } from '../fixtures/digits'
import type { DatasetSummary, Partition, ModelSpec } from '../../main/shared/contract'

describe('Experiments and Export views (real server, real training, real Chromium)', () => {
  let shell: Shell
  let browser: Browser
  let page: Page
  let errors: string[]
  const runIds: string[] = []

  beforeAll(async () => {
    shell = await startShell()
    browser = await launchBrowser()
    const dataset = await callApi<DatasetSummary>(shell, 'datasets.import', { path: DIGITS_CSV })
    const { spec, partition } = await callApi<{ spec: ModelSpec; partition: Partition }>(shell, 'models.default', { datasetId: dataset.datasetId })
    // Few epochs: this test is about the views, not about accuracy (the training tests check that).
    for (const block of partition.blocks) block.settings.epochs = 3
    for (const [mode, name] of [
      ['end-to-end', 'digits e2e'],
      ['layer-wise', 'digits layer-wise']
    ] as const) {
      const { runId } = await callApi<{ runId: string }>(shell, 'train.start', {
        datasetId: dataset.datasetId,
        spec,
        partition,
        name,
        config: { mode, epochs: 4, fineTune: { enabled: true, epochs: 2, learningRateFactor: 0.1 } }
      })
      expect((await waitForRun(shell, runId)).status).toBe('completed')
      runIds.push(runId)
    }
    ;({ page, errors } = await openPage(browser, shell.url))
  })
  afterAll(async () => {
    await closeAnalystSession({ shell, browser })
  })

  it('lists both runs, overlays their curves and diffs their settings', async () => {
    await page.getByTestId('nav-experiments').click()
    await page.getByTestId('runs-table').waitFor()
    await expect(page.getByTestId('runs-table').locator('tbody tr').count()).resolves.toBe(2)
    // Tick both runs.
    for (const row of await page.getByTestId('runs-table').locator('tbody tr').all()) await row.locator('.n-checkbox').click()
    await page.getByTestId('compare').waitFor()
    await page.getByTestId('compare-accuracy-chart').locator('canvas').first().waitFor()
    const diff = page.getByTestId('settings-diff')
    await expect(diff.textContent()).resolves.toContain('how it trains')
    await expect(diff.textContent()).resolves.toContain('layer-wise')
    await expect(page.getByTestId('compare-metrics').textContent()).resolves.toContain('test accuracy')
    await expect(page.getByTestId('compare-verdict').isVisible()).resolves.toBe(true)
    // What they cost, side by side, and the layer-wise run's step memory against the end-to-end run's in a sentence.
    await expect(page.getByTestId('compare-metrics').textContent()).resolves.toContain('step memory, block stages alone')
    await expect(page.getByTestId('compare-memory').textContent()).resolves.toMatch(/^digits layer-wise held .* tensor memory per step .*digits e2e/)
    await page.waitForTimeout(400) // the tab's slide-in, before the picture
    await screenshot(page, 'experiments-compare')
    await page.getByTestId('compare-cost').scrollIntoViewIfNeeded()
    await screenshot(page, 'experiments-compare-cost')
    // Filtering by a metric: above every run's accuracy hides them all; clearing it brings them back.
    await page.getByTestId('filter-min-accuracy').locator('input').fill('99.9')
    await expect.poll(() => page.getByTestId('runs-table').locator('tbody tr.n-data-table-tr').count()).toBe(0)
    await page.getByTestId('filter-min-accuracy').locator('input').fill('')
    await expect.poll(() => page.getByTestId('runs-table').locator('tbody tr.n-data-table-tr').count()).toBe(2)
  })

  it('opens one run with its block curves, confusion matrix and per-class table, and renames it', async () => {
    await page.getByTestId(`open-${runIds[1]}`).click()
    await page.getByTestId('run-detail').waitFor()
    await page.getByTestId('confusion-matrix').waitFor()
    await expect(page.getByTestId('per-class').locator('tbody tr').count()).resolves.toBe(10)
    await expect(page.getByTestId('run-blocks').locator('tbody tr').count()).resolves.toBeGreaterThanOrEqual(2)
    await page.getByTestId('run-name').locator('input').fill('layer-wise, 3 epochs per block')
    await page.getByTestId('run-name').locator('input').press('Enter')
    await expect
      .poll(async () => (await callApi<{ name: string }>(shell, 'runs.get', { runId: runIds[1] })).name, { timeout: 10_000 })
      .toBe('layer-wise, 3 epochs per block')
    await screenshot(page, 'experiments-run')
    // The run's cost: a layer-wise run shows its block stages' step memory beside the whole run's.
    await page.getByTestId('run-cost').scrollIntoViewIfNeeded()
    await expect(page.getByTestId('cost-block-peak').textContent()).resolves.toMatch(/\d (KiB|MiB)$/)
    await screenshot(page, 'experiments-run-cost')
  })

  it('starts a changed copy of a run: its model, blocks and config land in the Model and Train views', async () => {
    await page.getByTestId('run-edit').click()
    await page.getByTestId('view-model').waitFor()
    await expect(page.getByText('Block 2').first().isVisible()).resolves.toBe(true)
    await screenshot(page, 'experiments-edit-copy')
    await page.getByTestId('nav-train').click()
    await page.getByTestId('view-train').waitFor()
    // The run opened above is the layer-wise one with 3 epochs per block.
    await expect(page.getByTestId('mode-layer-wise').getAttribute('class')).resolves.toContain('checked')
    await expect(page.getByTestId('block-epochs').locator('input').inputValue()).resolves.toBe('3')
    await page.getByTestId('nav-experiments').click()
    await page.getByTestId('runs-table').waitFor()
  })

  it('exports a run to ONNX, shows a passing proof, and predicts on an uploaded CSV', async () => {
    await page.getByTestId('nav-export').click()
    await page.getByTestId('export-button').click()
    await page.getByTestId('export-proof').waitFor({ timeout: 60_000 })
    await expect(page.getByTestId('proof-verdict').textContent()).resolves.toBe('Proof passed')
    // The download goes by a single-use link asked for on click: no secret in the page.
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('export-download').click()])
    expect(download.suggestedFilename()).toMatch(/\.onnx$/)
    expect(fs.statSync((await download.path())!).size).toBeGreaterThan(1000)
    await screenshot(page, 'export-proof')

    // New rows: the first 50 digits, with their labels, as a user would drop them.
    const lines = fs.readFileSync(DIGITS_CSV, 'utf8').split('\n').slice(0, 51)
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'layerlab-predict-')), 'new-digits.csv')
    fs.writeFileSync(file, lines.join('\n') + '\n')
    await page.getByTestId('predict-input').setInputFiles(file)
    await page.getByTestId('predict-table').waitFor({ timeout: 60_000 })
    await expect(page.getByTestId('predict-summary').textContent()).resolves.toMatch(
      /^50 predictions by .+, accuracy \d+\.\d+ % \(\d+ of 50 labelled rows, 95 % interval/
    )
    await screenshot(page, 'export-predict')
    expect(errors).toEqual([])
  })
})
