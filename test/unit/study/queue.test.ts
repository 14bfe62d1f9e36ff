/**
 * Studies on queue workers (issue 19), with real processes and a real Redis: the built CLI (`layerlab worker`,
 * `layerlab study --queue`) over one data home (SQLite in WAL mode is multi-process), redis-server from Debian's
 * package on a loopback port (test/fixtures/redis.ts). A killed worker's member is retried and counted once; a Redis
 * restarted empty mid-study loses nothing finished; two submitters share one queue; a bad URL is one line.
 * Nothing here asserts on time; the models are tiny (digits, MLP 16-16, 2 epochs).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import { Queue } from 'bullmq'
import { Redis } from 'ioredis'
import { openLab } from '../../../main/lab'
import type { StudyDetail } from '../../../main/shared/contract'
import { parseQueueUrl, queueNames, readWorkers } from '../../../main/core/queue'
import { removeHome, tempHome } from '../../fixtures/home'
import { DIGITS_CSV } from '../../fixtures/digits'
import { startRedis } from '../../fixtures/redis'
import { call } from './helpers'

const BIN = path.resolve(__dirname, '../../../bin/layerlab.cjs')
const redisUrl = inject('redisUrl')
const MODEL = ['--hidden', '16,16', '--epochs', '2']

interface Proc {
  child: ChildProcess
  out: string[]
  err: string[]
  /** Resolves with the first stderr line matching, or once `count` lines have matched. */
  waitFor(pattern: RegExp, count?: number): Promise<string>
  exited: Promise<number>
}

function cli(home: string, args: string[]): Proc {
  const child = spawn(process.execPath, [BIN, '--home', home, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  const out: string[] = []
  const err: string[] = []
  const waiters: { pattern: RegExp; count: number; resolve: (line: string) => void }[] = []
  const feed = (into: string[]) => (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n').filter(Boolean)) {
      into.push(line)
      if (into !== err) continue
      for (const w of [...waiters]) {
        if (err.filter((l) => w.pattern.test(l)).length >= w.count) {
          waiters.splice(waiters.indexOf(w), 1)
          w.resolve(line)
        }
      }
    }
  }
  child.stdout!.on('data', feed(out))
  child.stderr!.on('data', feed(err))
  const exited = new Promise<number>((resolve) => child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : -1))))
  return {
    child,
    out,
    err,
    exited,
    waitFor: (pattern, count = 1) =>
      new Promise((resolve, reject) => {
        if (err.filter((l) => pattern.test(l)).length >= count) return resolve(err.find((l) => pattern.test(l))!)
        waiters.push({ pattern, count, resolve })
        void exited.then((code) => reject(new Error(`exited ${code} before ${pattern}: ${err.slice(-5).join(' | ')}`)))
      })
  }
}

const worker = (home: string, url: string) => cli(home, ['worker', '--queue', url])

async function stopWorkers(workers: Proc[]): Promise<void> {
  for (const w of workers) if (w.child.exitCode === null) w.child.kill('SIGINT')
  await Promise.all(workers.map((w) => w.exited))
}

async function detailOf(home: string, studyId: string): Promise<StudyDetail & { runs: { runId: string; status: string; tags: string[] }[] }> {
  const lab = await openLab({ home })
  try {
    const detail = await call(lab, 'studies.get', { studyId })
    const runs = (await call(lab, 'runs.list', {})).filter((r) => r.tags.includes(`study ${studyId}`))
    return { ...detail, runs }
  } finally {
    await lab.close()
  }
}

/** The study a submitter made (--json prints it at the end). */
const studyIdOf = async (submitter: Proc) => {
  expect(await submitter.exited, submitter.err.join('\n')).toBe(0)
  return (JSON.parse(submitter.out.join('\n')) as { studyId: string }).studyId
}
/** The study a worker is training a member of (its log names the member). */
const studyInHand = async (worker: Proc) => /member (st-[\w-]+)\//.exec(await worker.waitFor(/^member st-/))![1]!

describe.skipIf(!redisUrl)('studies on queue workers', () => {
  let home: string
  let datasetId: string

  beforeAll(async () => {
    home = tempHome('layerlab-queue-')
    const imported = spawnSync(process.execPath, [BIN, '--home', home, '--json', 'import', DIGITS_CSV], { encoding: 'utf8' })
    expect(imported.status, imported.stderr).toBe(0)
    datasetId = (JSON.parse(imported.stdout) as { datasetId: string }).datasetId
  })
  afterAll(() => removeHome(home))

  it(
    'runs a 12-member study on three worker processes; one killed with SIGKILL mid-run: its member is retried and counted once',
    { timeout: 900_000 },
    async () => {
      const redis = await startRedis()
      const workers = [worker(home, redis.url), worker(home, redis.url), worker(home, redis.url)]
      try {
        await Promise.all(workers.map((w) => w.waitFor(/taking members from/)))
        const submitter = cli(home, ['--json', 'study', '--data', datasetId, '--seeds', '6', ...MODEL, '--queue', redis.url])
        // The first worker to start a run is killed in the middle of it (its run has started, it has not ended).
        const victim = await Promise.race(workers.map((w) => w.waitFor(/: run run-\S+, try 1$/).then(() => w)))
        const victimPid = victim.child.pid!
        victim.child.kill('SIGKILL')
        await victim.exited
        const studyId = await studyIdOf(submitter)
        const json = JSON.parse(submitter.out.join('\n')) as { status: string; configs: { runs: string[] }[] }
        expect(json.status).toBe('completed')
        expect(json.configs.map((c) => c.runs.length)).toEqual([6, 6])

        const detail = await detailOf(home, studyId)
        expect(detail.members).toHaveLength(12)
        expect(detail.members.every((m) => m.status === 'completed')).toBe(true)
        expect(detail.stats.configs.reduce((n, c) => n + c.n, 0)).toBe(12)
        expect(detail.stats.coverage).toMatch(/12 of 12 runs/)
        // The killed worker's run: kept as interrupted with its worker, and its member completed on a second try.
        const lost = detail.attempts.filter((a) => a.worker.includes(`pid ${victimPid} `))
        expect(lost).toHaveLength(1)
        expect(lost[0]).toMatchObject({ attempt: 1, status: 'interrupted' })
        expect(lost[0]!.error).toMatch(new RegExp(`its worker .*pid ${victimPid} .*was lost.*retried as try 2`))
        const retried = detail.members.find((m) => m.configIndex === lost[0]!.configIndex && m.memberIndex === lost[0]!.memberIndex)!
        expect(retried).toMatchObject({ status: 'completed', attempt: 2 })
        expect(retried.worker).not.toContain(`pid ${victimPid} `)
        expect(retried.runId).not.toBe(lost[0]!.runId)
        // Exactly one run per member counts; the one other run of the study is the interrupted try.
        expect(detail.stats.configs.flatMap((c) => c.runs).sort()).toEqual(detail.members.map((m) => m.runId).sort())
        expect(detail.runs).toHaveLength(12 + detail.attempts.length)
        expect(detail.runs.find((r) => r.runId === lost[0]!.runId)?.status).toBe('interrupted')
        // Every member was trained by one of the three workers (the queue's workers, not the submitter).
        const pids = workers.map((w) => w.child.pid!)
        for (const m of detail.members) expect(pids.some((pid) => m.worker?.includes(`pid ${pid} `))).toBe(true)
      } finally {
        await stopWorkers(workers)
        await redis.close()
      }
    }
  )

  it(
    'survives a Redis restarted empty mid-study: finished members are kept, the rest complete, none counted twice',
    { timeout: 900_000 },
    async () => {
      const redis = await startRedis()
      const workers = [worker(home, redis.url), worker(home, redis.url)]
      try {
        await Promise.all(workers.map((w) => w.waitFor(/taking members from/)))
        const submitter = cli(home, ['--json', 'study', '--data', datasetId, '--seeds', '4', ...MODEL, '--queue', redis.url])
        const studyId = await studyInHand(workers[0]!)
        // Two members finished (on either worker), then Redis goes away and comes back with nothing in it.
        await Promise.race([workers[0]!.waitFor(/: completed$/, 2), workers[1]!.waitFor(/: completed$/, 2)]).catch(() => undefined)
        const before = await detailOf(home, studyId)
        const finished = before.members.filter((m) => m.status === 'completed')
        expect(finished.length).toBeGreaterThanOrEqual(2)
        await redis.stop()
        await new Promise((resolve) => setTimeout(resolve, 1_500))
        await redis.start()
        expect(await studyIdOf(submitter)).toBe(studyId)
        for (const w of workers) expect(w.err.some((l) => /unreachable/.test(l))).toBe(true)

        const detail = await detailOf(home, studyId)
        expect(detail.status).toBe('completed')
        expect(detail.members.every((m) => m.status === 'completed')).toBe(true)
        expect(detail.stats.configs.reduce((n, c) => n + c.n, 0)).toBe(8)
        // What had finished before the restart is what counts now: the same runs, not trained again.
        for (const m of finished) {
          const now = detail.members.find((x) => x.configIndex === m.configIndex && x.memberIndex === m.memberIndex)!
          expect(now.runId).toBe(m.runId)
          expect(now.attempt).toBe(m.attempt)
        }
        expect(new Set(detail.members.map((m) => m.runId)).size).toBe(8)
      } finally {
        await stopWorkers(workers)
        await redis.close()
      }
    }
  )

  it('takes two submitters on one queue: each study gets its own members, each member is in the queue once', { timeout: 900_000 }, async () => {
    const url = redisUrl!
    const workers = [worker(home, url), worker(home, url)]
    try {
      await Promise.all(workers.map((w) => w.waitFor(/taking members from/)))
      const a = cli(home, ['--json', 'study', '--data', datasetId, '--seeds', '2', ...MODEL, '--queue', url, '--name', 'submitter A'])
      const b = cli(home, [
        '--json',
        'study',
        '--data',
        datasetId,
        '--seeds',
        '2',
        ...MODEL,
        '--queue',
        url,
        '--name',
        'submitter B',
        '--first-seed',
        '11'
      ])
      const [studyA, studyB] = await Promise.all([studyIdOf(a), studyIdOf(b)])
      const [detailA, detailB] = [await detailOf(home, studyA), await detailOf(home, studyB)]
      for (const [detail, seeds] of [
        [detailA, [1, 2]],
        [detailB, [11, 12]]
      ] as const) {
        expect(detail.status).toBe('completed')
        expect(detail.members.map((m) => m.seed)).toEqual([...seeds, ...seeds])
        expect(detail.runs).toHaveLength(4)
        expect(detail.attempts).toEqual([])
      }
      // A resubmit of the same member is the same job: job id = member key.
      const queue = new Queue(queueNames().queue, { connection: new Redis(url, { maxRetriesPerRequest: null }) })
      const ids = (await queue.getJobs(['completed'])).map((j) => j.id!).filter((id) => id.startsWith(studyA) || id.startsWith(studyB))
      expect(ids.sort()).toEqual([...new Set(ids)].sort())
      expect(ids).toHaveLength(8)
      const again = await queue.add('study-member', {}, { jobId: ids[0] })
      expect(again.id).toBe(ids[0])
      expect((await queue.getJobs(['completed', 'waiting', 'active'])).filter((j) => j.id === ids[0])).toHaveLength(1)
      await queue.close()
    } finally {
      await stopWorkers(workers)
    }
  })

  it('refuses a job of a kind it does not know, or a payload that is not a member, without training anything', async () => {
    const url = redisUrl!
    const w = worker(home, url)
    const queue = new Queue(queueNames().queue, { connection: new Redis(url, { maxRetriesPerRequest: null }) })
    try {
      await w.waitFor(/taking members from/)
      const runsBefore = await runCount(home)
      const shell = await queue.add('shell', { command: 'rm -rf /' }, { jobId: 'evil-1' })
      const bad = await queue.add(
        'study-member',
        { key: { studyId: 'st-x', configIndex: 0, memberIndex: 0 }, code: 'process.exit()' },
        { jobId: 'evil-2' }
      )
      for (let i = 0; i < 100 && !((await shell.isFailed()) && (await bad.isFailed())); i++) await new Promise((r) => setTimeout(r, 100))
      expect((await queue.getJob('evil-1'))!.failedReason).toMatch(/unknown job kind "shell"/)
      expect((await queue.getJob('evil-2'))!.failedReason).toMatch(/is not a study member/)
      expect(await runCount(home)).toBe(runsBefore)
      // Registered while it runs, with its host, backend and capacity; gone after Ctrl-C.
      const registry = new Redis(url)
      const keys = await registry.keys(`${queueNames().workerPrefix}*`)
      const record = JSON.parse((await registry.get(keys.find((k) => k.includes(`-${w.child.pid}-`))!))!) as Record<string, unknown>
      expect(record).toMatchObject({ pid: w.child.pid, backend: 'auto', concurrency: 1 })
      w.child.kill('SIGINT')
      expect(await w.exited).toBe(0)
      expect(await registry.keys(`${queueNames().workerPrefix}*-${w.child.pid}-*`)).toEqual([])
      registry.disconnect()
    } finally {
      await queue.close()
      await stopWorkers([w])
    }
  })

  it('cancels a queue study with Ctrl-C: its waiting members leave the queue, the study is cancelled and resumable', async () => {
    const redis = await startRedis()
    try {
      // No worker: every member waits in the queue.
      const submitter = cli(home, ['study', '--data', datasetId, '--seeds', '2', ...MODEL, '--queue', redis.url])
      const line = await submitter.waitFor(/^study st-/)
      const studyId = line.split(' ')[1]!
      const queue = new Queue(queueNames().queue, { connection: new Redis(redis.url, { maxRetriesPerRequest: null }) })
      for (let i = 0; i < 100 && ((await queue.getJobCounts('waiting')).waiting ?? 0) < 4; i++) await new Promise((r) => setTimeout(r, 100))
      expect((await queue.getJobCounts('waiting')).waiting).toBe(4)
      submitter.child.kill('SIGINT')
      await submitter.exited
      expect(await queue.getJobCounts('waiting', 'active', 'delayed')).toEqual({ waiting: 0, active: 0, delayed: 0 })
      await queue.close()
      const detail = await detailOf(home, studyId)
      expect(detail.status).toBe('cancelled')
      expect(detail.members.every((m) => m.status === 'pending')).toBe(true)
    } finally {
      await redis.close()
    }
  })

  it(
    'keeps two named queues on one Redis apart: a worker takes only its own queue’s members and lists only its own',
    { timeout: 600_000 },
    async () => {
      const [urlA, urlB] = [`${redisUrl!}?queue=team-a`, `${redisUrl!}?queue=team-b`]
      const teamB = worker(home, urlB)
      const workers = [teamB]
      const registry = new Redis(redisUrl!)
      const waitingA = new Queue(parseQueueUrl(urlA).names.queue, { connection: new Redis(redisUrl!, { maxRetriesPerRequest: null }) })
      try {
        await teamB.waitFor(/taking members from redis:\/\/127\.0\.0\.1:\d+\?queue=team-b /)
        const submitter = cli(home, ['--json', 'study', '--data', datasetId, '--seeds', '2', ...MODEL, '--queue', urlA])
        for (let i = 0; i < 100 && ((await waitingA.getJobCounts('waiting')).waiting ?? 0) < 4; i++) await new Promise((r) => setTimeout(r, 100))
        // Team B's worker is idle beside team A's four waiting members.
        await new Promise((r) => setTimeout(r, 1_500))
        expect((await waitingA.getJobCounts('waiting')).waiting).toBe(4)
        expect(teamB.err.filter((l) => /^member st-/.test(l))).toEqual([])
        const pidsOf = async (url: string) => (await readWorkers(registry, parseQueueUrl(url).names)).map((w) => w.pid)
        expect(await pidsOf(urlA)).toEqual([])
        expect(await pidsOf(urlB)).toEqual([teamB.child.pid])
        expect(await pidsOf(redisUrl!)).not.toContain(teamB.child.pid)
        const teamA = worker(home, urlA)
        workers.push(teamA)
        const studyId = await studyIdOf(submitter)
        const detail = await detailOf(home, studyId)
        expect(detail.status).toBe('completed')
        expect(detail.queue).toBe(`${redisUrl!}?queue=team-a`)
        expect(detail.members.map((m) => m.worker)).toEqual(Array(4).fill(expect.stringContaining(`pid ${teamA.child.pid} `)))
        expect(teamB.err.filter((l) => /^member st-/.test(l))).toEqual([])
      } finally {
        registry.disconnect()
        await waitingA.close()
        await stopWorkers(workers)
      }
    }
  )

  it('says in one line which queue is unreachable, without its password, and stores no study', async () => {
    const before = await studyCount(home)
    for (const url of ['redis://127.0.0.1:1', 'redis://analyst:s3cret-pw@127.0.0.1:1']) {
      const result = spawnSync(process.execPath, [BIN, '--home', home, 'study', '--data', datasetId, '--seeds', '2', ...MODEL, '--queue', url], {
        encoding: 'utf8'
      })
      expect(result.status).toBe(1)
      expect(result.stderr).toBe('error: queue redis://127.0.0.1:1 is unreachable: connect ECONNREFUSED 127.0.0.1:1\n')
    }
    const notRedis = spawnSync(process.execPath, [BIN, '--home', home, 'worker', '--queue', 'http://user:pw@example.org'], { encoding: 'utf8' })
    expect(notRedis.status).toBe(1)
    expect(notRedis.stderr).toBe('error: --queue: http:// is not a Redis URL (expected redis://HOST:PORT or rediss://HOST:PORT for TLS)\n')
    expect(await studyCount(home)).toBe(before)
  })
})

async function runCount(home: string): Promise<number> {
  const lab = await openLab({ home })
  try {
    return (await call(lab, 'runs.list', {})).length
  } finally {
    await lab.close()
  }
}

async function studyCount(home: string): Promise<number> {
  const lab = await openLab({ home })
  try {
    return (await call(lab, 'studies.list', {})).length
  } finally {
    await lab.close()
  }
}
