/**
 * Table import: one streaming pass over the CSV that profiles every column and writes its materialised form
 * (see storage.ts) as it goes. Memory stays flat: per column a small write buffer and at most VOCAB_CAP distinct values.
 */
import fs from 'node:fs'
import { LabError } from '../shared/errors'
import { type CsvOverrides, type CsvSettings, fileLabel, readCsv, sniffCsv } from './csv'
import { BufferedWriter, StringWriter, columnFile, forEachInFile } from './storage'
import { type ColumnStats, Histogram, NumericMoments, VOCAB_CAP, topValues } from './profile'
import { isMissing, parseBoolean, parseNumber } from './values'

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
  private f64: BufferedWriter | null
  private i32: BufferedWriter | null
  private str: StringWriter | null = null
  /** Value → code. Numbers are keyed as numbers (no string per value); their vocabulary text is String(number). */
  private vocab: Map<string | number, number> | null = new Map()
  private keys: string[] = []
  private counts: number[] = []
  private top: { value: string; count: number }[] = []

  constructor(
    readonly name: string,
    private readonly dir: string,
    private readonly index: number,
    private readonly decimalComma: boolean
  ) {
    this.f64 = new BufferedWriter(columnFile(dir, index, 'f64'))
    this.i32 = new BufferedWriter(columnFile(dir, index, 'i32'))
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
      this.startStrings()
      forEachInFile(file, 'f64', (value) => this.str!.write(Number.isNaN(value) ? '' : String(value)))
    }
    fs.rmSync(file)
  }

  /** One distinct value too many: codes go; a non-numeric column's values so far move to a strings file. */
  private leaveVocab(): void {
    this.top = topValues(this.keys, this.counts)
    const file = columnFile(this.dir, this.index, 'i32')
    this.i32!.close()
    this.i32 = null
    if (!this.numeric) {
      this.startStrings()
      const keys = this.keys
      forEachInFile(file, 'i32', (code) => this.str!.write(code < 0 ? '' : keys[code]!))
    }
    fs.rmSync(file)
    this.vocab = null
    this.keys = []
    this.counts = []
  }

  private startStrings(): void {
    this.str = new StringWriter(columnFile(this.dir, this.index, 'str'), columnFile(this.dir, this.index, 'off'))
  }

  /** Closes the files after a failed pass (the caller removes the folder). */
  abort(): void {
    for (const writer of [this.f64, this.i32, this.str]) {
      try {
        writer?.close()
      } catch {
        // already failing: the folder is removed anyway
      }
    }
  }

  finish(): ColumnStats {
    this.f64?.close()
    this.i32?.close()
    this.str?.close()
    const numeric = this.numeric && this.present > 0
    let histogram: number[] | null = null
    if (numeric) {
      const bins = new Histogram(this.moments.min, this.moments.max)
      forEachInFile(columnFile(this.dir, this.index, 'f64'), 'f64', (value) => bins.add(value))
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

export interface TableImport {
  settings: CsvSettings
  rows: number
  bytes: number
  contentHash: string
  columns: ColumnStats[]
}

/**
 * Sniffs and imports a CSV into `dir` (which must exist and be empty). Throws LabError for files that are not a
 * usable table: empty, header without rows, ragged rows, binary data.
 */
export async function importTable(
  file: string,
  overrides: CsvOverrides,
  dir: string,
  onProgress?: (rows: number, bytes: number) => void
): Promise<TableImport> {
  const label = fileLabel(file)
  const settings = await sniffCsv(file, overrides)
  const builders = settings.names.map((name, index) => new ColumnBuilder(name, dir, index, settings.decimalComma))
  let pass
  try {
    pass = await readCsv(
      file,
      settings,
      (fields) => {
        // One builder per column of the first row, and readCsv holds every row to that field count.
        for (let i = 0; i < builders.length; i++) builders[i]!.add(fields[i]!)
      },
      onProgress
    )
  } catch (error) {
    for (const builder of builders) builder.abort()
    throw error
  }
  const columns = builders.map((builder) => builder.finish())
  if (pass.rows === 0) throw new LabError(`${label}: ${settings.header ? 'a header but no data rows' : 'no data rows'}`)
  return { settings, rows: pass.rows, bytes: pass.bytes, contentHash: pass.contentHash, columns }
}
