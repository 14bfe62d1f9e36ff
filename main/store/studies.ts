/**
 * Studies in the history store (sql.ts): one row per study (its protocol and configurations as JSON) and one per member (configuration
 * × split). A member points at its ordinary run in the runs table. A member's completion is keyed by the member
 * itself (study, configuration, member) and written once: recording it twice, or after a resume started another
 * run for it, changes nothing — a pool (local or remote) may report the same end more than once.
 */
import os from 'node:os'
import type { Db } from './sql'
import type {
  MemberAttempt,
  MemberStatus,
  RunMetrics,
  RunStatus,
  SplitSpec,
  StudyConfig,
  StudyProtocol,
  StudyStatus,
  StudySummary,
  SweepSpec
} from '../shared/contract'
import { notFound } from '../shared/errors'
import { newId, nowIso } from '../core/ids'
import { processAlive } from './runs'

export interface NewStudy {
  name: string
  datasetId: string
  kind: StudySummary['kind']
  protocol: StudyProtocol
  configs: StudyConfig[]
  sweep?: SweepSpec
  workers: number
  /** The queue the members go to, without credentials; null: this process's own pool. */
  queue?: string | null
}

export interface NewMember {
  configIndex: number
  memberIndex: number
  split: SplitSpec
  seed: number
  trainRows: number
  testRows: number
}

export interface MemberKey {
  studyId: string
  configIndex: number
  memberIndex: number
}

/** A member with what its run recorded (null where it has no run yet, or its run was deleted). */
export interface StoredMember extends NewMember {
  runId: string | null
  status: MemberStatus
  error: string | null
  /** The queue worker of its run, and which try that run is (0: not run on a queue). */
  worker: string | null
  attempt: number
  /** Its run's own status (null without a run), and the process that trains or trained it. */
  runStatus: RunStatus | null
  runOwner: { pid: number | null; host: string | null } | null
  metrics: RunMetrics | null
  wallMs: number | null
  peakRssBytes: number | null
  endedAt: string | null
}

export interface StoredStudy extends Omit<StudySummary, 'datasetName' | 'task' | 'total' | 'done' | 'failed'> {
  datasetName: string
  configs: StudyConfig[]
  sweep: SweepSpec | null
  ownerPid: number | null
  ownerHost: string | null
}

interface StudyRow {
  id: string
  name: string
  dataset_id: string
  dataset_name: string | null
  kind: StudySummary['kind']
  protocol_json: string
  configs_json: string
  sweep_json: string | null
  status: StudyStatus
  workers: number
  queue: string | null
  error: string | null
  owner_pid: number | null
  owner_host: string | null
  created_at: string
  ended_at: string | null
}

interface MemberRow {
  config_index: number
  member_index: number
  split_json: string
  seed: number
  train_rows: number
  test_rows: number
  run_id: string | null
  status: MemberStatus
  error: string | null
  worker: string | null
  attempt: number
  run_status: string | null
  run_owner_pid: number | null
  run_owner_host: string | null
  run_error: string | null
  metrics_json: string | null
  timing_json: string | null
  peak_rss: number | null
  run_ended_at: string | null
}

const SELECT_STUDY = `SELECT s.*, d.name AS dataset_name FROM studies s LEFT JOIN datasets d ON d.id = s.dataset_id`

function toStudy(row: StudyRow): StoredStudy {
  return {
    studyId: row.id,
    name: row.name,
    datasetId: row.dataset_id,
    datasetName: row.dataset_name ?? '',
    kind: row.kind,
    protocol: JSON.parse(row.protocol_json) as StudyProtocol,
    configs: JSON.parse(row.configs_json) as StudyConfig[],
    sweep: row.sweep_json ? (JSON.parse(row.sweep_json) as SweepSpec) : null,
    status: row.status,
    workers: row.workers,
    queue: row.queue ?? null,
    error: row.error,
    ownerPid: row.owner_pid,
    ownerHost: row.owner_host,
    createdAt: row.created_at,
    endedAt: row.ended_at
  }
}

/**
 * What a member is now: its stored status, except that a member whose run was deleted is pending again, and one
 * whose run ended without the study hearing of it takes the run's end (`interrupted` when its process died).
 */
function memberStatus(row: MemberRow): MemberStatus {
  // A member that failed to start has no run; any other with its run gone (deleted by hand) is to be run again.
  if (row.status !== 'pending' && row.status !== 'failed' && row.run_id === null) return 'pending'
  if (row.status === 'queued' || row.status === 'running') {
    // The run's own record is the authority: its end reached the runs table even where the member's did not
    // (the process died between the two writes), so a completed run is never trained again.
    if (row.run_status === 'completed' || row.run_status === 'failed' || row.run_status === 'cancelled' || row.run_status === 'interrupted')
      return row.run_status
    if (row.run_status === 'running') return 'running'
  }
  return row.status
}

export class StudyStore {
  constructor(readonly db: Db) {}

  async create(study: NewStudy, members: NewMember[]): Promise<string> {
    const studyId = newId('st')
    await this.db.transaction(async (tx) => {
      await tx.run(
        `INSERT INTO studies (id, name, dataset_id, kind, protocol_json, configs_json, sweep_json, status, workers, queue, owner_pid, owner_host, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, 'running', ?, ?, ?, ?, ?)`,
        [
          studyId,
          study.name,
          study.datasetId,
          study.kind,
          JSON.stringify(study.protocol),
          JSON.stringify(study.configs),
          study.sweep ? JSON.stringify(study.sweep) : null,
          study.workers,
          study.queue ?? null,
          process.pid,
          os.hostname(),
          nowIso()
        ]
      )
      for (const m of members)
        await tx.run(
          `INSERT INTO study_members (study_id, config_index, member_index, split_json, seed, train_rows, test_rows) VALUES (?, ?, ?, ?, ?, ?, ?)`,
          [studyId, m.configIndex, m.memberIndex, JSON.stringify(m.split), m.seed, m.trainRows, m.testRows]
        )
    })
    return studyId
  }

  async study(studyId: string): Promise<StoredStudy> {
    const row = await this.db.get<StudyRow>(`${SELECT_STUDY} WHERE s.id = ?`, [studyId])
    if (!row) throw notFound('study', studyId)
    return toStudy(row)
  }

  async list(): Promise<StoredStudy[]> {
    return (await this.db.all<StudyRow>(`${SELECT_STUDY} ORDER BY s.created_at DESC, s.id`)).map(toStudy)
  }

  async members(studyId: string): Promise<StoredMember[]> {
    const rows = await this.db.all<MemberRow>(
      `SELECT m.*, r.status AS run_status, r.owner_pid AS run_owner_pid, r.owner_host AS run_owner_host, r.error AS run_error, r.metrics_json, r.timing_json, r.peak_rss, r.ended_at AS run_ended_at
       FROM study_members m LEFT JOIN runs r ON r.id = m.run_id
       WHERE m.study_id = ? ORDER BY m.config_index, m.member_index`,
      [studyId]
    )
    return rows.map((row) => {
      const status = memberStatus(row)
      const timing = row.timing_json ? (JSON.parse(row.timing_json) as { totalMs: number }) : null
      return {
        configIndex: row.config_index,
        memberIndex: row.member_index,
        split: JSON.parse(row.split_json) as SplitSpec,
        seed: row.seed,
        trainRows: row.train_rows,
        testRows: row.test_rows,
        runId: row.run_id,
        status,
        error: row.error ?? row.run_error,
        worker: row.worker,
        attempt: row.attempt ?? 0,
        runStatus: (row.run_status as RunStatus | null) ?? null,
        runOwner: row.run_status === null ? null : { pid: row.run_owner_pid, host: row.run_owner_host },
        metrics: status === 'completed' && row.metrics_json ? (JSON.parse(row.metrics_json) as RunMetrics) : null,
        wallMs: status === 'completed' ? (timing?.totalMs ?? null) : null,
        peakRssBytes: status === 'completed' ? row.peak_rss : null,
        endedAt: row.run_ended_at
      }
    })
  }

  /** Member counts per study: total, completed, failed. */
  async counts(): Promise<Map<string, { total: number; done: number; failed: number }>> {
    // The same reading of a member as memberStatus, in SQL.
    const rows = await this.db.all<{ study_id: string; total: number; done: number; failed: number }>(
      `SELECT m.study_id, COUNT(*) AS total,
         SUM(CASE WHEN m.run_id IS NOT NULL AND (m.status = 'completed' OR (m.status IN ('queued', 'running') AND r.status = 'completed'))
           THEN 1 ELSE 0 END) AS done,
         SUM(CASE WHEN m.status = 'failed' OR (m.status IN ('queued', 'running') AND r.status = 'failed') THEN 1 ELSE 0 END) AS failed
       FROM study_members m LEFT JOIN runs r ON r.id = m.run_id GROUP BY m.study_id`
    )
    return new Map(rows.map((r) => [r.study_id, { total: r.total, done: r.done ?? 0, failed: r.failed ?? 0 }]))
  }

  /** The study is run by this process from now on (start, resume). */
  async claim(studyId: string, workers: number, queue: string | null = null): Promise<void> {
    const result = await this.db.run(
      `UPDATE studies SET status = 'running', workers = ?, queue = ?, owner_pid = ?, owner_host = ?, error = NULL, ended_at = NULL WHERE id = ?`,
      [workers, queue, process.pid, os.hostname(), studyId]
    )
    if (result.changes === 0) throw notFound('study', studyId)
  }

  async finish(studyId: string, status: Exclude<StudyStatus, 'running'>, error: string | null = null): Promise<void> {
    await this.db.run(`UPDATE studies SET status = ?, error = ?, ended_at = ? WHERE id = ?`, [status, error, nowIso(), studyId])
  }

  /** A member's run was created: it points at it from now on (unless the member had already completed). */
  async memberStarted(key: MemberKey, runId: string): Promise<boolean> {
    const result = await this.db.run(
      `UPDATE study_members SET run_id = ?, status = 'queued', error = NULL
       WHERE study_id = ? AND config_index = ? AND member_index = ? AND status != 'completed' AND (run_id IS NULL OR run_id != ?)`,
      [runId, key.studyId, key.configIndex, key.memberIndex, runId]
    )
    return result.changes > 0
  }

  async member(key: MemberKey): Promise<StoredMember> {
    const found = (await this.members(key.studyId)).find((m) => m.configIndex === key.configIndex && m.memberIndex === key.memberIndex)
    if (!found) throw notFound('study member', `${key.studyId}/${key.configIndex}/${key.memberIndex}`)
    return found
  }

  /**
   * A queue worker took the member: its run is `runId`, try `attempt`, trained by `worker`. Only where the member is
   * not completed (a member is never trained over a completion).
   */
  async memberTaken(key: MemberKey, runId: string, worker: string, attempt: number): Promise<boolean> {
    const result = await this.db.run(
      `UPDATE study_members SET run_id = ?, status = 'queued', error = NULL, worker = ?, attempt = ?
       WHERE study_id = ? AND config_index = ? AND member_index = ? AND status != 'completed'`,
      [runId, worker, attempt, key.studyId, key.configIndex, key.memberIndex]
    )
    return result.changes > 0
  }

  /**
   * The member's current try is lost (its worker was killed, cut off or gave it back): the try is kept as an attempt
   * (with its worker), its run becomes `interrupted` with the reason, and the member waits for its next try.
   * Recorded once per try (the attempt's key), whoever notices it.
   */
  async attemptLost(key: MemberKey, reason: string): Promise<void> {
    await this.db.transaction(async (tx) => {
      const row = await tx.get<{ run_id: string | null; worker: string | null; attempt: number; status: MemberStatus }>(
        `SELECT run_id, worker, attempt, status FROM study_members WHERE study_id = ? AND config_index = ? AND member_index = ?`,
        [key.studyId, key.configIndex, key.memberIndex]
      )
      if (!row || row.status === 'completed' || row.attempt === 0 || row.run_id === null) return
      await tx.run(
        `INSERT INTO study_member_attempts (study_id, config_index, member_index, attempt, run_id, worker, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
        [key.studyId, key.configIndex, key.memberIndex, row.attempt, row.run_id, row.worker ?? 'unknown worker', nowIso()]
      )
      await tx.run(`UPDATE runs SET status = 'interrupted', ended_at = ?, error = ? WHERE id = ? AND status IN ('queued', 'running', 'cancelled')`, [
        nowIso(),
        reason,
        row.run_id
      ])
      await tx.run(
        `UPDATE study_members SET status = 'interrupted', error = ? WHERE study_id = ? AND config_index = ? AND member_index = ? AND status != 'completed'`,
        [reason, key.studyId, key.configIndex, key.memberIndex]
      )
    })
  }

  /** The tries that did not count (lost workers), oldest first. */
  async attempts(studyId: string): Promise<MemberAttempt[]> {
    const rows = await this.db.all<{
      config_index: number
      member_index: number
      attempt: number
      run_id: string | null
      worker: string
      run_status: RunStatus | null
      run_error: string | null
    }>(
      `SELECT a.config_index, a.member_index, a.attempt, a.run_id, a.worker, r.status AS run_status, r.error AS run_error
       FROM study_member_attempts a LEFT JOIN runs r ON r.id = a.run_id
       WHERE a.study_id = ? ORDER BY a.config_index, a.member_index, a.attempt`,
      [studyId]
    )
    return rows.map((r) => ({
      configIndex: r.config_index,
      memberIndex: r.member_index,
      attempt: r.attempt,
      runId: r.run_id,
      worker: r.worker,
      status: r.run_status,
      error: r.run_error
    }))
  }

  /**
   * A member's run ended. Written once: only for the run the member points at, and never over a completion.
   * Returns whether this call recorded it.
   */
  async memberEnded(key: MemberKey, runId: string, status: MemberStatus, error: string | null): Promise<boolean> {
    const result = await this.db.run(
      `UPDATE study_members SET status = ?, error = ?
       WHERE study_id = ? AND config_index = ? AND member_index = ? AND run_id = ? AND status != 'completed'`,
      [status, error, key.studyId, key.configIndex, key.memberIndex, runId]
    )
    return result.changes > 0
  }

  /** A member that did not start (a pool that stopped, a failure before its run existed). */
  async memberFailed(key: MemberKey, error: string): Promise<void> {
    await this.db.run(
      `UPDATE study_members SET status = 'failed', error = ? WHERE study_id = ? AND config_index = ? AND member_index = ? AND status != 'completed'`,
      [error, key.studyId, key.configIndex, key.memberIndex]
    )
  }

  /**
   * Studies left `running` by a process that no longer exists on this host become `interrupted` (resumable);
   * their finished members stay as they are.
   */
  async recoverInterrupted(): Promise<number> {
    const host = os.hostname()
    const rows = await this.db.all<{ id: string; owner_pid: number | null; owner_host: string | null }>(
      `SELECT id, owner_pid, owner_host FROM studies WHERE status = 'running'`
    )
    let recovered = 0
    for (const row of rows) {
      if (row.owner_host !== null && row.owner_host !== host) continue
      if (row.owner_pid !== null && processAlive(row.owner_pid)) continue
      const result = await this.db.run(
        `UPDATE studies SET status = 'interrupted', ended_at = ?, error = COALESCE(error, ?) WHERE id = ? AND status = 'running'`,
        [nowIso(), `the process that ran it (pid ${row.owner_pid ?? '?'}) ended before the study did`, row.id]
      )
      recovered += result.changes
    }
    return recovered
  }

  /** Deletes the study and its members; returns the member runs, for the caller to delete. */
  async delete(studyId: string): Promise<string[]> {
    return this.db.transaction(async (tx) => {
      const row = await tx.get('SELECT id FROM studies WHERE id = ?', [studyId])
      if (!row) throw notFound('study', studyId)
      const runs = await tx.all<{ run_id: string }>(
        `SELECT run_id FROM study_members WHERE study_id = ? AND run_id IS NOT NULL
         UNION SELECT run_id FROM study_member_attempts WHERE study_id = ? AND run_id IS NOT NULL`,
        [studyId, studyId]
      )
      await tx.run('DELETE FROM study_member_attempts WHERE study_id = ?', [studyId])
      await tx.run('DELETE FROM study_members WHERE study_id = ?', [studyId])
      await tx.run('DELETE FROM studies WHERE id = ?', [studyId])
      return runs.map((r) => r.run_id)
    })
  }
}
