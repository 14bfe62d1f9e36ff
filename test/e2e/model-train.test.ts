/**
 * From data to a trained model in the real web shell: the default MLP for digits, editing the layer stack and the
 * partition (buttons and dragging), then a short layer-wise run with live curves, a confusion matrix and per-class table.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import { screenshot, type Shell, setLongRun, openAnalystSession, closeAnalystSession } from './harness'

const number = (text: string | null): number => Number((text ?? '').replace(/[^\d.]/g, ''))

describe('Model and Train views (real web shell, real Chromium)', () => {
  let shell: Shell
  let browser: Browser
  let page: Page
  let errors: string[]

  const rows = () => page.getByTestId('layer-row')
  const blockRanges = () => page.getByTestId('block').evaluateAll((els) => els.map((e) => e.getAttribute('data-range')))

  beforeAll(async () => {
    ;({ shell, browser, page, errors } = await openAnalystSession())
    await page.getByTestId('import-example-digits').click()
    await page.getByTestId('dataset-detail').waitFor({ timeout: 60_000 })
  })
  afterAll(async () => {
    await closeAnalystSession({ shell, browser })
  })

  it('shows the default MLP for digits with shapes and parameter counts', async () => {
    await page.getByTestId('build-model').click()
    await page.getByTestId('view-model').waitFor()
    await page.getByTestId('layer-stack').waitFor({ timeout: 30_000 })
    await expect.poll(() => page.getByTestId('layer-params').first().textContent()).not.toBe('')
    await expect(rows().count()).resolves.toBe(3)
    expect(await page.getByTestId('layer-type').allTextContents()).toEqual(['dense', 'dense', 'dense'])
    expect(await page.getByTestId('layer-shape').allTextContents()).toEqual(['→ 100', '→ 100', '→ 10'])
    // Parameters follow from the input width the dataset reports: (in + 1) · units per dense layer.
    const inputs = number(await page.locator('.io b').textContent())
    expect(inputs).toBeGreaterThan(50)
    const expected = [(inputs + 1) * 100, 101 * 100, 101 * 10]
    expect((await page.getByTestId('layer-params').allTextContents()).map(number)).toEqual(expected)
    expect(number(await page.getByTestId('total-params').textContent())).toBe(expected.reduce((a, b) => a + b))
    // Two blocks: the first hidden layer, then the second with the output.
    expect(await blockRanges()).toEqual(['0-1', '1-3'])
    await screenshot(page, 'model-1-default')
  })

  it('rebuilds the default from hidden sizes, and applies discriminative learning rates', async () => {
    await page.getByTestId('hidden-sizes').locator('input').fill('64, 32, 16')
    await page.getByTestId('rebuild-default').click()
    await expect.poll(() => rows().count()).toBe(4)
    // Rows follow the spec at once; their shapes arrive with the next models.describe answer.
    await expect.poll(() => page.getByTestId('layer-shape').allTextContents()).toEqual(['→ 64', '→ 32', '→ 16', '→ 10'])
    expect(await blockRanges()).toEqual(['0-1', '1-2', '2-4'])
    // η_l = η_top / 2.6^(K−l): the top block keeps its rate, each one below gets 2.6 times less.
    const top = 0.001
    await page.getByTestId('preset-discriminative').click()
    const labels = await page.getByTestId('block-label').allTextContents()
    const rates = labels.map((l) => Number(l.match(/η=([\d.e-]+)/)?.[1]))
    rates.forEach((rate, l) => expect(Math.abs(rate / (top / Math.pow(2.6, rates.length - 1 - l)) - 1)).toBeLessThan(5e-4))
    await screenshot(page, 'model-2-discriminative')
    await page.getByTestId('hidden-sizes').locator('input').fill('100, 100')
    await page.getByTestId('rebuild-default').click()
    await expect.poll(() => rows().count()).toBe(3)
    expect(await blockRanges()).toEqual(['0-1', '1-3'])
  })

  it('adds and removes a layer, keeping the partition consistent', async () => {
    await page.getByTestId('add-layer').click()
    await page.locator('.n-dropdown-option', { hasText: 'dropout' }).click()
    await expect.poll(() => rows().count()).toBe(4)
    expect(await page.getByTestId('layer-type').allTextContents()).toEqual(['dense', 'dense', 'dropout', 'dense'])
    // The new layer joins the block of the layer before it; shapes pass through dropout unchanged.
    expect(await blockRanges()).toEqual(['0-1', '1-4'])
    await expect.poll(() => page.getByTestId('layer-shape').nth(2).textContent()).toBe('→ 100')
    await screenshot(page, 'model-3-added-dropout')
    await page.getByTestId('remove-layer-2').click()
    await expect.poll(() => rows().count()).toBe(3)
    expect(await blockRanges()).toEqual(['0-1', '1-3'])
  })

  it('shows a problem on the layer it names, and blocks training until it is fixed', async () => {
    await page.getByTestId('add-layer').click()
    await page.locator('.n-dropdown-option', { hasText: 'conv 2d' }).click()
    const problem = rows().nth(2).getByTestId('layer-error')
    await problem.waitFor()
    expect(await problem.textContent()).toMatch(/layer 3 \(conv2d\).*image input/)
    expect(await page.getByTestId('layer-error').count()).toBe(1)
    await expect(page.getByTestId('go-train').isDisabled()).resolves.toBe(true)
    await screenshot(page, 'model-4-layer-problem')
    await page.getByTestId('remove-layer-2').click()
    await expect.poll(() => page.getByTestId('layer-error').count()).toBe(0)
    await expect.poll(() => page.getByTestId('go-train').isDisabled()).toBe(false)
  })

  it('moves a block boundary with its button and by dragging it', async () => {
    await page.getByTestId('boundary-down-0').click()
    expect(await blockRanges()).toEqual(['0-2', '2-3'])
    await expect(page.getByTestId('block-label').first().textContent()).resolves.toContain('layers 1–2')
    await screenshot(page, 'model-5-boundary-moved')
    // Drag the handle back above layer 1: the boundary lands before the first layer below the pointer.
    const handle = page.getByTestId('boundary-0').locator('.grip')
    const from = (await handle.boundingBox())!
    const target = (await rows().nth(1).boundingBox())!
    await page.mouse.move(from.x + from.width / 2, from.y + from.height / 2)
    await page.mouse.down()
    await page.mouse.move(from.x + from.width / 2, target.y + 5, { steps: 8 })
    await page.mouse.up()
    expect(await blockRanges()).toEqual(['0-1', '1-3'])
    // And by keyboard: the focused handle moves with the arrow keys.
    await page.getByTestId('boundary-0').focus()
    await page.keyboard.press('ArrowDown')
    expect(await blockRanges()).toEqual(['0-2', '2-3'])
  })

  it('trains layer-wise with live curves, then shows the confusion matrix and per-class figures', async () => {
    await page.getByTestId('nav-train').click()
    await page.getByTestId('view-train').waitFor()
    // Decoupled: its own switches, and its budget stated against end-to-end's.
    await page.getByTestId('mode-decoupled').click()
    await page.getByTestId('pipeline').waitFor()
    await expect(page.getByTestId('budget-this').textContent()).resolves.toContain('each against its own head')
    await screenshot(page, 'train-0-decoupled-config')
    await page.getByTestId('mode-layer-wise').click()
    await page.getByTestId('block-epochs').locator('input').fill('3')
    if ((await page.getByTestId('fine-tune').getAttribute('aria-checked')) !== 'true') await page.getByTestId('fine-tune').click()
    await expect(page.getByTestId('fine-tune').getAttribute('aria-checked')).resolves.toBe('true')
    await page.getByTestId('fine-tune-epochs').locator('input').fill('2')
    await page.getByTestId('fine-tune-epochs').locator('input').blur()
    // 3 epochs for each of 2 blocks + 2 of fine-tune: 8 passes over the data, and a way to end-to-end's budget.
    await expect(page.getByTestId('budget-this').textContent()).resolves.toMatch(/^8 passes over the data .*2 blocks × 3 epochs \+ fine-tune 2$/)
    await expect(page.getByTestId('same-budget').isVisible()).resolves.toBe(true)
    await screenshot(page, 'train-1-config')

    await page.getByTestId('train-start').click()
    // Live: a stage is training (or, on a fast machine, already done: 8 digits epochs take about a second; the
    // long run below is the one watched mid-way) and the curves are drawn as epochs arrive.
    await page
      .locator('[data-testid=timeline-stage][data-state=training], [data-testid=timeline-stage][data-state=done]')
      .first()
      .waitFor({ timeout: 60_000 })
    const curves = page.getByTestId('live-curves')
    await curves.locator('canvas').first().waitFor()
    // Epochs reach the charts as they finish (two points make a line).
    await expect.poll(async () => Number(await curves.getAttribute('data-points')), { timeout: 60_000 }).toBeGreaterThanOrEqual(2)
    await screenshot(page, 'train-2-live')

    const results = page.getByTestId('run-results')
    await results.waitFor({ timeout: 180_000 })
    await expect(page.getByTestId('run-status').textContent()).resolves.toBe('completed')
    const states = await page.getByTestId('timeline-stage').evaluateAll((els) => els.map((e) => e.getAttribute('data-state')))
    expect(states).toEqual(['done', 'done', 'done'])
    // Every epoch arrived live: 3 per block for 2 blocks, then 2 of fine-tune.
    expect(Number(await curves.getAttribute('data-points'))).toBe(3 * 2 + 2)
    await screenshot(page, 'train-3-finished')

    // The confusion matrix covers the whole test part: its cells add up to the per-class supports.
    const matrix = page.getByTestId('confusion-matrix')
    await expect(matrix.locator('tbody tr').count()).resolves.toBe(10)
    const cells = (await matrix.locator('tbody td:not(.support)').allTextContents()).map((t) => Number(t || 0))
    expect(cells).toHaveLength(100)
    const perClass = page.getByTestId('per-class-table').locator('tbody tr')
    await expect(perClass.count()).resolves.toBe(10)
    const supports = (await perClass.evaluateAll((trs) => trs.map((tr) => tr.lastElementChild?.textContent ?? '0'))).map(Number)
    expect(cells.reduce((a, b) => a + b)).toBe(supports.reduce((a, b) => a + b))
    // Accuracy from the matrix diagonal matches the headline figure.
    const diagonal = cells.filter((_, i) => i % 11 === 0).reduce((a, b) => a + b)
    const shown = number(await page.getByTestId('test-accuracy').textContent())
    expect(Math.abs((100 * diagonal) / supports.reduce((a, b) => a + b) - shown)).toBeLessThan(0.1)
    expect(shown).toBeGreaterThan(50)
    // Two blocks, then the fine-tune.
    await expect(page.getByTestId('block-results').getByTestId('block-row').count()).resolves.toBe(3)
    // What it cost: the step memory per stage (2 block stages + the fine-tune), explained in a sentence.
    await expect(page.getByTestId('cost-step-peak').textContent()).resolves.toMatch(/\d (KiB|MiB)$/)
    await expect(page.getByTestId('cost-stages').locator('tbody tr').count()).resolves.toBe(3)
    await expect(page.getByTestId('cost-explained').textContent()).resolves.toContain('Step memory is')
    await results.scrollIntoViewIfNeeded()
    await screenshot(page, 'train-4-results')
  })

  it('follows a long run across a reload, then cancels it: the stage it was in shows as stopped, the progress stays where it stopped', async () => {
    // No early stopping in the block stages, so the run is still going when the test reloads and cancels it.
    await page.getByTestId('nav-model').click()
    for (let i = 0; i < (await page.getByTestId('block-label').count()); i++) {
      await page.getByTestId('block-label').nth(i).click()
      await page.getByTestId('setting-patience').locator('input').fill('0')
      await page.getByTestId('setting-patience').locator('input').blur()
    }
    await page.getByTestId('nav-train').click()
    await setLongRun(page)
    await page.getByTestId('train-start').click()
    await page.getByTestId('run-status').filter({ hasText: 'running' }).waitFor({ timeout: 60_000 })
    const points = async () => Number(await page.getByTestId('live-curves').getAttribute('data-points'))
    await expect.poll(points, { timeout: 60_000 }).toBeGreaterThanOrEqual(1)
    // A reload loses the page's state, not the run: the view picks it up with the epochs stored so far.
    const before = await points()
    await page.reload()
    await page.getByTestId('nav-train').click()
    await page.getByTestId('run-status').filter({ hasText: 'running' }).waitFor({ timeout: 30_000 })
    await expect.poll(points, { timeout: 30_000 }).toBeGreaterThanOrEqual(before)
    await page.getByTestId('train-cancel').click()
    await page.getByTestId('run-status').filter({ hasText: 'cancelled' }).waitFor({ timeout: 60_000 })
    const states = await page.getByTestId('timeline-stage').evaluateAll((els) => els.map((e) => e.getAttribute('data-state')))
    expect(states.filter((s) => s === 'stopped')).toHaveLength(1)
    expect(states.at(-1)).toBe('waiting')
    expect(Number((await page.getByTestId('train-percent').textContent())?.replace(/\D/g, ''))).toBeLessThan(100)
    await page.waitForTimeout(400) // let naive-ui's colour transitions finish before the picture
    await screenshot(page, 'train-5-cancelled')
    expect(errors).toEqual([])
  })
})
