/**
 * A plain CSV read in JavaScript instead of DuckDB: UTF-8 without compression, '.' decimals, one ASCII delimiter,
 * one line end kind, and — found while reading — no quote character in a field, no blank line, every line as wide as
 * the header, and in a numeric column nothing but numbers and the missing markers DuckDB is given. Most tables an
 * analyst exports are such files, and on them this reader takes ~0.4 of DuckDB's CPU time (one thread, no
 * DataChunk round trips; measured in the README). Anything else ends the attempt (`null`), its files are removed,
 * and the caller reads the file with DuckDB, which sets aside bad rows and handles every dialect: the two readers
 * give the same column files for a file both read (test/unit/data/plainCsv.test.ts compares them byte for byte).
 *
 * Numbers are read as DuckDB's cast and JavaScript's Number() read them (both correctly rounded): up to 15 digits
 * with a power of ten of at most 22 is one exact division or multiplication (Clinger's fast path), longer ones go
 * through Number() on the field's text.
 */
import fs from 'node:fs'
import { isUtf8 } from 'node:buffer'
import { LabError } from '../shared/errors'
import type { CsvSettings } from './csv'
import { type ColumnSink, NumericColumn, TextColumn, type TextValues } from './columns'
import { type ColumnSpec, type ScanOptions, type ScanResult, abortColumns, columnSinks } from './scan'
import { NULL_SPELLINGS } from './values'

/** Rows handed to the column builders at a time (DuckDB's DataChunk size). */
const ROWS = 2048
/** Bytes read at a time; a line longer than LINE_LIMIT ends the attempt (DuckDB reports it). */
const BLOCK = 1 << 20
const LINE_LIMIT = 64 << 20

const POWERS = Array.from({ length: 23 }, (_, i) => 10 ** i)
const NEWLINE = 10
const RETURN = 13
const MINUS = 45
const DOT = 46
const ZERO = 48
const NINE = 57

/** A delimiter that cannot be part of a number or a missing marker. */
const plainDelimiter = (delimiter: string): boolean =>
  delimiter.length === 1 && delimiter.charCodeAt(0) < 128 && !/[0-9A-Za-z.+\-?\r\n]/.test(delimiter)

/** Whether a file with these settings may be tried with this reader (the rest of its conditions are found reading). */
export function plainCsvSettings(settings: CsvSettings): boolean {
  return (
    settings.encoding === 'utf8' &&
    settings.compression === 'none' &&
    !settings.decimalComma &&
    !settings.mixedLineEnds &&
    !settings.droppedTrailingColumn &&
    plainDelimiter(settings.delimiter) &&
    settings.quote.length <= 1 &&
    (settings.quote === '' || settings.quote.charCodeAt(0) < 128)
  )
}

/** The end of the attempt: the file is not plain (or not plain here); DuckDB reads it. */
class NotPlain extends Error {}

/** The text fields of one block of rows: byte ranges in the read buffer. */
class FieldTexts implements TextValues {
  buffer: Buffer = Buffer.alloc(0)
  readonly starts = new Int32Array(ROWS)
  readonly ends = new Int32Array(ROWS)
  get(i: number): string {
    return this.buffer.toString('utf8', this.starts[i], this.ends[i])
  }
}

/**
 * Reads `file` (whose every column is in `specs`, in file order) into column files in `dir`, as scanToColumns would
 * from DuckDB; null when the file turns out not to be plain (nothing left in `dir`).
 */
export async function scanPlainCsv(
  file: string,
  settings: CsvSettings,
  specs: ColumnSpec[],
  dir: string,
  options: ScanOptions & { size: number }
): Promise<ScanResult | null> {
  const { pool, sinks } = columnSinks(specs, dir, false)
  const reader = new PlainReader(settings, sinks)
  const handle = await fs.promises.open(file, 'r')
  try {
    let buffer = Buffer.allocUnsafe(BLOCK)
    let kept = 0
    let position = 0
    for (;;) {
      if (options.signal?.aborted) throw new LabError(`${options.label}: import cancelled`)
      if (kept === buffer.length) {
        if (buffer.length >= LINE_LIMIT) throw new NotPlain()
        const bigger = Buffer.allocUnsafe(buffer.length * 2)
        buffer.copy(bigger, 0, 0, kept)
        buffer = bigger
      }
      const { bytesRead } = await handle.read(buffer, kept, buffer.length - kept, position)
      position += bytesRead
      let filled = kept + bytesRead
      if (bytesRead === 0) {
        if (kept === 0) break
        // The last line without its line end.
        if (filled === buffer.length) {
          const bigger = Buffer.allocUnsafe(filled + 1)
          buffer.copy(bigger, 0, 0, filled)
          buffer = bigger
        }
        buffer[filled++] = NEWLINE
      }
      const end = buffer.lastIndexOf(NEWLINE, filled - 1) + 1
      const used = end > 0 ? reader.read(buffer, end) : 0
      kept = filled - used
      buffer.copy(buffer, 0, used, filled)
      options.onProgress?.(reader.rows, position / Math.max(1, options.size))
      if (bytesRead === 0) break
    }
    // No data rows (a header alone, a preamble longer than the file): DuckDB's reading says what the file holds.
    if (reader.rows === 0) throw new NotPlain()
    return { rows: reader.rows, sinks, pool }
  } catch (error) {
    abortColumns({ rows: 0, sinks, pool })
    if (error instanceof NotPlain) return null
    throw error
  } finally {
    pool.closeAll()
    await handle.close()
  }
}

class PlainReader {
  rows = 0
  /** Lines above the data still to pass (a BOM, the preamble, the header). */
  linesToSkip: number
  private bomChecked = false
  private readonly width: number
  private readonly delimiter: number
  private readonly quote: number
  private readonly numeric: boolean[]
  private readonly values: Float64Array[]
  private readonly texts: FieldTexts[]
  private readonly hashes: Int32Array[]
  private readonly missingMarkers: Set<string>

  constructor(
    settings: CsvSettings,
    private readonly sinks: ColumnSink[]
  ) {
    this.width = sinks.length
    this.delimiter = settings.delimiter.charCodeAt(0)
    this.quote = settings.quote === '' ? -1 : settings.quote.charCodeAt(0)
    this.linesToSkip = settings.skippedLines + (settings.header ? 1 : 0)
    this.numeric = sinks.map((sink) => sink instanceof NumericColumn)
    this.values = this.numeric.map((numeric) => new Float64Array(numeric ? ROWS : 0))
    this.texts = this.numeric.map(() => new FieldTexts())
    this.hashes = this.numeric.map((numeric) => new Int32Array(numeric ? 0 : 2 * ROWS))
    this.missingMarkers = new Set(NULL_SPELLINGS)
  }

  /** Reads the whole lines in buffer[0, end) (end: just past a line end); returns the bytes used. */
  read(buffer: Buffer, end: number): number {
    let i = 0
    if (!this.bomChecked) {
      this.bomChecked = true
      if (buffer[0] === 0xef && buffer[1] === 0xbb && buffer[2] === 0xbf) i = 3
    }
    while (this.linesToSkip > 0) {
      const next = buffer.indexOf(NEWLINE, i)
      if (next < 0 || next >= end) return i
      // A quote above the data could hide a line end in DuckDB's reading of it.
      if (this.quote >= 0 && buffer.subarray(i, next).includes(this.quote)) throw new NotPlain()
      i = next + 1
      this.linesToSkip--
    }
    for (const texts of this.texts) texts.buffer = buffer
    while (i < end) {
      const wanted = this.sinks.map((sink) => sink instanceof TextColumn && sink.hashesWanted)
      let row = 0
      while (row < ROWS && i < end) {
        // Blank lines are passed over, as DuckDB does (a one-column table's would be missing values: not plain).
        const c = buffer[i]
        if (c === NEWLINE || (c === RETURN && buffer[i + 1] === NEWLINE)) {
          if (this.width === 1) throw new NotPlain()
          i += c === NEWLINE ? 1 : 2
          continue
        }
        i = this.readLine(buffer, i, row++, wanted)
      }
      this.hand(row)
    }
    return i
  }

  /** One line from `i` into row `row` of the block; returns the position after its line end. */
  private readLine(buffer: Buffer, start: number, row: number, wanted: boolean[]): number {
    const { width, delimiter, quote, numeric } = this
    let i = start
    for (let column = 0; column < width; column++) {
      // What must follow the field: the delimiter, or on the last field the line end.
      const stop = column === width - 1 ? NEWLINE : delimiter
      const fieldStart = i
      let c = buffer[i]!
      if (numeric[column]) {
        let negative = false
        if (c === MINUS) {
          negative = true
          c = buffer[++i]!
        }
        let mantissa = 0
        let digits = 0
        let decimals = 0
        while (c >= ZERO && c <= NINE) {
          mantissa = mantissa * 10 + (c - ZERO)
          digits++
          c = buffer[++i]!
        }
        if (c === DOT) {
          c = buffer[++i]!
          while (c >= ZERO && c <= NINE) {
            mantissa = mantissa * 10 + (c - ZERO)
            digits++
            decimals++
            c = buffer[++i]!
          }
        }
        const numberEnd = i
        const fast = digits > 0 && digits <= 15
        if (fast && c === stop) {
          const value = mantissa / POWERS[decimals]!
          this.values[column]![row] = negative ? -value : value
          i++
        } else {
          // A \r\n line end, a missing marker, an exponent, more digits than the fast path takes, or not plain.
          while (c !== stop && c !== NEWLINE && c !== RETURN && c !== delimiter) c = buffer[++i]!
          let value: number
          if (fast && i === numberEnd) {
            value = mantissa / POWERS[decimals]!
            if (negative) value = -value
          } else value = this.slowNumber(buffer, fieldStart, i)
          this.values[column]![row] = value
          i = this.fieldEnd(buffer, i, stop)
        }
      } else {
        const hashing = wanted[column]!
        let low = 0x811c9dc5
        let high = 0x9747b28c
        let ascii = 0
        while (c !== stop && c !== NEWLINE && c !== RETURN && c !== delimiter) {
          if (c === quote) throw new NotPlain()
          if (hashing) {
            low = Math.imul(low ^ c, 0x01000193)
            high = Math.imul(high ^ c, 0x5bd1e995)
          }
          ascii |= c
          c = buffer[++i]!
        }
        if (ascii >= 0x80 && !isUtf8(buffer.subarray(fieldStart, i))) throw new NotPlain()
        const texts = this.texts[column]!
        texts.starts[row] = fieldStart
        texts.ends[row] = i
        if (hashing) {
          const hashes = this.hashes[column]!
          hashes[2 * row] = mix(low ^ (i - fieldStart))
          hashes[2 * row + 1] = mix(high ^ Math.imul(i - fieldStart, 0x27d4eb2d))
        }
        i = this.fieldEnd(buffer, i, stop)
      }
    }
    return i
  }

  /**
   * The position after the line's field that ends at `i` (on its terminating byte), which must be `stop`: the
   * delimiter, or on the last field the line end (\n or \r\n). Anything else — a field too many or too few, a bare
   * \r — is not plain.
   */
  private fieldEnd(buffer: Buffer, i: number, stop: number): number {
    const c = buffer[i]
    if (c === stop) return i + 1
    if (c === RETURN && stop === NEWLINE && buffer[i + 1] === NEWLINE) return i + 2
    throw new NotPlain()
  }

  /** A numeric field past the fast path, buffer[start, end): a missing marker, a number in other digits, or not plain. */
  private slowNumber(buffer: Buffer, start: number, end: number): number {
    const text = buffer.toString('latin1', start, end)
    if (this.missingMarkers.has(text)) return NaN
    // The number grammar both DuckDB's cast and Number() read alike: -?digits[.digits][e[+-]digits], .digits.
    if (!/^-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$/.test(text)) throw new NotPlain()
    return Number(text)
  }

  /** The block's `count` rows to the column builders. */
  private hand(count: number): void {
    if (count === 0) return
    this.sinks.forEach((sink, column) => {
      if (sink instanceof NumericColumn) sink.addValues(this.values[column]!.subarray(0, count), null, count)
      else if (sink instanceof TextColumn) sink.addTexts(count, null, sink.hashesWanted ? this.hashes[column]! : null, this.texts[column]!)
    })
    this.rows += count
  }
}

/** murmur3's finaliser: every input bit reaches every output bit. */
function mix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35)
  return h ^ (h >>> 16)
}
