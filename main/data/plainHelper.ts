/**
 * The plain CSV reader's second thread (plainCsv.ts): it parses every other segment of a file while the import
 * thread parses the one before and hands rows to the column builders, so the parse runs on both cores (DuckDB's
 * threads are idle meanwhile). One per import worker, started with its first large file and kept; an idle helper
 * does not keep its thread alive.
 */
import { Worker } from 'node:worker_threads'
import { NotPlain, type PlainLayout, RowBlock } from './plainParse'
import { workerEntry } from './workerEntry'

export interface ToPlainHelper {
  id: number
  layout: PlainLayout
  /** The segment's bytes (moved, not copied); whole lines in [0, end). */
  bytes: ArrayBuffer
  end: number
}

export type FromPlainHelper = { id: number; block: RowBlock } | { id: number; notPlain: true } | { id: number; error: string }

export class PlainHelper {
  private readonly worker: Worker
  private readonly pending = new Map<number, { resolve(block: RowBlock): void; reject(error: Error): void }>()
  private nextId = 0
  /** Set when the thread failed or ended: the next import starts another. */
  dead = false
  /** Segments parsed so far (the tests' proof that the helper took part). */
  parsed = 0

  constructor() {
    const entry = workerEntry('plainHelperWorker')
    this.worker = new Worker(entry.file, entry.execArgv ? { execArgv: entry.execArgv } : {})
    this.worker.on('message', (message: FromPlainHelper) => {
      const waiting = this.pending.get(message.id)
      this.pending.delete(message.id)
      if (this.pending.size === 0) this.worker.unref()
      if ('block' in message) {
        this.parsed++
        waiting?.resolve(RowBlock.from(message.block))
      } else waiting?.reject('notPlain' in message ? new NotPlain() : new Error(`the plain CSV helper failed: ${message.error}`))
    })
    const gone = (error: Error) => {
      this.dead = true
      for (const waiting of this.pending.values()) waiting.reject(error)
      this.pending.clear()
    }
    this.worker.on('error', gone)
    this.worker.on('exit', (code) => gone(new Error(`the plain CSV helper stopped (exit code ${code})`)))
    this.worker.unref()
  }

  /** The rows of the segment's whole lines buffer[0, end); the buffer is moved to the helper (unusable here after). */
  parse(layout: PlainLayout, buffer: Buffer, end: number): Promise<RowBlock> {
    const id = ++this.nextId
    const promise = new Promise<RowBlock>((resolve, reject) => {
      this.pending.set(id, { resolve, reject })
    })
    // Awaited in order by the reader; one that ends the reading early must not count as unhandled.
    promise.catch(() => undefined)
    this.worker.ref()
    const bytes = buffer.buffer as ArrayBuffer
    // Segments own their memory from byte 0 (plainCsv.ts allocates them with allocUnsafeSlow).
    this.worker.postMessage({ id, layout, bytes, end } as ToPlainHelper, [bytes])
    return promise
  }
}

let helper: PlainHelper | null = null

/** This thread's helper (started on first use); null where it cannot start: the import thread parses alone. */
export function plainHelper(): PlainHelper | null {
  if (helper && !helper.dead) return helper
  try {
    helper = new PlainHelper()
  } catch {
    helper = null
  }
  return helper
}
