/**
 * Date columns with more distinct values than a vocabulary holds (VOCAB_CAP: a timestamp per row of a big table):
 * still date columns, read in the order their first distinct values tell and checked over every row; one value
 * that is not a date in that order keeps the column what it was before (text).
 */
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openTestServices, type TestServices } from '../../fixtures/home'
import { DuckDBInstance } from '@duckdb/node-api'
import { DateRowReader, MONTH_KEYS, WEEKDAY_KEYS, datePartValue, isoOfDay, parseDate } from '../../../main/data/dates'
import { encodeNewData } from '../../../main/data/newData'
import type { TableRecipe } from '../../../main/data/recipe'
import { VOCAB_CAP } from '../../../main/data/profile'

const ROWS = 24_000
const pad = (v: number) => String(v).padStart(2, '0')
const START = Date.UTC(2024, 2, 1, 8, 30, 0)
/** 2024-03-01T08:30:00 plus 37 s per row. */
const isoAt = (i: number) => new Date(START + i * 37_000).toISOString().slice(0, 19)
/** 01/03/2024 08:30 plus a minute per row: the first VOCAB_CAP values are all on days 1–7 (nothing tells d/m from m/d). */
const dayFirstAt = (i: number) => {
  const d = new Date(START + i * 60_000)
  return `${pad(d.getUTCDate())}/${pad(d.getUTCMonth() + 1)}/${d.getUTCFullYear()} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}`
}

/** The day numbers stored for a dataset's first column (c0.f64 in the dataset's folder under the data home). */
function storedDays(home: string, datasetId: string): Float64Array {
  const found = fs.readdirSync(home, { recursive: true, encoding: 'utf8' }).find((entry) => entry.includes(datasetId) && entry.endsWith('c0.f64'))
  if (!found) throw new Error(`no c0.f64 for ${datasetId} under ${home}`)
  const bytes = fs.readFileSync(path.join(home, found))
  return new Float64Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength))
}

describe('date columns with many distinct values', () => {
  let lab: TestServices
  /** A CSV of `ts,amount,label` with `when(i)` (empty: missing) in the first column. */
  const table = (name: string, when: (i: number) => string, rows = ROWS) => {
    const lines = ['ts,amount,label']
    for (let i = 0; i < rows; i++) lines.push(`${when(i)},${(i * 37) % 101},${i % 3 === 0 ? 'a' : 'b'}`)
    return lab.write(name, lines.join('\n') + '\n')
  }
  beforeAll(async () => {
    lab = await openTestServices()
  })
  afterAll(async () => {
    await lab.close()
  })

  it('reads 24,000 distinct ISO timestamps as a date feature with its range, missing dates and default parts', async () => {
    const file = table('iso.csv', (i) => (i === 5 || i === 20_000 ? '' : isoAt(i)))
    const summary = await lab.datasets.import({ path: file })
    const ts = summary.columns.find((c) => c.name === 'ts')!
    expect(ts).toMatchObject({ type: 'date', role: 'feature', missing: 2 })
    expect(ts.date).toEqual({ order: 'ymd', ambiguous: false, first: isoAt(0), last: isoAt(ROWS - 1), parts: ['year', 'month', 'weekday'] })
    expect(summary.parse.table?.dateColumns).toEqual(['ts'])
    // 1 (year) + 12 (months) + 7 (days of the week) + amount.
    expect(summary.featureCount).toBe(21)
    // The preview shows the file's text (from the strings file), the export the dates as read, in ISO.
    const preview = await lab.datasets.preview({ datasetId: summary.datasetId, offset: 19_999, limit: 3 })
    expect(preview.rows.map((r) => r[0])).toEqual([isoAt(19_999), null, isoAt(20_001)])
    const out = path.join(lab.tmp, 'iso-out.csv')
    await lab.datasets.export({ datasetId: summary.datasetId, out, format: 'csv' })
    expect(fs.readFileSync(out, 'utf8').split('\n').slice(0, 3)).toEqual(['ts,amount,label', `${isoAt(0)},0,a`, `${isoAt(1)},37,b`])
  })

  it('reads a day-first column whose first 10,000 values do not tell day from month, and a "." one that never does', async () => {
    const dayFirst = await lab.datasets.import({ path: table('day-first.csv', dayFirstAt) })
    expect(dayFirst.columns.find((c) => c.name === 'ts')).toMatchObject({
      type: 'date',
      role: 'feature',
      missing: 0,
      date: { order: 'dmy', ambiguous: false, first: '2024-03-01T08:30:00', last: '2024-03-18T00:29:00', parts: ['year', 'month', 'weekday'] }
    })
    // Days 1–12 only, seconds make every value distinct: "." dates are read day first, and the profile says it guessed.
    const dotted = (i: number) =>
      `${pad(1 + (i % 12))}.${pad(1 + (Math.floor(i / 12) % 12))}.2024 ${pad(Math.floor(i / 3600))}:${pad(Math.floor(i / 60) % 60)}:${pad(i % 60)}`
    const guessed = await lab.datasets.import({ path: table('dotted.csv', dotted) })
    expect(guessed.columns.find((c) => c.name === 'ts')?.date).toMatchObject({ order: 'dmy', ambiguous: true, first: '2024-01-01' })
  })

  it('keeps a column text, as under the cap, when one value is not a date or reads only in the other order', async () => {
    for (const [name, odd] of [
      ['soon.csv', 'soon'],
      ['month-first.csv', '03/13/2024 08:30'],
      ['other-format.csv', '2024-03-13 08:30']
    ] as const) {
      const file = table(name, (i) => (i === 15_000 ? odd : dayFirstAt(i)))
      const ts = (await lab.datasets.import({ path: file })).columns.find((c) => c.name === 'ts')!
      expect(ts, name).toMatchObject({ type: 'text', role: 'excluded', excludedReason: 'text' })
      expect(ts.date, name).toBeUndefined()
    }
    const soon = table('iso-soon.csv', (i) => (i === ROWS - 1 ? 'soon' : isoAt(i)))
    expect((await lab.datasets.import({ path: soon })).columns.find((c) => c.name === 'ts')).toMatchObject({ type: 'text', excludedReason: 'text' })
  })

  it('gives the same date-part features as a column under the cap and as the text read anew', async () => {
    const parts = ['year', 'month', 'weekday', 'day', 'days'] as const
    const big = table('parts-big.csv', (i) => (i === 7 * 8 ? '' : dayFirstAt(i)))
    // Every 8th row of the big file: under the cap, so read through its vocabulary (readDates), the way before.
    const small = table('parts-small.csv', (i) => (i === 7 ? '' : dayFirstAt(i * 8)), ROWS / 8)
    const bigSummary = await lab.datasets.import({ path: big })
    const smallSummary = await lab.datasets.import({ path: small })
    expect(smallSummary.columns.find((c) => c.name === 'ts')?.distinct).toBeLessThan(VOCAB_CAP)
    for (const summary of [bigSummary, smallSummary])
      await lab.datasets.update({ datasetId: summary.datasetId, columns: [{ name: 'ts', dateParts: [...parts] }] })
    const bigRecipe = (await lab.datasets.getRecipe(bigSummary.datasetId)) as TableRecipe
    const smallRecipe = (await lab.datasets.getRecipe(smallSummary.datasetId)) as TableRecipe
    expect(bigRecipe.columns.filter((c) => c.name === 'ts').map((c) => c.date?.part)).toEqual([...parts])
    expect(bigRecipe.featureNames).toEqual(smallRecipe.featureNames)
    const width = bigRecipe.inputShape[0]
    // The big column's stored rows, prepared, against the same CSV's text read anew by the recipe (parseDate).
    const prepared = await lab.datasets.loadPrepared(bigSummary.datasetId)
    const fresh = await encodeNewData(bigRecipe, big, { scale: true })
    expect(fresh.n).toBe(ROWS)
    for (const part of [prepared.train, prepared.val, prepared.test])
      for (let r = 0; r < part.n; r++) {
        const row = part.rows[r]!
        expect(Array.from(fresh.x.subarray(row * width, (row + 1) * width)), `row ${row}`).toEqual(
          Array.from(part.x.subarray(r * width, (r + 1) * width))
        )
      }
    // The small column (read through its vocabulary, the way under the cap) prepared with its own recipe, against
    // its text encoded by the same recipe: and the two recipes read the column in the same order.
    const smallPrepared = await lab.datasets.loadPrepared(smallSummary.datasetId)
    const smallFresh = await encodeNewData(smallRecipe, small, { scale: true })
    for (let r = 0; r < smallPrepared.train.n; r++) {
      const row = smallPrepared.train.rows[r]!
      expect(Array.from(smallFresh.x.subarray(row * width, (row + 1) * width))).toEqual(
        Array.from(smallPrepared.train.x.subarray(r * width, (r + 1) * width))
      )
    }
    expect(smallRecipe.columns.find((c) => c.name === 'ts')?.date?.order).toBe('dmy')
    expect(bigRecipe.columns.find((c) => c.name === 'ts')?.date?.order).toBe('dmy')
    // The stored day numbers: the big column's every 8th row is the small column's row, bit for bit.
    const bigDays = storedDays(lab.home, bigSummary.datasetId)
    const smallDays = storedDays(lab.home, smallSummary.datasetId)
    expect(smallDays.length).toBe(ROWS / 8)
    expect(Number.isNaN(smallDays[7])).toBe(true)
    expect(Array.from(smallDays, (_, r) => bigDays[r * 8])).toEqual(Array.from(smallDays))
  })

  it('reads a Parquet TIMESTAMP column (with milliseconds) and a JSON Lines one with 24,000 distinct values as dates', async () => {
    const parquet = path.join(lab.tmp, 'seen.parquet')
    const instance = await DuckDBInstance.create(':memory:', { autoinstall_known_extensions: 'false', autoload_known_extensions: 'false' })
    const connection = await instance.connect()
    try {
      await connection.run(
        `COPY (SELECT TIMESTAMP '2024-03-01 08:30:00' + to_milliseconds((i * 37001)::BIGINT) AS seen, i % 2 AS label FROM range(${ROWS}) t(i)) TO '${parquet}' (FORMAT parquet)`
      )
    } finally {
      connection.closeSync()
      instance.closeSync()
    }
    const fromParquet = await lab.datasets.import({ path: parquet })
    expect(fromParquet.columns.find((c) => c.name === 'seen')).toMatchObject({
      type: 'date',
      role: 'feature',
      date: {
        order: 'ymd',
        ambiguous: false,
        first: '2024-03-01T08:30:00',
        last: isoOfDay(parseDate('2024-03-01 08:30:00', 'ymd') + (23_999 * 37.001) / 86_400)
      }
    })
    const jsonl = lab.write('seen.jsonl', Array.from({ length: ROWS }, (_, i) => JSON.stringify({ seen: isoAt(i), label: i % 2 })).join('\n') + '\n')
    const fromJsonl = await lab.datasets.import({ path: jsonl })
    expect(fromJsonl.columns.find((c) => c.name === 'seen')).toMatchObject({
      type: 'date',
      date: { order: 'ymd', first: isoAt(0), last: isoAt(ROWS - 1) }
    })
  })

  it('gives the calendar parts by arithmetic exactly as a Date object does', () => {
    const differ: string[] = []
    // Every day from 1600-01-01 to 2400-12-31, with a time of day.
    for (let whole = -134_774; whole <= 157_071; whole += 1) {
      const date = new Date(whole * 86_400_000)
      const expected = {
        year: date.getUTCFullYear(),
        day: date.getUTCDate(),
        month: MONTH_KEYS[date.getUTCMonth()],
        weekday: WEEKDAY_KEYS[(date.getUTCDay() + 6) % 7]
      }
      for (const part of ['year', 'day', 'month', 'weekday'] as const)
        if (datePartValue(whole + 0.6, part) !== expected[part]) differ.push(`${whole} ${part}`)
    }
    expect(differ).toEqual([])
  })

  it('reads fixed-width spellings without a regex to the same day numbers as parseDate', () => {
    const texts: string[] = []
    for (let i = 0; i < 5_000; i++) {
      const d = new Date(Date.UTC(1990, 0, 1) + i * 3_700_003)
      const [y, m, dd, hh, mm, ss] = [
        d.getUTCFullYear(),
        pad(d.getUTCMonth() + 1),
        pad(d.getUTCDate()),
        pad(d.getUTCHours()),
        pad(d.getUTCMinutes()),
        pad(d.getUTCSeconds())
      ]
      texts.push(
        `${y}-${m}-${dd}`,
        `${y}/${m}/${dd} ${hh}:${mm}`,
        `${y}.${m}.${dd}T${hh}:${mm}:${ss}`,
        `${dd}/${m}/${y}`,
        `${m}-${dd}-${y} ${hh}:${mm}:${ss}`
      )
    }
    texts.push(
      '2023-02-29',
      '31/04/2024',
      '2024-03-01T25:00',
      '2024-03-01T23:61',
      '2024-03-01T23:59:61',
      '2024-13-01',
      '00/01/2024',
      '2024-03-01x08:30',
      '2024-03/01'
    )
    for (const order of ['ymd', 'dmy', 'mdy'] as const)
      for (const text of texts) expect(new DateRowReader(order, false).read(text), `${order} ${text}`).toBe(parseDate(text, order))
  })
})
