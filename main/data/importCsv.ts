/**
 * A CSV (or .csv.gz) table with DuckDB as the parser behind our own dialect detection (dialect.ts):
 *   1. text that is not UTF-8 (Windows-1252, UTF-16) is converted into a UTF-8 file in the dataset's temp folder
 *      first: DuckDB reads UTF-8 only (its Latin-1 is not Windows-1252 for € and curly quotes);
 *   2. types: DuckDB's detection on its sample with our dialect fixed; numbers → DOUBLE, everything else → VARCHAR
 *      (dates, booleans and times keep their spelling);
 *   3. one streaming scan (read_csv fully explicit: auto_detect=false, columns={…}) on DuckDB's threads, each
 *      DataChunk's vectors into the column builders (columns.ts); rows that do not fit the table (a missing or
 *      extra separator, a broken quote) are set aside by store_rejects with their line number and text;
 *   4. a numeric column that meets a non-number past DuckDB's sample (a CAST reject) is read again as text.
 */
import fs from 'node:fs'
import path from 'node:path'
import zlib from 'node:zlib'
import { Writable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import iconv from 'iconv-lite'
import { parse as parseSync } from 'csv-parse/sync'
import { DuckDBTypeId, type DuckDBConnection } from '@duckdb/node-api'
import type { BadRowsChoice, SetAsideRow } from '../shared/contract'
import { SET_ASIDE_LISTED } from '../shared/importFacts'
import { LabError } from '../shared/errors'
import type { CsvSettings } from './csv'
import type { Dialect } from './dialect'
import { duckMessage, sqlIdent, sqlString } from './duck'
import { type HashJob, type ImportOptions, type TableImport, lineNumberAt, setAsideSummary, withHash } from './importResult'
import { TextColumn } from './columns'
import { NULL_SPELLINGS } from './values'
import { type ColumnSpec, abortColumns, finishColumns, scanToColumns } from './scan'
import { plainCsvSettings, scanPlainCsv } from './plainCsv'

const NUMERIC_TYPES = new Set([
  DuckDBTypeId.TINYINT,
  DuckDBTypeId.SMALLINT,
  DuckDBTypeId.INTEGER,
  DuckDBTypeId.BIGINT,
  DuckDBTypeId.UTINYINT,
  DuckDBTypeId.USMALLINT,
  DuckDBTypeId.UINTEGER,
  DuckDBTypeId.UBIGINT,
  DuckDBTypeId.HUGEINT,
  DuckDBTypeId.FLOAT,
  DuckDBTypeId.DOUBLE,
  DuckDBTypeId.DECIMAL
])

/** Structural rejects: the row is not a row of this table. CAST ones are a column's type, handled by a second pass. */
const STRUCTURAL = new Set(['MISSING COLUMNS', 'TOO MANY COLUMNS', 'UNQUOTED VALUE', 'INVALID UNICODE', 'LINE SIZE OVER MAXIMUM', 'INVALID STATE'])

export interface CsvImportOptions extends ImportOptions {
  badRows?: BadRowsChoice
  /**
   * false: DuckDB reads the file even when it is plain (the tests compare the two readers); default: the environment's
   * LAYERLAB_PLAIN_CSV, on unless '0' (the bench's `layerlab-duckdb` candidate).
   */
  plainReader?: boolean
}

let scans = 0

/** The longest line a CSV may have: 64 MB (a pasted document in one field). */
const MAX_LINE = 64 << 20
/** DuckDB's own default line limit. */
const SMALL_LINE = 2 << 20
/**
 * A plain file's lines cannot be longer than the file: its buffers need not be bigger either (128 MB buffers cost a
 * 100,000-row file 0.1 s of its 0.2 s in DuckDB). Compressed files may inflate: the full limit.
 */
const lineLimitOf = (size: number, settings: CsvSettings): number =>
  settings.compression === 'gzip' ? MAX_LINE : Math.min(MAX_LINE, Math.max(SMALL_LINE, size + 1))

/**
 * DuckDB's buffers are twice the line limit, and a 64 MB limit costs a 1M-row file 0.3–0.45 s and ~90 MiB, so a
 * plain UTF-8 file whose sample holds no quote is read with DuckDB's default 2 MB first. DuckDB leaves out a record
 * longer than its buffer without a word, so the small limit stands only when the hash's reads prove it (an upper
 * bound on every record's length, quoted fields with line ends included, under the limit; no row set aside as over
 * it); else the file is read again with the full limit. A sample with quotes gets the full limit at once: a file
 * quoted throughout would be read twice.
 */
const smallLimitFirst = (dialect: Dialect): boolean =>
  dialect.settings.encoding === 'utf8' && dialect.settings.compression !== 'gzip' && !dialect.quoteInSample

/** read_csv(…) with every dialect option explicit. */
function readCsvSql(
  source: string,
  settings: CsvSettings,
  fileNames: string[],
  options: { columns?: string[]; extra?: string[]; smallBuffers?: boolean; lineLimit?: number }
): string {
  const lineLimit = options.lineLimit ?? MAX_LINE
  const parts = [
    sqlString(source),
    `delim=${sqlString(settings.delimiter)}`,
    `quote=${sqlString(settings.quote)}`,
    `escape=${sqlString(settings.escape)}`,
    `header=${settings.header}`,
    `skip=${settings.skippedLines}`,
    `decimal_separator=${sqlString(settings.decimalComma ? ',' : '.')}`,
    `nullstr=[${NULL_SPELLINGS.map(sqlString).join(', ')}]`,
    "encoding='utf-8'",
    `compression=${sqlString(settings.compression === 'gzip' ? 'gzip' : 'none')}`,
    // A field may be long (a pasted document); DuckDB's default stops at 2 MB per line. The sniffer reads a whole
    // buffer: with 128 MB it took 0.2 s longer than with the default, so detection tries DuckDB's sizes first.
    ...(options.smallBuffers ? [] : [`max_line_size=${lineLimit}`, `buffer_size=${2 * lineLimit}`])
  ]
  // Mixed line ends: DuckDB's strict mode refuses them; without it, extra fields are not reported, so only then.
  if (settings.mixedLineEnds) parts.push('strict_mode=false')
  if (options.columns) {
    parts.push('auto_detect=false', `columns={${fileNames.map((name, i) => `${sqlString(name)}: ${sqlString(options.columns![i]!)}`).join(', ')}}`)
  } else parts.push(`names=[${fileNames.map(sqlString).join(', ')}]`)
  parts.push(...(options.extra ?? []))
  return `read_csv(${parts.join(', ')})`
}

/** Rows DuckDB detects the column types on. */
const DETECT_SAMPLE_ROWS = 2048

/** DuckDB's types for the file's columns, detected on its sample with our dialect; null where it cannot tell. */
async function detectTypes(connection: DuckDBConnection, source: string, settings: CsvSettings, fileNames: string[]): Promise<DuckDBTypeId[] | null> {
  // A damaged sample (ragged rows, a runaway quote) makes strict detection fail: detect on the rows that fit.
  // DuckDB's types from its first DETECT_SAMPLE_ROWS rows (its default of 20,480 took 28-43 ms of a 1M-row import
  // against 10-23): a later value that does not fit is set right by the read itself (a CAST reject or the plain
  // reader's hand-over: that column is read again as text; a text column of numbers becomes numeric).
  const sample = `sample_size=${DETECT_SAMPLE_ROWS}`
  const attempts = [
    { extra: [sample], smallBuffers: true },
    { extra: [sample] },
    { extra: [sample, 'ignore_errors=true'] },
    { extra: [sample, 'ignore_errors=true', 'strict_mode=false'] }
  ]
  for (const attempt of attempts) {
    try {
      const reader = await connection.runAndReadAll(`SELECT * FROM ${readCsvSql(source, settings, fileNames, attempt)} LIMIT 0`)
      const types = reader.columnTypes().map((type) => type.typeId)
      if (types.length === fileNames.length) return types
    } catch {
      // more lenient next
    }
  }
  return null
}

/** Converts text in another encoding (maybe gzip) into a UTF-8 file DuckDB can read. */
async function toUtf8(file: string, settings: CsvSettings, out: string): Promise<void> {
  const steps: NodeJS.ReadWriteStream[] = []
  if (settings.compression === 'gzip') steps.push(zlib.createGunzip())
  steps.push(iconv.decodeStream(settings.encoding, { stripBOM: true }), iconv.encodeStream('utf8'))
  await (pipeline as (...streams: unknown[]) => Promise<void>)(
    fs.createReadStream(file, { highWaterMark: 1 << 20 }),
    ...steps,
    fs.createWriteStream(out)
  )
}

/** null when the gzip stream inflates to its end, else zlib's complaint (zlib runs on libuv's threadpool). */
async function gzipDamage(file: string): Promise<string | null> {
  try {
    await pipeline(fs.createReadStream(file, { highWaterMark: 1 << 20 }), zlib.createGunzip(), new Writable({ write: (_c, _e, done) => done() }))
    return null
  } catch (error) {
    return (error as Error).message
  }
}

/** What a plain read sets aside: nothing (a row that does not fit ends the plain reading). */
const NO_REJECTS: Rejects = { rows: [], total: 0, castColumns: [], firstWidth: null, runaway: null, overLimit: false }

interface Rejects {
  rows: SetAsideRow[]
  total: number
  castColumns: string[]
  /** The first structural reject's field count (for the refusal's "got N fields"). */
  firstWidth: number | null
  runaway: SetAsideRow | null
  /** Whether a row was set aside for being longer than the line limit. */
  overLimit: boolean
}

async function readRejects(connection: DuckDBConnection, table: string, settings: CsvSettings): Promise<Rejects> {
  const kinds = [...STRUCTURAL].map(sqlString).join(', ')
  const t = sqlIdent(table)
  const counted = await connection.runAndReadAll(
    `SELECT count(DISTINCT line), count(*) FILTER (WHERE error_type = 'LINE SIZE OVER MAXIMUM') FROM ${t} WHERE error_type IN (${kinds})`
  )
  const [distinctLines, overLimit] = counted.getRowsJS()[0] ?? []
  const total = Number(distinctLines ?? 0)
  const casts = await connection.runAndReadAll(`SELECT DISTINCT column_name FROM ${t} WHERE error_type = 'CAST'`)
  const castColumns = casts.getRowsJS().map((row) => String(row[0]))
  const listed = await connection.runAndReadAll(
    `SELECT line, any_value(error_type), any_value(csv_line) FROM ${t} WHERE error_type IN (${kinds}) GROUP BY line ORDER BY line LIMIT ${SET_ASIDE_LISTED}`
  )
  const rows: SetAsideRow[] = []
  let runaway: SetAsideRow | null = null
  for (const [line, kind, text] of listed.getRowsJS()) {
    // A blank line before a bad line is glued to its text.
    const row = { line: Number(line), problem: problemOf(String(kind)), text: String(text ?? '').replace(/^[\r\n]+/, '') }
    if (kind === 'UNQUOTED VALUE' && row.text.split('\n').length > 2) runaway ??= row
    rows.push(row)
  }
  const first = rows[0]
  return { rows, total, castColumns, firstWidth: first ? fieldCount(first.text, settings) : null, runaway, overLimit: Number(overLimit ?? 0) > 0 }
}

function problemOf(kind: string): string {
  switch (kind) {
    case 'MISSING COLUMNS':
      return 'too few fields'
    case 'TOO MANY COLUMNS':
      return 'too many fields'
    case 'UNQUOTED VALUE':
      return 'a quote inside a field that is not closed'
    case 'INVALID UNICODE':
      return 'bytes that are not UTF-8 text'
    case 'LINE SIZE OVER MAXIMUM':
      return 'a line longer than 64 MB'
    default:
      return kind.toLowerCase()
  }
}

function fieldCount(text: string, settings: CsvSettings): number {
  try {
    const [record] = parseSync(text.replace(/[\r\n]+$/, ''), {
      delimiter: settings.delimiter,
      quote: settings.quote === '' ? false : settings.quote,
      relax_quotes: true,
      relax_column_count: true
    }) as string[][]
    return record?.length ?? 0
  } catch {
    return 0
  }
}

/** Imports a CSV whose dialect is known into `dir` (which must exist and be empty). */
export function importCsv(
  file: string,
  dir: string,
  dialect: Dialect,
  connection: DuckDBConnection,
  options: CsvImportOptions = {}
): Promise<TableImport> {
  const { quote, escape } = dialect.settings
  return withHash(
    file,
    (hash) => readTable(file, dir, dialect, connection, options, hash),
    smallLimitFirst(dialect) ? { records: { quote, escape } } : {}
  )
}

async function readTable(
  file: string,
  dir: string,
  dialect: Dialect,
  connection: DuckDBConnection,
  options: CsvImportOptions,
  hash: HashJob
): Promise<TableImport> {
  const label = path.basename(file)
  const size = (await fs.promises.stat(file)).size
  let settings = dialect.settings
  const { fileNames } = dialect
  let source = file
  if (settings.encoding !== 'utf8') {
    source = path.join(dir, '.source-utf8.csv')
    await toUtf8(file, settings, source)
    settings = { ...settings, compression: 'none' }
  }
  const gzipCheck = settings.compression === 'gzip' ? gzipDamage(file) : null
  gzipCheck?.catch(() => undefined)
  try {
    const fileLimit = lineLimitOf((await fs.promises.stat(source)).size, settings)
    let lineLimit = smallLimitFirst(dialect) ? Math.min(SMALL_LINE, fileLimit) : fileLimit
    const types = await detectTypes(connection, source, settings, fileNames)
    const forcedText = new Set<string>()
    const forcedNumeric = new Set<string>()
    const kept = fileNames.map((_, i) => !(settings.droppedTrailingColumn && i === fileNames.length - 1))
    const progress = options.onProgress
    // The plain reader first where the settings allow it (plainCsv.ts); DuckDB from the first line that is not plain.
    // A sample with the quote character in it says the file quotes fields: DuckDB at once, not after a wasted start.
    let plain =
      (options.plainReader ?? process.env.LAYERLAB_PLAIN_CSV !== '0') && source === file && !dialect.quoteInSample && plainCsvSettings(settings)
    for (let attempt = 0; ;) {
      const columnTypes = fileNames.map((name, i) =>
        forcedNumeric.has(name) || (types && NUMERIC_TYPES.has(types[i]!) && !forcedText.has(name)) ? 'DOUBLE' : 'VARCHAR'
      )
      const id = ++scans
      const rejectsTable = `rejects_${id}`
      const rejectsScan = `rejects_scan_${id}`
      const extra = [`store_rejects=true`, `rejects_table=${sqlString(rejectsTable)}`, `rejects_scan=${sqlString(rejectsScan)}`, 'rejects_limit=0']
      if (options.badRows === 'pad') extra.push('null_padding=true')
      const from = readCsvSql(source, settings, fileNames, { columns: columnTypes, extra, lineLimit })
      const specs: ColumnSpec[] = []
      fileNames.forEach((name, i) => {
        if (kept[i]) specs.push({ name: settings.names[specs.length]!, kind: columnTypes[i] === 'DOUBLE' ? 'numeric' : 'text', expr: sqlIdent(name) })
      })
      const scanOptions = {
        decimalComma: settings.decimalComma,
        label,
        signal: options.signal,
        onProgress: progress && ((rows: number, fraction: number) => progress(rows, Math.round(fraction * size)))
      }
      let scan = plain ? await scanPlainCsv(source, settings, specs, dir, { ...scanOptions, size }) : null
      // Not plain after all: DuckDB reads it (from the start, with every dialect option and bad rows set aside).
      if (!scan) plain = false
      try {
        scan ??= await scanToColumns(connection, from, specs, dir, scanOptions)
      } catch (error) {
        if (error instanceof LabError) throw error
        const damage = gzipCheck && (await gzipCheck)
        if (damage) throw new LabError(`${label}: the gzip data is damaged or cut short (${damage}); a truncated download?`)
        throw new LabError(`${label}: ${duckMessage(error)}`)
      }
      const rejects = plain ? NO_REJECTS : await readRejects(connection, rejectsTable, settings)
      if (!plain) await connection.run(`DROP TABLE IF EXISTS ${sqlIdent(rejectsTable)}; DROP TABLE IF EXISTS ${sqlIdent(rejectsScan)}`)
      // DuckDB's line limit: the plain reader has none to check (it reads lines of up to 64 MB, or gives the file up).
      if (!plain && lineLimit < fileLimit) {
        const { longestRecord } = await hash.shape
        if (longestRecord === null || longestRecord > lineLimit || rejects.overLimit) {
          abortColumns(scan)
          lineLimit = fileLimit
          continue
        }
      }
      if (rejects.runaway) {
        abortColumns(scan)
        const { line, text } = rejects.runaway
        const dataRow = line - settings.skippedLines - (settings.header ? 1 : 0)
        const end = line + text.replace(/[\r\n]+$/, '').split(/\r\n|\n|\r/).length - 1
        throw new LabError(`${label}: data row ${dataRow} opens a quote that is never closed (the file ends at line ${end})`)
      }
      const castNames = rejects.castColumns.filter((name) => !forcedText.has(name))
      // Text columns that turned out all numbers, but too many distinct ones to convert from their codes.
      const numericNames = scan.sinks
        .filter((sink) => sink instanceof TextColumn && sink.needsNumericRescan && !forcedNumeric.has(sink.name))
        .map((sink) => fileNames[settings.names.indexOf(sink.name)]!)
      if ((castNames.length > 0 || numericNames.length > 0) && attempt < 3) {
        attempt++
        abortColumns(scan)
        for (const name of castNames) forcedText.add(name)
        for (const name of numericNames) forcedNumeric.add(name)
        continue
      }
      const first = rejects.rows[0]
      if (first && (options.badRows === 'refuse' || rejects.total >= scan.rows)) {
        abortColumns(scan)
        const width = fileNames.length
        const got = `line ${first.line}: expected ${width}, got ${rejects.firstWidth ?? '?'} fields`
        if (options.badRows === 'refuse') throw new LabError(`${label}: ${got}`)
        throw new LabError(
          `${label}: ${rejects.total.toLocaleString('en')} of ${(rejects.total + scan.rows).toLocaleString('en')} rows do not fit the table's ${width} columns (first: ${got}); check the delimiter or the quotes`
        )
      }
      // DuckDB leaves out a line longer than max_line_size without a word (no reject row, no error: DuckDB 1.5.6), so
      // a plain file's longest line, found by the hash's reads, decides. (A transcoded or gzip file: its bytes are
      // not the lines DuckDB reads.)
      const longLine = !plain && source === file && settings.compression !== 'gzip' ? await hash.longestLine : null
      if (longLine && longLine.bytes > lineLimit) {
        abortColumns(scan)
        const megabytes = (longLine.bytes / (1 << 20)).toFixed(1)
        throw new LabError(
          `${label}: line ${(await lineNumberAt(file, longLine.start)).toLocaleString('en')} is ${megabytes} MB long; LayerLab reads lines of up to 64 MB`
        )
      }
      const columns = await finishColumns(scan)
      if (scan.rows === 0) throw new LabError(`${label}: ${settings.header ? 'a header but no data rows' : 'no data rows'}`)
      const damage = gzipCheck && (await gzipCheck)
      if (damage) throw new LabError(`${label}: the gzip data is damaged or cut short (${damage}); a truncated download?`)
      const messyNumbers = scan.sinks.filter((sink) => sink instanceof TextColumn && sink.messyNumbers).map((sink) => sink.name)
      const dateColumns = columns.filter((stats) => stats.date).map((stats) => stats.name)
      progress?.(scan.rows, size)
      return {
        settings: dialect.settings,
        parser: plain ? 'plain' : 'duckdb',
        source: {
          format: 'csv',
          ...(messyNumbers.length ? { messyNumbers } : {}),
          ...(dateColumns.length ? { dateColumns } : {}),
          ...(rejects.total > 0 ? { setAside: setAsideSummary(rejects.rows, rejects.total, SET_ASIDE_LISTED) } : {})
        },
        rows: scan.rows,
        bytes: size,
        contentHash: await hash.result,
        columns
      }
    }
  } finally {
    if (source !== file) fs.rmSync(source, { force: true })
  }
}
