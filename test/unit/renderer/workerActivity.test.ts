import { describe, expect, it } from 'vitest'
import type { QueueWorker, StudyDetail, StudyMember } from '../../../main/shared/contract'
import { memberStatusText, workerActivity } from '../../../renderer/src/components/studies/workerActivity'

const member = (
  configIndex: number,
  memberIndex: number,
  status: StudyMember['status'],
  worker: string | null,
  seed = 40 + memberIndex
): StudyMember => ({
  configIndex,
  memberIndex,
  split: { kind: 'holdout', seed },
  seed,
  runId: status === 'queued' ? null : `run-${configIndex}-${memberIndex}`,
  status,
  error: null,
  trainRows: 100,
  testRows: 20,
  test: null,
  val: null,
  worker,
  attempt: worker ? 1 : 0
})
const study = {
  studyId: 'st-a',
  configs: [{ name: 'end-to-end' }, { name: 'layer-wise' }] as StudyDetail['configs'],
  members: [
    member(0, 0, 'completed', 'box pid 1 · auto'),
    member(0, 1, 'failed', 'box pid 1 · auto'),
    member(1, 0, 'running', 'box pid 1 · auto'),
    member(1, 1, 'completed', 'box pid 2 · auto'),
    member(1, 2, 'queued', null)
  ]
}
const worker = (name: string, running: QueueWorker['running']): QueueWorker => ({
  workerId: name,
  name,
  host: 'box',
  pid: 1,
  backend: 'auto',
  concurrency: 2,
  startedAt: '2026-12-02T00:00:00.000Z',
  seenAt: '2026-12-02T00:00:05.000Z',
  running
})

describe("a queue worker's activity in the study view", () => {
  it("names this study's members it trains by config and seed, a retry with its try, and another study's by id", () => {
    const activity = workerActivity(
      worker('box pid 1 · auto', [
        { studyId: 'st-a', configIndex: 1, memberIndex: 0, runId: 'run-1-0', name: 'x', attempt: 2 },
        { studyId: 'st-b', configIndex: 0, memberIndex: 0, runId: 'run-9', name: 'y', attempt: 1 }
      ]),
      study
    )
    expect(activity.now).toEqual([
      { text: 'layer-wise · seed 40 (try 2)', thisStudy: true },
      { text: 'another study (st-b)', thisStudy: false }
    ])
  })
  it("counts the members of this study whose run it ended (not the one it trains now, not another worker's)", () => {
    expect(workerActivity(worker('box pid 1 · auto', []), study)).toEqual({ now: [], trained: 2 })
    expect(workerActivity(worker('box pid 2 · auto', []), study).trained).toBe(1)
    expect(workerActivity(worker('elsewhere pid 7 · wasm', []), study).trained).toBe(0)
  })
})

describe('memberStatusText', () => {
  it('says where a member not started yet waits, and that it was not run once its study stopped', () => {
    expect(memberStatusText('pending', { status: 'running', queue: 'redis://127.0.0.1:6379' })).toBe('in the queue')
    expect(memberStatusText('pending', { status: 'running', queue: null })).toBe('waiting')
    expect(memberStatusText('pending', { status: 'cancelled', queue: null })).toBe('not run')
    expect(memberStatusText('pending', { status: 'interrupted', queue: 'redis://127.0.0.1:6379' })).toBe('not run')
    for (const status of ['queued', 'running', 'completed', 'failed', 'cancelled', 'interrupted'] as const)
      expect(memberStatusText(status, { status: 'running', queue: null })).toBe(status)
  })
})
