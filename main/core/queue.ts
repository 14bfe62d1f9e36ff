/**
 * The study queue's plumbing, shared by the submitting side (study/queuePool.ts) and the worker host
 * (hosts/cliWorker.ts): the Redis URL (parsed, checked, shown without its credentials), connections that wait and
 * reconnect with backoff, and the names of everything LayerLab keeps in Redis. The queue is BullMQ's; what a job
 * carries is the contract's `memberJob` (data only: a worker trains only the job kinds it knows).
 */
import type { Redis, RedisOptions } from 'ioredis'
import { ioredis } from './packages'
import { queueWorker, type QueueWorker } from '../shared/contract'
import { LabError } from '../shared/errors'
import { errorText } from '../shared/format'

/** A Redis client; ioredis (~22 ms to load) is loaded by the first, not with every CLI command and the app's start. */
export function newRedis(url: string, options: RedisOptions): Redis {
  const { Redis: Client } = ioredis()
  return new Client(url, options)
}

/** The job name of a study member: the only kind workers take. */
export const MEMBER_JOB = 'study-member'

/**
 * Everything LayerLab keeps in one Redis for one queue. A URL's `?queue=NAME` names a queue of its own, so two
 * teams (two stores) can share one Redis without taking each other's jobs or hearing each other's progress; no
 * name is the default queue (the names LayerLab always used). Keys live in the URL's database (`/N`), but Redis's
 * pub/sub ignores the database, so the channels carry the database number as well as the name.
 */
export interface QueueNames {
  /** The BullMQ queue members are submitted to. */
  queue: string
  /** Pub/sub: progress of the workers' runs and member starts/ends (any LayerLab watching a study hears them). */
  progress: string
  /** Pub/sub: a study's members are to stop (a cancel from its submitter). */
  cancel: string
  /** The worker registry: one key per worker, refreshed by its heartbeat, gone when the worker is. */
  workerPrefix: string
}

export function queueNames(name = '', db = 0): QueueNames {
  const channel = [db ? `db${db}` : '', name]
    .filter(Boolean)
    .map((part) => `:${part}`)
    .join('')
  return {
    queue: name ? `layerlab-members-${name}` : 'layerlab-members',
    progress: `layerlab:progress${channel}`,
    cancel: `layerlab:cancel${channel}`,
    workerPrefix: name ? `layerlab:worker:${name}:` : 'layerlab:worker:'
  }
}

/** A queue's own name: what `?queue=` may hold (it becomes part of Redis key and channel names). */
const QUEUE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,47}$/
export const HEARTBEAT_MS = 5_000
export const WORKER_TTL_S = 15
/**
 * A lost worker (killed, cut off) is noticed when its job's lock is not renewed: the lock lasts LOCK_MS and the
 * stalled check runs every STALLED_CHECK_MS. A member is handed to another worker at most MAX_RETRIES times, then
 * fails with the reason.
 */
export const LOCK_MS = 10_000
export const STALLED_CHECK_MS = 5_000
export const MAX_RETRIES = 2

export interface QueueUrl {
  /** The URL as given (with its credentials): only ever passed to the client, never printed or stored. */
  url: string
  /** redis://host:port/db with no user or password: what logs, errors, the UI and the store see. */
  shown: string
  tls: boolean
  host: string
  port: number
  /** `?queue=NAME`, '' for the default queue. */
  name: string
  names: QueueNames
}

/**
 * Parses redis:// or rediss:// (TLS), with an optional database (`/N`) and queue name (`?queue=NAME`); anything
 * else is a one-line error that never echoes a password.
 */
export function parseQueueUrl(text: string): QueueUrl {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new LabError(`--queue: not a URL (expected redis://HOST:PORT or rediss://HOST:PORT for TLS)`)
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:')
    throw new LabError(`--queue: ${url.protocol}// is not a Redis URL (expected redis://HOST:PORT or rediss://HOST:PORT for TLS)`)
  if (!url.hostname) throw new LabError('--queue: the URL names no host (expected redis://HOST:PORT)')
  const tls = url.protocol === 'rediss:'
  const port = url.port ? Number(url.port) : 6379
  const path = url.pathname && url.pathname !== '/' ? url.pathname : ''
  const db = path ? Number(path.slice(1)) : 0
  if (!Number.isInteger(db) || db < 0) throw new LabError(`--queue: ${path} is not a Redis database number (expected redis://HOST:PORT/N)`)
  const name = url.searchParams.get('queue') ?? ''
  if (url.searchParams.has('queue') && !QUEUE_NAME_PATTERN.test(name))
    throw new LabError(`--queue: queue name "${name.slice(0, 60)}" must be 1-48 letters, digits, '.', '_' or '-'`)
  // The client gets the URL without our own parameter (ioredis reads query parameters as its options).
  url.searchParams.delete('queue')
  const suffix = name ? `?queue=${name}` : ''
  return {
    url: url.toString(),
    shown: `${url.protocol}//${url.host || `${url.hostname}:${port}`}${path}${suffix}`,
    tls,
    host: url.hostname,
    port,
    name,
    names: queueNames(name, db)
  }
}

/** Any text with a Redis or PostgreSQL URL in it, its credentials replaced (errors from the clients may quote them). */
export function withoutCredentials(text: string): string {
  return text.replace(/\b(rediss?|postgres(?:ql)?):\/\/[^@\s/]*@/gi, '$1://***@')
}

/** Backoff between reconnects: 0.2 s doubling to 5 s. */
export const reconnectDelay = (attempt: number): number => Math.min(5_000, 200 * 2 ** Math.min(attempt, 5))

export interface ConnectOptions {
  /** Told once per outage (and once when it is back): the worker prints it; nothing is told with credentials. */
  onOutage?: (line: string) => void
}

/**
 * A connection for BullMQ: reconnects forever with backoff (a worker waits for its Redis), commands wait while it is
 * down (maxRetriesPerRequest null, BullMQ's requirement for workers).
 */
export function connect(queue: QueueUrl, options: ConnectOptions = {}): Redis {
  const settings: RedisOptions = {
    maxRetriesPerRequest: null,
    enableReadyCheck: true,
    retryStrategy: reconnectDelay,
    ...(queue.tls ? { tls: { servername: queue.host } } : {})
  }
  const client = newRedis(queue.url, settings)
  let down = false
  client.on('error', (error: Error) => {
    if (down) return
    down = true
    options.onOutage?.(`queue ${queue.shown} unreachable (${withoutCredentials(errorText(error))}); waiting for it`)
  })
  client.on('ready', () => {
    if (!down) return
    down = false
    options.onOutage?.(`queue ${queue.shown} is back`)
  })
  return client
}

/**
 * Fails in one line when the queue cannot be reached now (a submitter asks before it stores anything):
 * "queue redis://host:6390 is unreachable: connect ECONNREFUSED 127.0.0.1:6390".
 */
export async function checkReachable(queue: QueueUrl, timeoutMs = 3_000): Promise<void> {
  const client = newRedis(queue.url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    connectTimeout: timeoutMs,
    enableOfflineQueue: false,
    ...(queue.tls ? { tls: { servername: queue.host } } : {})
  })
  // The socket's own error (ECONNREFUSED, ENOTFOUND, a TLS failure) says more than connect()'s "Connection is closed".
  let cause: unknown = null
  client.on('error', (error: unknown) => (cause ??= error))
  try {
    await client.connect()
    await client.ping()
  } catch (error) {
    throw new LabError(`queue ${queue.shown} is unreachable: ${withoutCredentials(errorText(cause ?? error))}`)
  } finally {
    client.disconnect()
  }
}

/** The job id of a member: its key, so a member is in the queue once however often it is submitted. */
export const memberJobId = (key: { studyId: string; configIndex: number; memberIndex: number }): string =>
  `${key.studyId}.${key.configIndex}.${key.memberIndex}`

/** A worker's name in the registry and on its runs: "host pid 1234 (wasm)". */
export const workerName = (w: { host: string; pid: number; backend: string }): string => `${w.host} pid ${w.pid} (${w.backend})`

/** Reads a queue's worker registry: every worker whose heartbeat has not expired. */
export async function readWorkers(client: Redis, names: QueueNames): Promise<QueueWorker[]> {
  const found: QueueWorker[] = []
  // The default queue's prefix is also the start of every named queue's: those keys are not this queue's workers.
  const own = (key: string) => !key.slice(names.workerPrefix.length).includes(':')
  let cursor = '0'
  do {
    const [next, matched] = await client.scan(cursor, 'MATCH', `${names.workerPrefix}*`, 'COUNT', 100)
    const keys = matched.filter(own)
    cursor = next
    const values = keys.length ? await client.mget(...keys) : []
    for (const value of values) {
      if (!value) continue
      const parsed = queueWorker.safeParse(JSON.parse(value))
      if (parsed.success) found.push(parsed.data)
    }
  } while (cursor !== '0')
  return found.sort((a, b) => a.name.localeCompare(b.name))
}
