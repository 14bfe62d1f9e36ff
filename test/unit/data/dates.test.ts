/**
 * Date columns: read in the common formats (ISO, d/m/y and m/d/y decided by the data, month names), become the
 * features the user chooses (year, month, day of week, day of month, days since; or excluded), with missing dates
 * imputed like other values, and the same numbers from the stored column and from a new file's text.
 */
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openTestServices, type TestServices } from '../../fixtures/home'
import { datePartValue, isoOfDay, parseDate, readDates } from '../../../main/data/dates'
import { encodeNewData } from '../../../main/data/newData'
import type { TableRecipe } from '../../../main/data/recipe'
import { LabError } from '../../../main/shared/errors'

const day = (iso: string) => Date.UTC(Number(iso.slice(0, 4)), Number(iso.slice(5, 7)) - 1, Number(iso.slice(8, 10))) / 86_400_000

describe('reading dates', () => {
  it('reads ISO dates and timestamps, d/m/y, m/d/y and month names', () => {
    expect(parseDate('2024-03-01', 'ymd')).toBe(day('2024-03-01'))
    expect(parseDate('2024/3/1', 'ymd')).toBe(day('2024-03-01'))
    expect(parseDate('2024-03-01T18:00:00', 'ymd')).toBe(day('2024-03-01') + 0.75)
    expect(parseDate('2024-03-01 06:00:00.123Z', 'ymd')).toBeCloseTo(day('2024-03-01') + 0.25, 4)
    expect(parseDate('01/03/2024', 'dmy')).toBe(day('2024-03-01'))
    expect(parseDate('03/01/2024', 'mdy')).toBe(day('2024-03-01'))
    expect(parseDate('1.3.2024', 'dmy')).toBe(day('2024-03-01'))
    expect(parseDate('3/1/2024 6:00 PM', 'mdy')).toBe(day('2024-03-01') + 0.75)
    expect(parseDate('1 Mar 2024', 'dMy')).toBe(day('2024-03-01'))
    expect(parseDate('01-March-2024', 'dMy')).toBe(day('2024-03-01'))
    expect(parseDate('Mar 1, 2024', 'Mdy')).toBe(day('2024-03-01'))
  })

  it('refuses what is not a calendar date', () => {
    for (const [text, order] of [
      ['2023-02-29', 'ymd'],
      ['31/04/2024', 'dmy'],
      ['13/13/2024', 'mdy'],
      ['2024-03-01T25:00', 'ymd'],
      ['2024-03', 'ymd'],
      ['1 Foo 2024', 'dMy'],
      ['tomorrow', 'ymd']
    ] as const)
      expect(parseDate(text, order), text).toBeNaN()
    expect(parseDate('2024-02-29', 'ymd')).toBe(day('2024-02-29'))
  })

  it('decides day/month against month/day from the data, and says when nothing told them apart', () => {
    expect(readDates(['01/02/2024', '13/02/2024'])?.format).toEqual({ order: 'dmy', ambiguous: false })
    expect(readDates(['02/01/2024', '02/13/2024'])?.format).toEqual({ order: 'mdy', ambiguous: false })
    // Every number up to 12: the separator's usual order ("." European, day first; "/" month first).
    expect(readDates(['01/02/2024', '03/04/2024'])?.format).toEqual({ order: 'mdy', ambiguous: true })
    expect(readDates(['01.02.2024', '03.04.2024'])?.format).toEqual({ order: 'dmy', ambiguous: true })
    expect(readDates(['2024-01-02', '2024-12-31'])?.format).toEqual({ order: 'ymd', ambiguous: false })
    expect(Array.from(readDates(['13/02/2024', '01/02/2024'])!.days)).toEqual([day('2024-02-13'), day('2024-02-01')])
  })

  it('keeps a column text when one value is not a date, or the values mix day-first and month-first', () => {
    expect(readDates(['2024-01-02', 'soon'])).toBeNull()
    expect(readDates(['13/02/2024', '02/13/2024'])).toBeNull()
    expect(readDates(['2024-01-02', '02/01/2024'])).toBeNull()
    expect(readDates(['low', 'high'])).toBeNull()
    expect(readDates([])).toBeNull()
  })

  it('gives the parts of a day: year, month and weekday keys, day of month, days since an origin', () => {
    const friday = day('2024-03-01')
    expect(datePartValue(friday, 'year')).toBe(2024)
    expect(datePartValue(friday, 'month')).toBe('Mar')
    expect(datePartValue(friday, 'weekday')).toBe('Fri')
    expect(datePartValue(day('2024-03-03') + 0.9, 'weekday')).toBe('Sun')
    expect(datePartValue(friday, 'day')).toBe(1)
    expect(datePartValue(friday + 0.5, 'days', day('2024-02-28'))).toBe(2.5)
    expect(datePartValue(NaN, 'year')).toBeNaN()
    expect(datePartValue(NaN, 'month')).toBeNull()
    expect(isoOfDay(friday)).toBe('2024-03-01')
    expect(isoOfDay(friday + 0.75)).toBe('2024-03-01T18:00:00')
  })
})

describe('date columns in a dataset', () => {
  let lab: TestServices
  let file: string
  beforeAll(async () => {
    lab = await openTestServices()
    // d/m/y (days above 12 tell), two missing dates, a label that the day of the week decides.
    const lines = ['when,amount,label']
    for (let i = 0; i < 120; i++) {
      const ms = Date.UTC(2023, 0, 2 + i * 3)
      const d = new Date(ms)
      const text =
        i === 7 || i === 50 ? '' : `${String(d.getUTCDate()).padStart(2, '0')}/${String(d.getUTCMonth() + 1).padStart(2, '0')}/${d.getUTCFullYear()}`
      const weekend = d.getUTCDay() === 0 || d.getUTCDay() === 6
      lines.push(`${text},${(i * 37) % 101},${weekend ? 'weekend' : 'weekday'}`)
    }
    file = lab.write('sales.csv', lines.join('\n') + '\n')
  })
  afterAll(async () => {
    await lab.close()
  })

  it('profiles a d/m/y column as a date feature with year, month and day of week, and lists it as read', async () => {
    const summary = await lab.datasets.import({ path: file })
    const when = summary.columns.find((c) => c.name === 'when')!
    expect(when).toMatchObject({ type: 'date', role: 'feature', missing: 2, distinct: 118 })
    expect(when.date).toEqual({ order: 'dmy', ambiguous: false, first: '2023-01-02', last: '2023-12-25', parts: ['year', 'month', 'weekday'] })
    expect(summary.parse.table?.dateColumns).toEqual(['when'])
    // 1 (year) + 12 (months) + 7 (days of the week) + amount.
    expect(summary.featureCount).toBe(21)
    // The preview shows the file's text; the export the dates as read, in ISO.
    const preview = await lab.datasets.preview({ datasetId: summary.datasetId, offset: 0, limit: 8 })
    expect(preview.rows.map((r) => r[0])).toEqual([
      '02/01/2023',
      '05/01/2023',
      '08/01/2023',
      '11/01/2023',
      '14/01/2023',
      '17/01/2023',
      '20/01/2023',
      null
    ])
    const out = path.join(lab.tmp, 'sales-out.csv')
    await lab.datasets.export({ datasetId: summary.datasetId, out, format: 'csv' })
    expect(fs.readFileSync(out, 'utf8').split('\n').slice(0, 3)).toEqual(['when,amount,label', '2023-01-02,0,weekday', '2023-01-05,37,weekday'])
  })

  it('takes the parts the user chooses, excludes the column with none, and refuses a date type for text', async () => {
    const summary = await lab.datasets.import({ path: file })
    const id = summary.datasetId
    let changed = await lab.datasets.update({ datasetId: id, columns: [{ name: 'when', dateParts: ['days', 'weekday', 'day'] }] })
    // Stored in calendar order, whatever order they were given in.
    expect(changed.columns.find((c) => c.name === 'when')?.date?.parts).toEqual(['weekday', 'day', 'days'])
    expect(changed.featureCount).toBe(7 + 1 + 1 + 1)
    const prepared = await lab.datasets.loadPrepared(id)
    expect(prepared.featureNames.slice(0, 9)).toEqual([
      'when.weekday=Mon',
      'when.weekday=Tue',
      'when.weekday=Wed',
      'when.weekday=Thu',
      'when.weekday=Fri',
      'when.weekday=Sat',
      'when.weekday=Sun',
      'when.day',
      'when.days'
    ])
    changed = await lab.datasets.update({ datasetId: id, columns: [{ name: 'when', dateParts: [] }] })
    expect(changed.columns.find((c) => c.name === 'when')).toMatchObject({ role: 'excluded', excludedReason: 'user', date: { parts: [] } })
    expect(changed.featureCount).toBe(1)
    // Switched on again: the default parts.
    changed = await lab.datasets.update({ datasetId: id, columns: [{ name: 'when', include: true }] })
    expect(changed.columns.find((c) => c.name === 'when')?.date?.parts).toEqual(['year', 'month', 'weekday'])
    const refused = (change: object) => lab.datasets.update({ datasetId: id, columns: [change as { name: string }] }).catch((e: unknown) => e)
    expect(await refused({ name: 'label', type: 'date' })).toBeInstanceOf(LabError)
    expect(((await refused({ name: 'amount', dateParts: ['year'] })) as Error).message).toMatch(/not a date column/)
    expect(((await refused({ name: 'when', type: 'category' })) as Error).message).toMatch(/holds dates; choose its parts/)
  })

  it('imputes a missing date part like other values and encodes a new file exactly as the stored rows', async () => {
    const summary = await lab.datasets.import({ path: file })
    const id = summary.datasetId
    await lab.datasets.update({ datasetId: id, columns: [{ name: 'when', dateParts: ['year', 'month', 'weekday', 'day', 'days'] }] })
    const prepared = await lab.datasets.loadPrepared(id)
    const recipe = (await lab.datasets.getRecipe(id)) as TableRecipe
    const parts = recipe.columns.filter((c) => c.name === 'when')
    expect(parts.map((c) => [c.date?.part, c.encoding])).toEqual([
      ['year', 'numeric'],
      ['month', 'onehot'],
      ['weekday', 'onehot'],
      ['day', 'numeric'],
      ['days', 'numeric']
    ])
    // Days are counted from the first train date, and a missing month is the most frequent train month.
    expect(parts[4]!.date?.origin).toBeLessThanOrEqual(day('2023-01-05'))
    expect(parts[1]!.vocabulary).toEqual(['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'])
    // The whole stored table, prepared and scaled, against the same CSV read as new data.
    const fresh = await encodeNewData(recipe, file, { scale: true })
    expect(fresh.n).toBe(120)
    const width = recipe.inputShape[0]
    for (const part of [prepared.train, prepared.val, prepared.test])
      for (let r = 0; r < part.n; r++) {
        const row = part.rows[r]!
        expect(Array.from(fresh.x.subarray(row * width, (row + 1) * width))).toEqual(Array.from(part.x.subarray(r * width, (r + 1) * width)))
      }
  })
})
