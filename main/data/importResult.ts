/** What every table import returns (CSV, Parquet, JSON Lines, workbooks), and the content hash they all take. */
import fs from 'node:fs'
import { createHash } from 'node:crypto'
import type { SetAsideRow, TableSource } from '../shared/contract'
import type { CsvSettings } from './csv'
import type { ColumnStats } from './profile'

export interface TableImport {
  /** CSV only: the dialect it was read with. */
  settings?: CsvSettings
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

/** A content hash computed alongside an import: its result, and stop() for an import that fails first. */
export interface HashJob {
  result: Promise<string>
  /** Stops reading and resolves once the file is closed (a failed import leaves no descriptor behind). */
  stop(): Promise<void>
}

/** sha256 of the file, read alongside the import through one reused buffer (no garbage for the GC mid-scan). */
export function hashFile(file: string): HashJob {
  let stopped = false
  const run = async (): Promise<string> => {
    const hash = createHash('sha256')
    const buffer = Buffer.allocUnsafe(1 << 20)
    const handle = await fs.promises.open(file, 'r')
    try {
      for (;;) {
        if (stopped) return ''
        const { bytesRead } = await handle.read(buffer, 0, buffer.length, null)
        if (bytesRead === 0) break
        hash.update(buffer.subarray(0, bytesRead))
      }
    } finally {
      await handle.close()
    }
    return hash.digest('hex')
  }
  const result = run()
  result.catch(() => undefined)
  return {
    result,
    async stop() {
      stopped = true
      await result.catch(() => undefined)
    }
  }
}

/** Runs an import with its hash alongside; on failure the hash stops before the error goes on. */
export async function withHash<T>(file: string, work: (hash: HashJob) => Promise<T>): Promise<T> {
  const hash = hashFile(file)
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
