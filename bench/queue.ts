/**
 * The study queue (issue 19): a 24-member digits study (MLP 16-16, end-to-end vs layer-wise, 12 seeds) submitted
 * with `layerlab study --queue` and trained by 1, 2 and 3 `layerlab worker` processes on this machine through a
 * throwaway redis-server; the 1-worker row is the reference of the scaling, and the same study on the local pool with
 * one worker (measured in the same run unless QUEUE_BENCH_LOCAL=0) shows what the queue adds. Wall time is the study's own start to end (SQLite). Then the queue's overhead per job: BullMQ no-op
 * jobs through the same Redis, added and completed by one worker with LayerLab's lock/stall settings.
 *
 *   npm run bench -- queue        (QUEUE_BENCH_SEEDS=12, QUEUE_BENCH_EMPTY_JOBS=500)
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import sqlite3 from 'sqlite3'
import { Queue, Worker } from 'bullmq'
import { Redis } from 'ioredis'
import { LOCK_MS, MAX_RETRIES, STALLED_CHECK_MS } from '../main/core/queue'
import { startRedis } from '../test/fixtures/redis'

const ROOT = path.resolve(__dirname, '..')
const BIN = path.join(ROOT, 'bin', 'layerlab.cjs')
const DIGITS = path.join(ROOT, 'resources', 'examples', 'digits.csv')
const MODEL = ['--hidden', '16,16', '--epochs', '2']

function query<T>(file: string, sql: string): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(file, sqlite3.OPEN_READONLY, (error) => {
      if (error) return reject(error)
      db.all(sql, (err, rows) => db.close(() => (err ? reject(err) : resolve(rows as T[]))))
    })
  })
}

function waitLine(child: ChildProcess, pattern: RegExp): Promise<void> {
  return new Promise((resolve, reject) => {
    let text = ''
    child.stderr!.on('data', (chunk) => {
      text += String(chunk)
      if (pattern.test(text)) resolve()
    })
    child.once('exit', (code) => reject(new Error(`exited ${code}: ${text.slice(-300)}`)))
  })
}

async function study(home: string, seeds: number, where: string[]): Promise<number> {
  const result = await new Promise<{ code: number | null; err: string }>((resolve) => {
    const child = spawn(process.execPath, [BIN, '--home', home, '--json', 'study', '--data', DIGITS, '--seeds', String(seeds), ...MODEL, ...where], {
      stdio: ['ignore', 'ignore', 'pipe']
    })
    let err = ''
    child.stderr.on('data', (chunk) => (err += String(chunk)))
    child.once('exit', (code) => resolve({ code, err }))
  })
  if (result.code !== 0) throw new Error(`layerlab study exited with ${result.code}: ${result.err.slice(-300)}`)
  const [row] = await query<{ created_at: string; ended_at: string }>(
    path.join(home, 'layerlab.sqlite'),
    'SELECT created_at, ended_at FROM studies ORDER BY created_at DESC LIMIT 1'
  )
  return (Date.parse(row!.ended_at) - Date.parse(row!.created_at)) / 1000
}

async function emptyJobsPerSecond(url: string, jobs: number): Promise<number> {
  const name = 'bench-empty'
  const queue = new Queue(name, { connection: new Redis(url, { maxRetriesPerRequest: null }) })
  const started = performance.now()
  let done = 0
  const finished = new Promise<void>((resolve) => {
    const worker = new Worker(name, async () => ({ ok: true }), {
      connection: new Redis(url, { maxRetriesPerRequest: null }),
      lockDuration: LOCK_MS,
      stalledInterval: STALLED_CHECK_MS,
      maxStalledCount: MAX_RETRIES
    })
    worker.on('completed', () => {
      if (++done === jobs) void worker.close().then(resolve)
    })
  })
  // One add per job, as the study pool adds members (not a bulk add).
  for (let i = 0; i < jobs; i++) await queue.add('empty', { i }, { jobId: `empty.${i}` })
  await finished
  const seconds = (performance.now() - started) / 1000
  await queue.obliterate({ force: true }).catch(() => undefined)
  await queue.close()
  return jobs / seconds
}

export async function benchQueue(): Promise<unknown[]> {
  if (!fs.existsSync(path.join(ROOT, 'out', 'main', 'cli.js'))) throw new Error('run npm run build first (the bench runs the built CLI)')
  const seeds = Number(process.env.QUEUE_BENCH_SEEDS ?? 12)
  const emptyJobs = Number(process.env.QUEUE_BENCH_EMPTY_JOBS ?? 500)
  const redis = await startRedis()
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'layerlab-bench-queue-'))
  const rows: Record<string, unknown>[] = []
  try {
    spawnSync(process.execPath, [BIN, '--home', home, 'import', DIGITS], { stdio: 'ignore' })
    // The local pool with one worker: the same study without the queue (QUEUE_BENCH_LOCAL=0 leaves it out on a busy box;
    // the 1-worker queue row is then the reference of the scaling).
    const local = process.env.QUEUE_BENCH_LOCAL === '0' ? null : await study(home, seeds, ['--workers', '1'])
    if (local !== null)
      rows.push({ 'trained by': 'local pool, 1 worker', members: seeds * 2, 'wall s': local, 'vs 1 queue worker': '', load: os.loadavg()[0] })
    let reference: number | null = null
    for (const count of [1, 2, 3]) {
      const workers = Array.from({ length: count }, () =>
        spawn(process.execPath, [BIN, '--home', home, 'worker', '--queue', redis.url], { stdio: ['ignore', 'ignore', 'pipe'] })
      )
      await Promise.all(workers.map((w) => waitLine(w, /taking members from/)))
      const wall = await study(home, seeds, ['--queue', redis.url])
      for (const w of workers) w.kill('SIGINT')
      await Promise.all(workers.map((w) => new Promise((resolve) => (w.exitCode !== null ? resolve(null) : w.once('exit', resolve)))))
      reference ??= wall
      rows.push({
        'trained by': `${count} worker process${count === 1 ? '' : 'es'} via Redis`,
        members: seeds * 2,
        'wall s': wall,
        'vs 1 queue worker': reference / wall,
        load: os.loadavg()[0]
      })
    }
    const perSecond = await emptyJobsPerSecond(redis.url, emptyJobs)
    rows.push({
      'trained by': `empty jobs (${emptyJobs}, 1 worker)`,
      members: emptyJobs,
      'wall s': emptyJobs / perSecond,
      'vs 1 queue worker': `${perSecond.toFixed(0)} jobs/s`,
      load: os.loadavg()[0]
    })
  } finally {
    await redis.close()
    fs.rmSync(home, { recursive: true, force: true })
  }
  return rows
}
