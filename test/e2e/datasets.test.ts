/**
 * The Datasets view as a person uses it, in the real web shell: the bundled example, the whole-file preview,
 * an awkward CSV uploaded through the file input, and a broken file that must fail inline without losing anything.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import sharp from 'sharp'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Browser, Page } from 'playwright-core'
import { screenshot, type Shell, openAnalystSession, closeAnalystSession } from './harness'

/** European-style CSV: semicolons between fields, decimal commas, and a quoted field holding a semicolon. */
function awkwardCsv(): string {
  const lines = ['plant;height cm;leaf width;note;kind']
  for (let i = 0; i < 60; i++) {
    const kind = ['oak', 'ash', 'elm'][i % 3]
    const height = (10 + (i % 3) * 5 + (i % 7) * 0.25).toFixed(2).replace('.', ',')
    const width = (1.5 + (i % 3) + (i % 5) * 0.1).toFixed(1).replace('.', ',')
    lines.push(`p${i};${height};${width};"tall; green";${kind}`)
  }
  return lines.join('\r\n') + '\r\n'
}

/** shapes/<class>/*.png: dark squares and bright discs, 16×16, plus a file that only pretends to be a PNG. */
async function shapesFolder(root: string): Promise<string> {
  const folder = path.join(root, 'shapes')
  for (const label of ['disc', 'square']) {
    fs.mkdirSync(path.join(folder, label), { recursive: true })
    for (let i = 0; i < 6; i++) {
      const pixels = Buffer.alloc(16 * 16)
      for (let y = 0; y < 16; y++)
        for (let x = 0; x < 16; x++) {
          const inside =
            label === 'disc' ? (x - 8) ** 2 + (y - 8) ** 2 < (4 + i / 2) ** 2 : Math.abs(x - 8) < 3 + i / 2 && Math.abs(y - 8) < 3 + i / 2
          pixels[y * 16 + x] = inside ? (label === 'disc' ? 240 : 90) : 0
        }
      await sharp(pixels, { raw: { width: 16, height: 16, channels: 1 } })
        .png()
        .toFile(path.join(folder, label, `${i}.png`))
    }
  }
  fs.writeFileSync(path.join(folder, 'square', 'broken.png'), 'not an image at all')
  return folder
}

describe('Datasets view (real web shell, real Chromium)', () => {
  let shell: Shell
  let browser: Browser
  let page: Page
  let errors: string[]
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'layerlab-e2e-files-'))

  beforeAll(async () => {
    ;({ shell, browser, page, errors } = await openAnalystSession())
  })
  afterAll(async () => {
    await closeAnalystSession({ shell, browser })
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it('imports the digits example in one click and shows rows, column profile and 10 balanced classes', async () => {
    await page.getByTestId('view-datasets').waitFor()
    await page.getByTestId('empty-state').waitFor()
    await screenshot(page, 'datasets-1-empty')
    await page.getByTestId('import-example-digits').click()
    await page.getByTestId('dataset-detail').waitFor({ timeout: 60_000 })
    await expect(page.getByTestId('dataset-rows').textContent()).resolves.toContain('1,797 rows')
    await expect(page.getByTestId('class-bar').count()).resolves.toBe(10)
    // 64 pixel columns and the target, each profiled: the corner pixel is constant and left out, the next ones range 0..16.
    await expect(page.locator('.n-tabs-tab[data-name=columns]').textContent()).resolves.toContain('65')
    await expect(page.locator('[data-testid=profile-row][data-column="p0_0"]').textContent()).resolves.toContain('excluded')
    const pixel = page.locator('[data-testid=profile-row][data-column="p0_2"]')
    const cells = (await pixel.locator('td').allInnerTexts()).map((t) => t.trim())
    // name, type, role, missing, distinct, min, max, mean, std
    expect(cells.slice(0, 7)).toEqual(['p0_2', 'integer', 'feature', '0', '17', '0', '16'])
    expect(Number(cells[7])).toBeGreaterThan(1)
    expect(await pixel.locator('svg.histogram rect').count()).toBeGreaterThan(3)
    await expect(page.getByTestId('dataset-split').textContent()).resolves.toMatch(/train [\d,]+ · val \d+ · test \d+/)
    await screenshot(page, 'datasets-2-digits-profile')
    // Excluding a pixel column is one switch; the model inputs follow (and the switch puts it back).
    const inputsBefore = await page.getByTestId('dataset-inputs').textContent()
    await pixel.getByRole('switch').click()
    await expect.poll(() => pixel.textContent()).toContain('excluded')
    const fewer = await page.getByTestId('dataset-inputs').textContent()
    expect(Number(fewer?.match(/(\d+) inputs/)?.[1])).toBe(Number(inputsBefore?.match(/(\d+) inputs/)?.[1]) - 1)
    await pixel.getByRole('switch').click()
    await expect.poll(() => page.getByTestId('dataset-inputs').textContent()).toBe(inputsBefore)
    // Min-max instead of standardisation: the recipe is refitted and kept with the dataset.
    await page.getByTestId('prep-scaling').click()
    await page.locator('.n-base-select-option', { hasText: 'min-max' }).click()
    await expect.poll(async () => (await page.getByTestId('prep-scaling').textContent()) ?? '').toContain('min-max')
    await screenshot(page, 'datasets-2b-preparation')
  })

  it('scrolls the preview through the whole file, fetching pages as it goes', async () => {
    await page.locator('.n-tabs-tab[data-name=preview]').click()
    const table = page.getByTestId('preview-table')
    await table.getByTestId('preview-row-index').first().waitFor()
    await expect(table.getByTestId('preview-row-index').first().textContent()).resolves.toBe('1')
    // Scroll the virtual body to the bottom, as the scroll bar would.
    await table.evaluate((root) => {
      const scrollers = Array.from(root.querySelectorAll<HTMLElement>('*')).filter((e) => e.scrollHeight > e.clientHeight + 50)
      const body = scrollers.sort((a, b) => b.scrollHeight - a.scrollHeight)[0]
      if (!body) throw new Error('the preview table has no scrolling body')
      body.scrollTop = body.scrollHeight
    })
    const last = table.getByTestId('preview-row-index').filter({ hasText: /^1797$/ })
    await last.waitFor({ timeout: 20_000 })
    expect(await last.isVisible()).toBe(true)
    // The last row's cells have arrived (no pending dots left on screen).
    await expect.poll(() => table.locator('.pending').count(), { timeout: 20_000 }).toBe(0)
    const lastRow = table.locator('tr').filter({ has: page.getByTestId('preview-row-index').filter({ hasText: /^1797$/ }) })
    // Its on-screen cells hold pixel values 0..16 (columns render as they scroll into view too).
    const values = (await lastRow.locator('.n-data-table-td').allInnerTexts()).slice(1).map((t) => t.trim())
    expect(values.length).toBeGreaterThan(5)
    expect(values.filter((v) => !/^\d+$/.test(v) || Number(v) > 16)).toEqual([])
    await lastRow.scrollIntoViewIfNeeded()
    await screenshot(page, 'datasets-3-preview-end')
  })

  it('uploads a semicolon / decimal-comma CSV through the file input and profiles its numbers', async () => {
    const file = path.join(dir, 'plants-eu.csv')
    fs.writeFileSync(file, awkwardCsv())
    await page.getByTestId('upload-file-input').first().setInputFiles(file)
    await page.getByTestId('dataset-name').filter({ hasText: 'plants' }).waitFor({ timeout: 60_000 })
    await expect(page.getByTestId('dataset-rows').textContent()).resolves.toContain('60 rows')
    await page.locator('.n-tabs-tab[data-name=columns]').click()
    const height = page.locator('[data-testid=profile-row][data-column="height cm"]')
    await height.waitFor()
    // Decimal commas read as numbers: the column is numeric, 10 to 21.5 (10 + 2·5 + 6·0.25), mean in between.
    const cells = (await height.locator('td').allInnerTexts()).map((t) => t.trim())
    expect(cells.slice(0, 3)).toEqual(['height cm', 'number', 'feature'])
    expect(Number(cells[5])).toBe(10)
    expect(Number(cells[6])).toBe(21.5)
    expect(Number(cells[7])).toBeGreaterThan(10)
    expect(Number(cells[7])).toBeLessThan(21.5)
    // The quoted field with a semicolon inside stayed one column.
    await page.locator('[data-testid=profile-row][data-column="note"]').waitFor()
    await screenshot(page, 'datasets-4-awkward-csv')
  })

  it('says how the file was read (delimiter, decimal mark, encoding, set-aside rows) and downloads the parsed table', async () => {
    // The same plants with a damaged row (one field too many) on line 12 of the file.
    const lines = awkwardCsv().split('\r\n')
    lines.splice(11, 0, 'p99;11,5;2,5;"x";oak;extra')
    const file = path.join(dir, 'plants-damaged.csv')
    fs.writeFileSync(file, lines.join('\r\n'))
    await page.getByTestId('upload-file-input').first().setInputFiles(file)
    await page.getByTestId('dataset-name').filter({ hasText: 'plants-damaged' }).waitFor({ timeout: 60_000 })
    const card = page.getByTestId('table-format')
    await card.waitFor()
    await expect(page.getByTestId('dialect-delimiter').innerText()).resolves.toMatch(/^semicolon\s+detected$/)
    await expect(page.getByTestId('dialect-decimal-mark').innerText()).resolves.toMatch(/^comma \(3,5\)\s+detected$/)
    await expect(page.getByTestId('dialect-encoding').innerText()).resolves.toMatch(/^utf-?8\s+detected$/)
    await expect(page.getByTestId('dialect-quote').innerText()).resolves.toMatch(/^double quote/)
    const aside = page.getByTestId('set-aside')
    await expect(aside.innerText()).resolves.toMatch(
      /1 row did not fit the table and was set aside[\s\S]*line 12 · [^:]+: p99;11,5;2,5;"x";oak;extra/
    )
    await expect(page.getByTestId('dataset-rows').textContent()).resolves.toContain('60 rows')
    await card.scrollIntoViewIfNeeded()
    await screenshot(page, 'datasets-7-how-read')
    // The parsed table as LayerLab saw it: numbers with a decimal point, every column, the original names.
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('download-csv').click()])
    const text = fs.readFileSync((await download.path())!, 'utf8').split('\n')
    expect(text[0]).toBe('plant,height cm,leaf width,note,kind')
    expect(text[1]).toBe('p0,10.0,1.5,tall; green,oak')
    expect(text.filter((l) => l.length).length).toBe(61)
  })

  it('refuses a one-column CSV at import, in plain words', async () => {
    const file = path.join(dir, 'only-labels.csv')
    fs.writeFileSync(file, 'label\n' + Array.from({ length: 20 }, (_, i) => ['a', 'b'][i % 2]).join('\n') + '\n')
    await page.getByTestId('upload-file-input').first().setInputFiles(file)
    const alert = page.getByTestId('dataset-error')
    await alert.waitFor({ timeout: 30_000 })
    await expect(alert.textContent()).resolves.toMatch(
      /only-labels\.csv: the table has one column \(label\); it needs at least one feature column besides the target/
    )
    await alert.scrollIntoViewIfNeeded()
    await screenshot(page, 'datasets-8-one-column')
  })

  it('offers the parts of a date column under Preparation, and excludes it only when every part is unticked', async () => {
    const file = path.join(dir, 'orders.csv')
    const lines = ['ordered,amount,size']
    for (let i = 0; i < 80; i++) {
      const d = new Date(Date.UTC(2024, 0, 3 + i * 4))
      lines.push(`${d.getUTCDate()}/${d.getUTCMonth() + 1}/${d.getUTCFullYear()},${(i * 13) % 40},${['S', 'M', 'L'][i % 3]}`)
    }
    fs.writeFileSync(file, lines.join('\n') + '\n')
    await page.getByTestId('upload-file-input').first().setInputFiles(file)
    await page.getByTestId('dataset-name').filter({ hasText: 'orders' }).waitFor({ timeout: 60_000 })
    const row = page.locator('[data-testid=date-parts] [data-column=ordered]')
    await row.waitFor()
    await expect(row.innerText()).resolves.toMatch(/read as day\/month\/year, 2024-01-03 to 2024-11-14/)
    const ticked = async () => (await row.locator('.n-checkbox--checked').allInnerTexts()).map((t) => t.trim())
    await expect(ticked()).resolves.toEqual(['year', 'month', 'day of week'])
    // 1 + 12 + 7 date features, the amount: the size is the target.
    await expect(page.getByTestId('dataset-inputs').textContent()).resolves.toContain('2 feature columns → 21 inputs')
    const box = (part: string) => row.locator('.n-checkbox').filter({ hasText: new RegExp(`^\\s*${part}\\s*$`) })
    await box('days since first').click()
    await expect.poll(ticked).toEqual(['year', 'month', 'day of week', 'days since first'])
    await expect.poll(() => page.getByTestId('dataset-inputs').textContent()).toContain('→ 22 inputs')
    await page.getByTestId('preparation').scrollIntoViewIfNeeded()
    await screenshot(page, 'datasets-9-date-parts')
    for (const part of ['year', 'month', 'day of week', 'days since first']) {
      await box(part).click()
      await expect.poll(async () => (await ticked()).includes(part)).toBe(false)
    }
    await expect(row.innerText()).resolves.toContain('excluded')
    await page.locator('.n-tabs-tab[data-name=columns]').click()
    const cells = (await page.locator('[data-testid=profile-row][data-column=ordered] td').allInnerTexts()).map((t) => t.trim())
    expect(cells.slice(0, 3)).toEqual(['ordered', 'date', 'excluded'])
  })

  it('lets the analyst turn a guessed day/month order, and reads the column again in it', async () => {
    const file = path.join(dir, 'shipments.csv')
    const lines = ['shipped,weight,route']
    // Every day and month ≤ 12: slashes are read month first, and the view says it was a guess.
    for (let i = 0; i < 60; i++) lines.push(`${1 + (i % 12)}/${1 + ((i * 5 + 3) % 12)}/2023,${(i * 7) % 30},${['north', 'south'][i % 2]}`)
    fs.writeFileSync(file, lines.join('\n') + '\n')
    await page.getByTestId('upload-file-input').first().setInputFiles(file)
    await page.getByTestId('dataset-name').filter({ hasText: 'shipments' }).waitFor({ timeout: 60_000 })
    const row = page.locator('[data-testid=date-parts] [data-column=shipped]')
    await row.waitFor()
    await expect(row.innerText()).resolves.toMatch(/read as month\/day\/year \(no value above 12 told day from month\), 2023-01-04 to 2023-12-11/)
    const order = row.getByTestId('date-order')
    const chosen = async () => (await order.locator('.n-radio-button--checked').allInnerTexts()).map((t) => t.trim())
    await expect(chosen()).resolves.toEqual(['month/day/year'])
    await order.locator('.n-radio-button').filter({ hasText: 'day/month/year' }).click()
    await expect.poll(chosen).toEqual(['day/month/year'])
    // 1/4/2023 is now the 1st of April: the range is read again from the text.
    await expect.poll(() => row.innerText()).toMatch(/read as day\/month\/year \(no value above 12 told day from month\), 2023-01-10 to 2023-12-05/)
    const first = async () => (await page.locator('[data-testid=profile-row][data-column=shipped] td').allInnerTexts()).map((t) => t.trim())
    await page.getByTestId('preparation').scrollIntoViewIfNeeded()
    await screenshot(page, 'datasets-10-date-order')
    await page.locator('.n-tabs-tab[data-name=columns]').click()
    expect((await first()).slice(0, 3)).toEqual(['shipped', 'date', 'feature'])
  })

  it('uploads a folder of class folders: thumbnails per class, and the skipped file with its reason', async () => {
    const folder = await shapesFolder(dir)
    await page.getByTestId('upload-folder-input').first().setInputFiles(folder)
    await page.getByTestId('dataset-name').filter({ hasText: 'shapes' }).waitFor({ timeout: 60_000 })
    await expect(page.getByTestId('dataset-rows').textContent()).resolves.toContain('12 images')
    await expect(page.getByTestId('class-bar').count()).resolves.toBe(2)
    await page.locator('.n-tabs-tab[data-name=images]').click()
    const grid = page.getByTestId('image-grid')
    await grid.locator('img').first().waitFor()
    expect(await grid.locator('.label').allTextContents()).toEqual(['disc', 'square'])
    await expect(grid.locator('img').count()).resolves.toBe(12)
    await screenshot(page, 'datasets-5-images')
    await page.locator('.n-tabs-tab[data-name=skipped]').click()
    const skipped = page.getByTestId('skipped-files')
    await expect(skipped.textContent()).resolves.toMatch(/square\/broken\.png.*not a readable image|square\/broken\.png.*(decode|image)/)
  })

  it('shows a broken file as an inline error naming it, and keeps the earlier datasets', async () => {
    const file = path.join(dir, 'empty-file.csv')
    fs.writeFileSync(file, '')
    await page.getByTestId('upload-file-input').first().setInputFiles(file)
    const alert = page.getByTestId('dataset-error').filter({ hasText: 'empty-file.csv' })
    await alert.waitFor({ timeout: 30_000 })
    expect(await alert.textContent()).toContain('empty-file.csv')
    await expect(page.getByTestId('dataset-item').count()).resolves.toBe(6)
    await screenshot(page, 'datasets-6-broken-file')
    expect(errors.filter((e) => !e.includes('Failed to load resource'))).toEqual([])
  })
})
