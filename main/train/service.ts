/**
 * Training on the main side: checks a request, records the run, hands the prepared data to a worker thread and
 * turns the worker's messages into SQLite rows (RunStore) and contract events. The main thread never trains.
 */
import fs from 'node:fs'
import path from 'node:path'
import { Worker } from 'node:worker_threads'
import { modelSpec, partition as partitionSchema, type HandlerArgs, type RequestResult, type RunSummary } from '../shared/contract'
import type { Emit } from '../core/events'
import type { DatasetService } from '../data/service'
import type { PreparedData } from '../data/types'
import { transferableParts } from '../data/prepare'
import type { RunStore } from '../store/runs'
import { LabError } from '../shared/errors'
import { chooseBackend, planBackend, type PlanOptions } from '../core/backend'
import { defaultModel as presetModel, sourceFromSummary } from '../model/presets'
import { assertTrainable, describeSpec, forwardFlops, hasStridedConv, localLossRefusal, validatePartition, type SpecProblem } from '../model/spec'
import type { ToTrainWorker, WorkerJob, WorkerMessage } from './protocol'
import { errorText } from '../shared/format'
import { workerEntryFor } from './workerEntry'
import { defaultRunName } from './runName'

/** What the backend choice weighs for a run: its own setting, strided convs, and the work per batch. */
function backendOptions(args: HandlerArgs<'train.start'>): Omit<PlanOptions, 'gpu'> {
  return {
    prefer: args.config.backend === 'auto' ? undefined : args.config.backend,
    stridedConv: hasStridedConv(args.spec),
    flopsPerBatch: forwardFlops(args.spec) * args.config.batchSize
  }
}

/** What the service needs of the data side (tests pass their own prepared data through this). */
export type TrainingData = Pick<DatasetService, 'get' | 'loadPrepared'>

/** How a caller other than a person (a study's pool) wants a run started. */
export interface StartOptions {
  /** Threads of the run's wasm backend (a pool runs one per worker so the workers do not fight over cores). */
  wasmThreads?: number
  /** Tags the run carries from its creation on (a study's members: the study's tag). */
  tags?: string[]
}

interface ActiveRun {
  runId: string
  options: StartOptions
  cancelFlag: Int32Array
  worker: Worker | null
  cancelRequested: boolean
  done: Promise<RunSummary>
}

/** The training worker: out/main/trainWorker.js when built, else worker.ts through tsx (see workerEntry.ts). */
export function workerEntry(): { file: string; execArgv?: string[] } {
  return workerEntryFor(__dirname, 'trainWorker.js', 'worker.ts')
}

/**
 * Finished training workers kept for the next run (per wasm thread count: a worker's backend starts with it), so a
 * run does not pay a thread's start, tfjs's modules and the wasm backend's compile (~300 ms a run: most of a small
 * study member's time). Only a worker whose run ended cleanly on wasm or cpu with no tensor left is kept; webgpu
 * workers hold a device and end with their run. Parked workers are unref'd: they never keep a process alive.
 */
const IDLE_WORKERS = 4
/** A parked worker no run has taken for this long ends: a lab left open after a study gives its memory back. */
const IDLE_WORKER_MS = 60_000

export class TrainingService {
  private readonly active = new Map<string, ActiveRun>()
  /** Parked workers per wasm thread count, each with its own exit/error listener (it leaves the pool if it dies). */
  private readonly idle = new Map<string, { worker: Worker; leave: () => void; expiry: NodeJS.Timeout }[]>()
  private started = 0

  constructor(
    readonly datasets: TrainingData,
    readonly runs: RunStore,
    readonly home: string,
    readonly emit: Emit,
    private readonly options: { idleWorkerMs?: number } = {}
  ) {}

  async defaultModel(args: HandlerArgs<'models.default'>): Promise<RequestResult<'models.default'>> {
    const summary = await this.datasets.get(args.datasetId)
    return presetModel(summary, { preset: args.preset, hidden: args.hidden })
  }

  /** Shapes, parameters and problems of a spec still being edited: problems are returned, never thrown. */
  async describe(args: HandlerArgs<'models.describe'>): Promise<RequestResult<'models.describe'>> {
    const parsed = modelSpec.safeParse(args.spec)
    if (!parsed.success) {
      const errors = parsed.error.issues.map((issue) => {
        const layer = issue.path[0] === 'layers' && typeof issue.path[1] === 'number' ? issue.path[1] : null
        const where =
          layer === null
            ? `spec ${issue.path.join('.') || '(root)'}`
            : `layer ${layer + 1}${issue.path.length > 2 ? ` ${issue.path.slice(2).join('.')}` : ''}`
        return { layer, message: `${where}: ${issue.message}` }
      })
      return { layers: [], totalParams: 0, errors }
    }
    const description = describeSpec(parsed.data, { task: args.task })
    const errors: SpecProblem[] = [...description.errors]
    if (args.partition !== undefined) {
      const partition = partitionSchema.safeParse(args.partition)
      if (!partition.success)
        errors.push(...partition.error.issues.map((issue) => ({ layer: null, message: `partition ${issue.path.join('.')}: ${issue.message}` })))
      else errors.push(...validatePartition(partition.data, parsed.data.layers.length))
    }
    return {
      layers: description.layers.map((layer) => ({
        index: layer.index,
        type: layer.type,
        // Keras style: the batch dimension first, as null.
        outputShape: layer.outputShape ? [null, ...layer.outputShape] : [],
        params: layer.params
      })),
      totalParams: description.totalParams,
      errors
    }
  }

  /** Checks the request, records the run as queued and starts it in a worker; returns at once. */
  async start(args: HandlerArgs<'train.start'>, options: StartOptions = {}): Promise<{ runId: string }> {
    const summary = await this.datasets.get(args.datasetId)
    const source = sourceFromSummary(summary)
    assertTrainable(args.spec, args.partition, { ...source, batchSize: args.config.batchSize })
    const refusal = localLossRefusal(args.partition, summary.task, args.config.mode)
    if (refusal) throw new LabError(refusal)
    // The record starts with the CPU-side plan; the worker's answer (webgpu where the GPU probe says so) replaces it.
    const planned = planBackend({ ...backendOptions(args), gpu: undefined })
    // A name the user gave is kept as given; a default one is made unique.
    const name = args.name?.trim() || (await this.runs.uniqueName(defaultRunName(summary.name, args.config, args.partition)))
    const runId = await this.runs.create({
      name,
      datasetId: args.datasetId,
      task: summary.task,
      mode: args.config.mode,
      backend: planned.name,
      seed: args.config.seed,
      spec: args.spec,
      partition: args.partition,
      config: args.config,
      status: 'queued'
    })
    if (options.tags?.length) await this.runs.update({ runId, tags: options.tags })
    const active: ActiveRun = {
      runId,
      options,
      cancelFlag: new Int32Array(new SharedArrayBuffer(4)),
      worker: null,
      cancelRequested: false,
      done: Promise.resolve(undefined as unknown as RunSummary)
    }
    this.active.set(runId, active)
    active.done = this.execute(active, args)
      // Anything unexpected (no worker file, a store error) still ends the run rather than leaving it running.
      .catch((error: unknown) => this.end(runId, { status: 'failed', error: `starting the training worker: ${errorText(error)}` }))
      .finally(() => this.active.delete(runId))
    return { runId }
  }

  private async execute(active: ActiveRun, args: HandlerArgs<'train.start'>): Promise<RunSummary> {
    const { runId } = active
    let data: PreparedData
    try {
      data = await this.datasets.loadPrepared(args.datasetId, args.config.split)
    } catch (error) {
      return this.end(runId, { status: 'failed', error: `loading dataset ${args.datasetId}: ${errorText(error)}` })
    }
    if (active.cancelRequested) return this.end(runId, { status: 'cancelled' })
    await this.runs.setStatus(runId, 'running')
    const backend = await chooseBackend(backendOptions(args))
    const weightsPath = path.join(this.runs.runDir(runId), 'weights.bin')
    const { data: moved, transfer } = transferableParts(data)
    const job: WorkerJob = {
      runId,
      spec: args.spec,
      partition: args.partition,
      config: args.config,
      data: moved,
      weightsPath,
      cancelFlag: active.cancelFlag.buffer as SharedArrayBuffer,
      backend
    }
    return new Promise<RunSummary>((resolve) => {
      const poolKey = String(active.options.wasmThreads ?? '')
      const worker = this.takeIdle(poolKey) ?? this.newWorker(active.options.wasmThreads)
      worker.postMessage({ type: 'job', job } satisfies ToTrainWorker, transfer)
      active.worker = worker
      // Rows are written in the order the worker sent them; the end waits for every earlier write.
      let writes: Promise<unknown> = Promise.resolve()
      let settled = false
      let used: Extract<WorkerMessage, { type: 'backend' }> | null = null
      const settle = (finish: () => Promise<RunSummary>, reusable = false) => {
        if (settled) return
        settled = true
        writes = writes.then(finish, finish).then(
          (summary) => resolve(summary as RunSummary),
          async (error) => resolve(await this.end(runId, { status: 'failed', error: `recording the run: ${errorText(error)}` }))
        )
        // Only after the worker's last message (it has closed its GPU device by then) or its own end: terminating
        // a thread that is inside Dawn would abort this whole process (worker.ts).
        // This run's listeners only: removeAllListeners would also drop the ones Node's Worker keeps for itself.
        worker.off('message', onMessage).off('error', onError).off('exit', onExit)
        if (reusable) this.park(poolKey, worker)
        else void worker.terminate()
      }
      const onMessage = (message: WorkerMessage) => {
        switch (message.type) {
          case 'backend':
            used = message
            writes = writes.then(() => this.runs.setStatus(runId, 'running', { backend: message.label }))
            this.emit('train.backend', { runId, backend: message.label, reason: message.reason })
            break
          case 'progress':
            this.emit('train.progress', { runId, ...message.progress })
            break
          case 'epoch':
            writes = writes.then(() => this.runs.appendEpoch(runId, message.row)).catch(() => undefined)
            this.emit('train.epoch', { runId, ...message.row })
            break
          case 'finished':
            settle(async () => {
              const stats = await fs.promises.stat(weightsPath)
              await this.runs.addArtifact(runId, {
                kind: 'weights',
                path: weightsPath,
                bytes: stats.size,
                info: {
                  format: 'layerlab-weights',
                  backend: message.backend,
                  backendReason: used?.reason ?? null,
                  adapter: used?.adapter ?? null,
                  status: message.status
                }
              })
              return this.end(runId, {
                status: message.status,
                metrics: message.metrics,
                evaluation: message.evaluation,
                blocks: message.blocks,
                timing: message.timing,
                peakRssBytes: message.peakRssBytes,
                resources: message.resources,
                backend: message.backend
              })
            }, message.reusable)
            break
          case 'failed':
            settle(() => this.end(runId, { status: 'failed', error: message.error }))
            break
        }
      }
      const onError = (error: Error) => settle(() => this.end(runId, { status: 'failed', error: `training worker crashed: ${errorText(error)}` }))
      const onExit = (code: number) =>
        settle(() =>
          this.end(runId, {
            status: active.cancelRequested ? 'cancelled' : 'failed',
            error: active.cancelRequested ? null : `training worker exited with code ${code}`
          })
        )
      worker.on('message', onMessage).on('error', onError).on('exit', onExit)
    })
  }

  private async end(runId: string, end: Parameters<RunStore['finish']>[1]): Promise<RunSummary> {
    await this.runs.finish(runId, end)
    const summary = await this.runs.summary(runId)
    this.emit('train.finished', { runId, status: summary.status, metrics: summary.metrics, error: summary.error })
    return summary
  }

  /** Asks the run to stop between batches; it ends as `cancelled` with its epochs and weights so far. */
  async cancel(runId: string): Promise<void> {
    const active = this.active.get(runId)
    if (!active) {
      const summary = await this.runs.summary(runId)
      if (summary.status === 'running' || summary.status === 'queued')
        throw new LabError(`run ${runId} is trained by another process (${summary.status}): cancel it there`, 'conflict')
      return
    }
    active.cancelRequested = true
    Atomics.store(active.cancelFlag, 0, 1)
  }

  /** Resolves when the run has ended (completed, cancelled or failed). */
  async waitFor(runId: string): Promise<RunSummary> {
    const active = this.active.get(runId)
    if (active) return active.done
    return this.runs.summary(runId)
  }

  /** Cancels every run and waits for them to record their end (process exit); ends the parked workers. */
  async shutdown(): Promise<void> {
    const pending = [...this.active.values()]
    for (const active of pending) await this.cancel(active.runId)
    await Promise.all(pending.map((active) => active.done.catch(() => undefined)))
    const parked = [...this.idle.values()].flat()
    this.idle.clear()
    for (const { expiry } of parked) clearTimeout(expiry)
    await Promise.all(parked.map(({ worker }) => worker.terminate()))
  }

  /** Training workers this service has started (a run on a parked one starts none). */
  get workersStarted(): number {
    return this.started
  }

  /** Training workers parked for the next run now. */
  get workersParked(): number {
    return [...this.idle.values()].reduce((sum, pool) => sum + pool.length, 0)
  }

  private newWorker(threads: number | undefined): Worker {
    this.started++
    const entry = workerEntry()
    const env = threads ? { ...process.env, LAYERLAB_WASM_THREADS: String(threads) } : process.env
    return new Worker(entry.file, { execArgv: entry.execArgv, env })
  }

  /** A parked worker of this thread count, taken out of the pool and ref'd again, or null. */
  private takeIdle(key: string): Worker | null {
    const parked = this.idle.get(key)?.pop()
    if (!parked) return null
    const { worker, leave, expiry } = parked
    clearTimeout(expiry)
    worker.off('exit', leave).off('error', leave)
    worker.ref()
    return worker
  }

  private park(key: string, worker: Worker): void {
    const pool = this.idle.get(key) ?? []
    if (pool.length >= IDLE_WORKERS) return void worker.terminate()
    this.idle.set(key, pool)
    worker.unref()
    // A parked worker that dies (or errs) leaves the pool.
    const leave = () =>
      this.idle.set(
        key,
        (this.idle.get(key) ?? []).filter((p) => p.worker !== worker)
      )
    const expiry = setTimeout(() => {
      leave()
      void worker.terminate()
    }, this.options.idleWorkerMs ?? IDLE_WORKER_MS)
    expiry.unref()
    pool.push({ worker, leave, expiry })
    worker.on('exit', leave).on('error', leave)
  }
}
