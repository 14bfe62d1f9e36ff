/**
 * DuckDB, the engine behind table imports and exports (CSV, gzip, Parquet, JSON Lines): opened in memory with bounded
 * threads and memory, never reaching for the network (everything we use is linked into the npm binding), spilling to
 * a folder we own. N-API, so the same binding loads in Node and in Electron's main process; each import worker owns
 * its instance.
 */
import os from 'node:os'
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api'

export interface DuckSettings {
  /** Threads DuckDB may use (default: every core). */
  threads?: number
  /** e.g. '1GB': past it DuckDB spills to tempDirectory (default 1 GB: the import streams, it never holds the table). */
  memoryLimit?: string
  tempDirectory?: string
}

export interface Duck {
  instance: DuckDBInstance
  connection: DuckDBConnection
  close(): void
}

export async function openDuck(settings: DuckSettings = {}): Promise<Duck> {
  const instance = await DuckDBInstance.create(':memory:', {
    threads: String(settings.threads ?? os.availableParallelism()),
    memory_limit: settings.memoryLimit ?? '1GB',
    autoinstall_known_extensions: 'false',
    autoload_known_extensions: 'false',
    temp_directory: settings.tempDirectory ?? os.tmpdir()
  })
  const connection = await instance.connect()
  // The default (about 1 MB) starves DuckDB's threads while JavaScript consumes a chunk: 857 vs 464 ms for 1M rows.
  await connection.run("SET streaming_buffer_size='64MB'")
  return {
    instance,
    connection,
    close() {
      connection.closeSync()
      instance.closeSync()
    }
  }
}

/** A SQL string literal. */
export const sqlString = (value: string): string => `'${value.replace(/'/g, "''")}'`
/** A SQL identifier. */
export const sqlIdent = (value: string): string => `"${value.replace(/"/g, '""')}"`

/** DuckDB's message without its "Invalid Input Error: " prefix, first line only. */
export function duckMessage(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error)
  return (text.split('\n')[0] ?? '').replace(/^[A-Za-z ]+Error: /, '')
}
