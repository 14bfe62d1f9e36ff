/**
 * Studies end to end through the lab's router: real imports, real training workers, the real SQLite file.
 * A killed study resumes without re-running finished members; two workers train the same metrics as one.
 */
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openLab, type Lab } from '../../../main/lab'
import type { EventPayload, StudyDetail } from '../../../main/shared/contract'
import { removeHome, tempHome } from '../../fixtures/home'
import { DIGITS_CSV } from '../../fixtures/digits'
import { call, smallBase } from './helpers'

const ROOT = path.resolve(__dirname, '../../..')
const CHILD = path.join(__dirname, 'child-study.ts')

let home: string
let lab: Lab
let datasetId: string

beforeAll(async () => {
  home = tempHome('layerlab-study-')
  lab = await openLab({ home })
  datasetId = (await call(lab, 'datasets.import', { path: DIGITS_CSV })).datasetId
})
afterAll(async () => {
  await lab?.close()
  removeHome(home)
})

const memberScores = (detail: StudyDetail) => detail.members.map((m) => `${m.configIndex}/${m.memberIndex}: ${m.test} ${m.val}`)

describe('a study through the router', () => {
  let oneWorker: StudyDetail

  it('runs every member as an ordinary tagged run, reports progress for the whole study, and computes the statistics', async () => {
    const progress: EventPayload<'study.progress'>[] = []
    const stop = lab.events.subscribe((event, payload) => {
      if (event === 'study.progress') progress.push(payload as EventPayload<'study.progress'>)
    })
    const base = await smallBase(lab, datasetId)
    const { studyId } = await call(lab, 'studies.start', { datasetId, base, protocol: { kind: 'seeds', seeds: 3 }, workers: 1 })
    const ended = await call(lab, 'studies.wait', { studyId })
    stop()
    expect(ended).toMatchObject({ status: 'completed', total: 6, done: 6, failed: 0, workers: 1 })
    oneWorker = await call(lab, 'studies.get', { studyId })
    expect(oneWorker.configs.map((c) => c.config.mode)).toEqual(['end-to-end', 'layer-wise'])
    // Member m of both configurations: the same fresh split and the same seed.
    expect(oneWorker.members.map((m) => [m.configIndex, m.seed, m.split])).toEqual(
      [0, 1].flatMap((c) => [1, 2, 3].map((seed) => [c, seed, { kind: 'holdout', seed }]))
    )
    for (const member of oneWorker.members) {
      const run = await call(lab, 'runs.get', { runId: member.runId! })
      expect(run.status).toBe('completed')
      expect(run.tags).toEqual([`study ${studyId}`])
      expect(run.config.split).toEqual(member.split)
      expect(run.config.seed).toBe(member.seed)
      const evaluation = run.evaluation!
      if (!('perClass' in evaluation)) throw new Error('a digits run without a classification evaluation')
      expect(evaluation.perClass.reduce((n, c) => n + c.support, 0)).toBe(member.testRows)
    }
    const stats = oneWorker.stats
    expect(stats.configs.map((c) => c.n)).toEqual([3, 3])
    for (const c of stats.configs) {
      expect(c.test.ci95![0]).toBeLessThan(c.test.mean!)
      expect(c.test.ci95![1]).toBeGreaterThan(c.test.mean!)
      expect(c.wallMs.mean).toBeGreaterThan(0)
      expect(c.peakRssBytes.mean).toBeGreaterThan(0)
    }
    expect(stats.comparison!.pairs).toBe(3)
    expect(stats.comparison!.test).toBe('corrected resampled t-test (Nadeau–Bengio)')
    // 70/15/15: test rows / train rows ≈ 0.15 / 0.70.
    expect(stats.comparison!.testTrainRatio).toBeCloseTo(0.2138, 2)
    expect(stats.comparison!.verdict).toMatch(/^(No detectable difference between end-to-end and layer-wise|(End-to-end|Layer-wise) is better than)/)
    expect(stats.coverage).toBe('Statistics cover 6 of 6 runs.')
    // Progress: done counts up to the total; a time left once a member has finished.
    expect(progress.at(-1)).toMatchObject({ studyId, status: 'completed', done: 6, total: 6 })
    expect(progress.some((p) => p.status === 'running' && p.etaMs !== null && p.etaMs > 0)).toBe(true)
    const listed = await call(lab, 'studies.list', {})
    expect(listed.map((s) => s.studyId)).toContain(studyId)
  })

  it('two workers train exactly the same metrics as one for the same seeds', async () => {
    const base = await smallBase(lab, datasetId)
    const { studyId } = await call(lab, 'studies.start', { datasetId, base, protocol: { kind: 'seeds', seeds: 3 }, workers: 2 })
    expect((await call(lab, 'studies.wait', { studyId })).status).toBe('completed')
    const twoWorkers = await call(lab, 'studies.get', { studyId })
    expect(twoWorkers.workers).toBe(2)
    expect(memberScores(twoWorkers)).toEqual(memberScores(oneWorker))
    expect(twoWorkers.stats.comparison!.pValue).toBe(oneWorker.stats.comparison!.pValue)
  })

  it('cross-validation: 3 folds test on every row once; cancelling stops the whole study, resuming finishes it', async () => {
    const base = await smallBase(lab, datasetId)
    const { studyId } = await call(lab, 'studies.start', { datasetId, base, compare: ['end-to-end'], protocol: { kind: 'cv', folds: 3 }, workers: 1 })
    // Cancel as soon as the first member has a run: the rest never start.
    for (;;) {
      const detail = await call(lab, 'studies.get', { studyId })
      if (detail.members.some((m) => m.runId)) break
      await new Promise((r) => setTimeout(r, 20))
    }
    await call(lab, 'studies.cancel', { studyId })
    const cancelled = await call(lab, 'studies.get', { studyId })
    expect(cancelled.status).toBe('cancelled')
    expect(cancelled.members.filter((m) => m.status === 'pending').length).toBeGreaterThanOrEqual(1)
    await call(lab, 'studies.resume', { studyId })
    expect((await call(lab, 'studies.wait', { studyId })).status).toBe('completed')
    const done = await call(lab, 'studies.get', { studyId })
    expect(done.members.map((m) => m.status)).toEqual(['completed', 'completed', 'completed'])
    const tested = done.members.reduce((n, m) => n + m.testRows, 0)
    expect(tested).toBe(1797)
    // One run per member in the history: an unfinished run is replaced when its member trains again.
    const runs = (await call(lab, 'runs.list', {})).filter((r) => r.tags.includes(`study ${studyId}`))
    expect(runs.map((r) => r.runId).sort()).toEqual(done.members.map((m) => m.runId!).sort())
    expect(done.stats.comparison).toBeNull()
  })

  it('a sweep: every point with the protocol, the best chosen on validation and reported on test', async () => {
    const base = await smallBase(lab, datasetId)
    const sweep = { method: 'grid' as const, params: { learningRate: [0.0001, 0.01], hidden: [[8], [16, 16]] } }
    const { studyId } = await call(lab, 'studies.start', { datasetId, base, sweep, protocol: { kind: 'seeds', seeds: 2 }, workers: 2 })
    expect((await call(lab, 'studies.wait', { studyId })).status).toBe('completed')
    const detail = await call(lab, 'studies.get', { studyId })
    expect(detail.kind).toBe('sweep')
    expect(detail.configs.map((c) => c.name)).toEqual([
      // The model first, then its settings: the name follows the order the point is applied in.
      'hidden 8 · lr 0.0001',
      'hidden 16-16 · lr 0.0001',
      'hidden 8 · lr 0.01',
      'hidden 16-16 · lr 0.01'
    ])
    expect(detail.members).toHaveLength(8)
    const vals = detail.stats.configs.map((c) => c.val.mean!)
    expect(detail.stats.best).toBe(vals.indexOf(Math.max(...vals)))
    expect(detail.stats.configs[detail.stats.best!]!.test.ci95).not.toBeNull()
    expect(detail.stats.comparison).toBeNull()
  })

  it('refuses a protocol that cannot work in one line, before any run exists', async () => {
    const base = await smallBase(lab, datasetId)
    const before = (await call(lab, 'runs.list', {})).length
    await expect(call(lab, 'studies.start', { datasetId, base, protocol: { kind: 'seeds', seeds: 1 } })).rejects.toThrow(
      'a study needs at least 2 seeds to measure how much a score varies; 1 seed gives a single run (train it with layerlab train)'
    )
    // A table with a rare class: 4 rows of "rare" cannot fill 5 stratified folds.
    const rows = Array.from({ length: 44 }, (_, i) => `${i % 7},${(i * 3) % 11},${i < 20 ? 'a' : i < 40 ? 'b' : 'rare'}`)
    const file = path.join(home, '..', `rare-${path.basename(home)}.csv`)
    fs.writeFileSync(file, ['x,y,label', ...rows].join('\n') + '\n')
    const rare = await call(lab, 'datasets.import', { path: file })
    const rareModel = await call(lab, 'models.default', { datasetId: rare.datasetId })
    await expect(
      call(lab, 'studies.start', { datasetId: rare.datasetId, base: { ...rareModel, config: {} }, protocol: { kind: 'cv', folds: 5 } })
    ).rejects.toThrow('rare-layerlab-study-')
    await expect(
      call(lab, 'studies.start', { datasetId: rare.datasetId, base: { ...rareModel, config: {} }, protocol: { kind: 'cv', folds: 5 } })
    ).rejects.toThrow(': 5-fold stratified cross-validation needs at least 5 rows of every class; class "rare" has 4: use at most 4 folds')
    await expect(
      call(lab, 'studies.start', {
        datasetId,
        base,
        sweep: { method: 'grid', params: { blockLearningRates: [[0.01]] } },
        protocol: { kind: 'seeds', seeds: 2 }
      })
    ).rejects.toThrow('sweep blockLearningRates [0.01]: gives 1 rates for 2 blocks')
    expect((await call(lab, 'runs.list', {})).length).toBe(before)
  })
})

describe('a study killed mid-way', () => {
  it('is interrupted, and resumes without re-running its finished members', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD, home, datasetId], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
    let stderr = ''
    child.stderr!.on('data', (chunk) => (stderr += String(chunk)))
    const studyId = await new Promise<string>((resolve, reject) => {
      let out = ''
      let id = ''
      child.stdout!.on('data', (chunk) => {
        out += String(chunk)
        id ||= /study (st-[0-9a-f]+)/.exec(out)?.[1] ?? ''
        // Two members finished (of six): kill it while the third trains.
        if (id && /done 2\n/.test(out)) resolve(id)
      })
      child.once('exit', (code) => reject(new Error(`child exited with ${code} before two members finished: ${stderr}`)))
    })
    child.kill('SIGKILL')
    await new Promise((resolve) => child.once('exit', resolve))

    // The test's lab did not run it: a fresh lab over the same home sees what the crash left.
    const after = await openLab({ home })
    try {
      const interrupted = await call(after, 'studies.get', { studyId })
      expect(interrupted.status).toBe('interrupted')
      const finished = interrupted.members.filter((m) => m.status === 'completed')
      expect(finished.length).toBeGreaterThanOrEqual(2)
      const finishedRuns = await Promise.all(finished.map((m) => call(after, 'runs.get', { runId: m.runId! })))

      await call(after, 'studies.resume', { studyId, workers: 2 })
      expect((await call(after, 'studies.wait', { studyId })).status).toBe('completed')
      const resumed = await call(after, 'studies.get', { studyId })
      expect(resumed.members.every((m) => m.status === 'completed')).toBe(true)
      // The finished members kept their runs, untouched: same ids, same end times, same scores.
      for (const [i, member] of finished.entries()) {
        const now = resumed.members.find((m) => m.configIndex === member.configIndex && m.memberIndex === member.memberIndex)!
        expect(now.runId).toBe(member.runId)
        const run = await call(after, 'runs.get', { runId: member.runId! })
        expect(run.endedAt).toBe(finishedRuns[i]!.endedAt)
        expect(run.metrics).toEqual(finishedRuns[i]!.metrics)
      }
      const studyRuns = (await call(after, 'runs.list', {})).filter((r) => r.tags.includes(`study ${studyId}`))
      expect(studyRuns).toHaveLength(6)
      expect(studyRuns.every((r) => r.status === 'completed')).toBe(true)
    } finally {
      await after.close()
    }
  })
})
