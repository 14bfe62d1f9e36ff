/**
 * Studies in the UI, as a first-time analyst meets them: the article's experiment one click away from the empty
 * Experiments view (started, then cancelled as a whole); then a two-configuration study started from the Train
 * view's settings, its whole progress watched, and its intervals and worded verdict read; a sweep; and a regression
 * study read in R² and RMSE, with no binomial interval.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { DatasetSummary, ModelSpec, Partition, StudyDetail } from '../../main/shared/contract'
import { callApi, recordTexts, screenshot, setNumber, type Shell, openAnalystSession, closeAnalystSession, openNewStudyOnDigits } from './harness'
import { friedmanCsv } from '../fixtures/regression'

describe('Studies (real server, real training, real Chromium)', () => {
  let shell: Shell
  let browser: Browser
  let page: Page
  let errors: string[]

  beforeAll(async () => {
    ;({ shell, browser, page, errors } = await openAnalystSession())
  })
  afterAll(async () => {
    await closeAnalystSession({ shell, browser })
  })

  it('offers the article’s experiment as a one-click study from the empty Experiments view, and cancels it as a whole', async () => {
    await page.getByTestId('nav-experiments').click()
    await page.getByTestId('empty-state').waitFor()
    await screenshot(page, 'studies-empty')
    await page.getByTestId('example-study').click()
    await page.getByTestId('study-panel').waitFor({ timeout: 60_000 })
    await expect(page.getByTestId('study-panel').textContent()).resolves.toContain('digits, MLP 100-100, end-to-end vs layer-wise, 10 seeds')
    await expect
      .poll(() => page.getByTestId('study-progress-text').textContent(), { timeout: 60_000 })
      .toMatch(/study \d+\/20 runs done · \d training/)
    await page.getByTestId('study-panel').scrollIntoViewIfNeeded()
    await screenshot(page, 'studies-example-running')
    await page.getByTestId('study-cancel').click()
    await expect.poll(() => page.getByTestId('study-status').textContent(), { timeout: 60_000 }).toBe('cancelled')
    await expect(page.getByTestId('study-resume').isVisible()).resolves.toBe(true)
    const [study] = await callApi<Array<{ studyId: string; status: string; done: number; total: number }>>(shell, 'studies.list')
    expect(study).toMatchObject({ status: 'cancelled', total: 20 })
    expect(study!.done).toBeLessThan(20)
    // The members it never started say so, not "pending" (the table scrolls virtually: its first rows are the ones in the page).
    const detail = await callApi<StudyDetail>(shell, 'studies.get', { studyId: study!.studyId })
    expect(detail.members.filter((m) => m.status === 'pending').length).toBeGreaterThan(0)
    await expect.poll(() => page.getByTestId('study-members').textContent()).toContain('not run')
    await expect(page.getByTestId('study-members').textContent()).resolves.not.toContain('pending')
    await page.getByTestId('study-members').scrollIntoViewIfNeeded()
    await screenshot(page, 'studies-example-cancelled')
  })

  it('starts a two-configuration study from the Train view, shows its progress, intervals and worded verdict', async () => {
    await openNewStudyOnDigits(page, { blockEpochs: 3, fineTuneEpochs: 1, epochs: 4 })
    await expect(page.getByTestId('new-study').textContent()).resolves.toContain('the ones built in Model and Train for this dataset')
    await setNumber(page, 'protocol-k', '3')
    await setNumber(page, 'study-workers', '2')
    await screenshot(page, 'studies-new')
    // Six short runs in kept workers can all end before a poll would look: every text the progress line shows is kept.
    const progressSeen = await recordTexts(page, 'study-progress-text')
    await page.getByTestId('study-start').click()
    await page.getByTestId('study-panel').waitFor()
    await expect.poll(() => page.getByTestId('study-status').textContent(), { timeout: 240_000 }).toBe('completed')
    const seen = await progressSeen()
    expect(seen.some((t) => /^study [0-5]\/6 runs done/.test(t))).toBe(true)
    // The line goes once the study is complete: the result is what is left to read.
    await expect(page.getByTestId('study-progress-text').count()).resolves.toBe(0)
    const verdict = await page.getByTestId('study-verdict').textContent()
    expect(verdict).toMatch(/^(No detectable difference between end-to-end and layer-wise \(p = [\d.]+|(End-to-end|Layer-wise) is better than)/)
    expect(verdict).toContain('over 3 paired runs')
    await expect(page.getByTestId('study-test-note').textContent()).resolves.toContain('corrected resampled t-test (Nadeau–Bengio)')
    const configs = await page.getByTestId('study-configs').textContent()
    expect(configs).toMatch(/end-to-end.*3\/3.*\d+\.\d % ± \d+\.\d/)
    expect(configs).toMatch(/layer-wise.*3\/3.*\d+\.\d % ± \d+\.\d/)
    // Every member's own score with its Wilson interval and its test rows.
    await expect(page.getByTestId('study-members').textContent()).resolves.toMatch(/\d+\.\d % \[\d+\.\d, \d+\.\d\] on 269 rows/)
    await page.getByTestId('study-interval-chart').locator('canvas').first().waitFor()
    await expect(page.getByTestId('study-panel').textContent()).resolves.toContain('Statistics cover 6 of 6 runs.')
    await page.getByTestId('study-panel').scrollIntoViewIfNeeded()
    await screenshot(page, 'studies-result')
    await page.getByTestId('study-members').scrollIntoViewIfNeeded()
    await screenshot(page, 'studies-result-runs')
    expect(errors).toEqual([])
  })

  it('sweeps two learning rates layer-wise: a sortable table with the best chosen on validation, and a parallel-coordinates plot', async () => {
    await page.getByTestId('studies').scrollIntoViewIfNeeded()
    await page.getByTestId('new-study-button').click()
    await page.getByTestId('new-study').waitFor()
    await page.getByTestId('study-what-sweep').click()
    await page.getByTestId('sweep-lr').locator('input').fill('0.0003, 0.003')
    await page.getByTestId('new-study').getByText('end-to-end', { exact: true }).click()
    await setNumber(page, 'protocol-k', '2')
    await setNumber(page, 'study-workers', '2')
    await screenshot(page, 'studies-new-sweep')
    await page.getByTestId('study-start').click()
    await expect.poll(() => page.getByTestId('study-panel').textContent(), { timeout: 30_000 }).toContain('sweep of 2 points')
    await expect.poll(() => page.getByTestId('study-status').textContent(), { timeout: 240_000 }).toBe('completed')
    const table = await page.getByTestId('study-configs').textContent()
    expect(table).toContain('learningRate')
    expect(table).toContain('lr 0.0003 · mode layer-wise')
    expect(table).toContain('lr 0.003 · mode layer-wise')
    expect(table).toContain('best on validation')
    await page.getByTestId('sweep-plot').locator('canvas').first().waitFor()
    await page.getByTestId('study-configs').scrollIntoViewIfNeeded()
    await screenshot(page, 'studies-sweep')
    await page.getByTestId('sweep-plot').scrollIntoViewIfNeeded()
    await screenshot(page, 'studies-sweep-plot')
    expect(errors).toEqual([])
  })
  it('shows a regression study in R² and RMSE: plain folds, no percentages, no Wilson interval', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'layerlab-e2e-study-regression-'))
    const csv = path.join(dir, 'friedman.csv')
    fs.writeFileSync(csv, friedmanCsv(200))
    const dataset = await callApi<DatasetSummary>(shell, 'datasets.import', { path: csv })
    expect(dataset.task).toBe('regression')
    const { spec, partition } = await callApi<{ spec: ModelSpec; partition: Partition }>(shell, 'models.default', {
      datasetId: dataset.datasetId,
      hidden: [16]
    })
    // Long enough to learn some of Friedman's function (about a second a run), so the page shows figures that mean something.
    for (const block of partition.blocks) block.settings.epochs = 20
    const { studyId } = await callApi<{ studyId: string }>(shell, 'studies.start', {
      datasetId: dataset.datasetId,
      base: { spec, partition, config: { epochs: 40 } },
      protocol: { kind: 'cv', folds: 3 },
      workers: 2
    })
    await expect(callApi(shell, 'studies.wait', { studyId })).resolves.toMatchObject({ status: 'completed', task: 'regression' })
    await page.reload()
    await page.getByTestId('nav-experiments').click()
    await page.getByTestId(`open-study-${studyId}`).click()
    await expect.poll(() => page.getByTestId('study-panel').textContent(), { timeout: 30_000 }).toContain('3-fold cross-validation')
    const panel = (await page.getByTestId('study-panel').textContent())!
    expect(panel).not.toContain('stratified')
    expect(panel).toContain('Test R² ± 95 %')
    expect(panel).toContain('Test RMSE')
    expect(await page.getByTestId('study-verdict').textContent()).toMatch(/ of test R² .*3 paired runs/)
    const configs = (await page.getByTestId('study-configs').textContent())!
    expect(configs).toMatch(/end-to-end.*3\/3.*-?\d\.\d{3} ± \d\.\d{4}/)
    expect(configs).not.toMatch(/\d\.\d+ %/)
    const members = (await page.getByTestId('study-members').textContent())!
    expect(members).toMatch(/-?\d\.\d{3} on (66|67) rows/)
    expect(members).not.toMatch(/Wilson|\[/)
    await page.getByTestId('study-panel').scrollIntoViewIfNeeded()
    await screenshot(page, 'studies-regression')
    await page.getByTestId('study-members').scrollIntoViewIfNeeded()
    await screenshot(page, 'studies-regression-runs')
    fs.rmSync(dir, { recursive: true, force: true })
    expect(errors).toEqual([])
  })
})
