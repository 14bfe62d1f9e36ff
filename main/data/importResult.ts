/** What every table import returns (CSV, Parquet, JSON Lines, workbooks), and the content hash they all take. */
import fs from 'node:fs'
import { createHash } from 'node:crypto'
import type { SetAsideRow, TableSource } from '../shared/contract'
import type { CsvSettings } from './csv'
import type { ColumnStats } from './profile'
import { HELPED_SIZE, importHelper } from './importHelper'

export interface TableImport {
  /** CSV only: the dialect it was read with. */
  settings?: CsvSettings
  /** CSV only: which parser read the rows (plainCsv.ts, or DuckDB for every other file). */
  parser?: 'plain' | 'duckdb'
  source: TableSource
  rows: number
  bytes: number
  contentHash: string
  columns: ColumnStats[]
}

/** Progress of an import: rows so far and bytes of the file read so far. */
export type ImportProgress = (rows: number, bytes: number) => void

export interface ImportOptions {
  onProgress?: ImportProgress
  signal?: AbortSignal
}

/** A line of the file longer than the hash's read buffer (1 MB): where it starts and its length, in bytes. */
export interface LongLine {
  start: number
  bytes: number
}

/** A content hash computed alongside an import: its result, and stop() for an import that fails first. */
export interface HashJob {
  result: Promise<string>
  /**
   * The longest line of the file, when one is longer than 1 MB (null otherwise), found in the same reads: DuckDB
   * drops a line longer than its max_line_size without a reject row or an error, so the CSV import checks it here.
   */
  longestLine: Promise<LongLine | null>
  /** What the same reads saw of the file's shape (for a CSV's DuckDB line limit: importCsv.ts). */
  shape: Promise<FileShape>
  /** Stops reading and resolves once the file is closed (a failed import leaves no descriptor behind). */
  stop(): Promise<void>
}

/** What the same reads saw of a CSV's records (for its DuckDB line limit: importCsv.ts). */
export interface FileShape {
  /** An upper bound on the longest record's length in bytes; null when the reads could not tell (see RecordBound). */
  longestRecord: number | null
}

export interface HashOptions {
  /** Follow the records of a CSV with this quote character (one ASCII byte, or '' for none) and escape. */
  records?: { quote: string; escape: string }
}

/** Past this many quote characters RecordBound gives up: a file quoted throughout is read with the full limit. */
const QUOTE_LIMIT = 200_000

/**
 * An upper bound on the longest record of a CSV, from the hash's reads: a record ends at a \n outside quotes (a \r
 * alone does not end one, so the bound holds whatever DuckDB takes for a line end). Quoted fields are followed from
 * quote to quote (a doubled quote toggles twice and changes nothing), so the work is two memchr calls a megabyte
 * and one or two a quote. Unknown (null) past QUOTE_LIMIT quotes, or when quotes are escaped by another character
 * (an escaped quote would read as the end of its field). A stray quote in an unquoted field can only make the bound
 * larger: the file is then read again with the full limit, never less.
 */
class RecordBound {
  private inQuote = false
  private recordStart = 0
  private longest = 0
  private quotes = 0
  private unknown = false

  constructor(
    private readonly quote: number,
    private readonly escapedOtherwise: boolean
  ) {}

  add(chunk: Buffer, offset: number): void {
    let at = 0
    while (!this.unknown && at < chunk.length) {
      if (this.inQuote) {
        const close = chunk.indexOf(this.quote, at)
        if (close < 0) return
        this.inQuote = false
        at = close + 1
        this.counted()
        continue
      }
      const open = this.quote < 0 ? -1 : chunk.indexOf(this.quote, at)
      const end = open < 0 ? chunk.length : open
      const first = chunk.indexOf(10, at)
      if (first >= 0 && first < end) {
        // Records inside one read are shorter than the read; only one that began in an earlier read can be long.
        this.endsAt(offset + first)
        this.recordStart = offset + chunk.lastIndexOf(10, end - 1) + 1
      }
      if (open < 0) return
      this.inQuote = true
      at = open + 1
      this.counted()
    }
  }

  finish(size: number): number | null {
    this.endsAt(size)
    return this.unknown ? null : this.longest
  }

  private counted(): void {
    if (this.escapedOtherwise || ++this.quotes > QUOTE_LIMIT) this.unknown = true
  }

  private endsAt(end: number): void {
    if (end - this.recordStart > this.longest) this.longest = end - this.recordStart
  }
}

const HASH_BUFFER = 1 << 20

/** First and last line end (\n or \r) in a chunk, -1 where it has none. */
function lineEnds(chunk: Buffer): [number, number] {
  const n = chunk.indexOf(10)
  const r = chunk.indexOf(13)
  const first = n < 0 ? r : r < 0 ? n : Math.min(n, r)
  return [first, Math.max(chunk.lastIndexOf(10), chunk.lastIndexOf(13))]
}

/**
 * sha256 of the file, read alongside the import through one reused buffer (no garbage for the GC mid-scan). A line
 * longer than the buffer spans chunks, so it shows as the distance from one chunk's last line end to a later
 * chunk's first: four memchr calls per megabyte, not a pass over every line.
 */
export function hashFile(file: string, options: HashOptions = {}): HashJob {
  let stopped = false
  let longest: LongLine | null = null
  const { records } = options
  const bound = records
    ? new RecordBound(records.quote === '' ? -1 : records.quote.charCodeAt(0), records.escape !== '' && records.escape !== records.quote)
    : null
  const shape: FileShape = { longestRecord: null }
  const run = async (): Promise<string> => {
    const hash = createHash('sha256')
    const buffer = Buffer.allocUnsafe(HASH_BUFFER)
    const handle = await fs.promises.open(file, 'r')
    let offset = 0
    let lineStart = 0
    const lineEndsAt = (end: number) => {
      if (end - lineStart > Math.max(HASH_BUFFER, longest?.bytes ?? 0)) longest = { start: lineStart, bytes: end - lineStart }
    }
    try {
      for (;;) {
        if (stopped) return ''
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, null)
        if (bytesRead === 0) break
        const chunk = buffer.subarray(0, bytesRead)
        hash.update(chunk)
        const [first, last] = lineEnds(chunk)
        if (first >= 0) {
          lineEndsAt(offset + first)
          lineStart = offset + last + 1
        }
        bound?.add(chunk, offset)
        offset += bytesRead
      }
      lineEndsAt(offset)
      if (bound) shape.longestRecord = bound.finish(offset)
    } finally {
      await handle.close()
    }
    return hash.digest('hex')
  }
  const result = run()
  result.catch(() => undefined)
  return {
    result,
    longestLine: result.then(
      () => longest,
      () => null
    ),
    // A failed read proves nothing (the import fails on the hash's error anyway).
    shape: result.then(
      () => shape,
      () => ({ longestRecord: null })
    ),
    async stop() {
      stopped = true
      await result.catch(() => undefined)
    }
  }
}

/** The 1-based line a byte offset of the file is on (\n line ends, or \r where the file has no \n before it). */
export async function lineNumberAt(file: string, offset: number): Promise<number> {
  const buffer = Buffer.allocUnsafe(HASH_BUFFER)
  const handle = await fs.promises.open(file, 'r')
  let newlines = 0
  let returns = 0
  try {
    for (let at = 0; at < offset;) {
      const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, offset - at), at)
      if (bytesRead === 0) break
      for (let i = 0; i < bytesRead; i++) {
        const byte = buffer[i]!
        if (byte === 10) newlines++
        else if (byte === 13) returns++
      }
      at += bytesRead
    }
  } finally {
    await handle.close()
  }
  return (newlines || returns) + 1
}

/** Runs an import with its hash alongside; on failure the hash stops before the error goes on. */
export async function withHash<T>(file: string, work: (hash: HashJob) => Promise<T>, options: HashOptions = {}): Promise<T> {
  // A large file's hash on the helper thread: here it would take the import thread ~0.1 s per 150 MB.
  const helper = fs.statSync(file).size >= HELPED_SIZE ? importHelper() : null
  const hash = helper ? helper.hash(file, options) : hashFile(file, options)
  try {
    return await work(hash)
  } catch (error) {
    await hash.stop()
    throw error
  }
}

/** The set-aside summary a source records: the count and the first `limit` rows. */
export function setAsideSummary(rows: SetAsideRow[], total: number, limit: number): TableSource['setAside'] {
  return { total, rows: rows.slice(0, limit) }
}
