/**
 * A bounded queue of activations between two threads of the decoupled pipeline, over a MessagePort.
 *
 * The sender holds `capacity` credits and spends one per batch; the receiver hands a credit back when it takes a
 * batch off its queue to work on it. With no credit left the sender's `send` waits (backpressure): a fast block
 * cannot pile activations up in front of a slow one, so at most `capacity` batches wait in a link, plus the one the
 * receiver works on. Epoch markers travel in order with the batches and cost no credit. Batches move by transfer
 * (their buffers change threads, no copy).
 */
import type { MessagePort } from 'node:worker_threads'

export type LinkMessage =
  | { type: 'epoch'; epoch: number }
  /** Rows of activations (or images) with their targets (class indices, or the standardised target); `measure`: profile this step's memory. */
  | { type: 'batch'; x: Float32Array; y: Int32Array | Float32Array; shape: number[]; measure: boolean }
  | { type: 'epoch-end'; epoch: number }
  | { type: 'end' }

type Wire = LinkMessage | { type: 'credit' }

export class LinkSender {
  private credits: number
  private readonly waiting: Array<() => void> = []
  private closed = false

  constructor(
    private readonly port: MessagePort,
    readonly capacity: number
  ) {
    this.credits = capacity
    port.on('message', (message: Wire) => {
      if (message.type !== 'credit') return
      this.credits++
      this.waiting.shift()?.()
    })
  }

  /** Batches sent and not yet taken by the receiver. */
  get inFlight(): number {
    return this.capacity - this.credits
  }

  /** Posts the message; a batch first waits for a credit. After close() nothing is posted. */
  async send(message: LinkMessage, transfer: ArrayBuffer[] = []): Promise<void> {
    if (message.type === 'batch') {
      while (this.credits === 0 && !this.closed) await new Promise<void>((resolve) => this.waiting.push(resolve))
      if (this.closed) return
      this.credits--
    }
    if (!this.closed) this.port.postMessage(message, transfer)
  }

  /** Stops the link: sends waiting for a credit return without posting (the pipeline is stopping). */
  close(): void {
    this.closed = true
    this.waiting.splice(0).forEach((wake) => wake())
    this.port.close()
  }
}

export class LinkReceiver {
  private readonly queue: LinkMessage[] = []
  private waiter: ((message: LinkMessage) => void) | null = null
  /** The most batches that waited in this link at once (received, not yet taken). */
  maxQueued = 0

  constructor(private readonly port: MessagePort) {
    port.on('message', (message: Wire) => {
      if (message.type === 'credit') return
      if (this.waiter) {
        const wake = this.waiter
        this.waiter = null
        wake(this.take(message))
        return
      }
      this.queue.push(message)
      this.maxQueued = Math.max(this.maxQueued, this.queued)
    })
  }

  /** Batches waiting now. */
  get queued(): number {
    return this.queue.reduce((n, message) => n + (message.type === 'batch' ? 1 : 0), 0)
  }

  /** The next message, in order; taking a batch gives its credit back. */
  next(): Promise<LinkMessage> {
    const message = this.queue.shift()
    if (message) return Promise.resolve(this.take(message))
    return new Promise((resolve) => (this.waiter = resolve))
  }

  private take(message: LinkMessage): LinkMessage {
    if (message.type === 'batch') this.port.postMessage({ type: 'credit' })
    return message
  }

  close(): void {
    this.port.close()
  }
}
