import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import sqlite3 from 'sqlite3'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { SqliteDb } from '../../../main/store/db'
import type { Db } from '../../../main/store/sql'
import { migrations } from '../../../main/store/migrations'
import { RunStore } from '../../../main/store/runs'
import { LabError } from '../../../main/shared/errors'
import { tempHome } from '../../fixtures/home'
import { epochRow, insertDataset, newRun } from './helpers'
import { classified } from '../../fixtures/figures'
import { storeKinds, testStore, type TestStore } from '../../fixtures/postgres'

const CHILD = path.join(__dirname, 'child-writer.ts')
const ROOT = path.resolve(__dirname, '../../..')
const open: Db[] = []

/** The history of the suite's current test (a fresh PostgreSQL database per test, or the home's SQLite file). */
let store: TestStore

async function openStore(home: string): Promise<{ db: Db; runs: RunStore }> {
  const db = await store.open(home)
  open.push(db)
  return { db, runs: new RunStore(db, home) }
}

afterEach(async () => {
  while (open.length) await open.pop()!.close()
})

function runChild(
  home: string,
  mode: string,
  count = 0
): { child: ReturnType<typeof spawn>; ready: Promise<string>; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, home, mode, String(count), store.url ?? ''], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stdout = ''
  let stderr = ''
  child.stderr!.on('data', (chunk) => (stderr += chunk))
  const ready = new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (chunk) => {
      stdout += chunk
      const match = /ready (\S+)/.exec(stdout)
      if (match) resolve(match[1]!)
    })
    child.on('exit', (code) => reject(new Error(`child exited (${code}) before ready: ${stderr}`)))
  })
  // Writers never print "ready": only the tests that await it care.
  ready.catch(() => undefined)
  const exited = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => {
      if (code !== 0 && code !== null) console.error(stderr)
      resolve(code)
    })
  )
  return { child, ready, exited }
}

/** SQLite's own check of its file; PostgreSQL keeps its own consistency (nothing to ask). */
async function intact(db: Db): Promise<string> {
  return db instanceof SqliteDb ? db.integrityCheck() : 'ok'
}

describe.each(storeKinds())('RunStore on %s', (kind) => {
  beforeEach(async () => {
    store = await testStore(kind)
  })

  it('stores a run, its epochs and artifacts, and lists it with its dataset name', async () => {
    const home = tempHome()
    const { db, runs } = await openStore(home)
    await insertDataset(db, 'ds-1', 'digits')
    const runId = await runs.create(newRun('ds-1', { name: 'first' }))
    await runs.setStatus(runId, 'running', { backend: 'cpu' })
    for (let epoch = 1; epoch <= 3; epoch++) await runs.appendEpoch(runId, epochRow(epoch))
    const weights = path.join(runs.runDir(runId), 'weights.bin')
    fs.mkdirSync(path.dirname(weights), { recursive: true })
    fs.writeFileSync(weights, 'x')
    await runs.addArtifact(runId, { kind: 'weights', path: weights, bytes: 1, info: { note: 'test' } })
    const metrics = { testAccuracy: 0.97, testLoss: 0.1, valAccuracy: 0.96, trainAccuracy: 1 }
    await runs.finish(runId, { status: 'completed', metrics, blocks: [], timing: { totalMs: 10, msPerEpoch: 3 }, peakRssBytes: 1234 })

    const [summary] = await runs.list()
    expect(summary).toMatchObject({ runId, name: 'first', datasetName: 'digits', status: 'completed', backend: 'cpu', metrics })
    expect(summary!.startedAt).not.toBeNull()
    expect(summary!.endedAt).not.toBeNull()
    const detail = await runs.get(runId)
    expect(detail.epochs.map((e) => e.epoch)).toEqual([1, 2, 3])
    expect(detail.epochs[1]).toEqual(epochRow(2))
    expect(detail.artifacts).toHaveLength(1)
    expect(detail.artifacts[0]!.info).toEqual({ note: 'test' })
    expect(detail.peakRssBytes).toBe(1234)
    expect(detail.spec.layers).toHaveLength(3)

    const updated = await runs.update({ runId, name: 'renamed', tags: ['a', 'b', 'a', ' '], notes: 'why' })
    expect(updated).toMatchObject({ name: 'renamed', tags: ['a', 'b'], notes: 'why' })
    await expect(runs.update({ runId, name: '  ' })).rejects.toThrow(LabError)

    await runs.delete(runId)
    expect(await runs.list()).toEqual([])
    expect(fs.existsSync(runs.runDir(runId))).toBe(false)
    expect(await db.get('SELECT COUNT(*) AS n FROM epochs')).toEqual({ n: 0 })
    await expect(runs.get(runId)).rejects.toMatchObject({ code: 'not_found' })
  })

  it('makes a default name unique: two runs of the same second get "(2)", "(3)"', async () => {
    const home = tempHome()
    const { db, runs } = await openStore(home)
    await insertDataset(db, 'ds-1', 'digits')
    const base = 'digits · layer-wise · 2 blocks × 30 ep · 12-01 07:10:32'
    expect(await runs.uniqueName(base)).toBe(base)
    await runs.create(newRun('ds-1', { name: base }))
    expect(await runs.uniqueName(base)).toBe(`${base} (2)`)
    await runs.create(newRun('ds-1', { name: `${base} (2)` }))
    expect(await runs.uniqueName(base)).toBe(`${base} (3)`)
    // "%" and "_" in a name are matched as themselves, not as patterns.
    expect(await runs.uniqueName('digits 100%')).toBe('digits 100%')
  })

  it('refuses to delete a run that a live process is still training', async () => {
    const { db, runs } = await openStore(tempHome())
    await insertDataset(db, 'ds-1', 'digits')
    const runId = await runs.create(newRun('ds-1', { status: 'running' }))
    await expect(runs.delete(runId)).rejects.toMatchObject({ code: 'conflict' })
  })

  it('marks the run of a SIGKILLed process interrupted at the next open, keeping its epochs and the other runs', async () => {
    const home = tempHome()
    const first = await openStore(home)
    await insertDataset(first.db, 'ds-1', 'digits')
    const earlier = await first.runs.create(newRun('ds-1', { name: 'earlier' }))
    await first.runs.appendEpoch(earlier, epochRow(1))
    await first.runs.finish(earlier, { status: 'completed', metrics: { testAccuracy: 0.9, testLoss: 0.2, valAccuracy: 0.9, trainAccuracy: 1 } })
    // A run owned by another host: its process may well be alive there.
    const remote = await first.runs.create(newRun('ds-1', { name: 'remote', status: 'running', ownerPid: 999_999, ownerHost: 'another-host' }))
    await first.db.close()
    open.length = 0

    const { child, ready, exited } = runChild(home, 'hang')
    const runId = await ready
    await new Promise((resolve) => setTimeout(resolve, 100))
    child.kill('SIGKILL')
    expect(await exited).toBeNull()

    const { db, runs } = await openStore(home)
    // PostgreSQL's lock answers for every host: the remote run's process holds none, so it is interrupted too.
    expect(await runs.recoverInterrupted()).toBe(kind === 'postgres' ? 2 : 1)
    const killed = await runs.get(runId)
    expect(killed.status).toBe('interrupted')
    expect(killed.endedAt).not.toBeNull()
    expect(killed.epochs.length).toBeGreaterThanOrEqual(3)
    expect(killed.epochs.slice(0, 3).map((e) => e.epoch)).toEqual([1, 2, 3])
    expect((await runs.get(earlier)).status).toBe('completed')
    expect((await runs.get(earlier)).epochs).toHaveLength(1)
    expect((await runs.get(remote)).status).toBe(kind === 'postgres' ? 'interrupted' : 'running')
    expect(await intact(db)).toBe('ok')
    // A second open finds nothing more to recover.
    expect(await runs.recoverInterrupted()).toBe(0)
  })

  it('shows a kill -9ed run interrupted on the very next look of a host that stays open, 20 of 20', async () => {
    const home = tempHome()
    // The looking host is open before, during and after every kill, as the web shell or the desktop app is.
    const { db, runs } = await openStore(home)
    await insertDataset(db, 'ds-1', 'digits')
    const tries = 20
    const together = 4
    const seen: string[] = []
    for (let round = 0; round < tries / together; round++) {
      const children = Array.from({ length: together }, () => runChild(home, 'hang'))
      const ids = await Promise.all(children.map((c) => c.ready))
      for (const [i, { child, exited }] of children.entries()) {
        const runId = ids[i]!
        // Alive: the lock is held, so the same look says running (this is what the test can fail on).
        expect((await runs.summary(runId)).status).toBe('running')
        child.kill('SIGKILL')
        expect(await exited).toBeNull()
        const [listed] = (await runs.list()).filter((r) => r.runId === runId)
        seen.push(listed!.status)
        expect((await runs.get(runId)).error).toMatch(/ended before the run did/)
      }
    }
    expect(seen).toEqual(new Array(tries).fill('interrupted'))
    expect(await intact(db)).toBe('ok')
  })

  it.runIf(kind === 'postgres')(
    'asks the server for the lock of a run trained on another machine: running while held, interrupted once its process is killed',
    async () => {
      const home = tempHome()
      const { db, runs } = await openStore(home)
      await insertDataset(db, 'ds-1', 'digits')
      const { child, ready, exited } = runChild(home, 'hang-remote')
      const runId = await ready
      expect((await runs.summary(runId)).status).toBe('running')
      child.kill('SIGKILL')
      expect(await exited).toBeNull()
      // The server drops the lock when it sees the connection close: milliseconds here (TCP keepalive over a network).
      let status = (await runs.summary(runId)).status
      for (let i = 0; i < 100 && status === 'running'; i++) {
        await new Promise((resolve) => setTimeout(resolve, 50))
        status = (await runs.summary(runId)).status
      }
      expect(status).toBe('interrupted')
      expect((await runs.get(runId)).epochs.length).toBeGreaterThanOrEqual(3)
    }
  )

  it('does not keep a run running because its PID now belongs to another live process (a reboot reused it)', async () => {
    const { db, runs } = await openStore(tempHome())
    await insertDataset(db, 'ds-1', 'digits')
    // The row names a PID that is alive (our parent process) but holds no lock for the run: its owner is gone.
    const runId = await runs.create(newRun('ds-1', { status: 'running', ownerPid: process.ppid }))
    expect((await runs.get(runId)).status).toBe('interrupted')
    // A run this process trains is running whatever anyone looks at.
    const live = await runs.create(newRun('ds-1', { status: 'running' }))
    expect((await runs.list()).find((r) => r.runId === live)!.status).toBe('running')
    await runs.finish(live, { status: 'completed' })
    expect(fs.existsSync(path.join(runs.runDir(live), 'owner.lock'))).toBe(false)
  })

  it('lets two processes write runs into one home at the same time', async () => {
    const home = tempHome()
    const { db } = await openStore(home)
    await insertDataset(db, 'ds-1', 'digits')
    await db.close()
    open.length = 0
    const a = runChild(home, 'write', 8)
    const b = runChild(home, 'write', 8)
    expect(await Promise.all([a.exited, b.exited])).toEqual([0, 0])
    const { db: after, runs } = await openStore(home)
    const list = await runs.list()
    expect(list).toHaveLength(16)
    expect(list.every((run) => run.status === 'completed')).toBe(true)
    expect(await after.get('SELECT COUNT(*) AS n FROM epochs')).toEqual({ n: 80 })
    for (const run of list.slice(0, 3)) expect((await runs.get(run.runId)).epochs.map((e) => e.epoch)).toEqual([1, 2, 3, 4, 5])
    expect(await intact(after)).toBe('ok')
  })

  // PostgreSQL's upgrade from version 1: db.test.ts.
  it.runIf(kind === 'sqlite')('upgrades a file created at schema version 1 without losing its rows', async () => {
    const home = tempHome()
    const file = path.join(home, 'layerlab.sqlite')
    const raw = new sqlite3.Database(file)
    const exec = (sql: string) => new Promise<void>((resolve, reject) => raw.exec(sql, (error) => (error ? reject(error) : resolve())))
    await exec(migrations[0]!.sql)
    await exec('PRAGMA user_version = 1')
    const run = newRun('ds-1')
    await exec(`INSERT INTO datasets (id, name, kind, source_path, content_hash, rows, target, parse_json, profile_json, recipe_json, split_json, data_dir, created_at)
      VALUES ('ds-1', 'old digits', 'table', '/d.csv', 'h', 10, 'digit', '{}', '[]', '{}', '{}', '/d', '2025-01-01T00:00:00.000Z')`)
    await exec(`INSERT INTO runs (id, name, dataset_id, mode, status, backend, seed, spec_json, partition_json, config_json, metrics_json, created_at, ended_at)
      VALUES ('run-old', 'old run', 'ds-1', 'end-to-end', 'completed', 'cpu', 7, '${JSON.stringify(run.spec)}', '${JSON.stringify(run.partition)}',
      '${JSON.stringify(run.config)}', '{"testAccuracy":0.9,"testLoss":0.3,"valAccuracy":0.88,"trainAccuracy":0.99}', '2025-01-01T00:00:00.000Z', '2025-01-01T00:01:00.000Z')`)
    await exec(`INSERT INTO epochs VALUES ('run-old', 0, -1, 'end-to-end', 1, 0.5, 0.8, 0.6, 0.7, 0.001, 900)`)
    await new Promise<void>((resolve) => raw.close(() => resolve()))

    const { db, runs } = await openStore(home)
    expect(await db.version()).toBe(migrations[migrations.length - 1]!.version)
    const detail = await runs.get('run-old')
    expect(detail).toMatchObject({ name: 'old run', datasetName: 'old digits', seed: 7, tags: [], notes: '', artifacts: [] })
    expect(classified(detail.metrics).testAccuracy).toBe(0.9)
    // Runs from before tasks are classifiers, and their config reads with the settings added since (loss, class weights).
    expect(detail.task).toBe('classification')
    expect(detail.config).toMatchObject({ loss: 'mse', classWeights: 'none', mode: run.config.mode })
    expect(detail.epochs).toEqual([
      { block: -1, phase: 'end-to-end', epoch: 1, loss: 0.5, accuracy: 0.8, valLoss: 0.6, valAccuracy: 0.7, learningRate: 0.001, samplesPerSec: 900 }
    ])
    await runs.update({ runId: 'run-old', tags: ['kept'] })
    expect((await runs.list())[0]!.tags).toEqual(['kept'])
  })
})
