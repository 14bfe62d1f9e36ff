/**
 * Decoupled training as a pipeline: one worker thread per block (blockWorker.ts), a bounded link of activations
 * between neighbours (link.ts). This thread shuffles and feeds the batches to block 1, and after every epoch
 * collects each block's weights, puts them into the run's model and heads, and scores them as the one-thread
 * schedule does (decoupled.ts): the same model, batch for batch, with up to one step per block in flight at once.
 *
 * Stopping: the run's cancel, or early stopping once an epoch has been scored, sets one shared flag that every
 * worker reads between batches; the links close (a send waiting for a credit returns) and the workers are ended.
 * The model keeps its best scored epoch, as a cancelled or early-stopped stage does.
 */
import os from 'node:os'
import { MessageChannel, Worker } from 'node:worker_threads'
import * as tf from '@tensorflow/tfjs'
import type { ModelSpec, Partition, TrainConfig } from '../shared/contract'
import type { Objective } from './objective'
import {
  BatchFeeder,
  DecoupledScorer,
  blockPart,
  decoupledProgress,
  disposeParts,
  emptyTally,
  trainingEpochs,
  type DecoupledJob,
  type DecoupledResult,
  type EpochTally
} from './decoupled'
import { LinkSender } from './link'
import { workerEntryFor } from './workerEntry'

export interface BlockWorkerData {
  spec: ModelSpec
  partition: Partition
  config: TrainConfig
  block: number
  objective: Objective
  backend: string
  threads: number
  fastPath: boolean
  queue: number
  /** Epochs this block trains (FreezeOut may stop it early; it forwards after that). */
  trainEpochs: number
  /** Int32 slot 0 set to 1: stop between batches. */
  stop: SharedArrayBuffer
  /** Int32 slots: steps in flight now, the most in flight at once. */
  counters: SharedArrayBuffer
}

export type BlockWorkerMessage =
  | { type: 'batch'; epoch: number; loss: number; tally: number; count: number }
  | {
      type: 'epoch'
      epoch: number
      /** The block's then its head's weights, layer by layer, as layer.weights orders them. */
      weights: Float32Array[]
      tally: EpochTally
      learningRate: number
      busyMs: number
      stepPeakBytes: number
      examples: number
      heapBytes: number | null
      maxQueued: number
    }
  | { type: 'done' }
  | { type: 'failed'; error: string }

type EpochReport = Extract<BlockWorkerMessage, { type: 'epoch' }>

/** How often an idle feeder looks at the cancel flag (the workers may still be busy with the last batches). */
const CANCEL_POLL_MS = 50

export async function trainDecoupledPipeline(job: DecoupledJob): Promise<DecoupledResult> {
  const { model, spec, partition, config, hooks, meter } = job
  const blockCount = partition.blocks.length
  // This thread's copies of the blocks and heads: the workers' weights are written into them to score an epoch.
  const parts = partition.blocks.map((_, j) => blockPart(model, spec, partition, j, job.objective, config.seed))
  const scorer = new DecoupledScorer(job, parts)
  const until = trainingEpochs(config, blockCount)
  const meters = partition.blocks.map((block, j) => meter.stage({ name: block.name, phase: 'decoupled', block: j, blocks: 1 }))
  const stop = new Int32Array(new SharedArrayBuffer(4))
  const counters = new Int32Array(new SharedArrayBuffer(8))
  const links = partition.blocks.map(() => new MessageChannel())
  const threads = Math.max(1, Math.floor(os.availableParallelism() / blockCount))
  const entry = workerEntryFor(__dirname, 'blockWorker.js', 'blockWorker.ts')
  const feeder = new BatchFeeder(job.train, config.batchSize, config.seed, job.augment)
  const feed = new LinkSender(links[0]!.port1, config.decoupled.queue)
  const reports = new Map<number, Array<EpochReport | undefined>>()
  const epochStarts: number[] = []
  const busyMs = new Array<number>(blockCount).fill(0)
  const heaps = new Array<number | null>(blockCount).fill(null)
  let maxQueued = 0
  let scored = 0
  let done = 0
  const finished = new Array<boolean>(blockCount).fill(false)
  type Outcome = 'running' | 'completed' | 'stopped' | 'cancelled'
  let outcome: Outcome = 'running'
  // Read through a call: the workers' handlers change it, which TypeScript's narrowing cannot see.
  const current = (): Outcome => outcome
  let failure: Error | null = null
  let settle = () => {}
  const settled = new Promise<void>((resolve) => (settle = resolve))
  const halt = (why: 'stopped' | 'cancelled' | 'completed', error: Error | null = null) => {
    if (outcome !== 'running') return
    outcome = why
    failure = error
    Atomics.store(stop, 0, 1)
    feed.close()
    settle()
  }
  // Progress of the last block: the rows it has trained on in its current epoch.
  let progress = { epoch: -1, tally: emptyTally(), start: 0, batch: 0 }
  let batchMs = 0

  // Scoring reads back from the backend (evaluate.ts: assess is async), so it runs as one chain: an epoch's
  // scoring never overlaps another's, and the run completes only after the last epoch is scored.
  let scoring: Promise<void> = Promise.resolve()
  const afterScoring = (then: () => void) => {
    scoring = scoring.then(then, then)
  }
  const scoreReady = () => {
    scoring = scoring.then(scoreNow).catch((error: unknown) => halt('stopped', error instanceof Error ? error : new Error(String(error))))
  }
  const scoreNow = async () => {
    for (;;) {
      const ready = reports.get(scored)
      if (!ready || ready.filter(Boolean).length < blockCount || outcome !== 'running') return
      ready.forEach((report, j) => {
        const values = report!.weights
        const layers = [...parts[j]!.own.layers, ...(parts[j]!.head?.layers ?? [])]
        const variables = layers.flatMap((layer) => layer.weights.map((w) => w.read() as tf.Variable))
        variables.forEach((variable, i) => tf.tidy(() => variable.assign(tf.tensor(values[i]!, variable.shape, 'float32'))))
        meters[j]!.recordStep(report!.stepPeakBytes)
        meters[j]!.batch(report!.examples)
        busyMs[j] = report!.busyMs
        heaps[j] = report!.heapBytes
        maxQueued = Math.max(maxQueued, report!.maxQueued)
      })
      reports.delete(scored)
      const trainMs = performance.now() - (epochStarts[scored] ?? performance.now())
      const stopNow = await scorer.endEpoch(
        scored,
        ready.map((r) => r!.tally),
        ready.map((r) => r!.learningRate),
        trainMs
      )
      scored++
      if (stopNow) halt('stopped')
    }
  }

  const workers = partition.blocks.map((_, j) => {
    const up = links[j]!.port2
    const down = j + 1 < blockCount ? links[j + 1]!.port1 : null
    const workerData: BlockWorkerData & { up: typeof up; down: typeof down } = {
      spec,
      partition,
      config,
      block: j,
      objective: job.objective,
      backend: job.backend,
      threads,
      fastPath: job.fastPath,
      queue: config.decoupled.queue,
      trainEpochs: until[j]!,
      stop: stop.buffer as SharedArrayBuffer,
      counters: counters.buffer as SharedArrayBuffer,
      up,
      down
    }
    const worker = new Worker(entry.file, { workerData, transferList: down ? [up, down] : [up], execArgv: entry.execArgv })
    worker.on('message', (message: BlockWorkerMessage) => {
      meter.sampleRss()
      if (message.type === 'epoch') {
        const list = reports.get(message.epoch) ?? new Array<EpochReport | undefined>(blockCount).fill(undefined)
        list[j] = message
        reports.set(message.epoch, list)
        scoreReady()
      } else if (message.type === 'batch') {
        if (message.epoch !== progress.epoch) progress = { epoch: message.epoch, tally: emptyTally(), start: performance.now(), batch: 0 }
        progress.tally.lossSum += message.loss * message.count
        progress.tally.tally += message.tally
        progress.tally.seen += message.count
        progress.batch++
        const elapsed = performance.now() - progress.start
        batchMs = elapsed / progress.batch
        const remaining = (config.epochs - message.epoch - 1) * feeder.batches + (feeder.batches - progress.batch)
        hooks.onProgress?.(decoupledProgress(job, message.epoch, progress.batch, feeder.batches, progress.tally, progress.start, remaining * batchMs))
      } else if (message.type === 'done') {
        finished[j] = true
        if (++done === blockCount) afterScoring(() => halt('completed'))
      } else {
        halt('stopped', new Error(`${partition.blocks[j]!.name}'s worker: ${message.error}`))
      }
    })
    worker.on('error', (error) => halt('stopped', new Error(`${partition.blocks[j]!.name}'s worker crashed: ${error.message}`)))
    // A block that has posted 'done' ends on its own while the blocks above still work.
    worker.on('exit', (code) => {
      if (outcome === 'running' && !finished[j]) halt('stopped', new Error(`${partition.blocks[j]!.name}'s worker exited with code ${code}`))
    })
    return worker
  })

  const poll = setInterval(() => {
    if (hooks.shouldStop?.()) halt('cancelled')
  }, CANCEL_POLL_MS)
  const started = performance.now()
  const feedAll = async () => {
    for (let epoch = 0; epoch < config.epochs && outcome === 'running'; epoch++) {
      epochStarts[epoch] = performance.now()
      feeder.nextEpoch()
      await feed.send({ type: 'epoch', epoch })
      for (let b = 0; b < feeder.batches && outcome === 'running'; b++) {
        if (hooks.shouldStop?.()) halt('cancelled')
        if (outcome !== 'running') break
        const batch = feeder.fill(b)
        const x = batch.x.slice()
        const y = batch.y.slice()
        // The first batch of each epoch is the one each block measures (see meter.ts).
        await feed.send({ type: 'batch', x, y, shape: [batch.count, ...job.train.shape], measure: b === 0 }, [x.buffer, y.buffer])
      }
      await feed.send({ type: 'epoch-end', epoch })
    }
    await feed.send({ type: 'end' })
  }
  try {
    await Promise.all([feedAll(), settled])
  } finally {
    clearInterval(poll)
    Atomics.store(stop, 0, 1)
    // A scoring under way still uses the blocks' variables.
    await scoring
    feed.close()
    await Promise.all(workers.map((worker) => worker.terminate()))
  }
  if (failure) {
    disposeParts(parts)
    throw failure
  }
  scorer.restoreBest()
  disposeParts(parts)
  const trainingMs = performance.now() - started
  meters.forEach((m, j) => meter.end(m, busyMs[j]!))
  heaps.forEach((heap) => meter.addHeap(heap))
  return {
    cancelled: current() === 'cancelled',
    blocks: scorer.blockResults(busyMs),
    epochs: scorer.epochsDone,
    trainingMs,
    pipeline: { workers: blockCount, queue: config.decoupled.queue, maxStepsInFlight: Atomics.load(counters, 1), maxQueued }
  }
}
