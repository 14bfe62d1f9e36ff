/**
 * Tables too wide for DuckDB (thousands of columns: its per-column vectors then cost more than the parse), read in
 * JavaScript: one streaming pass over the CSV (csv.ts readCsv) that profiles every column and writes its
 * materialised form (storage.ts) as it goes. Memory stays flat: per column a small write buffer and at most
 * VOCAB_CAP distinct values; descriptors stay bounded: every column writes through one FilePool.
 */
import type { BadRowsChoice, SetAsideRow } from '../shared/contract'
import { SET_ASIDE_LISTED } from '../shared/importFacts'
import { LabError } from '../shared/errors'
import { type CsvSettings, fileLabel, readCsv } from './csv'
import { ColumnWriter, FilePool, StringsWriter, bufferShare, columnFile, forEachChunk } from './storage'
import { type ColumnStats, Histogram, NumericMoments, VOCAB_CAP, topValues } from './profile'
import { isMissing, parseBoolean, parseNumber } from './values'
import { type ImportOptions, type TableImport, setAsideSummary } from './importResult'

/** Builds one column's files and statistics, switching representation when the values require it. */
class ColumnBuilder {
  numeric = true
  integer = true
  increasing = true
  booleanLike = true
  missing = 0
  present = 0
  private previous = -Infinity
  private readonly moments = new NumericMoments()
  private f64: ColumnWriter | null
  private i32: ColumnWriter | null
  private str: StringsWriter | null = null
  /** Value → code. Numbers are keyed as numbers (no string per value); their vocabulary text is String(number). */
  private vocab: Map<string | number, number> | null = new Map()
  private keys: string[] = []
  private counts: number[] = []
  private top: { value: string; count: number }[] = []

  constructor(
    readonly name: string,
    private readonly dir: string,
    private readonly index: number,
    private readonly decimalComma: boolean,
    private readonly pool: FilePool,
    private readonly share: number
  ) {
    this.f64 = new ColumnWriter(columnFile(dir, index, 'f64'), pool, share)
    this.i32 = new ColumnWriter(columnFile(dir, index, 'i32'), pool, share)
  }

  add(raw: string): void {
    // Most fields have no surrounding spaces: skip the copy trim() makes.
    const trimmed = raw.charCodeAt(0) <= 32 || raw.charCodeAt(raw.length - 1) <= 32 ? raw.trim() : raw
    if (isMissing(trimmed)) {
      this.missing++
      this.increasing = false
      this.f64?.f64(NaN)
      this.i32?.i32(-1)
      this.str?.write('')
      return
    }
    this.present++
    const value = parseNumber(trimmed, this.decimalComma)
    if (this.numeric && Number.isNaN(value)) this.leaveNumeric()
    // Numbers are one class whatever their spelling (1.0 and 1), as categoryKey() has it.
    const key = Number.isNaN(value) ? trimmed : value
    if (this.vocab && !this.vocab.has(key) && this.vocab.size >= VOCAB_CAP) this.leaveVocab()
    if (this.booleanLike && Number.isNaN(parseBoolean(trimmed))) this.booleanLike = false
    if (this.numeric) {
      this.moments.add(value)
      if (this.integer && !Number.isInteger(value)) this.integer = false
      if (this.increasing && !(value > this.previous)) this.increasing = false
      this.previous = value
      this.f64!.f64(value)
    }
    if (this.vocab) {
      let code = this.vocab.get(key)
      if (code === undefined) {
        code = this.keys.length
        this.vocab.set(key, code)
        this.keys.push(String(key))
        this.counts.push(0)
      }
      this.counts[code]!++
      this.i32!.i32(code)
    }
    this.str?.write(trimmed)
  }

  /** The first non-number: the Float64 file goes; if codes are gone too, the values so far move to a strings file. */
  private leaveNumeric(): void {
    this.numeric = false
    this.integer = false
    this.increasing = false
    const file = columnFile(this.dir, this.index, 'f64')
    this.f64!.close()
    this.f64 = null
    if (!this.vocab) {
      const str = this.startStrings()
      forEachChunk(file, 'f64', (values) => {
        for (let i = 0; i < values.length; i++) str.write(Number.isNaN(values[i]!) ? '' : String(values[i]))
      })
    }
    this.pool.forget(file)
  }

  /** One distinct value too many: codes go; a non-numeric column's values so far move to a strings file. */
  private leaveVocab(): void {
    this.top = topValues(this.keys, this.counts)
    const file = columnFile(this.dir, this.index, 'i32')
    this.i32!.close()
    this.i32 = null
    if (!this.numeric) {
      const str = this.startStrings()
      const keys = this.keys
      forEachChunk(file, 'i32', (codes) => {
        for (let i = 0; i < codes.length; i++) str.write(codes[i]! < 0 ? '' : keys[codes[i]!]!)
      })
    }
    this.pool.forget(file)
    this.vocab = null
    this.keys = []
    this.counts = []
  }

  private startStrings(): StringsWriter {
    this.str = new StringsWriter(this.dir, this.index, this.pool, this.share)
    return this.str
  }

  finish(): ColumnStats {
    this.f64?.close()
    this.i32?.close()
    this.str?.close()
    const numeric = this.numeric && this.present > 0
    let histogram: number[] | null = null
    if (numeric) {
      const bins = new Histogram(this.moments.min, this.moments.max)
      forEachChunk(columnFile(this.dir, this.index, 'f64'), 'f64', (values) => {
        for (let i = 0; i < values.length; i++) bins.add(values[i]!)
      })
      histogram = bins.bins
    }
    return {
      name: this.name,
      missing: this.missing,
      present: this.present,
      numeric,
      integer: numeric && this.integer,
      increasing: numeric && this.increasing,
      booleanLike: this.booleanLike && this.present > 0,
      min: numeric ? this.moments.min : 0,
      max: numeric ? this.moments.max : 0,
      mean: numeric ? this.moments.mean : 0,
      std: numeric ? this.moments.std : 0,
      distinct: this.vocab ? this.keys.length : VOCAB_CAP,
      distinctCapped: !this.vocab,
      vocab: this.vocab ? this.keys : null,
      counts: this.vocab ? this.counts : null,
      top: this.vocab ? topValues(this.keys, this.counts) : this.top,
      histogram,
      files: { f64: this.f64 !== null, i32: this.i32 !== null, str: this.str !== null }
    }
  }
}

/**
 * Imports a CSV whose dialect is known into `dir` (which must exist and be empty). Rows of another width are set
 * aside (or, with badRows 'refuse', stop the import); a file where at least half the rows do not fit is refused.
 */
export async function importWide(
  file: string,
  settings: CsvSettings,
  dir: string,
  options: ImportOptions & { badRows?: BadRowsChoice } = {}
): Promise<TableImport> {
  const label = fileLabel(file)
  const pool = new FilePool()
  const share = bufferShare(settings.names.length * 2)
  const builders = settings.names.map((name, index) => new ColumnBuilder(name, dir, index, settings.decimalComma, pool, share))
  const width = settings.names.length
  const setAside: SetAsideRow[] = []
  let setAsideTotal = 0
  const onBadRecord =
    options.badRows === 'refuse'
      ? undefined
      : (fields: string[], line: number) => {
          if (options.badRows === 'pad' && fields.length < width) return [...fields, ...new Array<string>(width - fields.length).fill('')]
          setAsideTotal++
          if (setAside.length < SET_ASIDE_LISTED)
            setAside.push({ line, problem: fields.length < width ? 'too few fields' : 'too many fields', text: fields.join(settings.delimiter) })
          return null
        }
  let pass
  try {
    pass = await readCsv(
      file,
      settings,
      (fields) => {
        // One builder per column, and readCsv holds every row to that field count (or sets it aside).
        for (let i = 0; i < builders.length; i++) builders[i]!.add(fields[i]!)
      },
      options.onProgress,
      onBadRecord,
      options.signal
    )
  } catch (error) {
    pool.closeAll()
    throw error
  }
  let columns: ColumnStats[]
  try {
    columns = builders.map((builder) => builder.finish())
  } finally {
    pool.closeAll()
  }
  const first = setAside[0]
  if (first && setAsideTotal >= pass.rows)
    throw new LabError(
      `${label}: ${setAsideTotal.toLocaleString('en')} of ${(setAsideTotal + pass.rows).toLocaleString('en')} rows do not fit the table's ${width} columns (first: line ${first.line}); check the delimiter or the quotes`
    )
  if (pass.rows === 0) throw new LabError(`${label}: ${settings.header ? 'a header but no data rows' : 'no data rows'}`)
  return {
    settings,
    source: { format: 'csv', ...(setAsideTotal > 0 ? { setAside: setAsideSummary(setAside, setAsideTotal, SET_ASIDE_LISTED) } : {}) },
    rows: pass.rows,
    bytes: pass.bytes,
    contentHash: pass.contentHash,
    columns
  }
}
