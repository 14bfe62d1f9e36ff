/**
 * The import worker's second thread, for what would otherwise wait for the import thread while DuckDB's threads
 * are idle: the sha256 of a large file (and the shape of its lines, importResult.ts hashFile), every other
 * segment of a plain CSV (plainCsv.ts), parsed while the import thread parses the one before, and every other
 * histogram pass over the column files after the read (scan.ts finishColumns) and group of columns of the recipe's
 * fit (prepare.ts fitTable). One per import
 * worker, started with it (importWorker.ts) and kept; an idle helper does not keep its thread alive.
 */
import { Worker } from 'node:worker_threads'
import { type BlockArrays, NotPlain, type PlainLayout, RowBlock } from './plainParse'
import type { FileShape, HashJob, HashOptions, LongLine } from './importResult'
import type { HistogramPass, MaskedFit } from './columnPasses'
import { workerEntry } from './workerEntry'

export type ToImportHelper =
  /** A segment's bytes (moved, not copied): whole lines in [0, end). */
  | { type: 'parse'; id: number; layout: PlainLayout; bytes: ArrayBuffer; end: number; spare: BlockArrays | null }
  | { type: 'hash'; id: number; file: string; options: HashOptions }
  | { type: 'stopHash'; id: number }
  | { type: 'histogram'; id: number; pass: HistogramPass }
  /** `weights` over a SharedArrayBuffer: shared, not copied. */
  | { type: 'masked'; id: number; files: string[]; weights: Float64Array; n: number }

export interface HashDone {
  hash: string
  longestLine: LongLine | null
  shape: FileShape
}

export type FromImportHelper =
  | { id: number; block: RowBlock }
  | { id: number; hashed: HashDone }
  | { id: number; histogram: number[] }
  | { id: number; masked: MaskedFit[] }
  | { id: number; notPlain: true }
  | { id: number; error: string }

type HelperResult = RowBlock | HashDone | number[] | MaskedFit[]

export class ImportHelper {
  private readonly worker: Worker
  private readonly pending = new Map<number, { resolve(result: HelperResult): void; reject(error: Error): void }>()
  private nextId = 0
  /** Set when the thread failed or ended: the next import starts another. */
  dead = false
  /** Segments parsed, histograms counted and column groups fitted so far (the tests' proof that the helper took part). */
  parsed = 0
  histograms = 0
  maskedGroups = 0

  constructor() {
    const entry = workerEntry('importHelperWorker')
    this.worker = new Worker(entry.file, entry.execArgv ? { execArgv: entry.execArgv } : {})
    this.worker.on('message', (message: FromImportHelper) => {
      const waiting = this.pending.get(message.id)
      this.pending.delete(message.id)
      if (this.pending.size === 0) this.worker.unref()
      if ('block' in message) {
        this.parsed++
        waiting?.resolve(RowBlock.from(message.block))
      } else if ('hashed' in message) waiting?.resolve(message.hashed)
      else if ('masked' in message) {
        this.maskedGroups++
        waiting?.resolve(message.masked)
      } else if ('histogram' in message) {
        this.histograms++
        waiting?.resolve(message.histogram)
      } else waiting?.reject('notPlain' in message ? new NotPlain() : new Error(message.error))
    })
    const gone = (error: Error) => {
      this.dead = true
      for (const waiting of this.pending.values()) waiting.reject(error)
      this.pending.clear()
    }
    this.worker.on('error', gone)
    this.worker.on('exit', (code) => gone(new Error(`the import helper thread stopped (exit code ${code})`)))
    this.worker.unref()
  }

  /**
   * The rows of a segment's whole lines buffer[0, end); the buffer moves to the helper (unusable here after), and so
   * do `spare`'s arrays (a block handed over before), which the helper fills again when they have room.
   */
  parse(layout: PlainLayout, buffer: Buffer, end: number, spare: RowBlock | null): Promise<RowBlock> {
    const bytes = buffer.buffer as ArrayBuffer
    const arrays = spare?.arrays() ?? null
    // Segments own their memory from byte 0 (plainCsv.ts allocates them with allocUnsafeSlow).
    return this.send<RowBlock>((id) => ({ type: 'parse', id, layout, bytes, end, spare: arrays }), [bytes, ...(spare?.transferList(false) ?? [])])
  }

  /** hashFile on the helper thread: the same reads and results, off the import thread. */
  hash(file: string, options: HashOptions): HashJob {
    let id = 0
    const done = this.send<HashDone>((next) => ({ type: 'hash', id: (id = next), file, options }))
    const result = done.then((hashed) => hashed.hash)
    result.catch(() => undefined)
    return {
      result,
      longestLine: done.then(
        (hashed) => hashed.longestLine,
        () => null
      ),
      shape: done.then(
        (hashed) => hashed.shape,
        () => ({ longestRecord: null })
      ),
      stop: async () => {
        if (!this.dead) this.worker.postMessage({ type: 'stopHash', id } as ToImportHelper)
        await done.catch(() => undefined)
      }
    }
  }

  /** fileHistogram's counts of a column file, counted on the helper thread. */
  histogram(pass: HistogramPass): Promise<number[]> {
    return this.send<number[]>((id) => ({ type: 'histogram', id, pass }))
  }

  /** columnPasses.ts standardMasked on the helper thread: the same passes, so the same bits. */
  masked(files: string[], weights: Float64Array, n: number): Promise<MaskedFit[]> {
    return this.send<MaskedFit[]>((id) => ({ type: 'masked', id, files, weights, n }))
  }

  private send<T extends HelperResult>(message: (id: number) => ToImportHelper, transfer: ArrayBuffer[] = []): Promise<T> {
    const id = ++this.nextId
    const promise = new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (result: HelperResult) => void, reject })
    })
    // Awaited by the caller in its own time; one that ends early must not count as unhandled meanwhile.
    promise.catch(() => undefined)
    if (this.dead) this.pending.get(id)?.reject(new Error('the import helper thread stopped'))
    else {
      this.worker.ref()
      this.worker.postMessage(message(id), transfer)
    }
    return promise
  }
}

let helper: ImportHelper | null = null

/** This thread's helper (started on first use); null where it cannot start: the import thread does it all. */
export function importHelper(): ImportHelper | null {
  if (helper && !helper.dead) return helper
  try {
    helper = new ImportHelper()
  } catch {
    helper = null
  }
  return helper
}

/**
 * `here` for every item, every other one on the helper thread (`there`) while this thread does the rest (the
 * passes after a read: a pass on each thread at a time); an item the helper fails, or every item where there is
 * no helper, is done here. Results in the items' order.
 */
export async function shareWithHelper<T, R>(
  items: T[],
  there: ((helper: ImportHelper, item: T) => Promise<R>) | null,
  here: (item: T) => R
): Promise<R[]> {
  const helper = there && items.length > 1 ? importHelper() : null
  const waiting = items.map((item, i) => (helper && i % 2 === 1 ? there!(helper, item).catch(() => null) : null))
  const results = items.map((item, i) => (waiting[i] ? null : here(item)))
  for (let i = 0; i < items.length; i++) if (waiting[i]) results[i] = (await waiting[i]) ?? here(items[i]!)
  return results as R[]
}

/** Files from this size on are worth the helper (a smaller one costs less than the messages). */
export const HELPED_SIZE = 8 << 20
/** Tables from this many rows on share their histogram passes with the helper (a pass of fewer costs less than its message). */
export const HELPED_ROWS = 65_536
