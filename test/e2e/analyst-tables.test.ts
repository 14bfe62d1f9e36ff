/**
 * A first-time analyst with a many-class table (issue 16, items 3, 4, 5, 6, 11, 13; issue 14's intervals), in the
 * real web shell: a 50-class CSV uploaded through the file input, an end-to-end run (60 epochs, patience 10) and a
 * layer-wise one (30 per block and a 10-epoch fine-tune) started from the Train view the same minute, compared in
 * Experiments, one cancelled, and the Export view choosing among them.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import { callApi, screenshot, type Shell, setLongRun, openAnalystSession, closeAnalystSession } from './harness'
import { manyClassCsv } from '../fixtures/generate'
import type { RunDetail, RunSummary } from '../../main/shared/contract'
import { clearlyBest, wilsonInterval } from '../../main/shared/intervals'
import { classified } from '../fixtures/figures'
import { hiddenScroll, overflowing, scrollToTop } from './readable'

const CLASSES = 50

describe('an analyst with a 50-class table (real web shell, real Chromium)', () => {
  let shell: Shell
  let browser: Browser
  let page: Page
  let errors: string[]
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'layerlab-e2e-species-'))

  const runs = () => callApi<RunSummary[]>(shell, 'runs.list')
  async function startFromTrainView(mode: 'end-to-end' | 'layer-wise'): Promise<RunSummary> {
    const before = (await runs()).length
    await page.getByTestId(`mode-${mode}`).click()
    await page.getByTestId('train-start').click()
    await expect.poll(async () => (await runs()).length, { timeout: 30_000 }).toBe(before + 1)
    await page.getByTestId('run-results').waitFor({ timeout: 180_000 })
    const run = (await runs()).sort((a, b) => b.createdAt.localeCompare(a.createdAt))[0]!
    expect(run.status).toBe('completed')
    return run
  }

  beforeAll(async () => {
    ;({ shell, browser, page, errors } = await openAnalystSession())
  })
  afterAll(async () => {
    await closeAnalystSession({ shell, browser })
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it('shows 50 classes all at once, and column statistics that never run into each other', async () => {
    const file = path.join(dir, 'species.csv')
    fs.writeFileSync(file, manyClassCsv(CLASSES, 12))
    await page.getByTestId('upload-file-input').first().setInputFiles(file)
    await page.getByTestId('dataset-name').filter({ hasText: 'species' }).waitFor({ timeout: 60_000 })
    await expect(page.getByTestId('dataset-rows').textContent()).resolves.toBe(`${CLASSES * 12} rows`)
    const balance = page.getByTestId('class-balance')
    await expect(balance.getByTestId('class-bar').count()).resolves.toBe(CLASSES)
    // Every bar on screen, none behind a sideways scroll.
    expect(await hiddenScroll(balance)).toEqual([])
    const boxes = await balance.getByTestId('class-bar').evaluateAll((els) => els.map((e) => e.getBoundingClientRect().right))
    expect(Math.max(...boxes)).toBeLessThanOrEqual(1280)
    // Names cut with "…" keep the whole name in the tooltip.
    await expect(balance.getByTestId('class-bar').first().getAttribute('title')).resolves.toMatch(/^species 01 with a long name: 12 rows/)
    // Statistics like -0.1072 fit their cells (they used to collide: "-0.10720.1107").
    const stats = 'td[data-col-key=min], td[data-col-key=max], td[data-col-key=mean], td[data-col-key=std]'
    expect(await page.locator(`${stats}`).count()).toBeGreaterThan(20)
    expect(await overflowing(page.getByTestId('column-profile'), stats, { strict: true })).toEqual([])
    // (The fixed name column's shadow lies outside its box: not text.)
    expect(await overflowing(page.getByTestId('column-profile'), 'th:not(.n-data-table-th--fixed-left)', { strict: true })).toEqual([])
    await screenshot(page, 'analyst-tables-1-50-classes')
    await scrollToTop(page, 'column-profile', 80)
    await screenshot(page, 'analyst-tables-1b-profile')
  })

  it('starts an end-to-end and a layer-wise run the same minute, with distinct, informative names', async () => {
    await page.getByTestId('build-model').click()
    await page.getByTestId('go-train').waitFor()
    await expect.poll(() => page.getByTestId('go-train').isDisabled()).toBe(false)
    await page.getByTestId('go-train').click()
    await page.getByTestId('view-train').waitFor()
    await startFromTrainView('layer-wise')
    await page.getByTestId('mode-end-to-end').click()
    await expect(page.getByTestId('epochs').locator('input').inputValue()).resolves.toBe('60')
    await expect(page.getByTestId('patience').locator('input').inputValue()).resolves.toBe('10')
    const e2e = await startFromTrainView('end-to-end')
    const all = await runs()
    expect(new Set(all.map((r) => r.name)).size).toBe(2)
    for (const r of all) expect(r.name).toMatch(new RegExp(`^species · ${r.mode} · .+ · \\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d$`))
    expect(all.find((r) => r.mode === 'layer-wise')!.name).toContain('2 blocks × 30 ep + fine-tune 10')

    // Early stopping, said where it happened (this seeded run stops well before its 60 epochs).
    const detail = await callApi<RunDetail>(shell, 'runs.get', { runId: e2e.runId })
    const trained = detail.epochs.length
    expect(trained).toBeLessThan(60)
    const stage = page.getByTestId('timeline-stage').first()
    await expect(stage.getByTestId('timeline-detail').textContent()).resolves.toContain(`${trained}/60 ep, stopped early`)
    await expect(stage.getAttribute('title')).resolves.toBe(`stopped early at ${trained}/60: no better validation for 10 epochs`)
    // The Blocks table says the whole run's epochs and time once, for all blocks together.
    const together = page.getByTestId('block-results').getByTestId('blocks-together')
    await expect(together.count()).resolves.toBe(1)
    await expect(together.textContent()).resolves.toMatch(new RegExp(`^stopped early at ${trained}/60: .* · [\\d.]+ s$`))
    await expect(together.getAttribute('rowspan')).resolves.toBe(String(detail.blocks.length))
    // Layers counted from 1, as the Model view counts them.
    await expect(page.getByTestId('block-results').getByTestId('block-row').first().textContent()).resolves.toContain('layer 1')
    // The test accuracy says on how many rows, with its interval.
    const rows = detail.metrics!.testRows!
    await expect(page.getByTestId('test-basis').textContent()).resolves.toMatch(
      new RegExp(`^\\d+ of ${rows} test rows, 95 % interval [\\d.]+–[\\d.]+ %$`)
    )
    await scrollToTop(page, 'train-live', 20)
    await screenshot(page, 'analyst-tables-2-train-results')
    // 50 classes: the matrix fits the window (nothing hidden behind a sideways scroll), upright names, no cell
    // wrapping, a readable per-class table.
    const matrix = page.getByTestId('confusion-matrix')
    expect(await hiddenScroll(matrix)).toEqual([])
    expect(await overflowing(matrix, 'td', { strict: true })).toEqual([])
    const widths = await matrix
      .getByTestId('confusion-col-head')
      .evaluateAll((els) => els.map((e) => e.querySelector('span')!.getBoundingClientRect().width))
    expect(widths.filter((w) => w > 20)).toEqual([])
    expect(await overflowing(page.getByTestId('per-class-table'), 'th', { strict: true })).toEqual([])
    expect(await overflowing(page.getByTestId('per-class-table'), 'td:not(.label)', { strict: true })).toEqual([])
    await scrollToTop(page, 'confusion-matrix')
    await screenshot(page, 'analyst-tables-3-matrix-50')
  })

  it('lists runs one line each, and compares them without calling a run best when their intervals overlap', async () => {
    await page.getByTestId('nav-experiments').click()
    const table = page.getByTestId('runs-table')
    await table.waitFor()
    const heights = await table.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getBoundingClientRect().height))
    expect(heights).toHaveLength(2)
    expect(Math.max(...heights)).toBeLessThan(44)
    await expect(table.locator('thead').textContent()).resolves.toContain('95 % interval')
    for (const row of await table.locator('tbody tr').all()) await row.locator('.n-checkbox').click()
    await page.getByTestId('compare').waitFor()
    // The diff names the settings that took effect, in plain words, per block.
    const diff = (await page.getByTestId('settings-diff').textContent()) ?? ''
    expect(diff).toContain('up to 60, stop after 10 epochs without better validation accuracy')
    expect(diff).toContain("up to 30, stop after 5 epochs without better validation accuracy of the block's head")
    expect(diff).toContain('Block 1 · epochs')
    expect(diff).toContain('fine-tune after the blocks')
    expect(diff).not.toMatch(/config\.|fineTune|learningRate/)
    // The verdict follows the intervals.
    const scored = (await Promise.all((await runs()).map((r) => callApi<RunDetail>(shell, 'runs.get', { runId: r.runId })))).map((r) => {
      const m = classified(r.metrics)
      return wilsonInterval(Math.round(m.testAccuracy * m.testRows!), m.testRows!)
    })
    const verdict = (await page.getByTestId('compare-verdict').textContent()) ?? ''
    if (clearlyBest(scored) === null) expect(verdict).toMatch(/^No run is clearly best: the test accuracies' 95 % intervals overlap/)
    else expect(verdict).toMatch(/has the best test accuracy, and its 95 % interval lies above/)
    expect(verdict).not.toContain('Best test accuracy:')
    await expect(page.getByTestId('compare-metrics').textContent()).resolves.toMatch(/stopped early at \d+\/60: no better validation for 10 epochs/)
    // Why the layer-wise loss jumps at a block boundary, in plain words, next to the loss chart.
    await expect(page.getByTestId('loss-jump-note').textContent()).resolves.toContain('each new head starts untrained')
    await page.waitForTimeout(400) // the tab's slide-in, before the picture
    await screenshot(page, 'analyst-tables-4-compare')
    await scrollToTop(page, 'compare-metrics', 50)
    await screenshot(page, 'analyst-tables-5-compare-diff')
  })

  it('shows a cancelled run the same on its cards and in its results', async () => {
    await page.getByTestId('nav-model').click()
    for (let i = 0; i < (await page.getByTestId('block-label').count()); i++) {
      await page.getByTestId('block-label').nth(i).click()
      await page.getByTestId('setting-patience').locator('input').fill('0')
      await page.getByTestId('setting-patience').locator('input').blur()
    }
    await page.getByTestId('nav-train').click()
    await page.getByTestId('mode-layer-wise').click()
    await setLongRun(page)
    await page.getByTestId('train-start').click()
    await page.getByTestId('run-status').filter({ hasText: 'running' }).waitFor({ timeout: 60_000 })
    await expect.poll(async () => Number(await page.getByTestId('live-curves').getAttribute('data-points')), { timeout: 60_000 }).toBeGreaterThan(3)
    await page.getByTestId('train-cancel').click()
    await page.getByTestId('run-status').filter({ hasText: 'cancelled' }).waitFor({ timeout: 60_000 })
    await page.getByTestId('run-results').waitFor()
    const stopped = page.locator('[data-testid=timeline-stage][data-state=stopped]')
    const card = (await stopped.getByTestId('timeline-detail').textContent()) ?? ''
    expect(card).toMatch(/^cancelled at epoch \d+\/10000 · best val [\d.]+ %$/)
    const cardVal = card.match(/best val ([\d.]+ %)/)![1]
    await expect(page.getByTestId('test-accuracy').textContent()).resolves.toBe('not measured')
    await expect(page.getByTestId('best-seen-val').textContent()).resolves.toBe(cardVal)
    await page.waitForTimeout(400)
    await screenshot(page, 'analyst-tables-6-cancelled')
  })

  it('exports the best completed run by default, asks before a cancelled one, names the file after the run', async () => {
    const all = await runs()
    const completed = all.filter((r) => r.status === 'completed')
    const best = completed.reduce((a, b) => (classified(b.metrics).valAccuracy > classified(a.metrics).valAccuracy ? b : a))
    const cancelled = all.find((r) => r.status === 'cancelled')!
    await page.getByTestId('nav-export').click()
    await page.getByTestId('export-run').waitFor()
    // The latest run is the cancelled one; the view starts from the best completed run instead.
    await expect.poll(() => page.getByTestId('export-run').textContent()).toContain(best.name)
    await expect(page.getByTestId('export-preselected').isVisible()).resolves.toBe(true)
    const file = path.join(dir, 'new-species.csv')
    fs.writeFileSync(file, manyClassCsv(CLASSES, 2, 9))
    await page.getByTestId('predict-input').setInputFiles(file)
    await page.getByTestId('predict-summary').waitFor({ timeout: 60_000 })
    await expect(page.getByTestId('predict-summary').textContent()).resolves.toContain(`${CLASSES * 2} predictions by ${best.name}`)

    // Choosing the cancelled run: old predictions go, the run is marked, and exporting it asks first.
    await page.getByTestId('export-run').click()
    await page.locator('.n-base-select-option', { hasText: 'cancelled, not evaluated' }).click()
    await expect.poll(() => page.getByTestId('predict-results').count()).toBe(0)
    await expect(page.getByTestId('predict-model').textContent()).resolves.toBe(cancelled.name)
    await page.getByTestId('export-unevaluated').waitFor()
    await page.getByTestId('export-button').click()
    const dialog = page.locator('.n-dialog')
    await dialog.waitFor()
    await expect(dialog.textContent()).resolves.toContain('Export a cancelled run?')
    await screenshot(page, 'analyst-tables-7-export-ask')
    await dialog.getByText('Keep it').click()
    await expect(page.getByTestId('export-proof').count()).resolves.toBe(0)
    await page.getByTestId('export-button').click()
    await page.locator('.n-dialog').getByText('Export anyway').click()
    await page.getByTestId('export-proof').waitFor({ timeout: 60_000 })
    await expect(page.getByTestId('proof-unevaluated').isVisible()).resolves.toBe(true)
    const download = (await page.getByTestId('export-download').textContent()) ?? ''
    expect(download).toMatch(/^Download species-layer-wise-[\w-]+\.onnx$/)
    expect(download).not.toContain('model.onnx')
    await screenshot(page, 'analyst-tables-8-export-cancelled')
  })

  it('leads every block setting help with a plain sentence, the formula on its second line', async () => {
    await page.getByTestId('nav-model').click()
    await page.getByTestId('block-settings').waitFor()
    await page.getByTestId('setting-optimizer').click()
    await page.locator('.n-base-select-option', { hasText: 'SGD + momentum' }).click()
    const helps = await page
      .getByTestId('block-settings')
      .locator('.help')
      .evaluateAll((els) =>
        els.map((e) => {
          // innerText turns the <br> between the plain sentence and the formula into a line break.
          const [first, ...rest] = (e as HTMLElement).innerText.split('\n')
          return { first: (first ?? '').trim(), rest: rest.join(' ').trim() }
        })
      )
    expect(helps.length).toBeGreaterThanOrEqual(10)
    for (const help of helps) expect(help.first, help.first).not.toMatch(/[=←∇‖η]|\bl\b/)
    const all = helps.map((h) => `${h.first} ${h.rest}`).join('\n')
    expect(all).toContain('small temporary classifier')
    expect(all).toMatch(/2\.6 times slower than the block above/)
    // The formulas are still there, second.
    expect(helps.filter((h) => /[←∇‖]|η/.test(h.rest)).length).toBeGreaterThanOrEqual(5)
    await screenshot(page, 'analyst-tables-9-help')
    expect(errors.filter((e) => !e.includes('Failed to load resource'))).toEqual([])
  })
})
