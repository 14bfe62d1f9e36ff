/**
 * Issue 19's whole path: a study submitted from one LayerLab (its own data home) is trained by worker processes
 * with another data home through Redis, lands in PostgreSQL (one store URL, one shared artifacts folder), and a
 * third LayerLab opened on that store and queue sees it live (its events) and then every member in the history.
 * Real processes (the built CLI), the test cluster of test/setup/postgres.ts, the Redis of test/setup/redis.ts.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import path from 'node:path'
import { afterAll, describe, expect, inject, it } from 'vitest'
import { openLab, type Lab } from '../../../main/lab'
import type { EventPayload } from '../../../main/shared/contract'
import { removeHome, tempHome } from '../../fixtures/home'
import { DIGITS_CSV } from '../../fixtures/digits'
import { freshPostgresDatabase, postgresPassword } from '../../fixtures/postgres'
import { call } from './helpers'

const BIN = path.resolve(__dirname, '../../../bin/layerlab.cjs')
const redisUrl = inject('redisUrl')
const pgUrl = inject('postgresUrl')

describe.skipIf(!redisUrl || !pgUrl)('a queue study on a PostgreSQL store', () => {
  const dirs: string[] = []
  const dir = (prefix: string) => {
    const d = tempHome(prefix)
    dirs.push(d)
    return d
  }
  afterAll(() => dirs.forEach(removeHome))

  it(
    'runs on workers with their own data home, lands in PostgreSQL, and a second lab on that store watches it live',
    { timeout: 900_000 },
    async () => {
      const store = await freshPostgresDatabase('queue')
      const artifacts = dir('layerlab-queue-shared-')
      const shared = ['--store', store, '--artifacts', artifacts]
      const submitterHome = ['--home', dir('layerlab-queue-submitter-'), ...shared]
      const imported = spawnSync(process.execPath, [BIN, ...submitterHome, '--json', 'import', DIGITS_CSV], { encoding: 'utf8' })
      expect(imported.status, imported.stderr).toBe(0)
      const { datasetId } = JSON.parse(imported.stdout) as { datasetId: string }

      // The watching lab: its own data home, the same store, folder and queue; it hears the workers' progress.
      const watcher: Lab = await openLab({ home: dir('layerlab-queue-watcher-'), store, artifacts, queue: redisUrl! })
      const heard: { event: string; payload: unknown }[] = []
      const stop = watcher.events.subscribe((event, payload) => heard.push({ event, payload }))
      const workerHome = dir('layerlab-queue-worker-')
      const workers: ChildProcess[] = []
      const workerErr: string[] = []
      try {
        for (let i = 0; i < 2; i++) {
          const child = spawn(process.execPath, [BIN, '--home', workerHome, ...shared, 'worker', '--queue', redisUrl!], {
            stdio: ['ignore', 'ignore', 'pipe']
          })
          workers.push(child)
          await new Promise<void>((resolve, reject) => {
            let text = ''
            child.stderr!.on('data', (chunk) => {
              text += String(chunk)
              workerErr.push(String(chunk))
              if (text.includes('taking members from')) resolve()
            })
            child.once('exit', (code) => reject(new Error(`worker exited ${code}: ${text}`)))
          })
        }
        const submitted = await new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
          const child = spawn(
            process.execPath,
            [
              BIN,
              ...submitterHome,
              '--json',
              'study',
              '--data',
              datasetId,
              '--seeds',
              '2',
              '--hidden',
              '16,16',
              '--epochs',
              '2',
              '--queue',
              redisUrl!
            ],
            { stdio: ['ignore', 'pipe', 'pipe'] }
          )
          let out = ''
          let err = ''
          child.stdout.on('data', (chunk) => (out += String(chunk)))
          child.stderr.on('data', (chunk) => (err += String(chunk)))
          child.once('exit', (code) => resolve({ code, out, err }))
        })
        expect(submitted.code, submitted.err).toBe(0)
        const { studyId } = JSON.parse(submitted.out) as { studyId: string }

        const detail = await call(watcher, 'studies.get', { studyId })
        expect(detail).toMatchObject({ status: 'completed', total: 4, done: 4, queue: redisUrl })
        expect(detail.members.every((m) => m.status === 'completed' && m.worker !== null)).toBe(true)
        const runs = await call(watcher, 'runs.list', {})
        for (const m of detail.members) expect(runs.find((r) => r.runId === m.runId)?.status).toBe('completed')
        // Live: the watcher heard the study move (not only its end) and the members' own training progress.
        const progress = heard.filter((h) => h.event === 'study.progress').map((h) => h.payload as EventPayload<'study.progress'>)
        expect(progress.some((p) => p.studyId === studyId && p.status === 'running' && p.done < 4)).toBe(true)
        const memberRuns = new Set(detail.members.map((m) => m.runId))
        expect(heard.some((h) => h.event === 'train.progress' && memberRuns.has((h.payload as { runId: string }).runId))).toBe(true)
        // The store's password is in no line a process printed.
        expect([...workerErr, submitted.err].join('')).not.toContain(postgresPassword())
      } finally {
        stop()
        for (const w of workers) w.kill('SIGINT')
        await Promise.all(workers.map((w) => new Promise((resolve) => (w.exitCode !== null ? resolve(null) : w.once('exit', resolve)))))
        await watcher.close()
      }
    }
  )
})
