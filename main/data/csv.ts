/**
 * CSV reading: sniffing the dialect (delimiter, header, decimal comma) from the first 64 KiB, and one streaming pass
 * over the whole file (bytes → hash and progress → decoder → csv-parse), so a file of any size is never held whole.
 */
import fs from 'node:fs'
import path from 'node:path'
import { createHash } from 'node:crypto'
import { Transform } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import iconv from 'iconv-lite'
import { parse, CsvError } from 'csv-parse'
import { parse as parseSync } from 'csv-parse/sync'
import type { CsvDialect } from '../shared/contract'
import { LabError } from '../shared/errors'
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
}

/** The file name as errors show it. */
export const fileLabel = (file: string): string => path.basename(file)

function normalizeDelimiter(delimiter: string): string {
  if (delimiter === '\\t' || delimiter.toLowerCase() === 'tab') return '\t'
  return delimiter
}

/** Parses a text sample leniently, keeping the records read before any error (the sample may end mid-record). */
function sampleRecords(text: string, delimiter: string, limit: number): string[][] {
  const records: string[][] = []
  try {
    parseSync(text, {
      delimiter,
      record_delimiter: RECORD_DELIMITERS,
      relax_column_count: true,
      relax_quotes: true,
      skip_empty_lines: true,
      to: limit,
      on_record: (record: string[]) => {
        records.push(record)
        return record
      }
    })
  } catch {
    // keep what was read
  }
  return records
}

const looksNumeric = (field: string, decimalComma: boolean): boolean => {
  const trimmed = field.trim()
  return !isMissing(trimmed) && !Number.isNaN(parseNumber(trimmed, decimalComma))
}

function scoreDelimiter(records: string[][], delimiter: string): number {
  if (records.length === 0) return 0
  const counts = new Map<number, number>()
  for (const record of records) counts.set(record.length, (counts.get(record.length) ?? 0) + 1)
  let mode = 0
  let modeCount = 0
  for (const [length, count] of counts) if (count > modeCount || (count === modeCount && length > mode)) [mode, modeCount] = [length, count]
  if (mode <= 1) return 0
  const consistency = modeCount / records.length
  // Fields that read as numbers break ties such as "5,1;3,5" (';' with decimal commas) against ','.
  let numeric = 0
  let fields = 0
  for (const record of records) {
    for (const field of record) {
      fields++
      if (looksNumeric(field, delimiter !== ',')) numeric++
    }
  }
  return 1 + consistency * 2 + (numeric / Math.max(1, fields)) * 0.5
}

/** Column names from a header record: blanks become col_i, duplicates get a suffix. */
export function columnNames(header: string[] | null, count: number): string[] {
  const seen = new Map<string, number>()
  const names: string[] = []
  for (let i = 0; i < count; i++) {
    let name = header ? (header[i] ?? '').trim() : ''
    if (!name) name = `col_${i + 1}`
    const times = seen.get(name) ?? 0
    seen.set(name, times + 1)
    names.push(times === 0 ? name : `${name}_${times + 1}`)
  }
  return names
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

/** Reads the first 64 KiB and decides encoding, delimiter, header and decimal comma (each may be overridden). */
export async function sniffCsv(file: string, overrides: CsvOverrides = {}): Promise<CsvSettings> {
  const label = fileLabel(file)
  const handle = await fs.promises.open(file, 'r')
  let sample: Buffer
  let size: number
  try {
    size = (await handle.stat()).size
    sample = Buffer.alloc(Math.min(SNIFF_BYTES, size))
    await handle.read(sample, 0, sample.length, 0)
  } finally {
    await handle.close()
  }
  if (size === 0) throw new LabError(`${label}: the file is empty`)
  const wholeFile = sample.length === size
  const sniffed = sniffEncoding(sample, wholeFile)
  const encoding = overrides.encoding ? checkEncodingName(overrides.encoding, label) : sniffed.encoding
  assertText(sample, encoding, label)
  let text = decodeSample(sample, encoding)
  if (!wholeFile) {
    // Drop the last, probably cut, line.
    const lastNewline = Math.max(text.lastIndexOf('\n'), text.lastIndexOf('\r'))
    if (lastNewline > 0) text = text.slice(0, lastNewline)
  }
  if (text.trim() === '') throw new LabError(`${label}: the file is empty`)

  let delimiter: string
  if (overrides.delimiter) {
    delimiter = normalizeDelimiter(overrides.delimiter)
  } else {
    let best = 0
    delimiter = ','
    for (const candidate of DELIMITERS) {
      const score = scoreDelimiter(sampleRecords(text, candidate, 200), candidate)
      if (score > best) [best, delimiter] = [score, candidate]
    }
  }
  const records = sampleRecords(text, delimiter, 200)
  const [firstRecord] = records
  if (!firstRecord) throw new LabError(`${label}: the file is empty`)

  let decimalComma = false
  if (overrides.decimalComma !== undefined) decimalComma = overrides.decimalComma
  else if (delimiter !== ',') {
    let comma = 0
    let dot = 0
    for (const record of records)
      for (const field of record) {
        const trimmed = field.trim()
        if (/^[+-]?\d*,\d+$/.test(trimmed)) comma++
        else if (/^[+-]?\d*\.\d+$/.test(trimmed)) dot++
      }
    decimalComma = comma > 0 && dot === 0
  }

  let header: boolean
  if (overrides.header !== undefined) header = overrides.header
  else {
    header = detectHeader(records, decimalComma)
  }
  const names = columnNames(header ? firstRecord : null, firstRecord.length)
  const crlf = /\r\n/.test(text)
  const mixedLineEnds = (crlf && /(^|[^\r])\n|\r(?!\n)/.test(text)) || (!crlf && /\r/.test(text) && /\n/.test(text))
  return { encoding, bom: sniffed.bom && encoding === sniffed.encoding, delimiter, header, decimalComma, mixedLineEnds, names }
}

export interface CsvPassResult {
  /** Data rows (the header not counted). */
  rows: number
  bytes: number
  /** sha256 of the file's bytes. */
  contentHash: string
  header: string[] | null
}

/**
 * Streams every record of the file to `onRecord` (data rows only; 0-based row index). A row with another number of
 * fields than the first one, or a broken quote, stops the pass with a LabError naming the line.
 */
export async function readCsv(
  file: string,
  settings: CsvSettings,
  onRecord: (fields: string[], row: number) => void,
  onProgress?: (rows: number, bytes: number) => void
): Promise<CsvPassResult> {
  const label = fileLabel(file)
  const hash = createHash('sha256')
  let bytes = 0
  let rows = 0
  let header: string[] | null = null
  let first = true
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
    ...(settings.mixedLineEnds ? { record_delimiter: RECORD_DELIMITERS } : {}),
    relax_quotes: true,
    skip_empty_lines: true
  })
  const consume = async (records: AsyncIterable<string[]>): Promise<void> => {
    for await (const record of records) {
      if (first) {
        first = false
        if (settings.header) {
          header = record
          continue
        }
      }
      onRecord(record, rows)
      rows++
      if (onProgress && (rows & 0x3ff) === 0) onProgress(rows, bytes)
    }
  }
  try {
    await pipeline(fs.createReadStream(file, { highWaterMark: 256 * 1024 }), tap, iconv.decodeStream(settings.encoding), parser, consume)
  } catch (error) {
    if (error instanceof LabError) throw error
    if (error instanceof CsvError) {
      const line = (error as CsvError & { lines?: number }).lines
      if (error.code === 'CSV_RECORD_INCONSISTENT_FIELDS_LENGTH') {
        throw new LabError(
          `${label}: line ${line}: ${error.message.replace(/ on line \d+$/, '').replace('Invalid Record Length: expect', 'expected')} fields`
        )
      }
      if (error.code === 'CSV_QUOTE_NOT_CLOSED') {
        const records = (error as CsvError & { records?: number }).records ?? 0
        const row = records - (settings.header ? 1 : 0) + 1
        throw new LabError(`${label}: data row ${row} opens a quote that is never closed (the file ends at line ${line})`)
      }
      throw new LabError(`${label}: line ${line}: ${error.message.replace(/^Invalid Closing Quote: /, '').replace(/ at line \d+.*$/, '')}`)
    }
    if (error && typeof error === 'object' && 'code' in error && (error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new LabError(`${label}: file not found`)
    throw error
  }
  onProgress?.(rows, bytes)
  return { rows, bytes, contentHash: hash.digest('hex'), header }
}
