/**
 * The queue pool: a study's members go to BullMQ over Redis instead of this process's training workers, and any
 * number of `layerlab worker` processes (here or on other machines) train them. It stands in for LocalPool behind
 * MemberPool, so the study service (statistics, verdict, resume) does not know the difference.
 *
 * A member's job id is its key, so a member is in the queue once however often it is submitted (two submitters,
 * a resume). Events come from BullMQ's QueueEvents (progress: a worker started the member's run; completed;
 * failed); because events on a Redis stream can be missed (Redis restarted, this process cut off), a reconcile
 * pass also asks for every outstanding member's job: a finished one is reported from its return value, a job
 * Redis lost is added again (the worker answers a member already completed in the store without training it).
 * Every end is reported once per member.
 */
import { Queue, QueueEvents, type Job } from 'bullmq'
import type { Redis } from 'ioredis'
import { memberJob, type RunStatus } from '../shared/contract'
import { HEARTBEAT_MS, MEMBER_JOB, checkReachable, connect, memberJobId, type QueueUrl } from '../core/queue'
import { errorText } from '../shared/format'
import type { MemberJob, MemberPool, PoolEvent } from './pool'

/** What a worker's job returns (its BullMQ return value). */
export interface MemberJobResult {
  runId: string
  status: RunStatus
  error: string | null
  worker: string
}

/** What a worker reports as the job's progress: the run of this try. */
export interface MemberJobProgress {
  runId: string
  worker: string
  attempt: number
}

const RECONCILE_MS = 2_000

interface Outstanding {
  job: MemberJob
  runId: string | null
  /** Added to the queue (or found there) at least once. */
  added: boolean
}

export class QueuePool implements MemberPool {
  private readonly connection: Redis
  private readonly eventsConnection: Redis
  private readonly queue: Queue
  private readonly events: QueueEvents
  private readonly outstanding = new Map<string, Outstanding>()
  private readonly listeners = new Set<(event: PoolEvent) => void>()
  private readonly timer: NodeJS.Timeout
  private reconciling = false
  private closed = false
  /** Writes to Redis in submission order (submit is synchronous; the queue's add is not). */
  private chain: Promise<unknown> = Promise.resolve()

  constructor(
    readonly url: QueueUrl,
    /** Capacity is the workers' (each says its own); this is what the study records. */
    readonly workers: number
  ) {
    const onOutage = (line: string) => console.error(line)
    this.connection = connect(url, { onOutage })
    this.queue = new Queue(url.names.queue, { connection: this.connection })
    this.eventsConnection = connect(url)
    this.events = new QueueEvents(url.names.queue, { connection: this.eventsConnection })
    this.queue.on('error', () => undefined)
    this.events.on('error', () => undefined)
    this.events.on('progress', ({ jobId, data }) => this.onProgress(jobId, data))
    this.events.on('completed', ({ jobId, returnvalue }) => this.onCompleted(jobId, returnvalue as unknown))
    this.events.on('failed', ({ jobId, failedReason }) => this.onFailed(jobId, failedReason))
    // After an outage (Redis restarted, network back) ask for everything at once rather than at the next tick.
    this.connection.on('ready', () => void this.reconcile())
    this.timer = setInterval(() => void this.reconcile(), RECONCILE_MS)
    this.timer.unref()
  }

  /** Throws one line when the queue cannot be reached now (before a study is stored). */
  static async open(url: QueueUrl, workers: number): Promise<QueuePool> {
    await checkReachable(url)
    const pool = new QueuePool(url, workers)
    await pool.events.waitUntilReady()
    return pool
  }

  subscribe(listener: (event: PoolEvent) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  private emit(event: PoolEvent): void {
    for (const listener of this.listeners) listener(event)
  }

  submit(job: MemberJob): void {
    const id = memberJobId(job.key)
    // The payload is the contract's: a bad one is a bug here, not something to send to a worker.
    memberJob.parse(job)
    this.outstanding.set(id, { job, runId: null, added: false })
    this.chain = this.chain.then(() => this.add(id).catch((error: unknown) => console.error(`queue: submitting ${id}: ${errorText(error)}`)))
  }

  /** Adds the member's job, or takes over the one already there (a resubmit): a finished one is reported or retried. */
  private async add(id: string, delay = 0): Promise<void> {
    const entry = this.outstanding.get(id)
    if (!entry) return
    const existing = await this.queue.getJob(id)
    if (existing) {
      const state = await existing.getState()
      if (state === 'failed' || (state === 'completed' && (existing.returnvalue as MemberJobResult | undefined)?.status !== 'completed')) {
        // The study asks for it again (a resume): the earlier end did not complete the member.
        await existing.remove()
      } else {
        entry.added = true
        return this.observe(id, existing)
      }
    }
    await this.queue.add(MEMBER_JOB, entry.job, {
      jobId: id,
      // A training that fails is a result, not a fault to retry; lost workers are retried by the stalled check.
      attempts: 1,
      delay,
      removeOnComplete: { age: 7 * 24 * 3600 },
      removeOnFail: { age: 7 * 24 * 3600 }
    })
    entry.added = true
  }

  /** Reports what a job found in the queue says (started, completed, failed). */
  private async observe(id: string, job: Job): Promise<void> {
    const progress = job.progress as Partial<MemberJobProgress> | number | undefined
    if (progress && typeof progress === 'object') this.onProgress(id, progress)
    const state = await job.getState()
    if (state === 'completed') this.onCompleted(id, job.returnvalue as unknown)
    else if (state === 'failed') this.onFailed(id, job.failedReason)
  }

  private onProgress(id: string, data: unknown): void {
    const entry = this.outstanding.get(id)
    const progress = data as Partial<MemberJobProgress> | null
    if (!entry || !progress || typeof progress.runId !== 'string' || progress.runId === entry.runId) return
    entry.runId = progress.runId
    this.emit({ type: 'started', key: entry.job.key, runId: progress.runId })
  }

  private onCompleted(id: string, value: unknown): void {
    const entry = this.outstanding.get(id)
    const result = value as Partial<MemberJobResult> | null
    if (!entry || !result || typeof result.runId !== 'string' || typeof result.status !== 'string') return
    this.outstanding.delete(id)
    if (entry.runId !== result.runId) this.emit({ type: 'started', key: entry.job.key, runId: result.runId })
    this.emit({ type: 'ended', key: entry.job.key, runId: result.runId, status: result.status, error: result.error ?? null })
  }

  private onFailed(id: string, reason: string | undefined): void {
    const entry = this.outstanding.get(id)
    if (!entry) return
    this.outstanding.delete(id)
    const error = `queue: ${reason ?? 'the job failed'}`
    if (entry.runId) this.emit({ type: 'ended', key: entry.job.key, runId: entry.runId, status: 'interrupted', error })
    else this.emit({ type: 'failed', key: entry.job.key, error })
  }

  /** Asks for every outstanding member's job; one Redis lost is added again. */
  private async reconcile(): Promise<void> {
    if (this.reconciling || this.closed || this.connection.status !== 'ready') return
    this.reconciling = true
    try {
      for (const [id, entry] of [...this.outstanding]) {
        if (!entry.added) continue
        const job = await this.queue.getJob(id)
        if (!job) {
          // Redis lost it (restarted empty): add it again, after a heartbeat, so that a worker still training it
          // is listed again by then and the member is not taken for lost.
          entry.added = false
          await this.add(id, HEARTBEAT_MS)
        } else await this.observe(id, job)
      }
    } catch {
      // Redis went away during the pass: the next one (or the reconnect) tries again.
    } finally {
      this.reconciling = false
    }
  }

  async cancel(studyId: string): Promise<void> {
    let told = false
    // Waiting members are taken off the queue; training ones are told to stop and end cancelled. A member whose
    // worker is lost comes back to waiting (stalled check) and is taken off then: the loop ends when none is left.
    while ([...this.outstanding.values()].some((entry) => entry.job.key.studyId === studyId)) {
      for (const [id, entry] of [...this.outstanding].filter(([, e]) => e.job.key.studyId === studyId)) {
        const job = await this.queue.getJob(id).catch(() => undefined)
        const state = job ? await job.getState().catch(() => 'unknown') : 'missing'
        if (state === 'missing' || state === 'waiting' || state === 'delayed' || state === 'prioritized') {
          const removed = job
            ? await job.remove().then(
                () => true,
                () => false
              )
            : true
          if (removed && this.outstanding.delete(id)) this.emit({ type: 'dropped', key: entry.job.key })
        } else if (job) await this.observe(id, job)
      }
      if (![...this.outstanding.values()].some((entry) => entry.job.key.studyId === studyId)) break
      if (!told) {
        told = true
        await this.connection.publish(this.url.names.cancel, JSON.stringify({ studyId })).catch(() => undefined)
      }
      await new Promise((resolve) => setTimeout(resolve, 250))
    }
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    clearInterval(this.timer)
    await this.chain.catch(() => undefined)
    await Promise.allSettled([this.events.close(), this.queue.close()])
    this.connection.disconnect()
    this.eventsConnection.disconnect()
  }
}
