/**
 * Real-world CSV damage and unusual dialects: rows that do not fit are set aside (with their line and text), the
 * rest imports; preambles, two-row headers, space delimiters, apostrophe quotes, backslash escapes, trailing
 * delimiters, blank lines. And the dialect report (dialectReport) on the awkward files of csv.test.ts.
 */
import iconv from 'iconv-lite'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openTestServices, type TestServices } from '../../fixtures/home'
import { threeClassRows } from './helpers'
import { dialectReport } from '../../../main/shared/format'

let lab: TestServices
beforeAll(async () => {
  lab = await openTestServices()
})
afterAll(async () => {
  await lab.close()
})

const rows3 = (n: number, sep = ',') => threeClassRows(n).map((r) => `${r.a}${sep}${r.b}${sep}${r.label}`)
const importText = (name: string, text: string | Buffer, args: Record<string, unknown> = {}) =>
  lab.datasets.import({ path: lab.write(name, text), ...args })
const previewOf = async (datasetId: string, limit = 100) => (await lab.datasets.preview({ datasetId, offset: 0, limit })).rows

describe('rows that do not fit', () => {
  it('sets aside a row with a missing field and imports the rest', async () => {
    const summary = await importText('ragged-missing.csv', 'a,b,label\n1,2,x\n3,4,y\n5,6\n7,8,x\n9,10,y\n')
    expect(summary.rows).toBe(4)
    expect(summary.parse.table?.setAside).toEqual({ total: 1, rows: [{ line: 4, problem: 'too few fields', text: '5,6' }] })
    expect((await previewOf(summary.datasetId)).map((r) => r[2])).toEqual(['x', 'y', 'x', 'y'])
  })

  it('sets aside a row with an extra field', async () => {
    const summary = await importText('ragged-extra.csv', 'a,b,label\n1,2,x\n3,4,y,oops\n5,6,x\n7,8,y\n')
    expect(summary.rows).toBe(3)
    expect(summary.parse.table?.setAside?.rows[0]).toMatchObject({ line: 3, problem: 'too many fields', text: '3,4,y,oops' })
  })

  it('pads short rows with missing values when asked', async () => {
    const summary = await importText('ragged-pad.csv', 'a,b,label\n1,2,x\n3,4,y\n5,6\n7,8,x\n9,10,y\n', { badRows: 'pad' })
    expect(summary.rows).toBe(5)
    expect(summary.parse.table?.setAside).toBeUndefined()
    expect((await previewOf(summary.datasetId))[2]).toEqual([5, 6, null])
  })

  it('refuses a file where most rows do not fit, in one line', async () => {
    const error = await importText('mostly-bad.csv', 'a,b,label\n1,2\n3,4\n5,6,x\n').catch((e: Error) => e)
    expect((error as Error).message).toBe(
      "mostly-bad.csv: 2 of 3 rows do not fit the table's 3 columns (first: line 2: expected 3, got 2 fields); check the delimiter or the quotes"
    )
  })

  it('sets aside the rows of a second table below the first', async () => {
    const summary = await importText('second-table.csv', ['a,b,label', ...rows3(20), '', 'Totals', 'sum,count', '123,20'].join('\n'))
    expect(summary.rows).toBe(20)
    expect(summary.parse.table?.setAside?.rows.map((r) => r.line)).toEqual([23, 24, 25])
    expect(summary.parse.table?.setAside?.rows[0]?.text).toBe('Totals')
  })
})

describe('unusual dialects', () => {
  it('skips preamble lines above the header', async () => {
    const summary = await importText('preamble.csv', ['Sales report 2026', 'exported by Tool v2', '', 'a,b,label', ...rows3(20)].join('\n'))
    expect(summary.rows).toBe(20)
    expect(summary.columns.map((c) => c.name)).toEqual(['a', 'b', 'label'])
    expect(summary.parse.csv).toMatchObject({ skippedLines: 3, header: true })
  })

  it('takes the second row of a two-row header for the names', async () => {
    const summary = await importText('multi-header.csv', ['Region,,Sales', 'a,b,label', ...rows3(20)].join('\n'))
    expect(summary.rows).toBe(20)
    expect(summary.columns.map((c) => c.name)).toEqual(['a', 'b', 'label'])
    expect(summary.parse.csv).toMatchObject({ headerRows: 2, skippedLines: 1 })
  })

  it('reads a space delimiter', async () => {
    const summary = await importText('space.csv', ['a b label', ...rows3(20, ' ')].join('\n'))
    expect(summary.parse.csv?.delimiter).toBe(' ')
    expect(summary.columns.map((c) => c.type)).toEqual(['integer', 'number', 'category'])
  })

  it('reads apostrophe quoting', async () => {
    const summary = await importText(
      'apostrophe.csv',
      ['a,b,label', ...threeClassRows(20).map((r) => `${r.a},${r.b},'${r.label}, really'`)].join('\n')
    )
    expect(summary.parse.csv?.quote).toBe("'")
    expect(summary.rows).toBe(20)
    expect(summary.classes.map((c) => c.label)).toEqual(['high, really', 'low, really', 'mid, really'])
  })

  it('reads backslash-escaped quotes', async () => {
    const summary = await importText(
      'backslash.csv',
      ['a,b,label', ...threeClassRows(20).map((r) => `${r.a},${r.b},"say \\"${r.label}\\""`)].join('\n')
    )
    expect(summary.parse.csv).toMatchObject({ quote: '"', escape: '\\' })
    expect(summary.classes.map((c) => c.label)).toEqual(['say "high"', 'say "low"', 'say "mid"'])
  })

  it('keeps a quote inside an unquoted field', async () => {
    const summary = await importText(
      'quote-inside.csv',
      ['a,b,label', ...threeClassRows(20).map((r, i) => `${r.a},${r.b},${i === 5 ? '5" screen' : r.label}`)].join('\n')
    )
    expect(summary.rows).toBe(20)
    expect((await previewOf(summary.datasetId))[5]?.[2]).toBe('5" screen')
  })

  it('drops the empty column a trailing delimiter makes', async () => {
    const summary = await importText('trailing.csv', ['a,b,label,', ...rows3(20).map((r) => r + ',')].join('\n'))
    expect(summary.columns.map((c) => c.name)).toEqual(['a', 'b', 'label'])
    expect(summary.parse.csv?.droppedTrailingColumn).toBe(true)
    expect(summary.rows).toBe(20)
  })

  it('skips blank lines', async () => {
    const summary = await importText('blank-lines.csv', ['a,b,label', '', ...rows3(10), '', '', ...rows3(10)].join('\n') + '\n\n')
    expect(summary.rows).toBe(20)
    expect(summary.parse.table?.setAside).toBeUndefined()
  })

  it('reads people numbers: currency, thousands, percent; keeps their text in the preview', async () => {
    const lines = [
      'price,share,label',
      ...Array.from({ length: 30 }, (_, i) => `"$${(1000 + i * 250).toLocaleString('en')}.50",${i % 10} %,${i % 3}`)
    ]
    const summary = await importText('money.csv', lines.join('\n'))
    const price = summary.columns.find((c) => c.name === 'price')!
    expect(price).toMatchObject({ type: 'number', role: 'feature', min: 1000.5, max: 1000.5 + 29 * 250 })
    expect(summary.columns.find((c) => c.name === 'share')).toMatchObject({ type: 'integer', min: 0, max: 9 })
    expect(summary.parse.table?.messyNumbers).toEqual(['price', 'share'])
    expect((await previewOf(summary.datasetId, 2))[1]).toEqual(['$1,250.50', '1 %', 1])
  })

  it('follows every setting given at import over what it detects', async () => {
    const text = ['# notes', 'a|b|label', ...rows3(12, '|')].join('\n')
    const summary = await importText('given.csv', text, { delimiter: '|', skip: 1, quote: '', header: true })
    expect(summary.parse.csv).toMatchObject({ delimiter: '|', skippedLines: 1, quote: '', header: true })
    expect(summary.rows).toBe(12)
    expect(summary.parse.requested).toEqual({ delimiter: '|', skip: 1, quote: '', header: true })
  })
})

describe('the dialect report', () => {
  it.each([
    [
      'semi.csv',
      ['a;b;species', ...threeClassRows(30).map((r) => `${r.a},5;${String(r.b).replace('.', ',')};${r.label}`)].join('\n'),
      { delimiter: ';', decimal: ',' }
    ],
    ['bom.csv', '\uFEFF' + ['x,y,label', ...rows3(24)].join('\r\n'), { encoding: 'utf8', delimiter: ',', header: true }],
    [
      'latin1.csv',
      iconv.encode(
        ['drink,price,label', ...Array.from({ length: 12 }, (_, i) => `${i % 2 ? 'café' : 'thé'},${i},x${i % 3}`)].join('\n'),
        'windows1252'
      ),
      { encoding: 'windows1252' }
    ],
    ['noheader.csv', rows3(30).join('\n'), { header: false, skippedLines: 0 }],
    ['pipe.csv', ['a|b|label', ...rows3(20, '|')].join('\n'), { delimiter: '|', quote: '"' }],
    ['preamble2.csv', ['Title', '', 'a,b,label', ...rows3(20)].join('\n'), { skippedLines: 2, header: true }]
  ])('%s', async (name, text, expected) => {
    const summary = await importText(name, text)
    const report = dialectReport(summary.parse.csv!)
    expect(report).toMatchObject(expected)
    expect(Object.keys(report).sort()).toEqual(['decimal', 'delimiter', 'encoding', 'header', 'quote', 'skippedLines'])
  })
})
