/**
 * A date column none of whose values told the day from the month is read in the separator's usual order (slashes:
 * month first; dots: day first) and says so; the user can turn it (datasets.update columns[].dateOrder): the column is
 * read again, under the vocabulary cap from its distinct spellings and over it from every row's text, and the recipe
 * fitted again. A column that cannot be turned, or a change refused later in the same update, leaves the dataset's
 * files as they were.
 */
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openTestServices, type TestServices } from '../../fixtures/home'
import { parseDate } from '../../../main/data/dates'
import { columnFile, readF64 } from '../../../main/data/storage'
import type { DateOrder } from '../../../main/shared/contract'

let lab: TestServices
beforeAll(async () => {
  lab = await openTestServices()
})
afterAll(async () => {
  await lab.close()
})

const pad = (n: number) => String(n).padStart(2, '0')

/** A CSV of a, when, label with the given `when` texts. */
function table(name: string, whens: string[]): string {
  return lab.write(name, ['a,when,label', ...whens.map((when, i) => `${i % 7},${when},${['x', 'y'][i % 2]}`)].join('\n'))
}

const datasetDir = (id: string) => path.join(lab.home, 'datasets', id)
/** The stored day numbers of column 1 (when). */
const storedDays = (id: string) => Array.from(readF64(columnFile(datasetDir(id), 1, 'f64')))
const daysOf = (whens: string[], order: DateOrder) => whens.map((when) => parseDate(when, order))

describe('choosing the day/month order of a date column', () => {
  it('reads a column of few distinct dates again from its spellings, and fits the recipe in the new order', async () => {
    // Every first and second number ≤ 12: slashes are read month first, and that is a guess.
    const whens = Array.from({ length: 300 }, (_, i) => `${pad(1 + (i % 12))}/${pad(1 + ((i * 5) % 12))}/2023`)
    const summary = await lab.datasets.import({ path: table('slashes.csv', whens) })
    const before = summary.columns.find((c) => c.name === 'when')!.date!
    expect(before).toMatchObject({ order: 'mdy', ambiguous: true })
    expect(storedDays(summary.datasetId)).toEqual(daysOf(whens, 'mdy'))

    const turned = await lab.datasets.update({ datasetId: summary.datasetId, columns: [{ name: 'when', dateOrder: 'dmy' }] })
    const date = turned.columns.find((c) => c.name === 'when')!.date!
    expect(date).toMatchObject({ order: 'dmy', ambiguous: true, parts: before.parts })
    expect(storedDays(summary.datasetId)).toEqual(daysOf(whens, 'dmy'))
    expect(turned.parse.overrides.when).toMatchObject({ dateOrder: 'dmy' })
    // The recipe reads a new file's text in the chosen order, and the prepared rows come from the new day numbers.
    const recipe = (await lab.datasets.getRecipe(summary.datasetId)) as { columns: { name: string; date?: { order: string } }[] }
    expect(recipe.columns.filter((c) => c.name === 'when').every((c) => c.date?.order === 'dmy')).toBe(true)
    const months = turned.columns.find((c) => c.name === 'when')!
    expect(months.min).toBe(Math.min(...daysOf(whens, 'dmy')))
    // The preview still shows the file's text.
    const preview = await lab.datasets.preview({ datasetId: summary.datasetId, offset: 0, limit: 3 })
    expect(JSON.stringify(preview)).toContain(whens[1])
    // And back: the same day numbers as the import's.
    await lab.datasets.update({ datasetId: summary.datasetId, columns: [{ name: 'when', dateOrder: 'mdy' }] })
    expect(storedDays(summary.datasetId)).toEqual(daysOf(whens, 'mdy'))
    expect(fs.readdirSync(datasetDir(summary.datasetId)).filter((f) => f.startsWith('.staged'))).toEqual([])
  })

  it('reads a column of more distinct values than the vocabulary holds again from every row', async () => {
    // Dots: read day first, a guess; 12,000 distinct timestamps.
    const whens = Array.from(
      { length: 12_000 },
      (_, i) =>
        `${pad(1 + (i % 12))}.${pad(1 + (Math.floor(i / 12) % 12))}.${2000 + Math.floor(i / 144)} ${pad(Math.floor(i / 7) % 24)}:${pad((i * 7) % 60)}`
    )
    const summary = await lab.datasets.import({ path: table('dots.csv', whens) })
    expect(summary.columns.find((c) => c.name === 'when')!.date).toMatchObject({ order: 'dmy', ambiguous: true })
    // Past the vocabulary: the text is in the strings file.
    expect(fs.existsSync(columnFile(datasetDir(summary.datasetId), 1, 'str'))).toBe(true)
    const turned = await lab.datasets.update({ datasetId: summary.datasetId, columns: [{ name: 'when', dateOrder: 'mdy' }] })
    expect(turned.columns.find((c) => c.name === 'when')!.date).toMatchObject({ order: 'mdy', ambiguous: true })
    expect(storedDays(summary.datasetId)).toEqual(daysOf(whens, 'mdy'))
  })

  it('refuses a column whose values tell day from month, and a column that is not dates, changing nothing', async () => {
    const whens = Array.from({ length: 120 }, (_, i) => `${pad(1 + (i % 28))}/${pad(1 + (i % 12))}/2022`)
    const summary = await lab.datasets.import({ path: table('clear.csv', whens) })
    expect(summary.columns.find((c) => c.name === 'when')!.date).toMatchObject({ order: 'dmy', ambiguous: false })
    const days = storedDays(summary.datasetId)
    await expect(lab.datasets.update({ datasetId: summary.datasetId, columns: [{ name: 'when', dateOrder: 'mdy' }] })).rejects.toThrow(
      'clear: column "when" has dates that read only as day/month/year (a value tells the day from the month), so its order cannot be changed'
    )
    await expect(lab.datasets.update({ datasetId: summary.datasetId, columns: [{ name: 'a', dateOrder: 'mdy' }] })).rejects.toThrow(
      'clear: column "a" is not a date column; a day/month order applies to dates only'
    )
    expect(storedDays(summary.datasetId)).toEqual(days)
    expect((await lab.datasets.get(summary.datasetId)).parse.overrides).toEqual({})
  })

  it('puts the old column files and meta.json back when the refit of the same update is refused', async () => {
    const whens = Array.from({ length: 90 }, (_, i) => `${pad(1 + (i % 12))}/${pad(1 + ((i * 7) % 12))}/2021`)
    const summary = await lab.datasets.import({ path: table('undo.csv', whens) })
    const dir = datasetDir(summary.datasetId)
    const meta = fs.readFileSync(path.join(dir, 'meta.json'), 'utf8')
    const f64 = fs.readFileSync(columnFile(dir, 1, 'f64'))
    // The text target cannot be predicted as a number: the refit fails after the column was read again.
    await expect(
      lab.datasets.update({ datasetId: summary.datasetId, task: 'regression', columns: [{ name: 'when', dateOrder: 'dmy' }] })
    ).rejects.toThrow(/the target "label" holds text/)
    expect(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8')).toBe(meta)
    expect(fs.readFileSync(columnFile(dir, 1, 'f64')).equals(f64)).toBe(true)
    expect(fs.readdirSync(dir).filter((f) => f.startsWith('.staged'))).toEqual([])
    expect((await lab.datasets.get(summary.datasetId)).columns.find((c) => c.name === 'when')!.date).toMatchObject({ order: 'mdy' })
    // The same change without the refused task goes through.
    const turned = await lab.datasets.update({ datasetId: summary.datasetId, columns: [{ name: 'when', dateOrder: 'dmy' }] })
    expect(turned.columns.find((c) => c.name === 'when')!.date).toMatchObject({ order: 'dmy' })
  })
})
