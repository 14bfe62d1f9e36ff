/**
 * Import workers on the main side: a table file is imported in a worker thread (importWorker.ts), one import per
 * worker at a time; an idle worker is kept for the next import (warm code, an open DuckDB) and closed with the lab.
 * Cancelling asks the worker to stop (DuckDB's interrupt, then the scan's own check); a worker that does not answer
 * within a few seconds is terminated. A worker that dies takes only its own import with it.
 */
import path from 'node:path'
import { Worker } from 'node:worker_threads'
import { LabError } from '../shared/errors'
import { workerEntry } from './workerEntry'
import type { TableFileRequest } from './importFile'
import type { FitRequest, FromWorker, ImportWorkerData, PreparedSplit, ToWorker, WorkerRequest } from './importProtocol'
import type { Fitted, PrepareRequest } from './prepare'
import type { DateOrderRequest } from './dateOrder'
import type { ColumnStats } from './profile'
import type { TableImport } from './importResult'
import type { TableExportRequest } from './exportTable'

const CANCEL_GRACE_MS = 3000

/** Omit over each member of a union (a plain Omit would merge the members). */
type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never

interface Job {
  resolve(result: unknown): void
  reject(error: Error): void
  onProgress?: (rows: number, bytes: number) => void
}

class ImportWorker {
  readonly worker: Worker
  job: { id: number; job: Job } | null = null
  dead = false

  constructor(data: ImportWorkerData, onGone: (worker: ImportWorker) => void) {
    const entry = workerEntry('importWorker')
    this.worker = new Worker(entry.file, { workerData: data, ...(entry.execArgv ? { execArgv: entry.execArgv } : {}) })
    this.worker.on('message', (message: FromWorker) => {
      const current = this.job
      if (!current || current.id !== message.id) return
      if (message.type === 'progress') current.job.onProgress?.(message.rows, message.bytes)
      else {
        this.job = null
        if (message.type === 'done') current.job.resolve(message.result)
        else {
          const error = message.userError ? new LabError(message.message) : new Error(message.message)
          if (!message.userError && message.stack) error.stack = message.stack
          current.job.reject(error)
        }
      }
    })
    const gone = (error: Error) => {
      if (this.dead) return
      this.dead = true
      const current = this.job
      this.job = null
      current?.job.reject(error)
      onGone(this)
    }
    this.worker.on('error', (error) => gone(error))
    this.worker.on('exit', (code) => gone(new Error(`the import worker stopped (exit code ${code})`)))
    // After the listeners (adding one refs the worker again): an idle worker must not keep the process alive.
    this.worker.unref()
  }
}

export class ImportWorkers {
  private idle: ImportWorker | null = null
  private readonly busy = new Set<ImportWorker>()
  private nextId = 0
  private closed = false
  private static process: ImportWorkers | null = null

  constructor(private readonly data: ImportWorkerData = {}) {}

  /**
   * The process's workers, shared by every lab it opens (tests open dozens): starting one costs about a second
   * (its code, DuckDB), an import on a warm one tens of milliseconds. Idle workers do not keep the process alive.
   */
  static shared(): ImportWorkers {
    ImportWorkers.process ??= new ImportWorkers()
    return ImportWorkers.process
  }

  private take(): ImportWorker {
    const ready = this.idle && !this.idle.dead ? this.idle : null
    this.idle = null
    const worker =
      ready ??
      new ImportWorker(this.data, (gone) => {
        this.busy.delete(gone)
        if (this.idle === gone) this.idle = null
      })
    this.busy.add(worker)
    return worker
  }

  private give(worker: ImportWorker): void {
    this.busy.delete(worker)
    if (worker.dead) return
    worker.worker.unref()
    if (this.closed || this.idle) void worker.worker.terminate()
    else this.idle = worker
  }

  /** Imports one file in a worker; rejects with LabError "… import cancelled" when the signal fires first. */
  run(request: TableFileRequest, tempDirectory: string): Promise<TableImport> {
    const { onProgress, signal, ...rest } = request
    const plain: WorkerRequest = rest
    return this.send<TableImport>({ type: 'import', request: plain, tempDirectory }, path.basename(request.file), onProgress, signal)
  }

  /** Writes a stored table to CSV or Parquet in a worker. */
  export(request: TableExportRequest, tempDirectory: string): Promise<{ bytes: number }> {
    return this.send<{ bytes: number }>({ type: 'export', request, tempDirectory }, path.basename(request.out))
  }

  /** Fits a table's split and recipe in a worker and writes its split.bin (prepare.ts fitTable, writeSplit). */
  fit(request: FitRequest): Promise<Fitted> {
    return this.send<Fitted>({ type: 'fit', request }, request.name)
  }

  /** A run's split, recipe and (with `parts`) prepared parts, made in a worker (prepare.ts prepareSplit). */
  prepare(request: PrepareRequest, label: string): Promise<PreparedSplit> {
    return this.send<PreparedSplit>({ type: 'prepare', request }, label)
  }

  /** Reads a date column again in another day/month order into staged files (dateOrder.ts stageDateOrder). */
  stageDateOrder(request: DateOrderRequest): Promise<ColumnStats> {
    return this.send<ColumnStats>({ type: 'dateOrder', request }, request.label)
  }

  private send<T>(
    message: DistributiveOmit<Exclude<ToWorker, { type: 'cancel' }>, 'id'>,
    label: string,
    onProgress?: (rows: number, bytes: number) => void,
    signal?: AbortSignal
  ): Promise<T> {
    if (this.closed) return Promise.reject(new Error('the import workers are closed'))
    const worker = this.take()
    const id = ++this.nextId
    // A job keeps the process alive until it ends (an idle worker does not: give() unrefs it).
    worker.worker.ref()
    return new Promise<T>((resolve, reject) => {
      let timer: NodeJS.Timeout | null = null
      const settle = () => {
        if (timer) clearTimeout(timer)
        signal?.removeEventListener('abort', cancel)
        this.give(worker)
      }
      const cancel = () => {
        worker.worker.postMessage({ type: 'cancel', id })
        // A worker stuck in a call that does not look at the signal: end it (its temp files go with the import folder).
        timer = setTimeout(() => {
          if (worker.job?.id !== id) return
          worker.job = null
          reject(new LabError(`${label}: import cancelled`))
          void worker.worker.terminate()
        }, CANCEL_GRACE_MS)
        timer.unref()
      }
      worker.job = {
        id,
        job: {
          onProgress,
          resolve: (result) => {
            settle()
            resolve(result as T)
          },
          reject: (error) => {
            settle()
            reject(error)
          }
        }
      }
      if (signal?.aborted) cancel()
      else signal?.addEventListener('abort', cancel, { once: true })
      worker.worker.postMessage({ ...message, id } as ToWorker)
    })
  }

  async close(): Promise<void> {
    this.closed = true
    const all = [...this.busy, ...(this.idle ? [this.idle] : [])]
    this.idle = null
    await Promise.all(all.map((w) => w.worker.terminate()))
  }
}
