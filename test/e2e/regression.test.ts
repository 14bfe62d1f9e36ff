/**
 * Regression as a person meets it, in the real web shell: upload a table whose target is a continuous measure
 * (scikit-learn's diabetes), see "regression" chosen and why, force classes and get the too-many-classes warning
 * with its way back, train, see the predicted-vs-actual plot and R², find the run in Experiments (comparing it with
 * a classifier is refused), export it with its proof and predict numbers on an uploaded CSV.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import type { DatasetSummary, ModelSpec, Partition } from '../../main/shared/contract'
import { callApi, screenshot, waitForRun, type Shell, openAnalystSession, closeAnalystSession } from './harness'
import { diabetesCsv } from '../fixtures/regression'
import { DIGITS_CSV } from '../fixtures/digits'

describe('regression in the real web shell, real Chromium', () => {
  let shell: Shell
  let browser: Browser
  let page: Page
  let errors: string[]
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'layerlab-e2e-regression-'))
  const csv = path.join(dir, 'diabetes.csv')

  beforeAll(async () => {
    fs.writeFileSync(csv, diabetesCsv())
    ;({ shell, browser, page, errors } = await openAnalystSession())
  })
  afterAll(async () => {
    await closeAnalystSession({ shell, browser })
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it('imports a table with a continuous target and chooses regression, saying why', async () => {
    await page.getByTestId('upload-file-input').first().setInputFiles(csv)
    await page.getByTestId('dataset-detail').waitFor({ timeout: 60_000 })
    await expect.poll(() => page.getByTestId('dataset-task').textContent()).toBe('regression')
    await expect(page.getByTestId('task-reason').first().textContent()).resolves.toBe('214 distinct whole numbers (more than 20)')
    await expect(page.getByTestId('target-summary').textContent()).resolves.toMatch(/from 25 to 346/)
    await expect(page.getByTestId('class-balance').count()).resolves.toBe(0)
    await screenshot(page, 'regression-1-dataset')
  })

  it('warns when the target is forced to classes, and goes back to a number from the warning', async () => {
    await page.getByTestId('task-classification').click()
    const warning = page.getByTestId('target-warning')
    await warning.waitFor({ timeout: 30_000 })
    await expect(warning.textContent()).resolves.toContain('214 classes for 442 rows (2.1 rows per class, fewer than 5)')
    await screenshot(page, 'regression-2-many-classes')
    await page.getByTestId('use-regression').click()
    await expect.poll(() => page.getByTestId('dataset-task').textContent()).toBe('regression')
    await expect(page.getByTestId('target-warning').count()).resolves.toBe(0)
  })

  it('builds a model with one linear output, trains it, and shows the predicted-vs-actual plot', async () => {
    await page.getByTestId('build-model').click()
    await page.getByTestId('view-model').waitFor()
    await page.getByTestId('layer-stack').waitFor({ timeout: 30_000 })
    await expect.poll(async () => (await page.getByTestId('layer-shape').allTextContents()).at(-1)).toBe('→ 1')
    await expect(page.getByTestId('layer-error').count()).resolves.toBe(0)
    await page.getByTestId('nav-train').click()
    await page.getByTestId('view-train').waitFor()
    await page.getByTestId('mode-end-to-end').click()
    await page.getByTestId('train-loss').waitFor()
    await page.getByTestId('train-start').click()
    const results = page.getByTestId('run-results')
    await results.waitFor({ timeout: 180_000 })
    await expect(page.getByTestId('run-status').textContent()).resolves.toBe('completed')
    const plot = page.getByTestId('predicted-vs-actual')
    await plot.locator('canvas').first().waitFor()
    const r2 = Number(await page.getByTestId('figure-testR2').textContent())
    expect(r2).toBeGreaterThan(0.2)
    expect(r2).toBeLessThanOrEqual(1)
    await expect(results.textContent()).resolves.toContain('on 66 test, 66 validation and 310 train rows')
    await page.getByTestId('live-curves').scrollIntoViewIfNeeded()
    await screenshot(page, 'regression-3-train-live')
    await plot.scrollIntoViewIfNeeded()
    await screenshot(page, 'regression-4-results')
  })

  it('lists the run by R² in Experiments and refuses to compare it with a classifier', async () => {
    const digits = await callApi<DatasetSummary>(shell, 'datasets.import', { path: DIGITS_CSV })
    const { spec, partition } = await callApi<{ spec: ModelSpec; partition: Partition }>(shell, 'models.default', { datasetId: digits.datasetId })
    const { runId } = await callApi<{ runId: string }>(shell, 'train.start', {
      datasetId: digits.datasetId,
      spec,
      partition,
      name: 'digits classifier',
      config: { mode: 'end-to-end', epochs: 2 }
    })
    expect((await waitForRun(shell, runId)).status).toBe('completed')
    await page.getByTestId('nav-experiments').click()
    const table = page.getByTestId('runs-table')
    await table.waitFor()
    await expect.poll(() => table.locator('tbody tr.n-data-table-tr').count()).toBe(2)
    await expect(table.textContent()).resolves.toMatch(/R² 0\.\d{3}/)
    for (const row of await table.locator('tbody tr.n-data-table-tr').all()) await row.locator('.n-checkbox').click()
    const refused = page.getByTestId('compare-refused')
    await refused.waitFor()
    await expect(refused.textContent()).resolves.toContain('runs of different tasks cannot be compared')
    await page.waitForTimeout(400) // the tab's slide-in, before the picture
    await screenshot(page, 'regression-5-compare-refused')
    // Only regression runs: the table's figures become R², RMSE and MAE.
    await page.getByTestId('filter-task').click()
    await page.locator('.n-base-select-option', { hasText: 'regression' }).click()
    await expect.poll(() => table.locator('tbody tr.n-data-table-tr').count()).toBe(1)
    await expect(table.locator('thead').textContent()).resolves.toContain('Test RMSE')
    const name = await table.locator('tbody tr.n-data-table-tr .run-link').first().textContent()
    await table.getByText(name!).click()
    await page.getByTestId('run-detail').waitFor()
    await page.getByTestId('regression-plots').waitFor()
    await page.getByTestId('worst-rows').waitFor()
    await screenshot(page, 'regression-6-experiments-run')
  })

  it('exports the run with a proof relative to the target’s scale and predicts numbers on an uploaded CSV', async () => {
    await page.getByTestId('nav-export').click()
    await page.getByTestId('export-run').click()
    await page.locator('.n-base-select-option', { hasText: 'Test R²' }).click()
    await page.getByTestId('export-button').click()
    await page.getByTestId('export-proof').waitFor({ timeout: 60_000 })
    await expect(page.getByTestId('proof-verdict').textContent()).resolves.toBe('Proof passed')
    await expect(page.getByTestId('export-proof').textContent()).resolves.toMatch(/of the target's std/)
    const rows = path.join(dir, 'new-patients.csv')
    fs.writeFileSync(rows, diabetesCsv().trim().split('\n').slice(0, 41).join('\n') + '\n')
    await page.getByTestId('predict-input').setInputFiles(rows)
    await page.getByTestId('predict-table').waitFor({ timeout: 60_000 })
    await expect(page.getByTestId('predict-summary').textContent()).resolves.toMatch(
      /40 predictions by .+; against the file's target \(40 rows\): R² -?\d\.\d{3}, RMSE [\d.,]+, MAE [\d.,]+/
    )
    await page.getByTestId('predict-table').scrollIntoViewIfNeeded()
    await screenshot(page, 'regression-7-export-predict')
    expect(errors).toEqual([])
  })
})
