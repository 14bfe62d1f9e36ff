/**
 * Column builders fed straight from DuckDB's DataChunk vectors (no row objects, no call into DuckDB per value): they
 * write the column files (storage.ts) and gather each column's statistics (profile.ts) in the same pass.
 *  - numbers: Float64 file always; Int32 codes while the column has at most VOCAB_CAP distinct values;
 *  - text: Int32 codes while at most VOCAB_CAP distinct values, then a strings file (the values so far re-written);
 *  - numbers are one class whatever their spelling (1.0 and 1), vocabulary text String(number);
 *  - missing markers ('', NA, N/A, NaN, null, ?, any case) count as missing.
 * A column's kind comes from DuckDB's type, decided before the pass, so a numeric column never moves its values
 * mid-pass (a late non-number is a CAST reject, and the caller reads that column as text in a second pass).
 *
 * Text columns are keyed by DuckDB's 64-bit hash of the value (computed on DuckDB's threads: `hash(col)` in the
 * SELECT): a row whose hash is known costs one lookup in a typed-array table; only new values are decoded to strings.
 * Two different values with equal 64-bit hashes would merge; for 10,000 values that chance is about 3e-12.
 *
 * Mean and standard deviation come from sums of the values shifted by the first one (stable in one pass); the
 * histogram needs min and max, known only at the end, so the file just written is binned after the pass (page
 * cache; scan.ts finishColumns shares those passes with the import helper thread).
 */
import fs from 'node:fs'
import duckdb from '@duckdb/node-bindings'
import { type ColumnStats, VOCAB_CAP as CAP_EXPORT, topValues } from './profile'
import { HISTOGRAM_BINS as BINS_EXPORT, type HistogramPass, binScale, fileHistogram } from './columnPasses'
import { ColumnWriter, type FilePool, StringsWriter, columnFile, forEachChunk, readRangeStrings } from './storage'
import { isMissing, parseBoolean, parseNumber } from './values'
import { readMessyNumbers } from './messy'
import { type DateFormat, DateRowReader, readDates } from './dates'

// Module-local copies: a bundler's or test runner's imported bindings can be getters, too slow in the hot loops.
const VOCAB_CAP = CAP_EXPORT
const HISTOGRAM_BINS = BINS_EXPORT
const MISSING_CODE = -1

/** Where a builder writes: the dataset folder, its column number there, the pool of descriptors and a buffer size. */
export interface ColumnTarget {
  dir: string
  index: number
  pool: FilePool
  share: number
}

export interface ColumnSink {
  readonly name: string
  /** The vectors of one chunk of `rows` rows. */
  add(chunk: duckdb.DataChunk, rows: number): void
  finish(): ColumnStats
  abort(): void
}

/** DuckDB's validity bitmask as bytes (null: every row valid). */
const validityOf = (vector: duckdb.Vector, rows: number): Uint8Array | null =>
  duckdb.vector_get_validity(vector, Math.ceil(rows / 64) * 8) as Uint8Array | null

/**
 * Number → code for up to VOCAB_CAP distinct doubles: open addressing over typed arrays (no heap numbers, no Map
 * entries: every numeric column fills one for its first thousands of rows, so it is hot).
 */
class DoubleCodes {
  private static readonly SIZE = 1 << 15 // > 3 × VOCAB_CAP: short probe chains
  private readonly keys = new Float64Array(DoubleCodes.SIZE)
  private readonly codes = new Int32Array(DoubleCodes.SIZE).fill(-1)
  private readonly scratch = new Float64Array(1)
  private readonly bits = new Uint32Array(this.scratch.buffer)
  size = 0
  /** The value's code, or -1 when it has none yet. */
  get(value: number): number {
    let slot = this.slot(value)
    for (;;) {
      const code = this.codes[slot]!
      if (code < 0 || this.keys[slot] === value) return code
      slot = (slot + 1) & (DoubleCodes.SIZE - 1)
    }
  }
  set(value: number, code: number): void {
    let slot = this.slot(value)
    while (this.codes[slot]! >= 0) slot = (slot + 1) & (DoubleCodes.SIZE - 1)
    this.keys[slot] = value
    this.codes[slot] = code
    this.size++
  }
  private slot(value: number): number {
    // -0 and 0 are one number (as in a Map): hash them alike.
    this.scratch[0] = value === 0 ? 0 : value
    return (Math.imul(this.bits[0]! ^ Math.imul(this.bits[1]!, 0x9e3779b1), 0x85ebca6b) >>> 17) & (DoubleCodes.SIZE - 1)
  }
}

/**
 * DuckDB's 64-bit hash of a text value → code: open addressing over typed arrays, growing at half full (a Map keyed
 * by a 53-bit number cost 5M rows a third of a second; every chunk of a text column looks up each of its rows).
 */
class HashCodes {
  private static readonly EMPTY = -2
  private size = 0
  private mask = (1 << 12) - 1
  private lows = new Int32Array(this.mask + 1)
  private highs = new Int32Array(this.mask + 1)
  private codes = new Int32Array(this.mask + 1).fill(HashCodes.EMPTY)
  /** The code of the hash (low, high 32 bits), or HashCodes.EMPTY when it has none yet. */
  get(low: number, high: number): number {
    const mask = this.mask
    for (let slot = Math.imul(low ^ high, 0x9e3779b1) & mask; ; slot = (slot + 1) & mask) {
      const code = this.codes[slot]!
      if (code === HashCodes.EMPTY || (this.lows[slot] === low && this.highs[slot] === high)) return code
    }
  }
  set(low: number, high: number, code: number): void {
    if (2 * (this.size + 1) > this.mask + 1) this.grow()
    this.place(low, high, code)
    this.size++
  }
  static isEmpty(code: number): boolean {
    return code === HashCodes.EMPTY
  }
  private place(low: number, high: number, code: number): void {
    const mask = this.mask
    let slot = Math.imul(low ^ high, 0x9e3779b1) & mask
    while (this.codes[slot] !== HashCodes.EMPTY) slot = (slot + 1) & mask
    this.lows[slot] = low
    this.highs[slot] = high
    this.codes[slot] = code
  }
  private grow(): void {
    const { lows, highs, codes } = this
    this.mask = this.mask * 2 + 1
    this.lows = new Int32Array(this.mask + 1)
    this.highs = new Int32Array(this.mask + 1)
    this.codes = new Int32Array(this.mask + 1).fill(HashCodes.EMPTY)
    for (let slot = 0; slot < codes.length; slot++) if (codes[slot] !== HashCodes.EMPTY) this.place(lows[slot]!, highs[slot]!, codes[slot]!)
  }
}

export class NumericColumn implements ColumnSink {
  private missing = 0
  private present = 0
  private integer = true
  private increasing = true
  private previous = -Infinity
  /** The first present value, and sums of the values minus it (shifted data: no cancellation for large values). */
  private shift = NaN
  private sum = 0
  private squares = 0
  private min = Infinity
  private max = -Infinity
  private readonly f64: ColumnWriter
  private i32: ColumnWriter | null
  private vocab: DoubleCodes | null = new DoubleCodes()
  private keys: number[] = []
  private counts: number[] = []
  private top: { value: string; count: number }[] = []
  private closed = false

  constructor(
    readonly name: string,
    private readonly target: ColumnTarget,
    /** The chunk's vector that holds this column. */
    private readonly vectorIndex: number
  ) {
    this.f64 = new ColumnWriter(columnFile(target.dir, target.index, 'f64'), target.pool, target.share)
    this.i32 = new ColumnWriter(columnFile(target.dir, target.index, 'i32'), target.pool, target.share)
  }

  add(chunk: duckdb.DataChunk, rows: number): void {
    const vector = duckdb.data_chunk_get_vector(chunk, this.vectorIndex)
    const data = duckdb.vector_get_data(vector, rows * 8)
    this.addValues(new Float64Array(data.buffer, data.byteOffset, rows), validityOf(vector, rows), rows)
  }

  /** `rows` values (NaN or an invalid bit: missing). */
  addValues(values: Float64Array, validity: Uint8Array | null, rows: number): void {
    const at = this.f64.reserve(rows * 8) >> 3
    const out = this.f64.f64View
    out.set(values, at)
    // Locals for the hot loop (V8 keeps them in registers).
    let present = this.present
    let missing = this.missing
    let shift = this.shift
    let sum = this.sum
    let squares = this.squares
    let min = this.min
    let max = this.max
    let previous = this.previous
    let integer = this.integer
    let increasing = this.increasing
    for (let i = 0; i < rows; i++) {
      const value = values[i]!
      // NULL (a missing marker DuckDB knew) or NaN: missing. NULL slots hold garbage.
      if (value !== value || (validity !== null && (validity[i >> 3]! & (1 << (i & 7))) === 0)) {
        missing++
        increasing = false
        out[at + i] = NaN
        continue
      }
      if (present === 0) shift = value
      present++
      const d = value - shift
      sum += d
      squares += d * d
      if (value < min) min = value
      if (value > max) max = value
      if (integer && Math.floor(value) !== value) integer = false
      if (increasing) {
        if (!(value > previous)) increasing = false
        previous = value
      }
    }
    this.present = present
    this.missing = missing
    this.shift = shift
    this.sum = sum
    this.squares = squares
    this.min = min
    this.max = max
    this.previous = previous
    this.integer = integer
    this.increasing = increasing
    if (this.vocab) this.addCodes(out, at, rows)
  }

  /** The rows of a codes file (c<i>.i32 / .src: an index into `values` per row, negative: missing) as values. */
  addCoded(codesFile: string, values: Float64Array): void {
    const block = new Float64Array(2048)
    forEachChunk(codesFile, 'i32', (codes) => {
      for (let start = 0; start < codes.length; start += block.length) {
        const n = Math.min(block.length, codes.length - start)
        for (let i = 0; i < n; i++) {
          const code = codes[start + i]!
          block[i] = code < 0 ? NaN : values[code]!
        }
        this.addValues(block.subarray(0, n), null, n)
      }
    })
  }

  /**
   * The first `rows` rows of a strings file read as values by `read` ('' is missing); stops at the first text that
   * reads as NaN and returns it (the column is then incomplete: the caller aborts it), else null.
   */
  addRead(dataFile: string, offsetFile: string, rows: number, read: (text: string) => number): string | null {
    const block = new Float64Array(16_384)
    for (let start = 0; start < rows; start += block.length) {
      const texts = readRangeStrings(dataFile, offsetFile, start, Math.min(block.length, rows - start))
      for (let i = 0; i < texts.length; i++) {
        const text = texts[i]!
        if (text === '') {
          block[i] = NaN
          continue
        }
        const value = read(text)
        if (value !== value) return text
        block[i] = value
      }
      this.addValues(block.subarray(0, texts.length), null, texts.length)
    }
    return null
  }

  /** Vocabulary codes for one chunk (values already NaN where missing), until there are too many distinct values. */
  private addCodes(values: Float64Array, at: number, rows: number): void {
    const vocab = this.vocab!
    const i32 = this.i32!
    const codeAt = i32.reserve(rows * 4) >> 2
    const codes = i32.i32View
    const counts = this.counts
    for (let i = 0; i < rows; i++) {
      const value = values[at + i]!
      if (value !== value) {
        codes[codeAt + i] = MISSING_CODE
        continue
      }
      let code = vocab.get(value)
      if (code < 0) {
        if (vocab.size >= VOCAB_CAP) {
          this.leaveVocab()
          return
        }
        code = this.keys.length
        vocab.set(value, code)
        this.keys.push(value)
        counts.push(0)
      }
      counts[code]!++
      codes[codeAt + i] = code
    }
  }

  /** One distinct value too many: the codes go (the f64 file holds the values). */
  private leaveVocab(): void {
    this.top = topValues(this.keys, this.counts)
    this.i32!.discard()
    this.i32 = null
    this.vocab = null
    this.keys = []
    this.counts = []
  }

  abort(): void {
    this.f64.discard()
    this.i32?.discard()
  }

  /**
   * Closes the column's files; where its histogram needs a pass over the values file (no vocabulary to count
   * from), what that pass is, for finish() to be given its counts (scan.ts runs the passes on two threads).
   */
  histogramPass(): HistogramPass | null {
    this.close()
    if (this.present === 0 || this.vocab) return null
    return { file: columnFile(this.target.dir, this.target.index, 'f64'), min: this.min, max: this.max }
  }

  private close(): void {
    if (this.closed) return
    this.closed = true
    this.f64.close()
    this.i32?.close()
  }

  /**
   * Counts over 20 equal-width bins between min and max: from the distinct values and their counts while the column
   * has a vocabulary (the same counts, no pass over the rows), else those of histogramPass()'s pass.
   */
  private histogram(counted: number[] | undefined): number[] {
    const { min, max } = this
    if (!this.vocab) return counted ?? fileHistogram(this.histogramPass()!)
    const bins = new Int32Array(HISTOGRAM_BINS)
    const scale = binScale(min, max)
    const last = HISTOGRAM_BINS - 1
    for (let code = 0; code < this.keys.length; code++) {
      const bin = ((this.keys[code]! - min) * scale) | 0
      bins[bin > last ? last : bin]! += this.counts[code]!
    }
    return Array.from(bins)
  }

  /** The column's statistics; `histogram`: the counts of histogramPass()'s pass, where it was run elsewhere. */
  finish(histogram?: number[]): ColumnStats {
    this.close()
    const numeric = this.present > 0
    const n = this.present
    const mean = numeric ? this.shift + this.sum / n : 0
    const std = numeric ? Math.sqrt(Math.max(0, (this.squares - (this.sum * this.sum) / n) / n)) : 0
    const coded = this.vocab !== null
    const vocab = coded ? this.keys.map(String) : null
    return {
      name: this.name,
      missing: this.missing,
      present: this.present,
      numeric,
      integer: numeric && this.integer,
      increasing: numeric && this.increasing,
      booleanLike: false,
      min: numeric ? this.min : 0,
      max: numeric ? this.max : 0,
      mean,
      std,
      distinct: coded ? this.keys.length : VOCAB_CAP,
      distinctCapped: !coded,
      vocab,
      counts: coded ? this.counts : null,
      top: coded ? topValues(vocab!, this.counts) : this.top,
      histogram: numeric ? this.histogram(histogram) : null,
      files: { f64: true, i32: coded, str: false }
    }
  }
}

/** A chunk's text values by row: DuckDB's VARCHAR vector, or the fields of a plain CSV's lines (plainCsv.ts). */
export interface TextValues {
  get(i: number): string
}

/** Reads the strings of a VARCHAR vector: inline (<= 12 bytes) from the vector itself, longer ones through a pointer. */
class VarcharReader implements TextValues {
  private data: Buffer = Buffer.alloc(0)
  private lengths: Uint32Array = new Uint32Array(0)
  load(vector: duckdb.Vector, rows: number): void {
    const raw = duckdb.vector_get_data(vector, rows * 16)
    this.data = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength)
    this.lengths = new Uint32Array(raw.buffer, raw.byteOffset, rows * 4)
  }
  get(i: number): string {
    const offset = i * 16
    const length = this.lengths[i * 4]!
    if (length <= 12) return this.data.toString('utf8', offset + 4, offset + 4 + length)
    const bytes = duckdb.get_data_from_pointer(this.data.buffer as ArrayBuffer, this.data.byteOffset + offset + 8, length)
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')
  }
}

export class TextColumn implements ColumnSink {
  private missing = 0
  private present = 0
  private booleanLike = true
  /** Every present value is a plain number (DuckDB's sample said text, e.g. when it was damaged): see finish(). */
  private allNumeric = true
  private i32: ColumnWriter | null
  private str: StringsWriter | null = null
  /** DuckDB's hash of the raw text → code (MISSING_CODE for missing markers). */
  private byHash: HashCodes | null = new HashCodes()
  /** Canonical key (trimmed; numbers as String(number)) → code, consulted once per new raw spelling. */
  private canonical = new Map<string, number>()
  private keys: string[] = []
  private counts: number[] = []
  private top: { value: string; count: number }[] = []
  private readonly reader = new VarcharReader()
  /** Set by finish() when the values were people's numbers ($1,234.50, 12 %): read as numbers. */
  messyNumbers = false
  /** How the first VOCAB_CAP distinct values read as dates, kept when they leave the vocabulary: see readManyDates. */
  private dateSample: DateFormat | null = null

  constructor(
    readonly name: string,
    private readonly target: ColumnTarget,
    private readonly decimalComma: boolean,
    /** The chunk's vectors that hold this column's text and hash(text). */
    private readonly textIndex: number,
    private readonly hashIndex: number
  ) {
    this.i32 = new ColumnWriter(columnFile(target.dir, target.index, 'i32'), target.pool, target.share)
  }

  add(chunk: duckdb.DataChunk, rows: number): void {
    const textVector = duckdb.data_chunk_get_vector(chunk, this.textIndex)
    this.reader.load(textVector, rows)
    // Past the vocabulary the hashes are not read (DuckDB computed them anyway).
    const hashData = this.hashesWanted ? duckdb.vector_get_data(duckdb.data_chunk_get_vector(chunk, this.hashIndex), rows * 8) : null
    // Int32, not Uint32: the halves stay small integers (no heap numbers) in the lookups below.
    const hashes = hashData ? new Int32Array(hashData.buffer, hashData.byteOffset, rows * 2) : null
    this.addTexts(rows, validityOf(textVector, rows), hashes, this.reader)
  }

  /**
   * `rows` text values: `validity` clear for a missing marker the reader knew (null: all valid), `hashes` a 64-bit
   * hash of each value's text as (low, high) Int32 pairs (read while the column has a vocabulary), `texts` the values.
   */
  addTexts(rows: number, validity: Uint8Array | null, hashes: Int32Array | null, texts: TextValues): void {
    let i = 0
    if (this.byHash) {
      if (!hashes) throw new Error(`column "${this.name}": text values without their hashes while the column has a vocabulary`)
      const byHash = this.byHash
      const i32 = this.i32!
      const codeAt = i32.reserve(rows * 4) >> 2
      const codes = i32.i32View
      const counts = this.counts
      for (; i < rows; i++) {
        if (validity !== null && (validity[i >> 3]! & (1 << (i & 7))) === 0) {
          this.missing++
          codes[codeAt + i] = MISSING_CODE
          continue
        }
        const low = hashes[2 * i]!
        const high = hashes[2 * i + 1]!
        let code = byHash.get(low, high)
        if (HashCodes.isEmpty(code)) {
          const found = this.newSpelling(texts.get(i))
          if (found === null) {
            // One distinct value too many: the codes so far become strings; this row and the rest go below.
            i32.unreserve((rows - i) * 4)
            this.leaveVocab()
            break
          }
          code = found
          byHash.set(low, high, code)
        }
        if (code === MISSING_CODE) {
          this.missing++
          codes[codeAt + i] = MISSING_CODE
        } else {
          this.present++
          counts[code]!++
          codes[codeAt + i] = code
        }
      }
      if (i === rows) return
    }
    const str = this.str!
    for (; i < rows; i++) {
      if (validity !== null && (validity[i >> 3]! & (1 << (i & 7))) === 0) {
        this.missing++
        str.write('')
        continue
      }
      const trimmed = trim(texts.get(i))
      if (isMissing(trimmed)) {
        this.missing++
        str.write('')
        continue
      }
      this.present++
      if (this.allNumeric && Number.isNaN(parseNumber(trimmed, this.decimalComma))) this.allNumeric = false
      str.write(trimmed)
    }
  }

  /** Whether addTexts needs the values' hashes (while the column has a vocabulary; past it, the texts alone). */
  get hashesWanted(): boolean {
    return this.byHash !== null
  }

  /** Numbers only, but more than VOCAB_CAP of them: the caller reads the column again as DOUBLE. */
  get needsNumericRescan(): boolean {
    return this.str !== null && this.allNumeric && this.present > 0
  }

  /** A raw spelling not seen before: its code (existing or new), MISSING_CODE, or null when the vocabulary overflows. */
  private newSpelling(text: string): number | null {
    const trimmed = trim(text)
    if (isMissing(trimmed)) return MISSING_CODE
    const value = parseNumber(trimmed, this.decimalComma)
    if (Number.isNaN(value)) this.allNumeric = false
    const key = Number.isNaN(value) ? trimmed : String(value)
    if (this.booleanLike && Number.isNaN(parseBoolean(trimmed))) this.booleanLike = false
    let code = this.canonical.get(key)
    if (code === undefined) {
      if (this.keys.length >= VOCAB_CAP) return null
      code = this.keys.length
      this.canonical.set(key, code)
      this.keys.push(key)
      this.counts.push(0)
    }
    return code
  }

  /** Codes go; the values so far move to a strings file. */
  private leaveVocab(): void {
    this.top = topValues(this.keys, this.counts)
    // Timestamps of a big table: their first distinct values tell the order the whole column is read in at the end.
    if (!this.allNumeric) this.dateSample = readDates(this.keys)?.format ?? null
    const file = columnFile(this.target.dir, this.target.index, 'i32')
    this.i32!.close()
    this.i32 = null
    this.str = new StringsWriter(this.target.dir, this.target.index, this.target.pool, this.target.share)
    const keys = this.keys
    const str = this.str
    forEachChunk(file, 'i32', (codes) => {
      for (let i = 0; i < codes.length; i++) str.write(codes[i]! < 0 ? '' : keys[codes[i]!]!)
    })
    this.target.pool.forget(file)
    this.byHash = null
    this.canonical = new Map()
    this.allNumeric = this.allNumeric && this.keys.length > 0
    this.keys = []
    this.counts = []
    this.booleanLike = false
  }

  /**
   * A coded column whose values read as numbers becomes a numeric column, from its codes file (no rescan). People's
   * numbers keep their text codes (c<i>.src) and spellings, so the preview shows what the file says.
   */
  private asNumeric(numbers: Float64Array, keepText = false): ColumnStats {
    const pool = this.target.pool
    const codesFile = columnFile(this.target.dir, this.target.index, 'i32')
    const moved = columnFile(this.target.dir, this.target.index, 'src')
    pool.close(codesFile)
    // The numeric column writes its own .i32 codes: read the text codes from a name of their own.
    fs.renameSync(codesFile, moved)
    pool.forget(codesFile)
    const numeric = new NumericColumn(this.name, this.target, -1)
    numeric.addCoded(moved, numbers)
    if (!keepText) pool.forget(moved)
    const stats = numeric.finish()
    return keepText ? { ...stats, spellings: this.keys } : stats
  }

  /**
   * A column with more distinct values than the vocabulary holds whose sample read as dates: every row of its
   * strings file is read in the sample's order into day numbers (a numeric column, as asNumeric makes one under the
   * cap). The strings file stays for the preview. One value that does not read keeps the column text (null).
   */
  private readManyDates(sample: DateFormat): ColumnStats | null {
    const dataFile = columnFile(this.target.dir, this.target.index, 'str')
    const offsetFile = columnFile(this.target.dir, this.target.index, 'off')
    const rows = this.present + this.missing
    const readIn = (reader: DateRowReader): ColumnStats | null => {
      const numeric = new NumericColumn(this.name, this.target, -1)
      if (numeric.addRead(dataFile, offsetFile, rows, (text) => reader.read(text)) !== null) {
        numeric.abort()
        const retry = reader.retryOrder
        return retry ? readIn(new DateRowReader(retry, false)) : null
      }
      const stats = numeric.finish()
      return { ...stats, date: reader.format, files: { ...stats.files, str: true } }
    }
    return readIn(new DateRowReader(sample.order, sample.ambiguous))
  }

  abort(): void {
    this.i32?.discard()
    this.str?.discard()
  }

  finish(): ColumnStats {
    this.i32?.close()
    this.str?.close()
    const coded = this.byHash !== null
    if (coded && this.present > 0) {
      if (this.allNumeric) return this.asNumeric(Float64Array.from(this.keys, Number))
      if (!this.booleanLike) {
        // "2024-03-01", "1/3/2024", "3 Mar 2024": dates, read once per distinct value into day numbers; the text
        // stays for the preview.
        const dates = readDates(this.keys)
        if (dates) return { ...this.asNumeric(dates.days, true), date: dates.format }
        // "$1,234.50", "12 %", "1 234,5": people's numbers, read once per distinct value.
        const messy = readMessyNumbers(this.keys, this.decimalComma)
        if (messy) {
          this.messyNumbers = true
          return this.asNumeric(messy, true)
        }
      }
    }
    if (!coded && this.dateSample && !this.allNumeric && this.present > 0) {
      const dates = this.readManyDates(this.dateSample)
      if (dates) return dates
    }
    return {
      name: this.name,
      missing: this.missing,
      present: this.present,
      numeric: false,
      integer: false,
      increasing: false,
      booleanLike: this.booleanLike && this.present > 0,
      min: 0,
      max: 0,
      mean: 0,
      std: 0,
      distinct: coded ? this.keys.length : VOCAB_CAP,
      distinctCapped: !coded,
      vocab: coded ? this.keys : null,
      counts: coded ? this.counts : null,
      top: coded ? topValues(this.keys, this.counts) : this.top,
      histogram: null,
      files: { f64: false, i32: coded, str: !coded }
    }
  }
}

const trim = (raw: string): string => (raw.length > 0 && (raw.charCodeAt(0) <= 32 || raw.charCodeAt(raw.length - 1) <= 32) ? raw.trim() : raw)
