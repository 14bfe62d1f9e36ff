/** Messages between the import workers' owner (importWorkers.ts, main thread) and an import worker (importWorker.ts). */
import type { TableImport } from './importResult'
import type { TableFileRequest } from './importFile'
import type { TableExportRequest } from './exportTable'
import type { Fitted, PrepareRequest, PreparedParts, TableMeta } from './prepare'
import type { Recipe } from './recipe'
import type { DateOrderRequest } from './dateOrder'
import type { ColumnStats } from './profile'
import type { ParseSettings, SkippedFile } from '../shared/contract'

/** A request without its callbacks: the worker reports progress by message and is cancelled by one. */
export type WorkerRequest = Omit<TableFileRequest, 'onProgress' | 'signal'>

export interface ImportWorkerData {
  /** DuckDB's threads (default: every core). */
  threads?: number
}

/** A table's split and recipe fitted from its column files (prepare.ts fitTable), and split.bin written to `dir`. */
export interface FitRequest {
  name: string
  dir: string
  meta: TableMeta
  target: string
  parse: ParseSettings
  skipped: SkippedFile[]
}

/** A prepare job's answer: the split's recipe, and its parts when asked for (their buffers transferred). */
export interface PreparedSplit {
  recipe: Recipe
  parts: PreparedParts | null
}

/** tempDirectory: where DuckDB may spill during this job (in the data home, not the system's temp folder). */
export type ToWorker =
  | { type: 'import'; id: number; request: WorkerRequest; tempDirectory: string }
  | { type: 'export'; id: number; request: TableExportRequest; tempDirectory: string }
  | { type: 'fit'; id: number; request: FitRequest }
  | { type: 'dateOrder'; id: number; request: DateOrderRequest }
  | { type: 'prepare'; id: number; request: PrepareRequest }
  | { type: 'cancel'; id: number }

export type FromWorker =
  | { type: 'progress'; id: number; rows: number; bytes: number }
  | { type: 'done'; id: number; result: TableImport | { bytes: number } | Fitted | ColumnStats | PreparedSplit }
  | { type: 'failed'; id: number; message: string; userError: boolean; stack?: string }
