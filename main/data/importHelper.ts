/**
 * The import worker's second thread, for what would otherwise wait for the import thread while DuckDB's threads
 * are idle: the sha256 of a large file (and the shape of its lines, importResult.ts hashFile), and every other
 * segment of a plain CSV (plainCsv.ts), parsed while the import thread parses the one before. One per import
 * worker, started with it (importWorker.ts) and kept; an idle helper does not keep its thread alive.
 */
import { Worker } from 'node:worker_threads'
import { type BlockArrays, NotPlain, type PlainLayout, RowBlock } from './plainParse'
import type { FileShape, HashJob, HashOptions, LongLine } from './importResult'
import { workerEntry } from './workerEntry'

export type ToImportHelper =
  /** A segment's bytes (moved, not copied): whole lines in [0, end). */
  | { type: 'parse'; id: number; layout: PlainLayout; bytes: ArrayBuffer; end: number; spare: BlockArrays | null }
  | { type: 'hash'; id: number; file: string; options: HashOptions }
  | { type: 'stopHash'; id: number }

export interface HashDone {
  hash: string
  longestLine: LongLine | null
  shape: FileShape
}

export type FromImportHelper =
  { id: number; block: RowBlock } | { id: number; hashed: HashDone } | { id: number; notPlain: true } | { id: number; error: string }

export class ImportHelper {
  private readonly worker: Worker
  private readonly pending = new Map<number, { resolve(result: RowBlock | HashDone): void; reject(error: Error): void }>()
  private nextId = 0
  /** Set when the thread failed or ended: the next import starts another. */
  dead = false
  /** Segments parsed so far (the tests' proof that the helper took part). */
  parsed = 0

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
      else waiting?.reject('notPlain' in message ? new NotPlain() : new Error(message.error))
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

  private send<T extends RowBlock | HashDone>(message: (id: number) => ToImportHelper, transfer: ArrayBuffer[] = []): Promise<T> {
    const id = ++this.nextId
    const promise = new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (result: RowBlock | HashDone) => void, reject })
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

/** Files from this size on are worth the helper (a smaller one costs less than the messages). */
export const HELPED_SIZE = 8 << 20
