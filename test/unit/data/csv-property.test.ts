/**
 * Property: a random table written in a random dialect (delimiter, quote, decimal mark, encoding, line ends, header
 * or not) reads back equal through the whole import: sniffer, DuckDB's parse, the column files and the preview.
 */
import fc from 'fast-check'
import iconv from 'iconv-lite'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { openTestServices, type TestServices } from '../../fixtures/home'

let lab: TestServices
beforeAll(async () => {
  lab = await openTestServices()
})
afterAll(async () => {
  await lab.close()
})

type Cell = number | string | null

interface Table {
  kinds: ('number' | 'text')[]
  rows: Cell[][]
}

interface Dialect {
  delimiter: ',' | ';' | '\t' | '|'
  quote: '"' | "'"
  decimal: '.' | ','
  encoding: 'utf8' | 'utf8-bom' | 'utf16le' | 'windows1252'
  lineEnd: '\n' | '\r\n'
  header: boolean
  finalNewline: boolean
}

/** Words that never read as numbers, booleans-to-be-numbers or missing markers; some hold a delimiter, quote or newline. */
const word = fc
  .array(fc.constantFrom('a', 'b', 'é', 'x', 'Z', ' ', ',', ';', '|', '\t', '"', "'", '\n', 'q'), { minLength: 1, maxLength: 8 })
  .map((chars) => `w${chars.join('')}k`)
const number = fc.oneof(
  fc.integer({ min: -5000, max: 5000 }),
  fc.integer({ min: -500000, max: 500000 }).map((n) => n / 1000)
)

const table: fc.Arbitrary<Table> = fc
  .tuple(fc.array(fc.constantFrom<'number' | 'text'>('number', 'text'), { minLength: 1, maxLength: 4 }), fc.integer({ min: 3, max: 25 }))
  .chain(([rest, n]) => {
    // The first column is numeric: it is what tells a header from data.
    const kinds: ('number' | 'text')[] = ['number', ...rest]
    const cell = (kind: 'number' | 'text') => (kind === 'number' ? fc.option(number, { freq: 8 }) : word)
    return fc.array(fc.tuple(...kinds.map(cell)), { minLength: n, maxLength: n }).map((rows) => ({ kinds, rows: rows as Cell[][] }))
  })
  // Every column has a value somewhere, and some number is not whole (so a decimal mark shows).
  .filter((t) => t.kinds.every((_, c) => t.rows.some((row) => row[c] !== null)))
  .filter((t) => t.rows.some((row) => typeof row[0] === 'number' && !Number.isInteger(row[0])))
  // Without a header the first row is data: a number on top of a column with numbers below tells it from a header
  // (a file with no such column is taken to have a header, as most do).
  .filter((t) => t.rows[0]![0] !== null && t.rows.slice(1).some((row) => row[0] !== null))

const dialect: fc.Arbitrary<Dialect> = fc
  .record({
    delimiter: fc.constantFrom(',' as const, ';' as const, '\t' as const, '|' as const),
    quote: fc.constantFrom('"' as const, "'" as const),
    decimal: fc.constantFrom('.' as const, ',' as const),
    encoding: fc.constantFrom('utf8' as const, 'utf8-bom' as const, 'utf16le' as const, 'windows1252' as const),
    lineEnd: fc.constantFrom('\n' as const, '\r\n' as const),
    header: fc.boolean(),
    finalNewline: fc.boolean()
  })
  .map((d) => ({ ...d, decimal: d.delimiter === ',' ? ('.' as const) : d.decimal }))

function write(t: Table, d: Dialect): Buffer {
  const field = (cell: Cell): string => {
    if (cell === null) return ''
    if (typeof cell === 'number') return d.decimal === ',' ? String(cell).replace('.', ',') : String(cell)
    const needs = cell.includes(d.delimiter) || cell.includes(d.quote) || cell.includes('\n') || cell.includes('\r')
    return needs ? `${d.quote}${cell.split(d.quote).join(d.quote + d.quote)}${d.quote}` : cell
  }
  const lines = t.rows.map((row) => row.map(field).join(d.delimiter))
  if (d.header) lines.unshift(t.kinds.map((kind, c) => `${kind}_${c}`).join(d.delimiter))
  const text = lines.join(d.lineEnd) + (d.finalNewline ? d.lineEnd : '')
  if (d.encoding === 'utf8') return Buffer.from(text, 'utf8')
  if (d.encoding === 'utf8-bom') return Buffer.from('\uFEFF' + text, 'utf8')
  if (d.encoding === 'utf16le') return Buffer.concat([Buffer.from([0xff, 0xfe]), iconv.encode(text, 'utf16le')])
  return iconv.encode(text, 'windows1252')
}

let n = 0
it('reads back every random table written in a random dialect', async () => {
  await fc.assert(
    fc.asyncProperty(table, dialect, async (t, d) => {
      const bytes = write(t, d)
      const summary = await lab.datasets.import({ path: lab.write(`random-${++n}.csv`, bytes), target: d.header ? 'number_0' : 'col_1' })
      try {
        expect(summary.parse.csv).toMatchObject({ delimiter: d.delimiter, header: d.header, decimalComma: d.decimal === ',' })
        expect(summary.columns.map((c) => c.name)).toEqual(t.kinds.map((kind, c) => (d.header ? `${kind}_${c}` : `col_${c + 1}`)))
        const preview = await lab.datasets.preview({ datasetId: summary.datasetId, offset: 0, limit: 1000 })
        // Text is trimmed as it is read: a word's edges are letters, so nothing is lost.
        expect(preview.rows).toEqual(t.rows.map((row) => row.map((cell) => (typeof cell === 'string' ? cell.replace(/\r\n?/g, '\n') : cell))))
      } finally {
        await lab.datasets.delete(summary.datasetId)
      }
    }),
    { numRuns: Number(process.env.PROPERTY_RUNS ?? 60), seed: Number(process.env.PROPERTY_SEED ?? 15) }
  )
})
