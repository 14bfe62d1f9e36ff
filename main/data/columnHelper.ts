/**
 * The import worker's second thread for the passes over column files that follow a scan: the histograms of columns
 * past their vocabulary (after the scan) and the recipe's feature columns (after the split). DuckDB's threads are
 * idle by then, so on one thread these passes left a core unused for a third of a 1M-row import's tail. Each pass
 * reads only its own column's files, so share() runs every other item on the helper and the rest here, at the same
 * time, with the same functions: the results are the same whichever thread computes them.
 */
import { Worker } from 'node:worker_threads'
import { type HistogramPass, fileHistogram } from './profile'
import { type FittedColumn, type RecipeSettings, type TableColumnChoice, fitRecipeColumns } from './recipe'
import { workerEntry } from './importWorkers'

/** The passes, by name: a shared context (plain data: it is copied to the helper) and the items to compute. */
export const COLUMN_JOBS = {
  histograms: (_context: null, passes: HistogramPass[]): number[][] => passes.map(fileHistogram),
  recipeColumns: (context: { dir: string; train: Int32Array; settings: RecipeSettings }, choices: TableColumnChoice[]): FittedColumn[] =>
    fitRecipeColumns(context.dir, choices, context.train, context.settings)
}

type Jobs = typeof COLUMN_JOBS
export type ColumnJob = keyof Jobs

export interface ToHelper {
  id: number
  job: ColumnJob
  context: Parameters<Jobs[ColumnJob]>[0]
  items: unknown[]
}

export type FromHelper = { id: number; result: unknown[] } | { id: number; error: string }

export class ColumnHelper {
  private readonly worker: Worker
  private readonly pending = new Map<number, { resolve(result: unknown[]): void; reject(error: Error): void }>()
  private nextId = 0
  /** Set when the thread failed or ended: its owner starts another. */
  dead = false

  constructor() {
    const entry = workerEntry('columnHelperWorker')
    this.worker = new Worker(entry.file, entry.execArgv ? { execArgv: entry.execArgv } : {})
    this.worker.on('message', (message: FromHelper) => {
      const waiting = this.pending.get(message.id)
      this.pending.delete(message.id)
      if (this.pending.size === 0) this.worker.unref()
      if ('error' in message) waiting?.reject(new Error(message.error))
      else waiting?.resolve(message.result)
    })
    const gone = (error: Error) => {
      this.dead = true
      for (const waiting of this.pending.values()) waiting.reject(error)
      this.pending.clear()
    }
    this.worker.on('error', gone)
    this.worker.on('exit', (code) => gone(new Error(`the column helper stopped (exit code ${code})`)))
    // Idle, it must not keep its thread alive; a job in flight does (send refs it).
    this.worker.unref()
  }

  /**
   * job over items: the odd-numbered ones on the helper, the rest on this thread meanwhile; results in items' order.
   * A helper that fails (or died) leaves its share to this thread: slower, never different.
   */
  async share<J extends ColumnJob>(job: J, context: Parameters<Jobs[J]>[0], items: Parameters<Jobs[J]>[1]): Promise<ReturnType<Jobs[J]>> {
    const run = COLUMN_JOBS[job] as (context: unknown, items: unknown[]) => unknown[]
    const list = items as unknown[]
    if (list.length < 2 || this.dead) return run(context, list) as ReturnType<Jobs[J]>
    const away = list.filter((_, i) => i % 2 === 1)
    const here = list.filter((_, i) => i % 2 === 0)
    const remote = this.send(job, context, away)
    // A rejection while this thread computes its share must not count as unhandled: it is awaited below.
    remote.catch(() => undefined)
    const local = run(context, here)
    const helped = await remote.catch(() => run(context, away))
    return list.map((_, i) => (i % 2 === 0 ? local[i >> 1] : helped[i >> 1])) as ReturnType<Jobs[J]>
  }

  private send(job: ColumnJob, context: unknown, items: unknown[]): Promise<unknown[]> {
    const id = ++this.nextId
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject })
      this.worker.ref()
      this.worker.postMessage({ id, job, context, items } as ToHelper)
    })
  }

  close(): Promise<number> {
    return this.worker.terminate()
  }
}
