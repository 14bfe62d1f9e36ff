/**
 * The run history in SQLite: one row per run, its epochs as training goes (each in its own transaction, so a
 * killed process leaves every finished epoch behind), and its artifacts. Files of a run live under
 * <home>/runs/<runId>/.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { Db } from './db'
import type {
  Artifact,
  BlockResult,
  EpochRow,
  Evaluation,
  HandlerArgs,
  ModelSpec,
  Partition,
  RunDetail,
  RunMetrics,
  RunStatus,
  RunSummary,
  TrainConfig,
  TrainMode
} from '../shared/contract'
import { LabError, notFound } from '../shared/errors'
import { newId, nowIso } from '../core/ids'

export interface NewRun {
  runId?: string
  name?: string
  datasetId: string
  mode: TrainMode
  backend: string
  seed: number
  spec: ModelSpec
  partition: Partition
  config: TrainConfig
  status?: RunStatus
  /** The process that trains it; recoverInterrupted checks it is still alive. */
  ownerPid?: number
  ownerHost?: string
}

export interface RunEnd {
  status: Extract<RunStatus, 'completed' | 'cancelled' | 'failed'>
  metrics?: RunMetrics | null
  blocks?: BlockResult[]
  evaluation?: Evaluation | null
  timing?: { totalMs: number; msPerEpoch: number } | null
  peakRssBytes?: number | null
  error?: string | null
  backend?: string
}

interface RunRow {
  id: string
  name: string
  dataset_id: string
  dataset_name: string | null
  mode: TrainMode
  status: RunStatus
  backend: string
  seed: number
  spec_json: string
  partition_json: string
  config_json: string
  metrics_json: string | null
  blocks_json: string | null
  evaluation_json: string | null
  timing_json: string | null
  peak_rss: number | null
  error: string | null
  owner_pid: number | null
  owner_host: string | null
  created_at: string
  started_at: string | null
  ended_at: string | null
  tags_json: string
  notes: string
}

interface EpochDbRow {
  block: number
  phase: EpochRow['phase']
  epoch: number
  loss: number
  accuracy: number
  val_loss: number | null
  val_accuracy: number | null
  learning_rate: number
  samples_per_sec: number
}

interface ArtifactRow {
  id: string
  kind: Artifact['kind']
  path: string
  bytes: number
  info_json: string
  created_at: string
}

const SELECT_RUN = `SELECT r.*, d.name AS dataset_name FROM runs r LEFT JOIN datasets d ON d.id = r.dataset_id`

const parseJson = <T>(text: string | null, fallback: T): T => (text ? (JSON.parse(text) as T) : fallback)

/** True when a process with this id exists on this machine (EPERM: it exists but belongs to someone else). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function toSummary(row: RunRow): RunSummary {
  return {
    runId: row.id,
    name: row.name,
    datasetId: row.dataset_id,
    datasetName: row.dataset_name ?? '',
    mode: row.mode,
    status: row.status,
    backend: row.backend,
    seed: row.seed,
    metrics: parseJson<RunMetrics | null>(row.metrics_json, null),
    tags: parseJson<string[]>(row.tags_json, []),
    notes: row.notes,
    error: row.error,
    createdAt: row.created_at,
    startedAt: row.started_at,
    endedAt: row.ended_at
  }
}

export class RunStore {
  constructor(
    readonly db: Db,
    readonly home: string
  ) {}

  /** The folder of a run's files. */
  runDir(runId: string): string {
    return path.join(this.home, 'runs', runId)
  }

  async create(run: NewRun): Promise<string> {
    const runId = run.runId ?? newId('run')
    const createdAt = nowIso()
    const name = run.name?.trim() || `${run.mode} ${createdAt.slice(0, 16).replace('T', ' ')}`
    await this.db.run(
      `INSERT INTO runs (id, name, dataset_id, mode, status, backend, seed, spec_json, partition_json, config_json, owner_pid, owner_host, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        runId,
        name,
        run.datasetId,
        run.mode,
        run.status ?? 'queued',
        run.backend,
        run.seed,
        JSON.stringify(run.spec),
        JSON.stringify(run.partition),
        JSON.stringify(run.config),
        run.ownerPid ?? process.pid,
        run.ownerHost ?? os.hostname(),
        createdAt
      ]
    )
    return runId
  }

  /** Moves a run to `running` (recording when it started and on which backend) or any other status. */
  async setStatus(runId: string, status: RunStatus, extra: { backend?: string; error?: string | null } = {}): Promise<void> {
    const now = nowIso()
    const ended = status === 'queued' || status === 'running' ? null : now
    const result = await this.db.run(
      `UPDATE runs SET status = ?, backend = COALESCE(?, backend), error = COALESCE(?, error),
         started_at = CASE WHEN ? = 'running' THEN COALESCE(started_at, ?) ELSE started_at END,
         ended_at = COALESCE(?, ended_at)
       WHERE id = ?`,
      [status, extra.backend ?? null, extra.error ?? null, status, now, ended, runId]
    )
    if (result.changes === 0) throw notFound('run', runId)
  }

  /** Records one epoch in its own transaction: what is written survives a crash of the training process. */
  async appendEpoch(runId: string, row: EpochRow): Promise<void> {
    await this.db.transaction(async (tx) => {
      const last = await tx.get<{ seq: number | null }>('SELECT MAX(seq) AS seq FROM epochs WHERE run_id = ?', [runId])
      await tx.run(
        `INSERT INTO epochs (run_id, seq, block, phase, epoch, loss, accuracy, val_loss, val_accuracy, learning_rate, samples_per_sec)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          runId,
          (last?.seq ?? -1) + 1,
          row.block,
          row.phase,
          row.epoch,
          row.loss,
          row.accuracy,
          row.valLoss,
          row.valAccuracy,
          row.learningRate,
          row.samplesPerSec
        ]
      )
    })
  }

  /** Records the end of a run with whatever results it has. */
  async finish(runId: string, end: RunEnd): Promise<void> {
    const result = await this.db.run(
      `UPDATE runs SET status = ?, metrics_json = ?, blocks_json = ?, evaluation_json = ?, timing_json = ?, peak_rss = ?,
         error = ?, backend = COALESCE(?, backend), ended_at = ? WHERE id = ?`,
      [
        end.status,
        end.metrics ? JSON.stringify(end.metrics) : null,
        end.blocks ? JSON.stringify(end.blocks) : null,
        end.evaluation ? JSON.stringify(end.evaluation) : null,
        end.timing ? JSON.stringify(end.timing) : null,
        end.peakRssBytes ?? null,
        end.error ?? null,
        end.backend ?? null,
        nowIso(),
        runId
      ]
    )
    if (result.changes === 0) throw notFound('run', runId)
  }

  /**
   * Runs left `queued`/`running` by a process that no longer exists on this host become `interrupted`, keeping
   * their epochs. Runs owned by another host are left alone: their process may be alive there.
   */
  async recoverInterrupted(): Promise<number> {
    const host = os.hostname()
    const rows = await this.db.all<{ id: string; owner_pid: number | null; owner_host: string | null }>(
      `SELECT id, owner_pid, owner_host FROM runs WHERE status IN ('queued', 'running')`
    )
    let recovered = 0
    for (const row of rows) {
      if (row.owner_host !== null && row.owner_host !== host) continue
      if (row.owner_pid !== null && processAlive(row.owner_pid)) continue
      const result = await this.db.run(
        `UPDATE runs SET status = 'interrupted', ended_at = ?, error = COALESCE(error, ?) WHERE id = ? AND status IN ('queued', 'running')`,
        [nowIso(), `the process that trained it (pid ${row.owner_pid ?? '?'}) ended before the run did`, row.id]
      )
      recovered += result.changes
    }
    return recovered
  }

  async list(): Promise<RunSummary[]> {
    const rows = await this.db.all<RunRow>(`${SELECT_RUN} ORDER BY r.created_at DESC, r.id`)
    return rows.map(toSummary)
  }

  async summary(runId: string): Promise<RunSummary> {
    const row = await this.db.get<RunRow>(`${SELECT_RUN} WHERE r.id = ?`, [runId])
    if (!row) throw notFound('run', runId)
    return toSummary(row)
  }

  async get(runId: string): Promise<RunDetail> {
    const row = await this.db.get<RunRow>(`${SELECT_RUN} WHERE r.id = ?`, [runId])
    if (!row) throw notFound('run', runId)
    const epochs = await this.db.all<EpochDbRow>('SELECT * FROM epochs WHERE run_id = ? ORDER BY seq', [runId])
    const artifacts = await this.db.all<ArtifactRow>('SELECT * FROM artifacts WHERE run_id = ? ORDER BY created_at, id', [runId])
    return {
      ...toSummary(row),
      spec: JSON.parse(row.spec_json) as ModelSpec,
      partition: JSON.parse(row.partition_json) as Partition,
      config: JSON.parse(row.config_json) as TrainConfig,
      epochs: epochs.map((e) => ({
        block: e.block,
        phase: e.phase,
        epoch: e.epoch,
        loss: e.loss,
        accuracy: e.accuracy,
        valLoss: e.val_loss,
        valAccuracy: e.val_accuracy,
        learningRate: e.learning_rate,
        samplesPerSec: e.samples_per_sec
      })),
      blocks: parseJson<BlockResult[]>(row.blocks_json, []),
      evaluation: parseJson<Evaluation | null>(row.evaluation_json, null),
      artifacts: artifacts.map(toArtifact),
      timing: parseJson<RunDetail['timing']>(row.timing_json, null),
      peakRssBytes: row.peak_rss
    }
  }

  async update(args: HandlerArgs<'runs.update'>): Promise<RunSummary> {
    const sets: string[] = []
    const params: (string | null)[] = []
    if (args.name !== undefined) {
      const name = args.name.trim()
      if (!name) throw new LabError(`run ${args.runId}: the name cannot be empty`)
      sets.push('name = ?')
      params.push(name)
    }
    if (args.tags !== undefined) {
      sets.push('tags_json = ?')
      params.push(JSON.stringify([...new Set(args.tags.map((tag) => tag.trim()).filter(Boolean))]))
    }
    if (args.notes !== undefined) {
      sets.push('notes = ?')
      params.push(args.notes)
    }
    if (sets.length > 0) {
      const result = await this.db.run(`UPDATE runs SET ${sets.join(', ')} WHERE id = ?`, [...params, args.runId])
      if (result.changes === 0) throw notFound('run', args.runId)
    }
    return this.summary(args.runId)
  }

  /** Deletes the run's rows (epochs and artifacts cascade) and its folder. A run still training is refused. */
  async delete(runId: string): Promise<void> {
    const row = await this.db.get<{ status: RunStatus; owner_pid: number | null; owner_host: string | null }>(
      'SELECT status, owner_pid, owner_host FROM runs WHERE id = ?',
      [runId]
    )
    if (!row) throw notFound('run', runId)
    const live =
      (row.status === 'running' || row.status === 'queued') &&
      (row.owner_host !== os.hostname() || row.owner_pid === null || processAlive(row.owner_pid))
    if (live) throw new LabError(`run ${runId} is still ${row.status}: cancel it first`, 'conflict')
    await this.db.transaction(async (tx) => {
      await tx.run('DELETE FROM artifacts WHERE run_id = ?', [runId])
      await tx.run('DELETE FROM epochs WHERE run_id = ?', [runId])
      await tx.run('DELETE FROM runs WHERE id = ?', [runId])
    })
    await fs.promises.rm(this.runDir(runId), { recursive: true, force: true })
  }

  /** `name`, or — when a run already has it — `name (2)`, `name (3)`…: two runs are never told apart by their id alone. */
  async uniqueName(name: string): Promise<string> {
    const rows = await this.db.all<{ name: string }>('SELECT name FROM runs WHERE name = ? OR name LIKE ?', [name, `${name} (%)`])
    const taken = new Set(rows.map((r) => r.name))
    if (!taken.has(name)) return name
    let n = 2
    while (taken.has(`${name} (${n})`)) n++
    return `${name} (${n})`
  }

  /** How many runs were trained on the dataset (a dataset in use cannot be deleted). */
  async countForDataset(datasetId: string): Promise<number> {
    const row = await this.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM runs WHERE dataset_id = ?', [datasetId])
    return row?.n ?? 0
  }

  /** One artifact with the run it belongs to. */
  async artifact(artifactId: string): Promise<Artifact & { runId: string }> {
    const row = await this.db.get<ArtifactRow & { run_id: string }>('SELECT * FROM artifacts WHERE id = ?', [artifactId])
    if (!row) throw notFound('artifact', artifactId)
    return { ...toArtifact(row), runId: row.run_id }
  }

  async addArtifact(runId: string, artifact: Omit<Artifact, 'artifactId' | 'createdAt'>): Promise<Artifact> {
    const created: Artifact = { ...artifact, artifactId: newId('art'), createdAt: nowIso() }
    await this.db.transaction(async (tx) => {
      const run = await tx.get('SELECT id FROM runs WHERE id = ?', [runId])
      if (!run) throw notFound('run', runId)
      await tx.run('INSERT INTO artifacts (id, run_id, kind, path, bytes, info_json, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)', [
        created.artifactId,
        runId,
        created.kind,
        created.path,
        created.bytes,
        JSON.stringify(created.info ?? {}),
        created.createdAt
      ])
    })
    return created
  }
}

function toArtifact(row: ArtifactRow): Artifact {
  return {
    artifactId: row.id,
    kind: row.kind,
    path: row.path,
    bytes: row.bytes,
    createdAt: row.created_at,
    info: parseJson<Record<string, unknown>>(row.info_json, {})
  }
}
