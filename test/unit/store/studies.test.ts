/**
 * The studies table: a member's end is written once (keyed by member and run), the run's own record wins where
 * the member's write was lost, and a study whose process died becomes interrupted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { Db } from '../../../main/store/sql'
import { RunStore } from '../../../main/store/runs'
import { StudyStore, type NewStudy } from '../../../main/store/studies'
import { removeHome, tempHome } from '../../fixtures/home'
import { insertDataset, newRun } from './helpers'
import { storeKinds, testStore } from '../../fixtures/postgres'

const study = (): NewStudy => ({
  name: 'toy study',
  datasetId: 'ds-1',
  kind: 'compare',
  protocol: { kind: 'seeds', seeds: 2, firstSeed: 1 },
  configs: [],
  workers: 1
})
const members = [0, 1].map((memberIndex) => ({
  configIndex: 0,
  memberIndex,
  split: { kind: 'holdout' as const, seed: memberIndex + 1 },
  seed: memberIndex + 1,
  trainRows: 70,
  testRows: 15
}))
const metrics = { testAccuracy: 0.9, testLoss: 0.3, valAccuracy: 0.88, trainAccuracy: 1 }

describe.each(storeKinds())('StudyStore on %s', (kind) => {
  let home: string
  let db: Db
  let runs: RunStore
  let studies: StudyStore

  beforeAll(async () => {
    home = tempHome('layerlab-studies-store-')
    db = await (await testStore(kind)).open(home)
    await insertDataset(db, 'ds-1', 'toy')
    runs = new RunStore(db, home)
    studies = new StudyStore(db)
  })
  afterAll(async () => {
    await db.close()
    removeHome(home)
  })

  it('records a member’s end once, only for the run it points at, never over a completion', async () => {
    const studyId = await studies.create(study(), members)
    const key = { studyId, configIndex: 0, memberIndex: 0 }
    const runId = await runs.create(newRun('ds-1'))
    expect(await studies.memberStarted(key, runId)).toBe(true)
    await runs.finish(runId, { status: 'completed', metrics })
    expect(await studies.memberEnded(key, 'run-other', 'failed', 'late report of another run')).toBe(false)
    expect(await studies.memberEnded(key, runId, 'completed', null)).toBe(true)
    expect(await studies.memberEnded(key, runId, 'failed', 'a duplicate report')).toBe(false)
    expect(await studies.memberStarted(key, 'run-again')).toBe(false)
    const [first] = await studies.members(studyId)
    expect(first).toMatchObject({ status: 'completed', runId, metrics, error: null })
    expect((await studies.counts()).get(studyId)).toEqual({ total: 2, done: 1, failed: 0 })
  })

  it('takes the run’s end where the member’s write was lost, and marks a study of a dead process interrupted', async () => {
    const studyId = await studies.create(study(), members)
    const key = { studyId, configIndex: 0, memberIndex: 1 }
    const runId = await runs.create(newRun('ds-1'))
    await studies.memberStarted(key, runId)
    // The run finished; the process died before the member heard of it.
    await runs.finish(runId, { status: 'completed', metrics })
    const second = (await studies.members(studyId))[1]!
    expect(second.status).toBe('completed')
    expect(second.metrics).toEqual(metrics)
    expect((await studies.counts()).get(studyId)).toEqual({ total: 2, done: 1, failed: 0 })
    // This process is alive: nothing to recover. A dead owner: interrupted, resumable.
    expect(await studies.recoverInterrupted()).toBe(0)
    await db.run('UPDATE studies SET owner_pid = 999999999 WHERE id = ?', [studyId])
    expect(await studies.recoverInterrupted()).toBeGreaterThanOrEqual(1)
    expect((await studies.study(studyId)).status).toBe('interrupted')
  })

  it('a member whose run was deleted by hand is pending again; deleting a study returns its runs', async () => {
    const studyId = await studies.create(study(), members)
    const runId = await runs.create(newRun('ds-1'))
    await studies.memberStarted({ studyId, configIndex: 0, memberIndex: 0 }, runId)
    await runs.finish(runId, { status: 'completed', metrics })
    await runs.delete(runId)
    expect((await studies.members(studyId))[0]!.status).toBe('pending')
    const other = await runs.create(newRun('ds-1'))
    await studies.memberStarted({ studyId, configIndex: 0, memberIndex: 1 }, other)
    expect(await studies.delete(studyId)).toEqual([other])
    await expect(studies.study(studyId)).rejects.toThrow(`study ${studyId} not found`)
  })
})
