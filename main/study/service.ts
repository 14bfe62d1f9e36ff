/**
 * Studies: many ordinary runs that answer one question with a spread. A study is one dataset, one or more
 * configurations and a protocol (repeated seeds or k-fold cross-validation); every configuration × split is a
 * member, trained as an ordinary run (tagged with the study) in a pool of training workers. The study is stored
 * with its members, so a study whose process died resumes where it stopped: finished members are kept.
 */
import os from 'node:os'
import path from 'node:path'
import { processAlive } from '../store/runs'
import {
  trainConfig,
  type HandlerArgs,
  type MemberJobPayload,
  type RequestResult,
  type RunStatus,
  type StudyConfig,
  type StudyDetail,
  type StudyMember,
  type StudySummary,
  type Task
} from '../shared/contract'
import type { Emit } from '../core/events'
import type { DatasetService } from '../data/service'
import type { RunStore } from '../store/runs'
import type { MemberKey, StoredMember, StoredStudy, StudyStore } from '../store/studies'
import type { TrainingService } from '../train/service'
import { LabError } from '../shared/errors'
import { errorText } from '../shared/format'
import { mainMetricValue } from '../shared/mainMetric'
import { isRegressionMetrics } from '../shared/task'
import { resourcesDir } from '../core/resources'
import { defaultModel, sourceFromSummary } from '../model/presets'
import { assertTrainable } from '../model/spec'
import { splitOf } from '../data/prepare'
import { checkProtocol, planMembers } from './protocol'
import { describeProtocol } from '../shared/studyText'
import { compareConfigs, sweepConfigs } from './sweep'
import { studyStats } from './results'
import { LocalPool, defaultWorkers, type MemberPool, type PoolEvent, type PoolFactory } from './pool'
import { parseQueueUrl, type QueueUrl } from '../core/queue'

export interface StudyServiceDeps {
  store: StudyStore
  runs: RunStore
  datasets: Pick<DatasetService, 'get' | 'list' | 'import' | 'classesOfRows'>
  training: TrainingService
  emit: Emit
  /** Where members train: the local pool by default; a remote queue may stand in. */
  createPool?: PoolFactory
  /** The lab's own queue (LAYERLAB_QUEUE, --queue): what a study's `queue: 'default'` means. */
  defaultQueue?: QueueUrl | null
}

interface ActiveStudy {
  studyId: string
  pool: MemberPool
  total: number
  done: number
  failed: number
  /** Members training now (a member a lost worker's successor starts again is still one). */
  running: Set<string>
  /** Members this session has to finish, and how many it has finished (for the time left). */
  todo: number
  finishedHere: number
  startedAt: number
  stopping: 'cancel' | 'shutdown' | null
  ended: Promise<StudySummary>
}

/** The queue's pool; BullMQ (~80 ms to load) only when a study goes to a queue. */
const openQueuePool = async (url: QueueUrl, workers: number): Promise<MemberPool> => (await import('./queuePool')).QueuePool.open(url, workers)

/** The tag every member run carries: the Experiments view filters on it. */
export const studyTag = (studyId: string): string => `study ${studyId}`

export class StudyService {
  private readonly active = new Map<string, ActiveStudy>()
  private readonly createPool: PoolFactory
  /** Member runs a queue worker host started here, to their recorded ends. */
  private readonly memberRuns = new Map<string, Promise<{ status: RunStatus; error: string | null }>>()

  constructor(private readonly deps: StudyServiceDeps) {
    this.createPool = deps.createPool ?? ((workers) => new LocalPool(deps.training, workers))
  }

  // ---------------------------------------------------------------- starting

  /** Checks everything (protocol, every configuration against the data), stores the study, starts its members. */
  async start(args: HandlerArgs<'studies.start'>): Promise<{ studyId: string }> {
    const { datasets, store } = this.deps
    const summary = await datasets.get(args.datasetId)
    const source = sourceFromSummary(summary)
    const base = { spec: args.base.spec, partition: args.base.partition, config: args.base.config }
    assertTrainable(base.spec, base.partition, source)
    const configs: StudyConfig[] = args.sweep
      ? sweepConfigs(base, args.sweep, source)
      : compareConfigs(base, args.compare ?? ['end-to-end', 'layer-wise'])
    const classOfRow = await datasets.classesOfRows(args.datasetId)
    checkProtocol(
      args.protocol,
      summary.task,
      classOfRow,
      summary.classes.map((c) => c.label),
      summary.name,
      configs.length
    )
    const planned = planMembers(args.protocol)
    const rows = planned.map((m) => {
      const split = splitOf(classOfRow, m.split)
      if (split.train.length === 0 || split.test.length === 0)
        throw new LabError(`${summary.name}: split ${JSON.stringify(m.split)} leaves no training or test rows`)
      return { trainRows: split.train.length, testRows: split.test.length }
    })
    const workers = args.workers ?? defaultWorkers()
    // The queue is asked before anything is stored: an unreachable one is a one-line error and no study.
    const queue = args.queue ? this.queueUrl(args.queue) : null
    const pool = queue ? await openQueuePool(queue, workers) : this.createPool(workers)
    const what = args.sweep ? `sweep of ${configs.length} points` : configs.map((c) => c.name).join(' vs ')
    const name = args.name?.trim() || `${summary.name}: ${what}, ${describeProtocol(args.protocol, summary.task)}`
    const studyId = await store.create(
      {
        name,
        datasetId: args.datasetId,
        kind: args.sweep ? 'sweep' : 'compare',
        protocol: args.protocol,
        configs,
        sweep: args.sweep,
        workers,
        queue: queue?.shown ?? null
      },
      configs.flatMap((_, configIndex) =>
        planned.map((m, i) => ({ configIndex, memberIndex: m.memberIndex, split: m.split, seed: m.seed, ...rows[i]! }))
      )
    )
    await this.launch(studyId, workers, pool, queue)
    return { studyId }
  }

  /** A queue URL from a request: 'default' is the lab's own queue (with its credentials, which are never stored). */
  private queueUrl(text: string): QueueUrl {
    if (text !== 'default') return parseQueueUrl(text)
    if (!this.deps.defaultQueue) throw new LabError('no queue is set for this lab: start it with --queue redis://HOST:PORT or LAYERLAB_QUEUE')
    return this.deps.defaultQueue
  }

  /** The article's experiment on the bundled digits: MLP 100-100, end-to-end vs layer-wise, 10 seeds. */
  async example(args: HandlerArgs<'studies.example'>): Promise<{ studyId: string }> {
    const { datasets } = this.deps
    const file = path.join(resourcesDir(), 'examples', 'digits.csv')
    const known = (await datasets.list()).find((d) => d.sourcePath === file && d.target === 'digit')
    const dataset = known ?? (await datasets.import({ path: file, target: 'digit' }))
    const { spec, partition } = defaultModel(dataset, { preset: 'mlp', hidden: [100, 100] })
    return this.start({
      datasetId: dataset.datasetId,
      name: 'The article’s experiment: digits, MLP 100-100, end-to-end vs layer-wise, 10 seeds',
      base: { spec, partition, config: trainConfig.parse({}) },
      compare: ['end-to-end', 'layer-wise'],
      protocol: { kind: 'seeds', seeds: 10, firstSeed: 1 },
      workers: args.workers
    })
  }

  /** Runs the members a study is missing (interrupted by a crash, or cancelled); finished members are kept. */
  async resume(studyId: string, workers?: number, queueText?: string): Promise<{ studyId: string }> {
    if (this.active.has(studyId)) throw new LabError(`study ${studyId} is already running`, 'conflict')
    await this.deps.store.recoverInterrupted()
    const study = await this.deps.store.study(studyId)
    if (study.status === 'running')
      throw new LabError(`study ${studyId} is run by another process (pid ${study.ownerPid ?? '?'}): resume it there`, 'conflict')
    // Its finished members and the ones to come must answer the same question: the dataset's task is the study's.
    const dataset = await this.deps.datasets.get(study.datasetId)
    const finished = (await this.deps.store.members(studyId)).find((m) => m.status === 'completed' && m.metrics)
    if (finished && isRegressionMetrics(finished.metrics) !== (dataset.task === 'regression'))
      throw new LabError(
        `study ${studyId}: the dataset ${dataset.name} is now ${dataset.task}, but the study's finished runs are not; start a new study`
      )
    // A study submitted to a queue resumes on it: the lab's own queue where it is that one, else the stored URL
    // (stored without credentials: a queue with a password is given again with --queue).
    const queue = queueText
      ? this.queueUrl(queueText)
      : study.queue
        ? this.deps.defaultQueue?.shown === study.queue
          ? this.deps.defaultQueue
          : parseQueueUrl(study.queue)
        : null
    const count = workers ?? study.workers
    const pool = queue ? await openQueuePool(queue, count) : this.createPool(count)
    await this.launch(studyId, count, pool, queue)
    return { studyId }
  }

  /** Claims the study for this process and submits every member that has not completed to a new pool. */
  private async launch(studyId: string, workers: number, pool: MemberPool, queue: QueueUrl | null): Promise<void> {
    const { store, runs } = this.deps
    await store.claim(studyId, workers, queue?.shown ?? null)
    const study = await store.study(studyId)
    const members = await store.members(studyId)
    const todo = members.filter((m) => m.status !== 'completed')
    // A member trained again replaces its unfinished run: each member has one run in the history.
    for (const member of todo) if (member.runId) await runs.delete(member.runId).catch(() => undefined)
    const active: ActiveStudy = {
      studyId,
      pool,
      total: members.length,
      done: members.length - todo.length,
      failed: 0,
      running: new Set(),
      todo: todo.length,
      finishedHere: 0,
      startedAt: performance.now(),
      stopping: null,
      ended: Promise.resolve(undefined as unknown as StudySummary)
    }
    this.active.set(studyId, active)
    let resolveEnded!: (summary: StudySummary) => void
    active.ended = new Promise((resolve) => (resolveEnded = resolve))
    let outstanding = todo.length
    // Records are written in the order events arrive; the study ends after the last one is written.
    let writes: Promise<unknown> = Promise.resolve()
    const afterWrite = (work: () => Promise<unknown>) => {
      writes = writes.then(work).catch((error: unknown) => console.error(`study ${studyId}: recording a member: ${errorText(error)}`))
    }
    const finishIfDone = () => {
      if (outstanding > 0) return
      afterWrite(async () => {
        unsubscribe()
        await pool.close?.()
        resolveEnded(await this.end(active))
      })
    }
    const unsubscribe = pool.subscribe((event: PoolEvent) => {
      const keyText = `${event.key.configIndex}/${event.key.memberIndex}`
      if (event.type === 'started') {
        active.running.add(keyText)
        afterWrite(async () => {
          await store.memberStarted(event.key, event.runId)
          this.progress(active)
        })
        return
      }
      outstanding--
      if (event.type === 'dropped') return finishIfDone()
      active.finishedHere++
      if (event.type === 'ended') {
        active.running.delete(keyText)
        if (event.status === 'completed') active.done++
        else if (event.status === 'failed') active.failed++
        afterWrite(async () => {
          const status = event.status === 'queued' || event.status === 'running' ? 'interrupted' : event.status
          await store.memberEnded(event.key, event.runId, status, event.error)
          this.progress(active)
        })
      } else {
        active.failed++
        afterWrite(async () => {
          await store.memberFailed(event.key, event.error)
          this.progress(active)
        })
      }
      finishIfDone()
    })
    this.progress(active)
    // Split by split (member 1 of every configuration, then member 2, …): pairs complete early, so a study
    // cancelled half-way still has comparable pairs.
    const order = [...todo].sort((a, b) => a.memberIndex - b.memberIndex || a.configIndex - b.configIndex)
    for (const member of order) pool.submit(this.jobOf(study, member))
    if (todo.length === 0) finishIfDone()
  }

  private jobOf(study: StoredStudy, member: StoredMember) {
    const config = study.configs[member.configIndex]!
    const key: MemberKey = { studyId: study.studyId, configIndex: member.configIndex, memberIndex: member.memberIndex }
    const where =
      member.split.kind === 'holdout'
        ? `seed ${member.seed}`
        : `fold ${member.split.fold + 1}/${member.split.folds} (repeat seed ${member.split.seed})`
    return {
      key,
      datasetId: study.datasetId,
      name: `${config.name} · ${where}`,
      spec: config.spec,
      partition: config.partition,
      config: { ...config.config, seed: member.seed, split: member.split },
      tags: [studyTag(study.studyId)]
    }
  }

  private async end(active: ActiveStudy): Promise<StudySummary> {
    const { store } = this.deps
    this.active.delete(active.studyId)
    const members = await store.members(active.studyId)
    const completed = members.filter((m) => m.status === 'completed').length
    if (active.stopping === 'cancel') await store.finish(active.studyId, 'cancelled')
    else if (active.stopping === 'shutdown')
      await store.finish(active.studyId, 'interrupted', 'the lab closed before the study ended; resume it to run the missing members')
    else if (completed === 0 && members.length > 0) {
      const reason = members.find((m) => m.error)?.error ?? 'no member completed'
      await store.finish(active.studyId, 'failed', `every member failed; the first said: ${reason}`)
    } else await store.finish(active.studyId, 'completed')
    const summary = await this.summary(active.studyId)
    this.deps.emit('study.progress', {
      studyId: active.studyId,
      status: summary.status,
      total: summary.total,
      done: summary.done,
      failed: summary.failed,
      running: 0,
      etaMs: null
    })
    return summary
  }

  private etaOf(active: ActiveStudy): number | null {
    if (active.finishedHere === 0) return null
    const perMember = (performance.now() - active.startedAt) / active.finishedHere
    return Math.max(0, perMember * (active.todo - active.finishedHere))
  }

  private progress(active: ActiveStudy): void {
    this.deps.emit('study.progress', {
      studyId: active.studyId,
      status: 'running',
      total: active.total,
      done: active.done,
      failed: active.failed,
      running: active.running.size,
      etaMs: this.etaOf(active)
    })
  }

  // ---------------------------------------------------------------- reading

  private summaryOf(study: StoredStudy, counts: { total: number; done: number; failed: number } | undefined, task: Task): StudySummary {
    const { configs: _configs, sweep: _sweep, ownerPid: _pid, ownerHost: _host, ...rest } = study
    return { ...rest, task, total: counts?.total ?? 0, done: counts?.done ?? 0, failed: counts?.failed ?? 0 }
  }

  async list(): Promise<StudySummary[]> {
    const [studies, counts, datasets] = await Promise.all([this.deps.store.list(), this.deps.store.counts(), this.deps.datasets.list()])
    const tasks = new Map(datasets.map((d) => [d.datasetId, d.task]))
    return studies.map((study) => this.summaryOf(study, counts.get(study.studyId), tasks.get(study.datasetId) ?? 'classification'))
  }

  async summary(studyId: string): Promise<StudySummary> {
    const study = await this.deps.store.study(studyId)
    const counts = await this.deps.store.counts()
    const { task } = await this.deps.datasets.get(study.datasetId)
    return this.summaryOf(study, counts.get(studyId), task)
  }

  async get(studyId: string): Promise<StudyDetail> {
    const study = await this.deps.store.study(studyId)
    const members = await this.deps.store.members(studyId)
    const counts = await this.deps.store.counts()
    const active = this.active.get(studyId)
    const { task } = await this.deps.datasets.get(study.datasetId)
    const shown: StudyMember[] = members.map((m) => ({
      configIndex: m.configIndex,
      memberIndex: m.memberIndex,
      split: m.split,
      seed: m.seed,
      runId: m.runId,
      status: m.status,
      error: m.error,
      trainRows: m.trainRows,
      testRows: m.testRows,
      test: mainMetricValue(task, m.metrics, 'test'),
      val: mainMetricValue(task, m.metrics, 'val'),
      worker: m.worker,
      attempt: m.attempt
    }))
    return {
      ...this.summaryOf(study, counts.get(studyId), task),
      configs: study.configs,
      members: shown,
      attempts: await this.deps.store.attempts(studyId),
      stats: studyStats(study.configs, members, task),
      etaMs: active ? this.etaOf(active) : null
    }
  }

  /** Resolves when the study has ended (at once for one that is not running here). */
  async wait(studyId: string): Promise<StudySummary> {
    const active = this.active.get(studyId)
    return active ? active.ended : this.summary(studyId)
  }

  // ---------------------------------------------------------------- stopping

  /** Cancels the whole study: waiting members never start, training ones stop between batches. */
  async cancel(studyId: string): Promise<void> {
    const active = this.active.get(studyId)
    if (!active) {
      const study = await this.deps.store.study(studyId)
      await this.deps.store.recoverInterrupted()
      const now = await this.deps.store.study(studyId)
      if (now.status === 'running')
        throw new LabError(`study ${studyId} is run by another process (pid ${study.ownerPid ?? '?'}): cancel it there`, 'conflict')
      return
    }
    active.stopping ??= 'cancel'
    await active.pool.cancel(studyId)
    await active.ended
  }

  /** Deletes a study that is not running, with its member runs. */
  async delete(studyId: string): Promise<void> {
    if (this.active.has(studyId)) throw new LabError(`study ${studyId} is running: cancel it first`, 'conflict')
    await this.deps.store.recoverInterrupted()
    const study = await this.deps.store.study(studyId)
    if (study.status === 'running') throw new LabError(`study ${studyId} is run by another process: cancel it there first`, 'conflict')
    const runIds = await this.deps.store.delete(studyId)
    for (const runId of runIds) await this.deps.runs.delete(runId).catch(() => undefined)
  }

  // ---------------------------------------------------------------- queue workers (issue 19)

  /**
   * A queue worker host (hosts/cliWorker.ts) trains a member in this lab. A member already completed in the store
   * is answered from it (a job Redis lost and the submitter added again, a second submitter): never trained twice.
   * A member whose current try has a run that did not complete lost its worker (the queue hands a job to one
   * worker at a time): that try is kept as interrupted, with its worker, and this is the next try.
   */
  async trainMember(job: MemberJobPayload, worker: string, liveRuns: string[]): Promise<RequestResult<'queue.trainMember'>> {
    const { store, training } = this.deps
    const member = await store.member(job.key)
    if (member.status === 'completed' && member.runId)
      return { runId: member.runId, attempt: member.attempt, ended: { status: 'completed', error: null }, busy: false }
    const unfinished = member.runStatus === 'queued' || member.runStatus === 'running'
    const owner = member.runOwner
    const ownerAlive = owner?.host === os.hostname() && owner.pid !== null && processAlive(owner.pid)
    if (member.runId && unfinished && (liveRuns.includes(member.runId) || ownerAlive))
      return { runId: member.runId, attempt: member.attempt, ended: null, busy: true }
    if (member.runId && member.attempt > 0)
      await store.attemptLost(
        job.key,
        `its worker ${member.worker ?? '?'} was lost before the run ended; retried as try ${member.attempt + 1} by ${worker}`
      )
    const { runId } = await training.start(
      { datasetId: job.datasetId, spec: job.spec, partition: job.partition, config: job.config, name: job.name },
      { wasmThreads: 1, tags: job.tags }
    )
    const attempt = member.attempt + 1
    await store.memberTaken(job.key, runId, worker, attempt)
    const ended = training.waitFor(runId).then(async (summary) => {
      const status = summary.status === 'queued' || summary.status === 'running' ? 'interrupted' : summary.status
      await store.memberEnded(job.key, runId, status, summary.error)
      return { status: summary.status, error: summary.error }
    })
    this.memberRuns.set(runId, ended)
    void ended.finally(() => setTimeout(() => this.memberRuns.delete(runId), 60_000).unref()).catch(() => undefined)
    return { runId, attempt, ended: null, busy: false }
  }

  /** Resolves when a member's run (started by trainMember) has ended and its end is recorded. */
  async memberWait(runId: string): Promise<{ status: RunStatus; error: string | null }> {
    const known = this.memberRuns.get(runId)
    if (known) return known
    const summary = await this.deps.training.waitFor(runId)
    return { status: summary.status, error: summary.error }
  }

  /** The worker gives the member back (Ctrl-C twice): its run stops, the try is kept as interrupted. */
  async handBack(key: MemberJobPayload['key'], runId: string, reason: string): Promise<void> {
    await this.deps.training.cancel(runId).catch(() => undefined)
    await this.memberWait(runId).catch(() => undefined)
    await this.deps.store.attemptLost(key, reason)
  }

  /** The lab is closing: running studies stop and stay resumable (`interrupted`), their finished members kept. */
  async shutdown(): Promise<void> {
    const pending = [...this.active.values()]
    for (const active of pending) active.stopping ??= 'shutdown'
    await Promise.all(pending.map((active) => active.pool.cancel(active.studyId).then(() => active.ended)))
  }
}
