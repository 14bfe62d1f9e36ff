/**
 * CSV reading in JavaScript: sniffing the dialect (encoding, delimiter, header, decimal comma) from a sample of whole
 * lines, and one streaming pass over the whole file (bytes → hash and progress → gunzip → decoder → csv-parse) for
 * predictions on new files and for tables too wide for DuckDB (importWide.ts). The import of ordinary tables reads
 * with DuckDB (importCsv.ts), with these findings passed to it (dialect.ts).
 */
import fs from 'node:fs'
import path from 'node:path'
import zlib from 'node:zlib'
import { createHash } from 'node:crypto'
import { Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import iconv from 'iconv-lite'
import { parse, CsvError } from 'csv-parse'
import { parse as parseSync } from 'csv-parse/sync'
import type { CsvDialect } from '../shared/contract'
import { LabError } from '../shared/errors'
import { openInputFile } from '../core/inputFile'
import { SNIFF_BYTES, assertText, checkEncodingName, decodeSample, sniffEncoding } from './encoding'
import { isMissing, parseNumber } from './values'

export const DELIMITERS = [',', ';', '\t', '|'] as const
const RECORD_DELIMITERS = ['\r\n', '\n', '\r']

/** What sniffing decided; stored with the dataset (the contract's csvDialect). */
export type CsvSettings = CsvDialect

export interface CsvOverrides {
  encoding?: string
  delimiter?: string
  header?: boolean
  decimalComma?: boolean
  quote?: string
  escape?: string
  skip?: number
}

/** The file name as errors show it. */
export const fileLabel = (file: string): string => path.basename(file)

export function normalizeDelimiter(delimiter: string): string {
  if (delimiter === '\\t' || delimiter.toLowerCase() === 'tab') return '\t'
  if (delimiter.toLowerCase() === 'space') return ' '
  return delimiter
}

export interface SampleRecord {
  fields: string[]
  /** The line the record ends on (1-based, counted in the sample). */
  line: number
}

/**
 * Parses a text sample leniently, keeping the records read before any error (the sample may end mid-record). A
 * sample without the quote character is split by lines and delimiters here (the same records as csv-parse's:
 * without a quote there is nothing else to read); the dialect guess parses a sample some ten times, and csv-parse,
 * cold in a new process or worker, took 25-45 ms of every import for it.
 */
export function sampleRecords(text: string, delimiter: string, limit: number, quote = '"', escape = quote): SampleRecord[] {
  return quote === '' || !text.includes(quote) ? splitRecords(text, delimiter, limit) : parsedRecords(text, delimiter, limit, quote, escape)
}

/** sampleRecords through csv-parse (any sample; the tests hold splitRecords to it). */
export function parsedRecords(text: string, delimiter: string, limit: number, quote: string, escape: string): SampleRecord[] {
  const records: SampleRecord[] = []
  try {
    parseSync(text, {
      delimiter,
      quote: quote === '' ? false : quote,
      escape: escape === '' ? null : escape,
      record_delimiter: RECORD_DELIMITERS,
      relax_column_count: true,
      relax_quotes: true,
      skip_empty_lines: true,
      to: limit,
      on_record: (record: string[], context: { lines: number }) => {
        records.push({ fields: record, line: context.lines })
        return record
      }
    })
  } catch {
    // keep what was read
  }
  return records
}

/** sampleRecords of a text without quotes: each line that is not empty a record (\r\n, \n or \r ends a line). */
function splitRecords(text: string, delimiter: string, limit: number): SampleRecord[] {
  const records: SampleRecord[] = []
  let line = 0
  for (let start = 0; start < text.length && records.length < limit;) {
    let end = start
    while (end < text.length && text.charCodeAt(end) !== 10 && text.charCodeAt(end) !== 13) end++
    line++
    if (end > start) records.push({ fields: text.slice(start, end).split(delimiter), line })
    start = end + (text.charCodeAt(end) === 13 && text.charCodeAt(end + 1) === 10 ? 2 : 1)
  }
  return records
}

const looksNumeric = (field: string, decimalComma: boolean): boolean => {
  const trimmed = field.trim()
  return !isMissing(trimmed) && !Number.isNaN(parseNumber(trimmed, decimalComma))
}

/** The most common field count of the records (ties: the larger), and how many records have it. */
export function modalWidth(records: readonly { fields: string[] }[]): { width: number; count: number } {
  const counts = new Map<number, number>()
  for (const record of records) counts.set(record.fields.length, (counts.get(record.fields.length) ?? 0) + 1)
  let width = 0
  let count = 0
  for (const [length, n] of counts) if (n > count || (n === count && length > width)) [width, count] = [length, n]
  return { width, count }
}

function scoreDelimiter(records: SampleRecord[], delimiter: string): number {
  if (records.length === 0) return 0
  const { width, count } = modalWidth(records)
  if (width <= 1) return 0
  const consistency = count / records.length
  // Fields that read as numbers break ties such as "5,1;3,5" (';' with decimal commas) against ','.
  let numeric = 0
  let fields = 0
  for (const record of records) {
    for (const field of record.fields) {
      fields++
      if (looksNumeric(field, false) || (delimiter !== ',' && looksNumeric(field, true))) numeric++
    }
  }
  // Then more columns: a delimiter that also occurs inside some fields splits lines into fewer.
  return 1 + consistency * 2 + (numeric / Math.max(1, fields)) * 0.5 + Math.min(width, 100) * 1e-4
}

/**
 * Column names from a header record: blanks become col_i, duplicates get the first free suffix. Names the file
 * really has are kept as they are and never given to another column ("a,a,,a_2" → a, a_3, col_3, a_2).
 */
export function columnNames(header: readonly string[] | null, count: number): string[] {
  const raw = Array.from({ length: count }, (_, i) => (header ? (header[i] ?? '').trim() : ''))
  const taken = new Set<string>()
  const first = new Set<number>()
  raw.forEach((name, i) => {
    if (name && !taken.has(name)) {
      taken.add(name)
      first.add(i)
    }
  })
  return raw.map((name, i) => {
    if (first.has(i)) return name
    const base = name || `col_${i + 1}`
    if (!name && !taken.has(base)) {
      taken.add(base)
      return base
    }
    let k = 2
    while (taken.has(`${base}_${k}`)) k++
    taken.add(`${base}_${k}`)
    return `${base}_${k}`
  })
}

/**
 * A header is a first row that does not look like the rows after it: a word on top of a column of numbers.
 * A first row with numbers wherever the later rows have numbers is data (e.g. "5.1,3.5,setosa"). Tables with no
 * numeric column at all cannot tell, and are taken to have a header, as most files do.
 */
export function detectHeader(records: string[][], decimalComma: boolean): boolean {
  const [first, ...rest] = records
  if (!first) throw new Error('detectHeader needs at least one record')
  if (rest.length === 0) return !first.every((field) => looksNumeric(field, decimalComma))
  let numericColumns = 0
  for (let column = 0; column < first.length; column++) {
    const present = rest.map((record) => record[column]).filter((field): field is string => field !== undefined && !isMissing(field.trim()))
    if (present.length === 0 || !present.every((field) => looksNumeric(field, decimalComma))) continue
    numericColumns++
    const top = first[column]?.trim() ?? ''
    if (!isMissing(top) && !looksNumeric(top, decimalComma)) return true
  }
  return numericColumns === 0
}

/** Lines a sample should hold, at least, before the dialect is guessed from it. */
const SAMPLE_LINES = 50
/** A sample grows (doubling) until it holds SAMPLE_LINES lines or this many bytes: a header of 2,000 columns fits. */
const SAMPLE_MAX_BYTES = 64 << 20

export interface Sample {
  /** The file's first bytes (inflated for gzip), cut after the last line end unless the whole file is there. */
  bytes: Buffer
  /** The sample is the whole file. */
  whole: boolean
  gzip: boolean
  /** The file's size on disk. */
  size: number
}

const GZIP_MAGIC = [0x1f, 0x8b]

/** Line ends in a sample of any of our encodings (UTF-16 puts a 0x00 next to each 0x0a). */
function countLineEnds(bytes: Buffer, limit: number): number {
  let n = 0
  for (let at = bytes.indexOf(0x0a); at >= 0 && n < limit; at = bytes.indexOf(0x0a, at + 1)) n++
  return n
}

/** Reads a head of whole lines: at least 64 KiB and SAMPLE_LINES lines (growing for long lines), never a cut line. */
export async function readSample(file: string, label: string): Promise<Sample> {
  // The safe open: a regular file, opened non-blocking (a FIFO or a device is refused, never waited on).
  const { handle, size } = await openInputFile(file, { label })
  try {
    if (size === 0) throw new LabError(`${label}: the file is empty`)
    const magic = Buffer.alloc(2)
    await handle.read(magic, 0, 2, 0)
    const gzip = magic[0] === GZIP_MAGIC[0] && magic[1] === GZIP_MAGIC[1]
    if (!gzip && /\.gz$/i.test(file))
      throw new LabError(`${label}: not a gzip file (it does not start with gzip's magic bytes); if it is plain text, rename it without .gz`)
    for (let want = SNIFF_BYTES; ; want *= 2) {
      const raw = Buffer.alloc(Math.min(want, size))
      const { bytesRead } = await handle.read(raw, 0, raw.length, 0)
      let bytes = raw.subarray(0, bytesRead)
      const whole = bytesRead >= size
      if (gzip) {
        try {
          // A partial stream: keep what these bytes inflate to.
          bytes = zlib.gunzipSync(bytes, { finishFlush: zlib.constants.Z_SYNC_FLUSH })
        } catch (error) {
          throw new LabError(`${label}: the gzip data is damaged (${(error as Error).message})`)
        }
      }
      const enough = whole || countLineEnds(bytes, SAMPLE_LINES) >= SAMPLE_LINES
      if (enough || want >= SAMPLE_MAX_BYTES) {
        if (!whole) {
          const last = bytes.lastIndexOf(0x0a)
          if (last < 0) throw new LabError(`${label}: the first line is longer than ${SAMPLE_MAX_BYTES >> 20} MiB; is this a table?`)
          // UTF-16 LE puts the 0x00 of "\n" after it.
          bytes = bytes.subarray(0, last + 1 + (bytes[last + 1] === 0 ? 1 : 0))
        }
        if (gzip && bytes.length === 0) throw new LabError(`${label}: the file is empty`)
        return { bytes, whole, gzip, size }
      }
    }
  } finally {
    await handle.close()
  }
}

/** The text of a sample in its encoding, BOM dropped. */
export function sampleText(sample: Sample, encoding: string): string {
  return decodeSample(sample.bytes, encoding)
}

/** Decides encoding, delimiter, header and decimal comma from a sample (each may be overridden). */
export function sniffSample(sample: Sample, overrides: CsvOverrides, label: string): CsvSettings {
  const sniffed = sniffEncoding(sample.bytes, sample.whole)
  const encoding = overrides.encoding ? checkEncodingName(overrides.encoding, label) : sniffed.encoding
  assertText(sample.bytes, encoding, label)
  let text = sampleText(sample, encoding)
  const skip = overrides.skip ?? 0
  if (skip > 0) text = dropLines(text, skip)
  if (text.trim() === '') throw new LabError(`${label}: the file is empty`)
  let quote = overrides.quote ?? '"'

  let delimiter: string
  if (overrides.delimiter) {
    delimiter = normalizeDelimiter(overrides.delimiter)
  } else {
    // Each delimiter with each quote: apostrophe-quoted fields hide delimiters from a parse that expects '"'.
    let best = 0
    delimiter = ','
    const quotes = overrides.quote !== undefined ? [overrides.quote] : text.includes("'") ? ['"', "'"] : ['"']
    for (const q of quotes)
      for (const candidate of DELIMITERS) {
        const score = scoreDelimiter(sampleRecords(text, candidate, 200, q, overrides.escape ?? q), candidate)
        if (score > best) [best, delimiter, quote] = [score, candidate, q]
      }
  }
  const records = sampleRecords(text, delimiter, 200, quote, overrides.escape ?? quote)
  const [firstRecord] = records
  if (!firstRecord) throw new LabError(`${label}: the file is empty`)

  let decimalComma = false
  if (overrides.decimalComma !== undefined) decimalComma = overrides.decimalComma
  else if (delimiter !== ',') {
    let comma = 0
    let dot = 0
    for (const record of records)
      for (const field of record.fields) {
        const trimmed = field.trim()
        if (/^[+-]?\d*,\d+$/.test(trimmed)) comma++
        else if (/^[+-]?\d*\.\d+$/.test(trimmed)) dot++
      }
    decimalComma = comma > 0 && dot === 0
  }

  const header =
    overrides.header ??
    detectHeader(
      records.map((record) => record.fields),
      decimalComma
    )
  const names = columnNames(header ? firstRecord.fields : null, firstRecord.fields.length)
  const crlf = /\r\n/.test(text)
  const mixedLineEnds = (crlf && /(^|[^\r])\n|\r(?!\n)/.test(text)) || (!crlf && /\r/.test(text) && /\n/.test(text))
  return {
    encoding,
    bom: sniffed.bom && encoding === sniffed.encoding,
    delimiter,
    quote,
    escape: overrides.escape ?? quote,
    header,
    headerRows: header ? 1 : 0,
    skippedLines: skip,
    decimalComma,
    mixedLineEnds,
    compression: sample.gzip ? 'gzip' : 'none',
    droppedTrailingColumn: false,
    names
  }
}

/** The text after its first `count` lines. */
export function dropLines(text: string, count: number): string {
  let at = 0
  for (let i = 0; i < count && at >= 0; i++) {
    const next = text.slice(at).search(/\r\n|\n|\r/)
    if (next < 0) return ''
    at += next + (text.startsWith('\r\n', at + next) ? 2 : 1)
  }
  return text.slice(at)
}

/** Reads a sample of whole lines and decides the dialect (each setting may be overridden). */
export async function sniffCsv(file: string, overrides: CsvOverrides = {}): Promise<CsvSettings> {
  const label = fileLabel(file)
  return sniffSample(await readSample(file, label), overrides, label)
}

export interface CsvPassResult {
  /** Data rows (the header not counted). */
  rows: number
  bytes: number
  /** sha256 of the file's bytes. */
  contentHash: string
  header: string[] | null
}

/** A record whose field count is not the table's (`line`: the file line it ends on): a record to use instead, or null to leave it out. */
export type OnBadRecord = (fields: string[], line: number) => string[] | null

/**
 * Streams every record of the file to `onRecord` (data rows only; 0-based row index). A row with another number of
 * fields than the table's goes to `onBadRecord` when given, else stops the pass with a LabError naming the line;
 * a quote that is never closed always stops it.
 */
export async function readCsv(
  file: string,
  settings: CsvSettings,
  onRecord: (fields: string[], row: number) => void,
  onProgress?: (rows: number, bytes: number) => void,
  onBadRecord?: OnBadRecord,
  signal?: AbortSignal
): Promise<CsvPassResult> {
  const label = fileLabel(file)
  const hash = createHash('sha256')
  let bytes = 0
  let rows = 0
  let header: string[] | null = null
  let headerLeft = settings.header ? 1 : 0
  const width = settings.names.length + (settings.droppedTrailingColumn ? 1 : 0)
  const tap = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      hash.update(chunk)
      bytes += chunk.length
      done(null, chunk)
    }
  })
  // Line ends are auto-detected from the first one; a list of candidates, needed only for mixed files, is about 40 % slower.
  const parser = parse({
    delimiter: settings.delimiter,
    quote: settings.quote === '' ? false : settings.quote,
    escape: settings.escape === '' ? null : settings.escape,
    ...(settings.mixedLineEnds ? { record_delimiter: RECORD_DELIMITERS } : {}),
    ...(settings.skippedLines > 0 ? { from_line: settings.skippedLines + 1 } : {}),
    relax_quotes: true,
    relax_column_count: true,
    skip_empty_lines: true,
    info: true
  })
  const consume = async (records: AsyncIterable<{ record: string[]; info: { lines: number } }>): Promise<void> => {
    for await (const item of records) {
      let record = item.record
      if (headerLeft > 0) {
        headerLeft--
        if (headerLeft === 0) header = record
        continue
      }
      // A trailing delimiter on every line, or not on this one.
      if (record.length !== width && !(settings.droppedTrailingColumn && record.length === width - 1)) {
        if (!onBadRecord) throw new LabError(`${label}: line ${item.info.lines}: expected ${width}, got ${record.length} fields`)
        const replacement = onBadRecord(record, item.info.lines)
        if (!replacement) continue
        record = replacement
      }
      onRecord(record, rows)
      rows++
      if ((rows & 0x3ff) === 0) {
        onProgress?.(rows, bytes)
        if (signal?.aborted) throw new LabError(`${label}: import cancelled`)
      }
    }
  }
  const steps: NodeJS.ReadWriteStream[] = [tap]
  if (settings.compression === 'gzip') steps.push(zlib.createGunzip())
  steps.push(iconv.decodeStream(settings.encoding), parser)
  try {
    await (pipeline as (...streams: unknown[]) => Promise<void>)(fs.createReadStream(file, { highWaterMark: 256 * 1024 }), ...steps, consume)
  } catch (error) {
    if (error instanceof LabError) throw error
    if (error instanceof CsvError) {
      const line = (error as CsvError & { lines?: number }).lines
      if (error.code === 'CSV_QUOTE_NOT_CLOSED') {
        const records = (error as CsvError & { records?: number }).records ?? 0
        const row = records - (settings.header ? 1 : 0) + 1
        throw new LabError(`${label}: data row ${row} opens a quote that is never closed (the file ends at line ${line})`)
      }
      throw new LabError(`${label}: line ${line}: ${error.message.replace(/^Invalid Closing Quote: /, '').replace(/ at line \d+.*$/, '')}`)
    }
    const code = error && typeof error === 'object' && 'code' in error ? (error as NodeJS.ErrnoException).code : undefined
    if (code === 'ENOENT') throw new LabError(`${label}: file not found`)
    if (code === 'Z_DATA_ERROR' || code === 'Z_BUF_ERROR')
      throw new LabError(`${label}: the gzip data is damaged or cut short (${(error as Error).message}); a truncated download?`)
    throw error
  }
  onProgress?.(rows, bytes)
  return { rows, bytes, contentHash: hash.digest('hex'), header }
}
