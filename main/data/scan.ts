/**
 * The shared core of every DuckDB-backed import: stream one SELECT and hand each DataChunk's vectors to the column
 * builders (columns.ts). A numeric column is one DOUBLE vector; a text column its VARCHAR vector plus hash(text).
 */
import type { DuckDBConnection } from '@duckdb/node-api'
import { LabError } from '../shared/errors'
import { type ColumnSink, NumericColumn, TextColumn } from './columns'
import { FilePool, bufferShare } from './storage'
import type { ColumnStats } from './profile'
import { type HistogramPass, fileHistogram } from './columnPasses'
import { HELPED_ROWS, shareWithHelper } from './importHelper'

export interface ColumnSpec {
  name: string
  kind: 'numeric' | 'text'
  /** The SQL expression giving the column (a DOUBLE for numeric, a VARCHAR for text). */
  expr: string
}

export interface ScanResult {
  rows: number
  sinks: ColumnSink[]
  /** The descriptors the builders write through: closed after the scan, reopened (bounded) while they finish. */
  pool: FilePool
}

export interface ScanOptions {
  decimalComma?: boolean
  /** Rows so far and the query's progress in [0, 1] (DuckDB's estimate: the share of the input read). */
  onProgress?: (rows: number, fraction: number) => void
  signal?: AbortSignal
  label: string
}

/**
 * The builders of `specs`' columns in `dir`, writing through one pool, and the SELECT list whose vectors they read
 * (a text column's value, then its hash).
 */
export function columnSinks(specs: ColumnSpec[], dir: string, decimalComma: boolean): { pool: FilePool; sinks: ColumnSink[]; select: string[] } {
  const pool = new FilePool()
  const share = bufferShare(specs.length * 2)
  const select: string[] = []
  const sinks: ColumnSink[] = specs.map((spec, index) => {
    const target = { dir, index, pool, share }
    select.push(spec.expr)
    if (spec.kind === 'numeric') return new NumericColumn(spec.name, target, select.length - 1)
    select.push(`hash(${spec.expr})`)
    return new TextColumn(spec.name, target, decimalComma, select.length - 2, select.length - 1)
  })
  return { pool, sinks, select }
}

/**
 * Streams `SELECT <columns> FROM <from>` into column files in `dir`. The builders write through one pool of at most
 * OPEN_FILES_LIMIT descriptors, released on every path out; on failure the builders' files are removed too.
 */
export async function scanToColumns(
  connection: DuckDBConnection,
  from: string,
  specs: ColumnSpec[],
  dir: string,
  options: ScanOptions
): Promise<ScanResult> {
  const { pool, sinks, select } = columnSinks(specs, dir, options.decimalComma ?? false)
  let rows = 0
  const abort = () => connection.interrupt()
  options.signal?.addEventListener('abort', abort)
  try {
    const result = await connection.stream(`SELECT ${select.join(', ')} FROM ${from}`)
    for (;;) {
      const chunk = await result.fetchChunk()
      if (options.signal?.aborted) throw new LabError(`${options.label}: import cancelled`)
      if (!chunk || chunk.rowCount === 0) break
      const count = chunk.rowCount
      for (const sink of sinks) sink.add(chunk.chunk, count)
      rows += count
      if (options.onProgress && (rows & 0x3fff) < count) options.onProgress(rows, Math.max(0, connection.progress.percentage) / 100)
    }
    return { rows, sinks, pool }
  } catch (error) {
    for (const sink of sinks) sink.abort()
    // A new query ends the interrupted one, and with it DuckDB's hold on the file (else kept until GC).
    await connection.run('SELECT 1').catch(() => undefined)
    if (options.signal?.aborted) throw new LabError(`${options.label}: import cancelled`)
    throw error
  } finally {
    options.signal?.removeEventListener('abort', abort)
    pool.closeAll()
  }
}

/**
 * Finishes every builder; the pool they shared is closed, so finishing reopens files one at a time. The histogram
 * passes over the numeric columns' files (a tenth of a 1M-row import on one thread) run every other one on the
 * import helper thread while this thread runs the rest; one the helper cannot do is run here.
 */
export async function finishColumns(scan: ScanResult): Promise<ColumnStats[]> {
  try {
    const passes = scan.sinks.map((sink) => (sink instanceof NumericColumn ? sink.histogramPass() : null))
    const wanted = passes.filter((pass): pass is HistogramPass => pass !== null)
    const counted = await shareWithHelper(wanted, scan.rows >= HELPED_ROWS ? (helper, pass) => helper.histogram(pass) : null, fileHistogram)
    let next = 0
    const histograms = passes.map((pass) => (pass ? counted[next++] : undefined))
    return scan.sinks.map((sink, index) => (sink instanceof NumericColumn ? sink.finish(histograms[index]) : sink.finish()))
  } catch (error) {
    for (const sink of scan.sinks) sink.abort()
    throw error
  } finally {
    scan.pool.closeAll()
  }
}

/** Drops a scan's files (a second pass will write them again, or the import failed). */
export function abortColumns(scan: ScanResult): void {
  for (const sink of scan.sinks) sink.abort()
  scan.pool.closeAll()
}
