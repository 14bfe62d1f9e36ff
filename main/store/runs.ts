/**
 * The run history (SQLite or PostgreSQL, sql.ts): one row per run, its epochs as training goes (each in its own transaction, so a
 * killed process leaves every finished epoch behind), and its artifacts. Files of a run live under
 * <home>/runs/<runId>/.
 *
 * A run is `queued` or `running` only while the process that trains it holds the run's lock (a lock file,
 * runLock.ts, on SQLite; an advisory lock in the server on PostgreSQL, postgres.ts): every
 * look at a run (list, summary, get) asks the lock of each unfinished run, so a run whose process died (kill -9,
 * a crash, a reboot) reads `interrupted` from the next look on.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { Db, HeldLock, RunLocks } from './sql'
import { trainConfig } from '../shared/contract'
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
  RunResources,
  RunStatus,
  RunSummary,
  Task,
  TrainConfig,
  TrainMode
} from '../shared/contract'
import { LabError, notFound } from '../shared/errors'
import { newId, nowIso } from '../core/ids'
import { LOCK_FILE } from './runLock'

export interface NewRun {
  runId?: string
  name?: string
  datasetId: string
  /** Default: classification. */
  task?: Task
  mode: TrainMode
  backend: string
  seed: number
  spec: ModelSpec
  partition: Partition
  config: TrainConfig
  status?: RunStatus
  /** The process that trains it (default: this one, which then holds the run's lock until the run ends). */
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
  resources?: RunResources | null
  error?: string | null
  backend?: string
}

interface RunRow {
  id: string
  name: string
  dataset_id: string
  dataset_name: string | null
  task: Task
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
  resources_json: string | null
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

/**
 * True when a process with this id exists on this machine (EPERM: it exists but belongs to someone else). Only the
 * fallback where a run's lock cannot be asked: a dying process, a zombie and a reused PID all answer it too.
 */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** A run's config with the defaults of settings added since it was stored (loss, class weights). */
function storedConfig(text: string): TrainConfig {
  const stored = JSON.parse(text) as TrainConfig
  const parsed = trainConfig.safeParse(stored)
  return parsed.success ? parsed.data : stored
}

function toSummary(row: RunRow): RunSummary {
  return {
    runId: row.id,
    name: row.name,
    datasetId: row.dataset_id,
    datasetName: row.dataset_name ?? '',
    task: row.task,
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

const UNFINISHED = `status IN ('queued', 'running')`

export class RunStore {
  /** Locks of the runs this process trains: held from create until the run's end is recorded. */
  private readonly held = new Map<string, HeldLock>()
  /** The last epoch write of each run being written, so that the next waits for it. */
  private readonly epochWrites = new Map<string, Promise<void>>()
  private readonly locks: RunLocks

  constructor(
    readonly db: Db,
    readonly home: string
  ) {
    this.locks = db.runLocks((runId) => this.lockFile(runId))
  }

  /** The folder of a run's files. */
  runDir(runId: string): string {
    return path.join(this.home, 'runs', runId)
  }

  async create(run: NewRun): Promise<string> {
    const runId = run.runId ?? newId('run')
    const createdAt = nowIso()
    const name = run.name?.trim() || `${run.mode} ${createdAt.slice(0, 16).replace('T', ' ')}`
    const status = run.status ?? 'queued'
    // The lock comes before the row: whoever sees the row unfinished can ask its lock.
    const ownHere = (run.ownerPid ?? process.pid) === process.pid && (run.ownerHost ?? os.hostname()) === os.hostname()
    if (ownHere && (status === 'queued' || status === 'running')) this.held.set(runId, await this.locks.hold(runId))
    try {
      await this.insert(runId, name, status, createdAt, run)
    } catch (error) {
      await this.release(runId)
      throw error
    }
    return runId
  }

  private async insert(runId: string, name: string, status: RunStatus, createdAt: string, run: NewRun): Promise<void> {
    await this.db.run(
      `INSERT INTO runs (id, name, dataset_id, task, mode, status, backend, seed, spec_json, partition_json, config_json, owner_pid, owner_host, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        runId,
        name,
        run.datasetId,
        run.task ?? 'classification',
        run.mode,
        status,
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
  }

  private lockFile(runId: string): string {
    return path.join(this.runDir(runId), LOCK_FILE)
  }

  /** Lets go of a run's lock once its end is recorded (or it never started). */
  private async release(runId: string): Promise<void> {
    const lock = this.held.get(runId)
    if (!lock) return
    this.held.delete(runId)
    await lock.release()
  }

  /** Lets go of every lock this store holds (the lab closes after its runs have ended). */
  async close(): Promise<void> {
    for (const runId of [...this.held.keys()]) await this.release(runId)
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
    if (ended) await this.release(runId)
  }

  /**
   * Records one epoch in its own transaction: what is written survives a crash of the training process. A run's
   * epochs are written one after another (each reads the last seq): SQLite's single queue did that for every
   * statement, PostgreSQL's pool runs callers side by side.
   */
  appendEpoch(runId: string, row: EpochRow): Promise<void> {
    const previous = this.epochWrites.get(runId) ?? Promise.resolve()
    const write = previous.catch(() => undefined).then(() => this.insertEpoch(runId, row))
    const tail = write.catch(() => undefined)
    this.epochWrites.set(runId, tail)
    void tail.then(() => {
      if (this.epochWrites.get(runId) === tail) this.epochWrites.delete(runId)
    })
    return write
  }

  private async insertEpoch(runId: string, row: EpochRow): Promise<void> {
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
         resources_json = ?, error = ?, backend = COALESCE(?, backend), ended_at = ? WHERE id = ?`,
      [
        end.status,
        end.metrics ? JSON.stringify(end.metrics) : null,
        end.blocks ? JSON.stringify(end.blocks) : null,
        end.evaluation ? JSON.stringify(end.evaluation) : null,
        end.timing ? JSON.stringify(end.timing) : null,
        end.peakRssBytes ?? null,
        end.resources ? JSON.stringify(end.resources) : null,
        end.error ?? null,
        end.backend ?? null,
        nowIso(),
        runId
      ]
    )
    if (result.changes === 0) throw notFound('run', runId)
    await this.release(runId)
  }

  /**
   * Whether the process that trains an unfinished run is alive: this process for the runs it holds, else the
   * run's lock. Where the lock only sees this machine (SQLite's lock file), runs owned by another host are taken as
   * alive: their process may be running there.
   */
  private async ownerAlive(row: { id: string; owner_pid: number | null; owner_host: string | null }): Promise<boolean> {
    if (this.held.has(row.id)) return true
    const elsewhere = row.owner_host !== null && row.owner_host !== os.hostname()
    if (elsewhere && !this.locks.spansHosts) return true
    // A process of this machine that no longer exists is gone for sure, even while the server has yet to notice
    // its connection closed and drop its lock (milliseconds after a kill -9). The other way round a PID says too
    // little (a zombie, a reused PID): then the lock decides.
    if (!elsewhere && this.locks.spansHosts && row.owner_pid !== null && !processAlive(row.owner_pid)) return false
    const owner = await this.locks.owner(row.id)
    if (owner !== 'unknown') return owner === 'alive'
    return elsewhere || (row.owner_pid !== null && processAlive(row.owner_pid))
  }

  /**
   * Unfinished runs (all, or the one given) whose owner is gone become `interrupted`, keeping their epochs. Every
   * look at runs calls this first, so a killed run never reads `running`. Returns how many it marked.
   */
  async recoverInterrupted(runId?: string): Promise<number> {
    const rows = await this.db.all<{ id: string; owner_pid: number | null; owner_host: string | null }>(
      `SELECT id, owner_pid, owner_host FROM runs WHERE ${UNFINISHED}${runId ? ' AND id = ?' : ''}`,
      runId ? [runId] : []
    )
    let recovered = 0
    for (const row of rows) {
      if (await this.ownerAlive(row)) continue
      // Still unfinished: an owner that recorded its end meanwhile keeps the end it recorded.
      const result = await this.db.run(
        `UPDATE runs SET status = 'interrupted', ended_at = ?, error = COALESCE(error, ?) WHERE id = ? AND ${UNFINISHED}`,
        [nowIso(), `the process that trained it (pid ${row.owner_pid ?? '?'}) ended before the run did`, row.id]
      )
      recovered += result.changes
    }
    return recovered
  }

  async list(): Promise<RunSummary[]> {
    await this.recoverInterrupted()
    const rows = await this.db.all<RunRow>(`${SELECT_RUN} ORDER BY r.created_at DESC, r.id`)
    return rows.map(toSummary)
  }

  async summary(runId: string): Promise<RunSummary> {
    await this.recoverInterrupted(runId)
    const row = await this.db.get<RunRow>(`${SELECT_RUN} WHERE r.id = ?`, [runId])
    if (!row) throw notFound('run', runId)
    return toSummary(row)
  }

  async get(runId: string): Promise<RunDetail> {
    await this.recoverInterrupted(runId)
    const row = await this.db.get<RunRow>(`${SELECT_RUN} WHERE r.id = ?`, [runId])
    if (!row) throw notFound('run', runId)
    const epochs = await this.db.all<EpochDbRow>('SELECT * FROM epochs WHERE run_id = ? ORDER BY seq', [runId])
    const artifacts = await this.db.all<ArtifactRow>('SELECT * FROM artifacts WHERE run_id = ? ORDER BY created_at, id', [runId])
    return {
      ...toSummary(row),
      spec: JSON.parse(row.spec_json) as ModelSpec,
      partition: JSON.parse(row.partition_json) as Partition,
      config: storedConfig(row.config_json),
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
      artifacts: artifacts.map((a) => toArtifact(a, this.home)),
      timing: parseJson<RunDetail['timing']>(row.timing_json, null),
      peakRssBytes: row.peak_rss,
      resources: parseJson<RunResources | null>(row.resources_json, null)
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
    const live = (row.status === 'running' || row.status === 'queued') && (await this.ownerAlive({ id: runId, ...row }))
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
    return { ...toArtifact(row, this.home), runId: row.run_id }
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
        storedPath(created.path, this.home),
        created.bytes,
        JSON.stringify(created.info ?? {}),
        created.createdAt
      ])
    })
    return created
  }
}

/**
 * A file inside the data home is stored relative to it, so that processes which reach one shared folder at
 * different mount points (workers of a PostgreSQL store given --artifacts) find it; files elsewhere (an ONNX file
 * exported where the person chose) stay absolute, as do the rows written before this rule.
 */
function storedPath(file: string, home: string): string {
  const relative = path.relative(home, file)
  return relative && !relative.startsWith('..') && !path.isAbsolute(relative) ? relative : file
}

function toArtifact(row: ArtifactRow, home: string): Artifact {
  return {
    artifactId: row.id,
    kind: row.kind,
    path: path.isAbsolute(row.path) ? row.path : path.join(home, row.path),
    bytes: row.bytes,
    createdAt: row.created_at,
    info: parseJson<Record<string, unknown>>(row.info_json, {})
  }
}
