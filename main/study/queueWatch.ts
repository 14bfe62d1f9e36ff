/**
 * A lab's window on its queue (LAYERLAB_QUEUE, --queue): the workers alive now and what they train (their
 * heartbeats in Redis), and the live progress the workers publish, turned back into this lab's own events — so a
 * LayerLab that did not submit a study, opened on the same store, watches its members train.
 */
import type { Redis } from 'ioredis'
import { events as eventSchemas, type EventName, type RequestResult } from '../shared/contract'
import type { Emit } from '../core/events'
import { connect, newRedis, parseQueueUrl, readWorkers, withoutCredentials, type QueueUrl } from '../core/queue'
import { errorText } from '../shared/format'

/** What a worker publishes on its queue's progress channel: a contract event of its lab, as is. */
export interface ProgressMessage {
  event: EventName
  payload: unknown
  /** The worker that sent it (its own events are not echoed back to it). */
  workerId: string
}

/** The events a watching lab passes on: the members' training progress and ends, and their studies' progress. */
const FORWARDED: EventName[] = ['train.progress', 'train.epoch', 'train.finished', 'train.backend', 'study.progress']

export class QueueWatch {
  private readonly client: Redis
  private readonly subscriber: Redis
  /** True while an event heard from the queue is being emitted here (the emit is synchronous). */
  private forwarding = false

  constructor(
    readonly queue: QueueUrl,
    emit: Emit,
    /** This lab's name on the channel: what it published itself is not emitted twice. */
    private readonly ownId: string
  ) {
    const ownWorkerId = ownId
    this.client = connect(queue)
    this.subscriber = connect(queue)
    this.client.on('error', () => undefined)
    this.subscriber.on('error', () => undefined)
    void this.subscriber.subscribe(queue.names.progress).catch(() => undefined)
    this.subscriber.on('message', (_channel: string, text: string) => {
      let message: ProgressMessage
      try {
        message = JSON.parse(text) as ProgressMessage
      } catch {
        return
      }
      if (message.workerId === ownWorkerId || !FORWARDED.includes(message.event)) return
      // Only well-formed contract events reach the hosts (whatever else is on the channel is dropped).
      const parsed = eventSchemas[message.event].safeParse(message.payload)
      if (!parsed.success) return
      // Passed on to this lab's hosts only: an event heard from the queue is never published again (two labs on one
      // queue would otherwise echo each other's events back and forth for ever).
      this.forwarding = true
      try {
        emit(message.event, parsed.data as never)
      } finally {
        this.forwarding = false
      }
    })
  }

  async workers(): Promise<RequestResult<'queue.workers'>> {
    try {
      return { queue: this.queue.shown, workers: await withTimeout(readWorkers(this.client, this.queue.names)), error: null }
    } catch (error) {
      return { queue: this.queue.shown, workers: [], error: `queue ${this.queue.shown} is unreachable: ${withoutCredentials(errorText(error))}` }
    }
  }

  /** Tells every watching lab (a submitter: its studies' progress; a worker: its runs'). */
  publish(event: EventName, payload: unknown): void {
    if (this.forwarding || !FORWARDED.includes(event) || this.client.status !== 'ready') return
    const message: ProgressMessage = { event, payload, workerId: this.ownId }
    void this.client.publish(this.queue.names.progress, JSON.stringify(message)).catch(() => undefined)
  }

  async close(): Promise<void> {
    this.client.disconnect()
    this.subscriber.disconnect()
  }
}

/** The workers of a queue this lab does not watch (named in the request). */
export async function workersOf(text: string): Promise<RequestResult<'queue.workers'>> {
  const queue = parseQueueUrl(text)
  const client = newRedis(queue.url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, connectTimeout: 3_000 })
  client.on('error', () => undefined)
  try {
    await client.connect()
    return { queue: queue.shown, workers: await readWorkers(client, queue.names), error: null }
  } catch (error) {
    return { queue: queue.shown, workers: [], error: `queue ${queue.shown} is unreachable: ${withoutCredentials(errorText(error))}` }
  } finally {
    client.disconnect()
  }
}

function withTimeout<T>(work: Promise<T>, ms = 3_000): Promise<T> {
  return Promise.race([work, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`no answer in ${ms / 1000} s`)), ms).unref())])
}
