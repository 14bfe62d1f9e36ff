/**
 * A first-time analyst with class folders of images (issue 16, items 1, 2, 3, 10), in the real web shell: a
 * Fashion-MNIST-like train folder (10 classes, long names) uploaded through the folder input with its progress, a
 * model trained on it, the misclassified test images as thumbnails (sorted by confidence, filtered by a click on the
 * confusion matrix), and a test folder uploaded in the Export view, whose accuracy must be the CLI's on that folder.
 */
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import { callApi, recordTexts, ROOT, screenshot, waitForRun, type Shell, openAnalystSession, closeAnalystSession } from './harness'
import { FASHION_CLASSES, writeClassImages } from '../fixtures/generate'
import type { DatasetSummary, ModelSpec, Partition } from '../../main/shared/contract'
import { overflowing, scrollToTop } from './readable'

const PER_CLASS_TRAIN = 24
const PER_CLASS_TEST = 8

describe('an analyst with image class folders (real web shell, real Chromium)', () => {
  let shell: Shell
  let browser: Browser
  let page: Page
  let errors: string[]
  let dataset: DatasetSummary
  let runId: string
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'layerlab-e2e-fashion-'))
  const trainFolder = path.join(dir, 'fashion', 'train')
  const testFolder = path.join(dir, 'fashion', 'test')

  beforeAll(async () => {
    await writeClassImages(trainFolder, FASHION_CLASSES, PER_CLASS_TRAIN, 1)
    await writeClassImages(testFolder, FASHION_CLASSES, PER_CLASS_TEST, 2)
    ;({ shell, browser, page, errors } = await openAnalystSession())
  })
  afterAll(async () => {
    await closeAnalystSession({ shell, browser })
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it('uploads the train folder showing files and bytes sent, then images decoded; names it after more than "train"; counts images', async () => {
    await page.getByTestId('upload-folder-input').first().waitFor({ state: 'attached' })
    // Every text the progress line shows, as it changes (the upload of a few hundred small files is quick).
    const progressSeen = await recordTexts(page, 'import-progress-text')
    await page.getByTestId('upload-folder-input').first().setInputFiles(trainFolder)
    await page.getByTestId('dataset-detail').waitFor({ timeout: 90_000 })
    const total = FASHION_CLASSES.length * PER_CLASS_TRAIN
    await expect(page.getByTestId('dataset-rows').textContent()).resolves.toBe(`${total} images`)
    const seen = await progressSeen()
    // The upload phase counts files and bytes (never "0 rows" with an empty bar), then the import counts images.
    expect(seen.some((t) => new RegExp(`^Uploading train: \\d+ of ${total} files · [\\d.]+ (B|KB|MB) of [\\d.]+ (KB|MB)$`).test(t))).toBe(true)
    expect(seen.some((t) => /^Decoding the images of train: \d+ images?/.test(t))).toBe(true)
    expect(seen.some((t) => /rows/.test(t))).toBe(false)
    // An upload's parent is a batch folder: the name says the classes instead of just "train".
    const name = await page.getByTestId('dataset-name').textContent()
    expect(name).toBe('train: 10 classes, ankle boot, bag, coat…')
    await expect(page.getByTestId('dataset-item').first().textContent()).resolves.toContain(`${total} images · 10 classes`)
    await expect(page.getByTestId('dataset-split').textContent()).resolves.toMatch(/test \d+ images/)
    // Pixels are no columns to switch on or off: no type menu, no include switch.
    const profile = page.getByTestId('column-profile')
    await expect(profile.getByRole('switch').count()).resolves.toBe(0)
    await expect(profile.textContent()).resolves.toContain('all pixels used')
    await expect(page.getByTestId('class-bar').count()).resolves.toBe(10)
    expect(await overflowing(page.getByTestId('class-balance'), '.label')).toEqual([])
    await screenshot(page, 'analyst-images-1-dataset')
    dataset = (await callApi<DatasetSummary[]>(shell, 'datasets.list')).find((d) => d.kind === 'images')!
  })

  it('trains a model on it (through the API: the views are what is tested here)', async () => {
    const { spec, partition } = await callApi<{ spec: ModelSpec; partition: Partition }>(shell, 'models.default', {
      datasetId: dataset.datasetId,
      preset: 'mlp',
      hidden: [48]
    })
    for (const block of partition.blocks) block.settings.learningRate = 0.003
    ;({ runId } = await callApi<{ runId: string }>(shell, 'train.start', {
      datasetId: dataset.datasetId,
      spec,
      partition,
      config: { mode: 'end-to-end', epochs: 25, patience: 0 }
    }))
    expect((await waitForRun(shell, runId)).status).toBe('completed')
  })

  it('shows misclassified test images as thumbnails with true and predicted class and confidence, sorted and filtered by a matrix cell', async () => {
    await page.getByTestId('nav-experiments').click()
    await page.getByTestId(`open-${runId}`).click()
    const gallery = page.getByTestId('misclassified-gallery')
    await gallery.locator('img').first().waitFor({ timeout: 30_000 })
    const examples = gallery.getByTestId('misclassified-example')
    const count = await examples.count()
    expect(count).toBeGreaterThan(0)
    // Real pictures of the rows, asked for by row (datasets.rowThumbnails), not file paths.
    expect(await gallery.locator('img').first().getAttribute('src')).toMatch(/^data:image\/png;base64,/)
    await expect(page.getByTestId('misclassified').textContent()).resolves.not.toContain('.png')
    // Most sure mistakes first; "least sure first" reverses them.
    const confidences = async () => await examples.evaluateAll((els) => els.map((e) => Number(e.getAttribute('data-confidence'))))
    const sure = await confidences()
    expect(sure).toEqual([...sure].sort((a, b) => b - a))
    expect(sure.every((c) => c > 0 && c <= 1)).toBe(true)
    await page.getByTestId('misclassified-order').getByText('least sure first').click()
    await expect.poll(async () => (await confidences())[0]).toBe(Math.min(...sure))
    // The confusion matrix: upright names, never broken inside a word, and none of its cells wrapping.
    const matrix = page.getByTestId('confusion-matrix')
    const heads = await matrix
      .getByTestId('confusion-col-head')
      .evaluateAll((els) => els.map((e) => ({ title: e.getAttribute('title'), width: e.querySelector('span')!.getBoundingClientRect().width })))
    expect(heads.map((h) => h.title)).toEqual([...FASHION_CLASSES].sort())
    // Upright text one line wide: a name broken over lines ("pullov/er") would be two or more lines wide.
    expect(heads.filter((h) => h.width > 20)).toEqual([])
    expect(await overflowing(matrix, 'td')).toEqual([])
    expect(await overflowing(page.getByTestId('per-class'), 'th', { strict: true })).toEqual([])
    expect(await overflowing(page.getByTestId('per-class'), 'td:not(.label)', { strict: true })).toEqual([])
    await screenshot(page, 'analyst-images-2-run')
    await scrollToTop(page, 'confusion-matrix')
    await screenshot(page, 'analyst-images-2-matrix')
    // A click on an error cell keeps only those mistakes.
    const cell = matrix.getByTestId('confusion-error-cell').first()
    const [truth, predicted] = (await cell.getAttribute('data-cell'))!.split(',').map(Number)
    const inCell = Number(await cell.textContent())
    await cell.click()
    const sorted = [...FASHION_CLASSES].sort()
    await expect
      .poll(() => page.getByTestId('misclassified-heading').textContent())
      .toBe(`${inCell} misclassified test image${inCell === 1 ? '' : 's'}: true ${sorted[truth!]}, predicted ${sorted[predicted!]}`)
    await expect(examples.count()).resolves.toBe(inCell)
    for (const caption of await examples.locator('figcaption').allTextContents()) {
      expect(caption).toContain(sorted[truth!])
      expect(caption).toContain(`→ ${sorted[predicted!]}`)
    }
    await scrollToTop(page, 'misclassified', 120)
    await screenshot(page, 'analyst-images-3-misclassified')
    await page.getByTestId('misclassified-clear').click()
    await expect.poll(() => examples.count()).toBe(count)
  })

  it('predicts on an uploaded test folder with the accuracy the CLI gets on the same folder', async () => {
    // The CLI on the folder itself: the class subfolders are the truth.
    const cli = spawnSync(
      process.execPath,
      [path.join(ROOT, 'bin/layerlab.cjs'), '--home', shell.home, '--json', 'predict', '--model', runId, '--data', testFolder],
      { encoding: 'utf8', timeout: 120_000 }
    )
    expect(cli.status, cli.stderr).toBe(0)
    const fromCli = JSON.parse(cli.stdout) as { accuracy: number; rows: Array<{ truth: string }> }
    expect(fromCli.rows).toHaveLength(FASHION_CLASSES.length * PER_CLASS_TEST)
    expect(fromCli.accuracy).toBeGreaterThan(0.3)

    await page.getByTestId('nav-export').click()
    await page.getByTestId('export-run').waitFor()
    // The only (completed) run is preselected and named in the Predict card.
    // (after the view's run list has come back: poll, not one read)
    await expect.poll(() => page.getByTestId('predict-model').textContent()).toContain('train: 10 classes')
    await page.getByTestId('predict-folder-input').setInputFiles(testFolder)
    const summary = page.getByTestId('predict-summary')
    await summary.waitFor({ timeout: 90_000 })
    const shown = Number((await summary.textContent())!.match(/accuracy ([\d.]+) %/)![1])
    // The same figure: the upload is predicted on the folder the user picked, whose subfolders are the classes.
    expect(shown).toBeCloseTo(fromCli.accuracy * 100, 1)
    const n = FASHION_CLASSES.length * PER_CLASS_TEST
    await expect(summary.textContent()).resolves.toMatch(new RegExp(`^${n} predictions by .*\\(\\d+ of ${n} labelled rows, 95 % interval`))
    const truths = await page.getByTestId('predict-table').locator('tbody tr td:nth-child(4)').allTextContents()
    expect(truths.length).toBeGreaterThan(0)
    expect(truths.filter((t) => !FASHION_CLASSES.includes(t.trim()))).toEqual([])
    // The results were brought into view.
    await expect(page.getByTestId('predict-results').isVisible()).resolves.toBe(true)
    const box = await page.getByTestId('predict-results').boundingBox()
    expect(box!.y).toBeLessThan(800)
    await screenshot(page, 'analyst-images-4-predict-folder')
    expect(errors.filter((e) => !e.includes('Failed to load resource'))).toEqual([])
  })
})
