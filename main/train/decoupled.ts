/**
 * Decoupled block training (DGL, Belilovsky et al. 2020): every block updates on every batch against its own
 * auxiliary head, the next block taking the previous block's output as plain data, so no gradient crosses a block
 * boundary and only one block's tape is alive at a time. This file holds what both schedules share (the blocks
 * with their heads, one block's step, the batches, the scoring after an epoch) and the one-thread schedule; the
 * pipeline (pipeline.ts) runs the same steps with one worker thread per block.
 *
 * Block j's input for batch b is block j−1's output from its step on batch b (its weights after b−1 updates)
 * in both schedules, so they train the same model, batch for batch. That is DGL's reference design: the forward
 * pass of a block's step is what it hands on, not a second forward with the updated weights.
 *
 * Both tasks: a regression run's heads are regression heads (one output on the standardised target, the run's MSE
 * or Huber loss) and a head's score is its validation R², as in a greedy layer-wise stage (objective.ts).
 */
import * as tf from '@tensorflow/tfjs'
import type { BlockResult, EpochRow, ModelSpec, Partition, RunResources, TrainConfig } from '../shared/contract'
import { seededRandom } from '../core/random'
import { layerSeed } from '../model/build'
import { augmentImage, type AugmentOptions } from './augment'
import { type Chain, applyChain } from './forward'
import { type Features, shuffledIndices, sizeOf } from './features'
import { FeatureFile } from './featureFile'
import { assess, chainOutput } from './evaluate'
import { buildHead, disposeHead, materializeHead } from './heads'
import { type LocalLoss, buildLocalLoss, disposeLocalLoss, localLossTerm, localLossVariables } from './localLoss'
import { BlockOptimizer } from './optimizer'
import { annealed, freezeOutPlan } from './freezeOut'
import { WHOLE_MODEL_BLOCK, type TrainHooks } from './hooks'
import type { ResourceMeter, StageMeter } from './meter'
import { type Objective, betterOnValidation, tallyScore, tensorLoss } from './objective'

/** A block's own layers and the head it trains against (none for the last block: the model's output is its head). */
export interface BlockPart {
  own: Chain
  head: Chain | null
  /** The block's local loss besides its head's (localLoss.ts), when its settings ask for one. */
  local: LocalLoss | null
}

/** Block j of the model with its head, built (seeded) on the block's output shape. */
export function blockPart(
  model: tf.Sequential,
  spec: ModelSpec,
  partition: Partition,
  j: number,
  objective: Pick<Objective, 'outputs' | 'task'>,
  seed: number
): BlockPart {
  const block = partition.blocks[j]
  if (!block) throw new Error(`The partition has no block ${j}`)
  const own: Chain = { layers: model.layers.slice(block.start, block.end), specs: spec.layers.slice(block.start, block.end) }
  if (j === partition.blocks.length - 1) return { own, head: null, local: null }
  const { outputs } = objective
  const top = own.layers.at(-1)
  if (!top) throw new Error(`Block ${j} has no layers`)
  const outShape = (top.outputShape as number[]).slice(1)
  const head = buildHead(outShape, outputs, block.settings.head, seed, j)
  materializeHead(head, outShape)
  const local = objective.task === 'classification' ? buildLocalLoss(block.settings, outShape, outputs, seed, j) : null
  return { own, head, local }
}

/** Frees the heads' and local losses' weights (the blocks' own layers belong to the model). */
export const disposeParts = (parts: BlockPart[]): void =>
  parts.forEach((part) => {
    disposeHead(part.head)
    disposeLocalLoss(part.local)
  })

/** Each block's dropout masks come from its own stream, so a worker per block draws what the one thread draws. */
export function dropoutSeeds(seed: number, block: number): () => number {
  const random = seededRandom(layerSeed(seed, block, 5))
  return () => Math.floor(random() * 2147483647)
}

/** What one block's step on one batch gives: its output for the next block, its head's loss and score tally. */
export interface BlockStep {
  out: tf.Tensor | null
  loss: number
  /** Rows right (classification) or the sum of squared errors on the standardised target (regression). */
  tally: number
}

/** A batch's targets as the objective reads them: class indices, or the standardised target. */
export const targetTensor = (y: Int32Array | Float32Array): tf.Tensor1D =>
  y instanceof Int32Array ? tf.tensor1d(y, 'int32') : tf.tensor1d(y, 'float32')

/** One block with its head and its own optimizer, trained on whatever input it is handed. */
export class BlockLearner {
  readonly variables: tf.Variable[]

  constructor(
    readonly part: BlockPart,
    readonly optimizer: BlockOptimizer,
    readonly objective: Objective,
    readonly fast: boolean,
    private readonly dropoutSeed: () => number
  ) {
    this.variables = [
      ...[...part.own.layers, ...(part.head?.layers ?? [])].flatMap((layer) => layer.trainableWeights.map((w) => w.read() as tf.Variable)),
      ...localLossVariables(part.local)
    ]
  }

  /**
   * One batch. With `update` the block and its head take a step (a block frozen by FreezeOut only runs forward);
   * with `passOn` it returns the block's output from that same forward pass (the caller disposes it).
   */
  step(x: tf.Tensor, targets: tf.Tensor1D, update: boolean, passOn: boolean): BlockStep {
    const { own, head } = this.part
    let out: tf.Tensor | null = null
    let hits: tf.Tensor | null = null
    const options = { training: true, dropoutSeed: this.dropoutSeed, fast: this.fast }
    const forward = (): tf.Scalar => {
      const h = applyChain(own, x, { ...options, logits: !head })
      if (passOn) out = tf.keep(h)
      const prediction = head ? applyChain(head, h, { ...options, logits: true, inputTrains: update }) : h
      const { loss, tally } = tensorLoss(this.objective, prediction, targets)
      hits = tf.keep(tally())
      // The local loss only matters where the block takes a step (a frozen block's figures stay its head's).
      return update && this.part.local ? (tf.add(loss, localLossTerm(this.part.local, h, targets, options)) as tf.Scalar) : loss
    }
    const loss = tf.tidy(() => {
      if (!update) return forward().dataSync()[0]!
      const { value, grads } = tf.variableGrads(forward, this.variables)
      this.optimizer.applyGradients(
        this.variables.map((variable) => {
          const gradient = grads[variable.name]
          if (!gradient) throw new Error(`No gradient for ${variable.name}: the loss does not depend on it`)
          return { variable, gradient }
        })
      )
      return value.dataSync()[0]!
    })
    const kept = hits as tf.Tensor | null
    const tally = kept ? kept.dataSync()[0]! : 0
    kept?.dispose()
    return { out, loss, tally }
  }
}

/** The training rows in the seeded order of each epoch, one batch at a time (images augmented where asked). */
export class BatchFeeder {
  readonly x: Float32Array
  readonly y: Int32Array | Float32Array
  readonly batches: number
  private order: Int32Array = new Int32Array(0)
  private readonly rowSize: number
  private readonly shuffle: () => number
  private readonly augmentRandom: () => number

  constructor(
    private readonly train: Features,
    readonly batchSize: number,
    seed: number,
    private readonly augment: AugmentOptions | null
  ) {
    if (train.x instanceof FeatureFile) throw new Error('Decoupled training reads the rows themselves, not a cache')
    this.rowSize = sizeOf(train.shape)
    this.x = new Float32Array(batchSize * this.rowSize)
    this.y = train.y instanceof Int32Array ? new Int32Array(batchSize) : new Float32Array(batchSize)
    this.batches = Math.ceil(train.n / batchSize)
    this.shuffle = seededRandom(layerSeed(seed, 0, 4))
    this.augmentRandom = seededRandom(seed ^ 0x27d4eb2f)
  }

  /** Draws the next epoch's order. */
  nextEpoch(): void {
    this.order = shuffledIndices(this.train.n, this.shuffle)
  }

  /** Fills the buffers with batch `b` of this epoch; returns its row count (views over the first `count` rows). */
  fill(b: number): { x: Float32Array; y: Int32Array | Float32Array; count: number } {
    const images = this.train.x as Float32Array
    const size = this.rowSize
    const from = b * this.batchSize
    const count = Math.min(this.batchSize, this.train.n - from)
    for (let k = 0; k < count; k++) {
      const row = this.order[from + k]!
      if (this.augment) augmentImage(images, row * size, this.x, k * size, this.train.shape, this.augmentRandom, this.augment)
      else this.x.set(images.subarray(row * size, (row + 1) * size), k * size)
      this.y[k] = this.train.y[row]!
    }
    return { x: this.x.subarray(0, count * size), y: this.y.subarray(0, count), count }
  }
}

/** A block's training figures over one epoch (the loss on the standardised target for regression). */
export interface EpochTally {
  lossSum: number
  /** Summed BlockStep tallies: tallyScore turns them into accuracy or R². */
  tally: number
  seen: number
}

export const emptyTally = (): EpochTally => ({ lossSum: 0, tally: 0, seen: 0 })

/** What a decoupled run needs from the engine. */
export interface DecoupledJob {
  model: tf.Sequential
  spec: ModelSpec
  partition: Partition
  config: TrainConfig
  /** The task's loss and score; its outputs are each head's units. */
  objective: Objective
  train: Features
  val: Features
  hooks: TrainHooks
  meter: ResourceMeter
  augment: AugmentOptions | null
  fastPath: boolean
  cacheDir: string | null
  /** The pipeline's workers start the backend the run has (its name). */
  backend: string
}

export interface DecoupledResult {
  cancelled: boolean
  blocks: BlockResult[]
  epochs: number
  trainingMs: number
  pipeline: RunResources['pipeline']
}

/**
 * After each epoch: every head's validation score (accuracy, or R²) through the blocks below it (one pass per block
 * over the validation part, the block outputs cached like a greedy stage's prefix), the epoch rows, and early
 * stopping on the model's validation result (objective.ts: betterOnValidation) with the best weights kept.
 */
export class DecoupledScorer {
  private best: { score: number; loss: number; balancedScore: number; heads: Array<number | null>; weights: tf.Tensor[] } | null = null
  private sinceBest = 0
  epochsDone = 0
  private readonly restorable: tf.Variable[]

  constructor(
    private readonly job: DecoupledJob,
    private readonly parts: BlockPart[]
  ) {
    this.restorable = job.model.layers.flatMap((layer) => layer.weights.map((w) => w.read() as tf.Variable))
  }

  /** Scores epoch `epoch` (0-based) with the weights the blocks and heads hold now; true: stop (patience). */
  async endEpoch(epoch: number, tallies: EpochTally[], rates: number[], trainMs: number): Promise<boolean> {
    const { val, hooks, cacheDir, config, objective } = this.job
    const scores: Array<{ score: number; loss: number; balancedScore: number }> = []
    const reported = (loss: number) => loss * objective.lossScale
    let features = val
    for (const [j, part] of this.parts.entries()) {
      if (part.head) {
        const out = await chainOutput(part.own, features, cacheDir)
        if (features.x instanceof FeatureFile) features.x.dispose()
        features = out
        scores.push(await assess(part.head, features, objective, false))
      } else {
        scores.push(await assess(part.own, features, objective, false))
      }
      const tally = tallies[j]!
      const row: EpochRow = {
        block: j,
        phase: 'block',
        epoch: epoch + 1,
        loss: reported(tally.seen ? tally.lossSum / tally.seen : 0),
        accuracy: tallyScore(objective, tally.tally, tally.seen),
        valLoss: val.n ? reported(scores[j]!.loss) : null,
        valAccuracy: val.n ? scores[j]!.score : null,
        learningRate: rates[j] ?? 0,
        samplesPerSec: (this.job.train.n / Math.max(1e-3, trainMs)) * 1000
      }
      hooks.onEpoch?.(row)
    }
    if (features.x instanceof FeatureFile) features.x.dispose()
    this.epochsDone++
    const model = scores.at(-1)!
    if (betterOnValidation(objective, model, this.best)) {
      this.best?.weights.forEach((w) => w.dispose())
      this.best = {
        score: model.score,
        loss: model.loss,
        balancedScore: model.balancedScore,
        heads: scores.map((s) => (val.n ? s.score : null)),
        weights: this.restorable.map((v) => tf.keep(v.clone()))
      }
      this.sinceBest = 0
      return false
    }
    return config.patience > 0 && ++this.sinceBest >= config.patience
  }

  /** Puts the best epoch's weights back into the model. */
  restoreBest(): void {
    if (!this.best) return
    this.restorable.forEach((variable, i) => variable.assign(this.best!.weights[i]!))
    this.best.weights.forEach((w) => w.dispose())
    this.best = { ...this.best, weights: [] }
  }

  blockResults(busyMs: number[]): BlockResult[] {
    return this.job.partition.blocks.map((block, j) => ({
      name: block.name,
      layers: Array.from({ length: block.end - block.start }, (_, i) => block.start + i),
      epochs: this.epochsDone,
      headValAccuracy: this.best?.heads[j] ?? null,
      ms: busyMs[j] ?? 0
    }))
  }
}

/** The epochs each block trains for: all of them, or FreezeOut's plan. */
export const trainingEpochs = (config: TrainConfig, blockCount: number): number[] =>
  freezeOutPlan(config, blockCount) ?? new Array<number>(blockCount).fill(config.epochs)

/** A block's optimizer under the run's schedule (FreezeOut anneals every block on its own cosine). */
export const blockOptimizer = (config: TrainConfig, partition: Partition, j: number): BlockOptimizer =>
  new BlockOptimizer(config.freezeOut.enabled ? annealed(partition.blocks[j]!.settings) : partition.blocks[j]!.settings)

/** The progress event of a decoupled run (one stage: every block on every batch). */
export function decoupledProgress(
  job: DecoupledJob,
  epoch: number,
  batch: number,
  batches: number,
  tally: EpochTally,
  epochStart: number,
  etaMs: number
) {
  return {
    phase: 'block' as const,
    block: WHOLE_MODEL_BLOCK,
    blockName: 'All blocks (decoupled)',
    blockCount: job.partition.blocks.length,
    epoch: epoch + 1,
    epochs: job.config.epochs,
    batch,
    batches,
    loss: (tally.seen ? tally.lossSum / tally.seen : 0) * job.objective.lossScale,
    accuracy: tallyScore(job.objective, tally.tally, tally.seen),
    samplesPerSec: (tally.seen / Math.max(1e-3, performance.now() - epochStart)) * 1000,
    etaMs
  }
}

/** The one-thread schedule: for each batch, block 1's step, then block 2's on its output, and so on. */
export async function trainDecoupled(job: DecoupledJob): Promise<DecoupledResult> {
  const { model, spec, partition, config, hooks, meter } = job
  const blockCount = partition.blocks.length
  const parts = partition.blocks.map((_, j) => blockPart(model, spec, partition, j, job.objective, config.seed))
  const learners = parts.map(
    (part, j) => new BlockLearner(part, blockOptimizer(config, partition, j), job.objective, job.fastPath, dropoutSeeds(config.seed, j))
  )
  const until = trainingEpochs(config, blockCount)
  const meters: StageMeter[] = partition.blocks.map((block, j) => meter.stage({ name: block.name, phase: 'decoupled', block: j, blocks: 1 }))
  const feeder = new BatchFeeder(job.train, config.batchSize, config.seed, job.augment)
  const scorer = new DecoupledScorer(job, parts)
  const busyMs = new Array<number>(blockCount).fill(0)
  const started = performance.now()
  let cancelled = false
  let batchMs = 0
  try {
    for (let epoch = 0; epoch < config.epochs && !cancelled; epoch++) {
      const epochStart = performance.now()
      learners.forEach((learner, j) => learner.optimizer.setEpoch(epoch, until[j]!))
      feeder.nextEpoch()
      const tallies = parts.map(emptyTally)
      for (let b = 0; b < feeder.batches; b++) {
        if (hooks.shouldStop?.()) {
          cancelled = true
          break
        }
        const batchStart = performance.now()
        const batch = feeder.fill(b)
        const labels = targetTensor(batch.y)
        let h: tf.Tensor | null = tf.tensor(batch.x, [batch.count, ...job.train.shape])
        for (let j = 0; j < blockCount; j++) {
          const update = epoch < until[j]!
          const stepStart = performance.now()
          const input: tf.Tensor = h!
          const step = await meters[j]!.step(b === 0, () => learners[j]!.step(input, labels, update, j < blockCount - 1))
          busyMs[j]! += performance.now() - stepStart
          meters[j]!.batch(update ? batch.count : 0)
          input.dispose()
          h = step.out
          const tally = tallies[j]!
          tally.lossSum += step.loss * batch.count
          tally.tally += step.tally
          tally.seen += batch.count
        }
        h?.dispose()
        labels.dispose()
        const ms = performance.now() - batchStart
        batchMs = batchMs === 0 ? ms : 0.9 * batchMs + 0.1 * ms
        const remaining = (config.epochs - epoch - 1) * feeder.batches + (feeder.batches - b - 1)
        hooks.onProgress?.(decoupledProgress(job, epoch, b + 1, feeder.batches, tallies.at(-1)!, epochStart, remaining * batchMs))
      }
      if (cancelled) break
      const stop = await scorer.endEpoch(
        epoch,
        tallies,
        learners.map((l) => l.optimizer.learningRate),
        performance.now() - epochStart
      )
      if (stop) break
      // Lets the worker's event loop breathe (cancel messages, heartbeats) once per epoch.
      await new Promise((resolve) => setImmediate(resolve))
    }
    scorer.restoreBest()
  } finally {
    learners.forEach((learner) => learner.optimizer.dispose())
    disposeParts(parts)
  }
  const trainingMs = performance.now() - started
  meters.forEach((m, j) => meter.end(m, busyMs[j]!))
  return { cancelled, blocks: scorer.blockResults(busyMs), epochs: scorer.epochsDone, trainingMs, pipeline: null }
}
