import fs from 'node:fs'
import path from 'node:path'
import iconv from 'iconv-lite'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { openTestServices, type TestServices } from '../../fixtures/home'
import { threeClassRows } from './helpers'
import { LabError } from '../../../main/shared/errors'
import { Histogram } from '../../../main/data/profile'
import type { ColumnProfile, DatasetSummary } from '../../../main/shared/contract'

let lab: TestServices
beforeEach(async () => {
  lab = await openTestServices()
})
afterEach(async () => {
  await lab.close()
})

const column = (summary: DatasetSummary, name: string): ColumnProfile => summary.columns.find((c) => c.name === name)!

describe('CSV dialects and encodings', () => {
  it('reads semicolons with decimal commas', async () => {
    const rows = threeClassRows(30).map((r) => `${String(r.a + 0.5).replace('.', ',')};${String(r.b).replace('.', ',')};${r.label}`)
    const file = lab.write('semi.csv', ['a;b;species', ...rows].join('\n') + '\n')
    const summary = await lab.datasets.import({ path: file })
    expect(summary.parse.csv).toMatchObject({ delimiter: ';', decimalComma: true, header: true })
    expect(summary.target).toBe('species')
    expect(column(summary, 'a').type).toBe('number')
    const preview = await lab.datasets.preview({ datasetId: summary.datasetId, offset: 0, limit: 3 })
    expect(preview.columns).toEqual(['a', 'b', 'species'])
    expect(preview.rows[1]).toEqual([threeClassRows(2)[1]!.a + 0.5, threeClassRows(2)[1]!.b, threeClassRows(2)[1]!.label])
  })

  it('reads UTF-8 with a BOM and CRLF line ends', async () => {
    const rows = threeClassRows(24).map((r) => `${r.a},${r.b},${r.label}`)
    const file = lab.write('bom.csv', '\uFEFF' + ['x,y,label', ...rows].join('\r\n') + '\r\n')
    const summary = await lab.datasets.import({ path: file })
    expect(summary.parse.csv).toMatchObject({ encoding: 'utf8', bom: true })
    expect(summary.columns.map((c) => c.name)).toEqual(['x', 'y', 'label'])
    expect(summary.rows).toBe(24)
    const preview = await lab.datasets.preview({ datasetId: summary.datasetId, offset: 23, limit: 5 })
    expect(preview.rows).toEqual([[threeClassRows(24)[23]!.a, threeClassRows(24)[23]!.b, threeClassRows(24)[23]!.label]])
  })

  it('reads a file that mixes CRLF and LF line ends', async () => {
    const rows = threeClassRows(12).map((r) => `${r.a},${r.b},${r.label}`)
    const text = 'a,b,label\r\n' + rows.map((row, i) => row + (i % 2 ? '\n' : '\r\n')).join('')
    const summary = await lab.datasets.import({ path: lab.write('mixed.csv', text) })
    expect(summary.parse.csv).toMatchObject({ mixedLineEnds: true })
    expect(summary.rows).toBe(12)
    const preview = await lab.datasets.preview({ datasetId: summary.datasetId, offset: 0, limit: 12 })
    expect(preview.rows.map((row) => row[2])).toEqual(threeClassRows(12).map((r) => r.label))
  })

  it('falls back to Windows-1252 when the bytes are not UTF-8', async () => {
    const lines = ['drink,price,label', ...Array.from({ length: 12 }, (_, i) => `${i % 2 ? 'café' : 'thé'},${i},${i % 3 ? 'hot' : 'cold'}`)]
    const file = lab.write('latin1.csv', iconv.encode(lines.join('\n'), 'windows1252'))
    const summary = await lab.datasets.import({ path: file })
    expect(summary.parse.csv).toMatchObject({ encoding: 'windows1252' })
    expect(
      column(summary, 'drink')
        .top?.map((t) => t.value)
        .sort()
    ).toEqual(['café', 'thé'])
  })

  it.each([
    ['utf16le', [0xff, 0xfe]],
    ['utf16be', [0xfe, 0xff]]
  ])('reads %s with a BOM', async (encoding, bom) => {
    const rows = threeClassRows(20).map((r) => `${r.a}\t${r.b}\tñ-${r.label}`)
    const text = ['a\tb\tclass', ...rows].join('\n')
    const file = lab.write('utf16.csv', Buffer.concat([Buffer.from(bom), iconv.encode(text, encoding)]))
    const summary = await lab.datasets.import({ path: file })
    expect(summary.parse.csv).toMatchObject({ encoding, delimiter: '\t' })
    expect(summary.columns.map((c) => c.name)).toEqual(['a', 'b', 'class'])
    expect(summary.target).toBe('class')
    expect(summary.classes.map((c) => c.label)).toEqual(['ñ-high', 'ñ-low', 'ñ-mid'])
  })

  it('keeps quoted fields with delimiters, doubled quotes and newlines', async () => {
    const rows = Array.from({ length: 12 }, (_, i) => `${i * 1.5},"say ""hi"", then\nleave ${i}",${i % 2 ? 'yes' : 'no'},${i % 3}`)
    const file = lab.write('quoted.csv', ['x,note,flag,label', ...rows].join('\n'))
    const summary = await lab.datasets.import({ path: file })
    expect(summary.rows).toBe(12)
    expect(column(summary, 'note').type).toBe('text')
    expect(column(summary, 'note')).toMatchObject({ role: 'excluded', excludedReason: 'text' })
    expect(column(summary, 'flag').type).toBe('boolean')
    const preview = await lab.datasets.preview({ datasetId: summary.datasetId, offset: 5, limit: 1 })
    expect(preview.rows[0]).toEqual([7.5, 'say "hi", then\nleave 5', 'yes', 2])
  })

  it('treats the missing markers as missing', async () => {
    const markers = ['', 'NA', 'n/a', 'NaN', 'null', '?']
    const rows = Array.from({ length: 30 }, (_, i) => `${i < markers.length ? markers[i] : i / 2},${i % 3}`)
    const file = lab.write('missing.csv', ['v,label', ...rows].join('\n'))
    const summary = await lab.datasets.import({ path: file })
    expect(column(summary, 'v')).toMatchObject({ type: 'number', missing: markers.length, role: 'feature' })
    const preview = await lab.datasets.preview({ datasetId: summary.datasetId, offset: 0, limit: 7 })
    expect(preview.rows.map((r) => r[0])).toEqual([null, null, null, null, null, null, 3])
    // Missing values are imputed with the train mean: no NaN reaches the model.
    const prepared = await lab.datasets.loadPrepared(summary.datasetId)
    expect(prepared.train.x.every((v) => Number.isFinite(v))).toBe(true)
  })

  it('codes a text column of thousands of distinct spellings (and spaced ones, and markers) exactly', async () => {
    // 9,000 distinct words, some spaced (" w12" is w12 again) and some missing markers: the hash table grows
    // several times on the way; the preview and the top counts must still say what the file says.
    const word = (i: number) => `w${(i * 7919) % 9000}`
    const cell = (i: number) => (i % 101 === 0 ? 'NA' : i % 37 === 0 ? ` ${word(i)} ` : word(i))
    const rows = Array.from({ length: 20_000 }, (_, i) => `${cell(i)},${i % 5},${i % 2 ? 'a' : 'b'}`)
    const file = lab.write('words.csv', ['word,n,label', ...rows].join('\n') + '\n')
    const summary = await lab.datasets.import({ path: file })
    const missing = rows.filter((_, i) => i % 101 === 0).length
    expect(column(summary, 'word')).toMatchObject({ type: 'text', missing, distinct: 9000 })
    const preview = await lab.datasets.preview({ datasetId: summary.datasetId, offset: 0, limit: 20_000 })
    expect(preview.rows.map((r) => r[0])).toEqual(rows.map((_, i) => (i % 101 === 0 ? null : word(i))))
  })

  it('bins the histogram of a column with few distinct numbers as of one with many: every row once', async () => {
    // "few": 0 … 40 (coded, binned from its counts); "many": 12,000 distinct values (binned from its file).
    const rows = Array.from({ length: 12_000 }, (_, i) => ({ few: (i * 7) % 41, many: i % 509 === 0 ? NaN : ((i * 7919) % 12_007) / 3 }))
    const file = lab.write(
      'bins.csv',
      ['few,many,label', ...rows.map((r, i) => `${r.few},${Number.isNaN(r.many) ? '' : r.many},${i % 3}`)].join('\n')
    )
    const summary = await lab.datasets.import({ path: file })
    for (const name of ['few', 'many'] as const) {
      const values = rows.map((r) => r[name]).filter((v) => !Number.isNaN(v))
      const expected = new Histogram(Math.min(...values), Math.max(...values))
      for (const value of values) expected.add(value)
      expect(column(summary, name).histogram).toEqual(expected.bins)
    }
    expect(column(summary, 'few').distinct).toBe(41)
  })

  it('detects a missing header and names the columns col_1..', async () => {
    const rows = threeClassRows(30).map((r, i) => `${r.a},${r.b},${i % 2}`)
    const file = lab.write('noheader.csv', rows.join('\n'))
    const summary = await lab.datasets.import({ path: file })
    expect(summary.parse.csv).toMatchObject({ header: false })
    expect(summary.columns.map((c) => c.name)).toEqual(['col_1', 'col_2', 'col_3'])
    expect(summary.rows).toBe(30)
    expect(summary.target).toBe('col_3')
  })

  it('reads a first row of numbers and words as data when the numeric columns continue below it', async () => {
    const rows = threeClassRows(30).map((r) => `${r.a},${r.b},${r.label}`)
    const summary = await lab.datasets.import({ path: lab.write('iris-like.csv', rows.join('\n')) })
    expect(summary.parse.csv).toMatchObject({ header: false })
    expect(summary.rows).toBe(30)
    expect(summary.target).toBe('col_3')
    expect(summary.classes.map((c) => c.label)).toEqual(['high', 'low', 'mid'])
  })

  it.each([
    ['pipe', '|'],
    ['tab', '\t']
  ])('sniffs the %s delimiter', async (_name, delimiter) => {
    const rows = threeClassRows(20).map((r) => [r.a, r.b, `"${r.label}, really"`].join(delimiter))
    const file = lab.write('delim.csv', [['a', 'b', 'label'].join(delimiter), ...rows].join('\n'))
    const summary = await lab.datasets.import({ path: file })
    expect(summary.parse.csv).toMatchObject({ delimiter })
    expect(summary.classes.map((c) => c.label)).toContain('low, really')
  })

  it('infers types and leaves out constant, id-like and text columns', async () => {
    const n = 60
    const lines = ['id,const,color,amount,flag,comment,y']
    for (let i = 0; i < n; i++)
      lines.push(`${1000 + i},7,${['red', 'green', 'blue'][i % 3]},${(i * 3.7) % 11},${i % 4 ? 'true' : 'false'},words ${i * 31},${i % 2}`)
    const summary = await lab.datasets.import({ path: lab.write('types.csv', lines.join('\n')) })
    expect(column(summary, 'id')).toMatchObject({ type: 'integer', role: 'excluded', excludedReason: 'id' })
    expect(column(summary, 'const')).toMatchObject({ role: 'excluded', excludedReason: 'constant' })
    expect(column(summary, 'color')).toMatchObject({ type: 'category', role: 'feature', distinct: 3 })
    expect(column(summary, 'amount')).toMatchObject({ type: 'number', role: 'feature' })
    expect(column(summary, 'amount').histogram).toHaveLength(20)
    expect(column(summary, 'amount').histogram!.reduce((a, b) => a + b, 0)).toBe(n)
    expect(column(summary, 'flag')).toMatchObject({ type: 'boolean', role: 'feature' })
    expect(column(summary, 'comment')).toMatchObject({ type: 'text', role: 'excluded' })
    expect(column(summary, 'y').role).toBe('target')
    // color one-hot (3) + amount + flag
    expect(summary.featureCount).toBe(5)
    const recipe = await lab.datasets.getRecipe(summary.datasetId)
    expect(recipe.featureNames).toEqual(['color=blue', 'color=green', 'color=red', 'amount', 'flag'])
  })

  it('follows the settings given at import and records them', async () => {
    const lines = ['a;b;label', ...threeClassRows(12).map((r) => `${r.a};${r.b};${r.label}`)]
    const file = lab.write('given.csv', iconv.encode(lines.join('\n'), 'windows1252'))
    const summary = await lab.datasets.import({ path: file, header: false, delimiter: ';', encoding: 'latin1', target: 'col_3' })
    expect(summary.parse.requested).toEqual({ header: false, delimiter: ';', encoding: 'latin1' })
    expect(summary.parse.csv).toMatchObject({ header: false, delimiter: ';', encoding: 'windows1252' })
    // The header line is now a data row: its words make the numeric columns non-numeric.
    expect(summary.rows).toBe(13)
    expect(summary.columns.map((c) => c.name)).toEqual(['col_1', 'col_2', 'col_3'])
    expect(summary.columns[0]!.type).not.toBe('integer')
    await expect(lab.datasets.import({ path: file, encoding: 'klingon-8' })).rejects.toThrow('given.csv: unknown encoding "klingon-8"')
  })

  it('keeps columns whose values change kind late in the file', async () => {
    // Past 10,000 distinct values the codes are dropped; a later non-number then moves the column to raw strings.
    const n = 10_100
    const lines = ['word,late,mixed,label']
    for (let i = 0; i < n; i++) lines.push(`w${i},${i === 10_050 ? 'oops' : i / 2},${i === 10_060 ? 'z' : i % 3},${i % 3}`)
    const summary = await lab.datasets.import({ path: lab.write('late.csv', lines.join('\n')) })
    expect(column(summary, 'word')).toMatchObject({ type: 'text', role: 'excluded', excludedReason: 'text', distinct: 10_000 })
    expect(column(summary, 'late')).toMatchObject({ type: 'text', role: 'excluded' })
    expect(column(summary, 'mixed')).toMatchObject({ type: 'category', distinct: 4, role: 'feature' })
    const head = await lab.datasets.preview({ datasetId: summary.datasetId, offset: 3, limit: 1 })
    expect(head.rows[0]).toEqual(['w3', '1.5', '0', 0])
    const tail = await lab.datasets.preview({ datasetId: summary.datasetId, offset: 10_049, limit: 100 })
    expect(tail.rows.length).toBe(n - 10_049)
    expect(tail.rows[1]).toEqual(['w10050', 'oops', '0', 0])
    expect(tail.rows[11]).toEqual(['w10060', '5030', 'z', 1])
    const recipe = await lab.datasets.getRecipe(summary.datasetId)
    expect(recipe.featureNames).toEqual(['mixed=0', 'mixed=1', 'mixed=2', 'mixed=z'])
  })

  it('emits throttled progress ending at the full row count', async () => {
    const rows = threeClassRows(20000).map((r) => `${r.a},${r.b},${r.label}`)
    const file = lab.write('progress.csv', ['a,b,label', ...rows].join('\n'))
    await lab.datasets.import({ path: file })
    const progress = lab.events
      .filter((e) => e.event === 'dataset.progress')
      .map((e) => e.payload as { rows: number; bytes: number; totalBytes: number })
    expect(progress.length).toBeGreaterThan(0)
    expect(progress.at(-1)).toMatchObject({ rows: 20000, bytes: fs.statSync(file).size, totalBytes: fs.statSync(file).size })
  })
})

describe('CSV errors', () => {
  const expectError = async (file: string, pattern: RegExp, args: { target?: string; badRows?: 'refuse' } = {}) => {
    const error = await lab.datasets.import({ path: file, ...args }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(LabError)
    expect((error as Error).message).toMatch(pattern)
    expect((error as Error).message).not.toContain('\n')
    // A failed import leaves no row and no folder behind.
    expect(await lab.datasets.list()).toEqual([])
    const datasetsDir = path.join(lab.tmp, 'home', 'datasets')
    expect(fs.existsSync(datasetsDir) ? fs.readdirSync(datasetsDir) : []).toEqual([])
  }

  it('names the line of a ragged row when asked to refuse rows that do not fit', async () => {
    // By default such a row is set aside (csv-damage.test.ts); badRows 'refuse' gives the one-line refusal.
    const file = lab.write('ragged.csv', 'a,b,label\n1,2,x\n3,4,y\n5,6\n7,8,x\n')
    await expectError(file, /^ragged\.csv: line 4: expected 3, got 2 fields$/, { badRows: 'refuse' })
  })
  it('names the row of a quote that is never closed', async () => {
    const file = lab.write('quote.csv', 'a,b,label\n1,2,x\n3,"4,y\n5,6,x\n7,8,y\n')
    await expectError(file, /^quote\.csv: data row 2 opens a quote that is never closed \(the file ends at line 5\)$/)
  })
  it('refuses an empty file', async () => {
    await expectError(lab.write('empty.csv', ''), /^empty\.csv: the file is empty$/)
  })
  it('refuses a header without rows', async () => {
    await expectError(lab.write('header.csv', 'a,b,label\n'), /^header\.csv: a header but no data rows$/)
  })
  it('refuses binary data', async () => {
    const bytes = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 256))
    await expectError(lab.write('garbage.csv', bytes), /^garbage\.csv: not a text file/)
  })
  it('names an unknown target and lists columns', async () => {
    const rows = threeClassRows(10).map((r) => `${r.a},${r.b},${r.label}`)
    await expectError(
      lab.write('t.csv', ['alpha,beta,label', ...rows].join('\n')),
      /^t\.csv: no column "gamma" for the target; columns are alpha, beta, label$/,
      { target: 'gamma' }
    )
  })
  it('refuses a missing path', async () => {
    await expectError(path.join(lab.tmp, 'nope.csv'), /nope\.csv: not found$/)
  })
  it('leaves other datasets untouched when an import fails', async () => {
    const good = await lab.datasets.import({
      path: lab.write('good.csv', ['a,b,label', ...threeClassRows(12).map((r) => `${r.a},${r.b},${r.label}`)].join('\n'))
    })
    await expect(lab.datasets.import({ path: lab.write('bad.csv', 'a,b\n1,2\n3\n') })).rejects.toThrow(/line 3/)
    expect((await lab.datasets.list()).map((d) => d.datasetId)).toEqual([good.datasetId])
    expect(fs.readdirSync(path.join(lab.tmp, 'home', 'datasets'))).toEqual([good.datasetId])
  })
})
