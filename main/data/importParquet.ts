/**
 * Parquet and JSON Lines through the same column builders as CSV (scan.ts), read by DuckDB's own readers (linked
 * into the npm binding: nothing is downloaded). Numbers (ints, floats, decimals) → numeric; BOOLEAN → text
 * 'true'/'false' (boolean-like, as in a CSV); DATE / TIMESTAMP / TIME → text in ISO form (listed as date columns);
 * VARCHAR, UUID, ENUM → text; BLOB refused. Nested columns (STRUCT, LIST, MAP, UNION, ARRAY): a Parquet file is
 * refused with their names; in JSON Lines a nested value is kept as its JSON text.
 */
import fs from 'node:fs'
import path from 'node:path'
import readline from 'node:readline'
import { DuckDBTypeId, type DuckDBConnection, type DuckDBType } from '@duckdb/node-api'
import { LabError } from '../shared/errors'
import { duckMessage, sqlIdent, sqlString } from './duck'
import { type ImportOptions, type TableImport, withHash } from './importResult'
import { type ColumnSpec, finishColumns, scanToColumns } from './scan'

const NUMERIC = new Set([
  DuckDBTypeId.TINYINT,
  DuckDBTypeId.SMALLINT,
  DuckDBTypeId.INTEGER,
  DuckDBTypeId.BIGINT,
  DuckDBTypeId.HUGEINT,
  DuckDBTypeId.UTINYINT,
  DuckDBTypeId.USMALLINT,
  DuckDBTypeId.UINTEGER,
  DuckDBTypeId.UBIGINT,
  DuckDBTypeId.UHUGEINT,
  DuckDBTypeId.FLOAT,
  DuckDBTypeId.DOUBLE,
  DuckDBTypeId.DECIMAL
])
const NESTED = new Set([DuckDBTypeId.STRUCT, DuckDBTypeId.LIST, DuckDBTypeId.MAP, DuckDBTypeId.UNION, DuckDBTypeId.ARRAY])
const DATES = new Set([
  DuckDBTypeId.DATE,
  DuckDBTypeId.TIMESTAMP,
  DuckDBTypeId.TIMESTAMP_S,
  DuckDBTypeId.TIMESTAMP_MS,
  DuckDBTypeId.TIMESTAMP_NS,
  DuckDBTypeId.TIMESTAMP_TZ
])

interface Described {
  name: string
  type: DuckDBType
}

/** The column as the builders take it; null for a nested one. */
function specFor(column: Described, label: string): ColumnSpec | null {
  const col = sqlIdent(column.name)
  const id = column.type.typeId
  if (NUMERIC.has(id)) return { name: column.name, kind: 'numeric', expr: `${col}::DOUBLE` }
  if (NESTED.has(id)) return null
  if (id === DuckDBTypeId.BLOB) throw new LabError(`${label}: column "${column.name}" holds binary data (BLOB), which a table cannot use`)
  if (id === DuckDBTypeId.DATE) return { name: column.name, kind: 'text', expr: `strftime(${col}, '%Y-%m-%d')` }
  if (DATES.has(id)) return { name: column.name, kind: 'text', expr: `strftime(${col}::TIMESTAMP, '%Y-%m-%dT%H:%M:%S')` }
  return { name: column.name, kind: 'text', expr: id === DuckDBTypeId.VARCHAR ? col : `${col}::VARCHAR` }
}

/** Columns of a relation: names and DuckDB types (LIMIT 0 reads the schema, or the JSON sample). */
async function describe(connection: DuckDBConnection, from: string): Promise<Described[]> {
  const reader = await connection.runAndReadAll(`SELECT * FROM ${from} LIMIT 0`)
  const types = reader.columnTypes()
  return reader.columnNames().map((name, i) => ({ name, type: types[i]! }))
}

async function scanRelation(
  connection: DuckDBConnection,
  from: string,
  specs: ColumnSpec[],
  dir: string,
  label: string,
  size: number,
  options: ImportOptions,
  onError: (error: unknown) => Promise<LabError> | LabError
): Promise<{ rows: number; columns: TableImport['columns'] }> {
  const progress = options.onProgress
  let scan
  try {
    scan = await scanToColumns(connection, from, specs, dir, {
      label,
      signal: options.signal,
      onProgress: progress && ((rows, fraction) => progress(rows, Math.round(fraction * size)))
    })
  } catch (error) {
    if (error instanceof LabError) throw error
    throw await onError(error)
  }
  const columns = await finishColumns(scan)
  if (scan.rows === 0) throw new LabError(`${label}: no rows`)
  progress?.(scan.rows, size)
  return { rows: scan.rows, columns }
}

export async function importParquet(file: string, dir: string, connection: DuckDBConnection, options: ImportOptions = {}): Promise<TableImport> {
  const label = path.basename(file)
  const size = (await fs.promises.stat(file)).size
  return withHash(file, async (hash) => {
    const fail = (error: unknown) => parquetError(error, label, size)
    const from = `read_parquet(${sqlString(file)})`
    let columns: Described[]
    try {
      columns = await describe(connection, from)
    } catch (error) {
      throw fail(error)
    }
    const nested = columns.filter((c) => NESTED.has(c.type.typeId))
    if (nested.length > 0) {
      const list = nested.map((c) => `${c.name} (${c.type.toString()})`).join(', ')
      throw new LabError(`${label}: nested columns are not supported: ${list}; flatten them first (e.g. unnest in DuckDB, or pandas json_normalize)`)
    }
    const specs = columns.map((c) => specFor(c, label)!)
    const scanned = await scanRelation(connection, from, specs, dir, label, size, options, fail)
    const dateColumns = columns.filter((c) => DATES.has(c.type.typeId)).map((c) => c.name)
    return {
      source: { format: 'parquet', ...(dateColumns.length ? { dateColumns } : {}) },
      rows: scanned.rows,
      bytes: size,
      contentHash: await hash.result,
      columns: scanned.columns
    }
  })
}

function parquetError(error: unknown, label: string, size: number): LabError {
  const message = duckMessage(error)
  if (/No magic bytes found at end of file/.test(message))
    return new LabError(`${label}: not a complete Parquet file (its footer is missing: truncated or still being written?)`)
  if (/too small to be a Parquet file|No magic bytes found at (the )?(beginning|start)/.test(message))
    return new LabError(`${label}: not a Parquet file (${size} bytes)`)
  return new LabError(`${label}: cannot read this Parquet file: ${message}`)
}

/**
 * JSON Lines: one object per line. DuckDB's pitfalls: without records=true a file with one non-object line is
 * silently read as a single VARCHAR column "json"; with it the error names no line; ignore_errors=true turns a
 * malformed line into a row of NULLs. So: records=true, no ignore_errors, and on failure we find the line ourselves.
 */
export async function importJsonl(file: string, dir: string, connection: DuckDBConnection, options: ImportOptions = {}): Promise<TableImport> {
  const label = path.basename(file)
  const size = (await fs.promises.stat(file)).size
  if (size === 0) throw new LabError(`${label}: the file is empty`)
  return withHash(file, async (hash) => {
    const fail = (error: unknown) => jsonlError(error, file, label)
    const from = `read_json(${sqlString(file)}, format='newline_delimited', records=true, sample_size=20480)`
    let columns: Described[]
    try {
      columns = await describe(connection, from)
    } catch (error) {
      throw await fail(error)
    }
    const specs = columns.map((c) => specFor(c, label) ?? { name: c.name, kind: 'text' as const, expr: `to_json(${sqlIdent(c.name)})::VARCHAR` })
    const scanned = await scanRelation(connection, from, specs, dir, label, size, options, fail)
    const dateColumns = columns.filter((c) => DATES.has(c.type.typeId)).map((c) => c.name)
    return {
      source: { format: 'jsonl', ...(dateColumns.length ? { dateColumns } : {}) },
      rows: scanned.rows,
      bytes: size,
      contentHash: await hash.result,
      columns: scanned.columns
    }
  })
}

async function jsonlError(error: unknown, file: string, label: string): Promise<LabError> {
  const message = duckMessage(error)
  if (/Malformed JSON|expected records|non-record JSON|unexpected character|invalid literal/i.test(message)) {
    // DuckDB's line number is off by one (1.5.6: "line 3" for the 2nd line) or missing: find the line (error path only).
    const lines = readline.createInterface({ input: fs.createReadStream(file), crlfDelay: Infinity })
    let n = 0
    for await (const line of lines) {
      n++
      const trimmed = line.trim()
      if (trimmed === '') continue
      const shown = `${trimmed.slice(0, 40)}${trimmed.length > 40 ? '…' : ''}`
      let value: unknown
      try {
        value = JSON.parse(trimmed)
      } catch (parseError) {
        lines.close()
        return new LabError(`${label}: line ${n} is not valid JSON (${shown}: ${(parseError as Error).message})`)
      }
      if (value === null || typeof value !== 'object' || Array.isArray(value)) {
        lines.close()
        return new LabError(`${label}: line ${n} is not a JSON object (${shown}); each line must be one {"column": value} record`)
      }
    }
  }
  return new LabError(`${label}: cannot read these JSON lines: ${message}`)
}
