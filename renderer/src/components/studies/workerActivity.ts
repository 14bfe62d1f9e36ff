/**
 * What the study view says about a member waiting for its turn, and about one queue worker: what it trains now (from its heartbeat) and how many of this
 * study's members it has trained (from the study's own records). The count is what stays readable when members
 * are short: a heartbeat fetched every two seconds rarely catches a member that trains in a tenth of a second,
 * but every member records the worker that trained it.
 */
import type { MemberStatus, QueueWorker, StudyDetail } from '@contract'

const ENDED: ReadonlySet<MemberStatus> = new Set(['completed', 'failed', 'cancelled', 'interrupted'])

export interface WorkerActivity {
  /** Members it trains now: this study's by config name and seed (and try, after a lost worker), others by study. */
  now: { text: string; thisStudy: boolean }[]
  /** This study's members whose counting run this worker ended. */
  trained: number
}

export function memberLabel(study: Pick<StudyDetail, 'configs' | 'members'>, key: { configIndex: number; memberIndex: number }): string {
  const member = study.members.find((m) => m.configIndex === key.configIndex && m.memberIndex === key.memberIndex)
  return `${study.configs[key.configIndex]?.name ?? key.configIndex} · seed ${member?.seed ?? key.memberIndex}`
}

export function workerActivity(worker: QueueWorker, study: Pick<StudyDetail, 'studyId' | 'configs' | 'members'>): WorkerActivity {
  return {
    now: worker.running.map((r) =>
      r.studyId === study.studyId
        ? { text: `${memberLabel(study, r)}${r.attempt > 1 ? ` (try ${r.attempt})` : ''}`, thisStudy: true }
        : { text: `another study (${r.studyId})`, thisStudy: false }
    ),
    trained: study.members.filter((m) => m.worker === worker.name && ENDED.has(m.status)).length
  }
}

/**
 * A member's status as its row says it: one not started yet is "in the queue" while its study waits on queue
 * workers, "waiting" for a place in the local pool, and "not run" once the study stopped without it; the others
 * as stored.
 */
export function memberStatusText(status: MemberStatus, study: { status: StudyDetail['status']; queue: string | null }): string {
  if (status !== 'pending') return status
  if (study.status !== 'running') return 'not run'
  return study.queue ? 'in the queue' : 'waiting'
}
