/**
 * One table file into a dataset folder, whatever its format: chosen by the file's first bytes and its name
 * (Parquet's PAR1, a ZIP or OLE workbook, .jsonl / .ndjson, else CSV, gzip or not). CSV goes through our dialect
 * detection, then DuckDB, or JavaScript for tables too wide for DuckDB to read quickly.
 */
import { openInputFile } from '../core/inputFile'
import type { DuckDBConnection } from '@duckdb/node-api'
import type { BadRowsChoice } from '../shared/contract'
import { LabError } from '../shared/errors'
import { type CsvOverrides, fileLabel, readSample } from './csv'
import { detectDialect } from './dialect'
import { importCsv } from './importCsv'
import { importJsonl, importParquet } from './importParquet'
import type { ImportOptions, TableImport } from './importResult'
import { importWide } from './importWide'
import { isWorkbook, importWorkbook } from './importWorkbook'

/**
 * Past this many columns a CSV is read in JavaScript: DuckDB's cost grows with the width (measured on this
 * project's 2-core machine: 785 columns × 20k rows 11.7 s DuckDB vs 15.8 s JavaScript; 2,001 × 5k 15.0 vs 13.8 s;
 * 5,001 × 2k 49 vs 14 s; 100,001 × 5 rows: 63 s and 1.7 GB in DuckDB).
 */
export const DUCKDB_MAX_COLUMNS = 1500

export interface TableFileRequest extends ImportOptions {
  file: string
  dir: string
  overrides: CsvOverrides
  badRows?: BadRowsChoice
  sheet?: string
}

export type TableFileFormat = 'csv' | 'parquet' | 'jsonl' | 'workbook'

export function formatOf(file: string, head: Buffer): TableFileFormat {
  if (/\.parquet$/i.test(file) || head.subarray(0, 4).toString('latin1') === 'PAR1') return 'parquet'
  if (/\.(jsonl|ndjson)(\.gz)?$/i.test(file)) return 'jsonl'
  if (isWorkbook(file, head)) return 'workbook'
  return 'csv'
}

/**
 * The first bytes, through the safe open (core/inputFile.ts): every reader after it (DuckDB, the streams, SheetJS)
 * opens a path that has just been checked to be a regular file, never a pipe or a device.
 */
async function head(file: string): Promise<Buffer> {
  const { handle } = await openInputFile(file, { label: fileLabel(file) })
  try {
    const bytes = Buffer.alloc(8)
    const { bytesRead } = await handle.read(bytes, 0, 8, 0)
    return bytes.subarray(0, bytesRead)
  } finally {
    await handle.close()
  }
}

export async function importTableFile(request: TableFileRequest, connection: DuckDBConnection): Promise<TableImport> {
  const { file, dir } = request
  const label = fileLabel(file)
  const format = formatOf(file, await head(file))
  if (format !== 'workbook' && request.sheet !== undefined) throw new LabError(`${label}: --sheet is for workbooks (.xlsx, .xls, .ods)`)
  if (format === 'parquet') return importParquet(file, dir, connection, request)
  if (format === 'jsonl') return importJsonl(file, dir, connection, request)
  if (format === 'workbook') return importWorkbook(file, dir, connection, request)
  const dialect = detectDialect(await readSample(file, label), request.overrides, label)
  if (dialect.fileNames.length > DUCKDB_MAX_COLUMNS) return importWide(file, dialect.settings, dir, request)
  return importCsv(file, dir, dialect, connection, request)
}
