/**
 * Studies: the article's experiment (digits, MLP 100-100, end-to-end vs layer-wise, 10 seeds = 20 runs) run by
 * the built CLI, as a user runs it, with 1 worker and with the default pool (one single-threaded worker per
 * core), in the same run. The study's own start and end (SQLite) time it; the CLI process's RSS is sampled
 * while members finish, to show memory does not grow per finished run. The two studies must give the same
 * metrics member by member (same seeds).
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import sqlite3 from 'sqlite3'

const ROOT = path.resolve(__dirname, '..')
const BIN = path.join(ROOT, 'bin', 'layerlab.cjs')
const DIGITS = path.join(ROOT, 'resources', 'examples', 'digits.csv')

function query<T>(file: string, sql: string): Promise<T[]> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(file, sqlite3.OPEN_READONLY, (error) => {
      if (error) return reject(error)
      db.all(sql, (err, rows) => db.close(() => (err ? reject(err) : resolve(rows as T[]))))
    })
  })
}

function rssOf(pid: number): number | null {
  try {
    const match = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))
    return match ? Number(match[1]) * 1024 : null
  } catch {
    return null
  }
}

interface StudyRun {
  workers: number
  wallS: number
  metrics: string[]
  /** RSS (bytes) of the CLI process, the last sample taken at each count of finished members. */
  rssAtDone: Map<number, number>
  peakRss: number
}

async function runStudy(workers: number, seeds: number): Promise<StudyRun> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'layerlab-bench-study-'))
  const dbFile = path.join(home, 'layerlab.sqlite')
  const child = spawn(
    process.execPath,
    [BIN, '--home', home, '--json', 'study', '--data', DIGITS, '--seeds', String(seeds), '--workers', String(workers)],
    {
      stdio: ['ignore', 'pipe', 'pipe']
    }
  )
  let stderr = ''
  child.stderr.on('data', (chunk) => (stderr += String(chunk)))
  const rssAtDone = new Map<number, number>()
  let peakRss = 0
  const sampler = setInterval(() => {
    const rss = rssOf(child.pid!)
    if (rss === null || !fs.existsSync(dbFile)) return
    peakRss = Math.max(peakRss, rss)
    query<{ n: number }>(dbFile, `SELECT COUNT(*) AS n FROM study_members WHERE status = 'completed'`)
      .then(([row]) => rssAtDone.set(row?.n ?? 0, rss))
      .catch(() => undefined)
  }, 250)
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
  clearInterval(sampler)
  if (code !== 0) throw new Error(`layerlab study exited with ${code}: ${stderr.split('\n').slice(-3).join(' ')}`)
  const [study] = await query<{ created_at: string; ended_at: string }>(dbFile, 'SELECT created_at, ended_at FROM studies')
  const metrics = await query<{ key: string; metrics_json: string }>(
    dbFile,
    `SELECT m.config_index || '/' || m.member_index AS key, r.metrics_json FROM study_members m JOIN runs r ON r.id = m.run_id ORDER BY m.config_index, m.member_index`
  )
  fs.rmSync(home, { recursive: true, force: true })
  return {
    workers,
    wallS: (Date.parse(study!.ended_at) - Date.parse(study!.created_at)) / 1000,
    metrics: metrics.map((m) => `${m.key} ${m.metrics_json}`),
    rssAtDone,
    peakRss
  }
}

/** Least-squares slope of RSS against finished members, from the second finished member on (after warm-up). */
function slopePerRun(rssAtDone: Map<number, number>): number {
  const points = [...rssAtDone.entries()].filter(([done]) => done >= 2)
  if (points.length < 2) return NaN
  const mx = points.reduce((s, [x]) => s + x, 0) / points.length
  const my = points.reduce((s, [, y]) => s + y, 0) / points.length
  const num = points.reduce((s, [x, y]) => s + (x - mx) * (y - my), 0)
  const den = points.reduce((s, [x]) => s + (x - mx) ** 2, 0)
  return den ? num / den : NaN
}

export async function benchStudy(): Promise<unknown[]> {
  if (!fs.existsSync(path.join(ROOT, 'out', 'main', 'cli.js'))) throw new Error('run npm run build first (the bench runs the built CLI)')
  const seeds = Number(process.env.STUDY_BENCH_SEEDS ?? 10)
  const pool = Math.max(1, os.availableParallelism())
  const reps = Number(process.env.STUDY_BENCH_REPS ?? 1)
  const runs: StudyRun[] = []
  // Interleaved: 1 worker, the pool, 1 worker, … so both see the same machine state.
  for (let r = 0; r < reps; r++) for (const workers of [1, pool]) runs.push(await runStudy(workers, seeds))
  const reference = runs[0]!.metrics
  return runs.map((r, i) => {
    // Against the 1-worker study just before it: the closest machine state.
    const sequentialS = runs.slice(0, i + 1).findLast((other) => other.workers === 1)!.wallS
    const done = [...r.rssAtDone.keys()].sort((a, b) => a - b)
    return {
      workers: r.workers,
      runs: seeds * 2,
      'wall s': r.wallS,
      'runs/min': (seeds * 2 * 60) / r.wallS,
      efficiency: r.workers === 1 ? 1 : sequentialS / (r.workers * r.wallS),
      'same metrics as 1 worker': r.metrics.length === reference.length && r.metrics.every((m, i) => m === reference[i]) ? 'yes' : 'NO',
      'rss after 2 runs bytes': r.rssAtDone.get(2) ?? r.rssAtDone.get(done.find((d) => d >= 2) ?? 0) ?? null,
      'rss at end bytes': r.rssAtDone.get(done.at(-1) ?? 0) ?? null,
      'peak rss bytes': r.peakRss,
      'rss slope KiB/run': slopePerRun(r.rssAtDone) / 1024
    }
  })
}
