/**
 * Decoupled training from the Train view in the real web shell: every block trains in every epoch against its own
 * head, here on worker threads (the pipeline); the timeline, the shared-epoch curves and what the run cost.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import { screenshot, type Shell, openAnalystSession, closeAnalystSession, buildDigitsModel } from './harness'

describe('Decoupled training in the Train view (real web shell, real Chromium)', () => {
  let shell: Shell
  let browser: Browser
  let page: Page
  let errors: string[]

  beforeAll(async () => {
    ;({ shell, browser, page, errors } = await openAnalystSession())
    await buildDigitsModel(page)
  })
  afterAll(async () => {
    await closeAnalystSession({ shell, browser })
  })

  it('trains every block at once on worker threads and shows each head, the pipeline and the step memory', async () => {
    await page.getByTestId('nav-train').click()
    await page.getByTestId('view-train').waitFor()
    await page.getByTestId('mode-decoupled').click()
    await page.getByTestId('epochs').locator('input').fill('4')
    await page.getByTestId('epochs').locator('input').blur()
    await page.getByTestId('pipeline').click()
    await expect(page.getByTestId('pipeline').getAttribute('aria-checked')).resolves.toBe('true')
    await expect(page.getByTestId('budget-this').textContent()).resolves.toMatch(/^4 passes over the data .* 8 block-epochs/)
    await page.getByTestId('train-start').click()
    const results = page.getByTestId('run-results')
    await results.waitFor({ timeout: 180_000 })
    await expect(page.getByTestId('run-status').textContent()).resolves.toBe('completed')
    // Both blocks trained in every epoch: both done, each with its head's score; 4 epochs × 2 blocks of rows.
    const stages = page.getByTestId('timeline-stage')
    await expect(stages.evaluateAll((els) => els.map((e) => e.getAttribute('data-state')))).resolves.toEqual(['done', 'done'])
    await expect(stages.first().textContent()).resolves.toMatch(/head \d+\.\d %/)
    expect(Number(await page.getByTestId('live-curves').getAttribute('data-points'))).toBe(4 * 2)
    await page.waitForTimeout(400)
    await screenshot(page, 'train-6-decoupled-finished')
    // What it cost: one stage per block, and the pipeline's figures (two workers, steps in flight, queue bound).
    const cost = page.getByTestId('run-cost')
    await cost.scrollIntoViewIfNeeded()
    await expect(page.getByTestId('cost-stages').locator('tbody tr').count()).resolves.toBe(2)
    await expect(cost.textContent()).resolves.toMatch(/2 workers.*up to [12] steps at once · queue ≤ \d\/2/)
    await screenshot(page, 'train-7-decoupled-cost')
    expect(errors).toEqual([])
  })
})
