/**
 * `layerlab worker`: a host that takes study members from the BullMQ queue and trains them in its own lab, through
 * the router like every host (the same training service as local runs; results in the store the lab opens).
 *
 * The queue is only transport: a job is checked against the contract's `memberJob` schema and must be the one job
 * kind workers know; anything else fails without running (a job carries data, never code). The worker's heartbeat in
 * Redis says who it is (host, pid, backend, concurrency) and what it trains. Redis going away: the connection waits
 * and reconnects with backoff, and BullMQ goes on where it stopped. Ctrl-C once: the members in hand are finished,
 * then the worker stops; twice: their runs stop, are kept as interrupted and the members go back to the queue.
 */
import os from 'node:os'
import { Option, type Command } from 'commander'
import type { Job } from 'bullmq'
import { bullmq } from '../core/packages'
import { memberJob, type MemberJobPayload, type QueueWorker } from '../shared/contract'
import { errorText } from '../shared/format'
import {
  HEARTBEAT_MS,
  LOCK_MS,
  MAX_RETRIES,
  MEMBER_JOB,
  STALLED_CHECK_MS,
  WORKER_TTL_S,
  connect,
  parseQueueUrl,
  readWorkers,
  reconnectDelay,
  withoutCredentials,
  workerName
} from '../core/queue'
import type { Lab, LabOptions } from '../lab'
import { positiveInt } from './cliFlags'
import type { CliIo } from './cliText'
import { call } from './cliRequests'

export interface WorkerCommandContext {
  io: CliIo
  /** Opens the worker's lab (the global --home, the queue given here). */
  open: (options: Pick<LabOptions, 'queue'>) => Promise<Lab>
  /** Resolves when the command is to end (the CLI keeps the process up until then). */
  keepAlive: (until: Promise<void>) => void
}

interface InHand {
  job: Job
  key: MemberJobPayload['key']
  runId: string | null
  name: string
  attempt: number
}

/** A store that cannot be reached yet (a PostgreSQL server restarting): the worker waits for it. */
const unreachable = (error: unknown): boolean =>
  /ECONNREFUSED|ENOTFOUND|ETIMEDOUT|EHOSTUNREACH|ECONNRESET|57P03|the database system is starting up/i.test(errorText(error))

export function addWorkerCommand(program: Command, { io, open, keepAlive }: WorkerCommandContext): void {
  program
    .command('worker')
    .description('train study members from a queue (layerlab study --queue …) until Ctrl-C')
    .requiredOption('--queue <url>', 'the Redis of the queue: redis://HOST:PORT, or rediss://HOST:PORT for TLS')
    .option('--concurrency <n>', 'members trained at once, each in its own single-threaded training worker', positiveInt('--concurrency'), 1)
    .addOption(
      new Option('--backend <name>', 'backend of every run this worker trains (default: the member’s own setting)').choices(['wasm', 'webgpu'])
    )
    .action(async (o: { queue: string; concurrency: number; backend?: 'wasm' | 'webgpu' }) => {
      const queue = parseQueueUrl(o.queue)
      // BullMQ (~80 ms to load) only in this command, not in every other command's start.
      const { DelayedError, UnrecoverableError, WaitingError, Worker } = bullmq()
      const line = (text: string) => io.err(`${withoutCredentials(text)}\n`)
      // The store may not be up yet (a shared PostgreSQL restarting): wait for it like for Redis.
      let lab: Lab | null = null
      for (let attempt = 0; !lab; attempt++) {
        try {
          lab = await open({ queue: queue.url })
        } catch (error) {
          if (!unreachable(error)) throw error
          const delay = reconnectDelay(attempt)
          if (attempt === 0 || attempt % 10 === 0) line(`worker: the store is unreachable (${errorText(error)}); retrying`)
          await new Promise((resolve) => setTimeout(resolve, delay))
        }
      }
      const theLab = lab
      const backend = o.backend ?? 'auto'
      const identity = { host: os.hostname(), pid: process.pid, backend }
      const name = workerName(identity)
      const workerId = `${identity.host}-${identity.pid}-${Date.now().toString(36)}`
      const startedAt = new Date().toISOString()
      const inHand = new Map<string, InHand>()
      let handingBack = false

      const connection = connect(queue, { onOutage: line })
      const control = connect(queue)
      const subscriber = connect(queue)
      for (const client of [control, subscriber]) client.on('error', () => undefined)
      // Back after an outage (Redis restarted empty): say at once who this worker is and what it holds.
      control.on('ready', () => void heartbeat())

      const heartbeat = async () => {
        const record: QueueWorker = {
          workerId,
          name,
          ...identity,
          concurrency: o.concurrency,
          startedAt,
          seenAt: new Date().toISOString(),
          running: [...inHand.values()].map((h) => ({ ...h.key, runId: h.runId, name: h.name, attempt: h.attempt }))
        }
        await control.set(`${queue.names.workerPrefix}${workerId}`, JSON.stringify(record), 'EX', WORKER_TTL_S).catch(() => undefined)
      }
      const beat = setInterval(() => void heartbeat(), HEARTBEAT_MS)

      // A submitter cancels its study: the members of it in hand stop between batches (and end cancelled).
      void subscriber.subscribe(queue.names.cancel).catch(() => undefined)
      subscriber.on('message', (_channel: string, text: string) => {
        let studyId: unknown
        try {
          studyId = (JSON.parse(text) as { studyId?: unknown }).studyId
        } catch {
          return
        }
        for (const h of inHand.values())
          if (h.key.studyId === studyId && h.runId) void call(theLab, 'train.cancel', { runId: h.runId }).catch(() => undefined)
      })

      const processor = async (job: Job, token?: string) => {
        if (job.name !== MEMBER_JOB) throw new UnrecoverableError(`unknown job kind "${job.name}": this worker trains only ${MEMBER_JOB} jobs`)
        const parsed = memberJob.safeParse(job.data)
        if (!parsed.success) {
          const issue = parsed.error.issues[0]!
          throw new UnrecoverableError(`job ${job.id} is not a study member: ${issue.path.join('.') || '(root)'}: ${issue.message}`)
        }
        const payload = parsed.data
        const config = o.backend ? { ...payload.config, backend: o.backend } : payload.config
        const id = String(job.id)
        const hand: InHand = { job, key: payload.key, runId: null, name: payload.name, attempt: 0 }
        inHand.set(id, hand)
        try {
          const liveRuns = (await readWorkers(control, queue.names).catch(() => [])).flatMap((w) =>
            w.running.flatMap((r) => (r.runId ? [r.runId] : []))
          )
          const started = await call(theLab, 'queue.trainMember', { job: { ...payload, config }, worker: name, liveRuns })
          if (started.busy) {
            // Its try is alive on another worker (Redis lost the job and the submitter added it again): look later.
            await job.moveToDelayed(Date.now() + HEARTBEAT_MS, token)
            throw new DelayedError()
          }
          hand.runId = started.runId
          hand.attempt = started.attempt
          await job.updateProgress({ runId: started.runId, worker: name, attempt: started.attempt })
          void heartbeat()
          const memberText = `${payload.key.studyId}/${payload.key.configIndex}/${payload.key.memberIndex}`
          if (started.ended) {
            line(`member ${memberText}: already ${started.ended.status} in the store (${started.runId})`)
            return { runId: started.runId, ...started.ended, worker: name }
          }
          line(`member ${memberText} (${payload.name}): run ${started.runId}, try ${started.attempt}`)
          const ended = await call(theLab, 'queue.memberWait', { key: payload.key, runId: started.runId })
          if (handingBack && ended.status !== 'completed') {
            await call(theLab, 'queue.handBack', { key: payload.key, runId: started.runId, reason: `handed back by ${name} (stopped with Ctrl-C)` })
            await job.moveToWait(token)
            line(`member ${memberText}: handed back to the queue`)
            throw new WaitingError()
          }
          line(`member ${memberText}: ${ended.status}${ended.error ? `: ${ended.error}` : ''}`)
          return { runId: started.runId, status: ended.status, error: ended.error, worker: name }
        } finally {
          inHand.delete(id)
          void heartbeat()
        }
      }

      const worker = new Worker(queue.names.queue, processor, {
        connection,
        concurrency: o.concurrency,
        lockDuration: LOCK_MS,
        stalledInterval: STALLED_CHECK_MS,
        maxStalledCount: MAX_RETRIES,
        name
      })
      worker.on('error', () => undefined)
      await heartbeat()
      line(`worker ${name}: taking members from ${queue.shown} (${o.concurrency} at once); Ctrl-C to stop`)

      let stopping = false
      const stopped = new Promise<void>((resolve) => {
        const stop = async () => {
          await worker.close()
          clearInterval(beat)
          await control.del(`${queue.names.workerPrefix}${workerId}`).catch(() => undefined)
          for (const client of [connection, control, subscriber]) client.disconnect()
          resolve()
        }
        const onSignal = () => {
          if (!stopping) {
            stopping = true
            line(
              inHand.size
                ? `worker: finishing ${inHand.size} member${inHand.size === 1 ? '' : 's'} in hand, then stopping (Ctrl-C again to hand them back)`
                : 'worker: stopping'
            )
            void stop().catch((error: unknown) => {
              line(`worker: stopping: ${errorText(error)}`)
              resolve()
            })
            return
          }
          if (handingBack) return
          handingBack = true
          line(`worker: handing ${inHand.size} member${inHand.size === 1 ? '' : 's'} back to the queue`)
          for (const h of inHand.values()) if (h.runId) void call(theLab, 'train.cancel', { runId: h.runId }).catch(() => undefined)
        }
        process.on('SIGINT', onSignal)
        process.on('SIGTERM', onSignal)
      })
      keepAlive(stopped)
    })
}
