/**
 * A stored table back out to CSV or Parquet, as LayerLab parsed it: the column files are read 2,048 rows at a time,
 * appended to a DuckDB temp table, and DuckDB's COPY writes the file into a temp name beside it, moved into place at
 * the end (core/atomicWrite.ts): a failed export leaves an existing file as it was. Missing values become NULL (an
 * empty CSV field); integer columns are written as BIGINT (7, not 7.0); coded columns as their vocabulary text; every
 * name as imported.
 */
import fs from 'node:fs'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { BIGINT, DOUBLE, VARCHAR, DuckDBDataChunk, type DuckDBConnection, type DuckDBType } from '@duckdb/node-api'
import { LabError } from '../shared/errors'
import { placeTempFile } from '../core/atomicWrite'
import { duckMessage, sqlIdent, sqlString } from './duck'
import { isoOfDay } from './dates'
import type { ColumnStats } from './profile'
import { columnFile, readRangeF64, readRangeI32, readRangeStrings } from './storage'

export interface TableExportRequest {
  dir: string
  columns: ColumnStats[]
  rows: number
  out: string
  format: 'csv' | 'parquet'
  /** false: an existing file at `out` is never replaced, even one that appeared during the export. */
  overwrite: boolean
}

const BLOCK = 2048
let tables = 0

/** Integers beyond 2^53 are not whole in a double: such a column is written as DOUBLE. */
const bigintSafe = (stats: ColumnStats): boolean =>
  stats.integer && Math.abs(stats.min) <= Number.MAX_SAFE_INTEGER && Math.abs(stats.max) <= Number.MAX_SAFE_INTEGER

export async function exportTable(connection: DuckDBConnection, request: TableExportRequest): Promise<{ bytes: number }> {
  const { dir, columns, rows, out, format, overwrite } = request
  // Dates go out as ISO text (2024-03-01, 2024-03-01T09:30:00): the dates as read, whatever the file's spelling.
  const types: DuckDBType[] = columns.map((c) =>
    c.date ? VARCHAR : c.files.f64 && !c.spellings ? (bigintSafe(c) ? BIGINT : DOUBLE) : c.files.f64 && c.spellings ? DOUBLE : VARCHAR
  )
  const table = `export_${++tables}`
  const temp = path.join(path.dirname(out), `.${path.basename(out)}.${randomBytes(3).toString('hex')}.tmp`)
  try {
    await connection.run(`CREATE TABLE ${table} (${columns.map((c, i) => `${sqlIdent(c.name)} ${types[i]!.toString()}`).join(', ')})`)
    const appender = await connection.createAppender(table)
    for (let first = 0; first < rows; first += BLOCK) {
      const count = Math.min(BLOCK, rows - first)
      const values = columns.map((c, i) => {
        if (c.files.f64) {
          const data = readRangeF64(columnFile(dir, i, 'f64'), first, count)
          if (c.date) return Array.from(data, (v) => (Number.isNaN(v) ? null : isoOfDay(v)))
          const whole = types[i] === BIGINT
          return Array.from(data, (v) => (Number.isNaN(v) ? null : whole ? BigInt(v) : v))
        }
        if (c.files.i32 && c.vocab) {
          const vocab = c.vocab
          return Array.from(readRangeI32(columnFile(dir, i, 'i32'), first, count), (code) => (code < 0 ? null : vocab[code]!))
        }
        return readRangeStrings(columnFile(dir, i, 'str'), columnFile(dir, i, 'off'), first, count).map((s) => (s === '' ? null : s))
      })
      const chunk = DuckDBDataChunk.create(types, count)
      chunk.setColumns(values)
      appender.appendDataChunk(chunk)
    }
    appender.closeSync()
    const copy = format === 'parquet' ? 'FORMAT parquet, COMPRESSION zstd' : 'FORMAT csv, HEADER true'
    await connection.run(`COPY ${table} TO ${sqlString(temp)} (${copy})`)
    placeTempFile(temp, out, overwrite)
    return { bytes: fs.statSync(out).size }
  } catch (error) {
    fs.rmSync(temp, { force: true })
    if (error instanceof LabError) throw error
    throw new LabError(`${out}: cannot write the table (${duckMessage(error)})`)
  } finally {
    await connection.run(`DROP TABLE IF EXISTS ${table}`)
  }
}
