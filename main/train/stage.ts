/**
 * One stage of training: epochs of seeded batches over a chain (the whole model, or a block with its head), one
 * optimizer per group of variables, validation after each epoch, early stopping with the best weights restored
 * (best: validation accuracy for classification, validation loss for regression; see objective.ts).
 */
import * as tf from '@tensorflow/tfjs'
import type { EpochRow } from '../shared/contract'
import { seededRandom } from '../core/random'
import { augmentImage, type AugmentOptions } from './augment'
import type { BlockOptimizer } from './optimizer'
import { denseChainOf, denseChainStep } from './fast/denseChain'
import { FusedDenseChain, type FusedSnapshot } from './fast/fusedDense'
import { tensorsInProcess } from './fast/inProcess'
import { type Chain, applyChain } from './forward'
import { type Features, shuffledIndices, sizeOf } from './features'
import { assess } from './evaluate'
import { epochTally, type TallyRead } from './reads'
import { FeatureFile } from './featureFile'
import type { TrainHooks } from './hooks'
import type { StageMeter } from './meter'
import { type Objective, betterOnValidation, tallyScore, tensorLoss } from './objective'
import { type LocalLoss, localLossTerm } from './localLoss'

export interface Group {
  optimizer: BlockOptimizer
  variables: tf.Variable[]
  /** First epoch (0-based) in which this group trains: gradual unfreezing starts lower blocks later. */
  activeFrom: number
  /**
   * Epochs after which this group stops training (FreezeOut freezes lower blocks first); its learning-rate
   * schedule spans these epochs instead of the stage's. Undefined: it trains to the end of the stage.
   */
  activeUntil?: number
  /** Index in the stage's chain of the group's first layer (0 when not given). */
  firstLayer?: number
}

/**
 * Layers of the chain below every active group's first layer: they train in no group this epoch, so they run
 * forward outside the gradient tape (their activations are not kept for a backward pass that never reaches
 * them). A fine-tune that leaves block 1 frozen then needs block 1's forward only, not its tape.
 */
export function frozenPrefix(active: Group[]): number {
  return active.length ? Math.min(...active.map((group) => group.firstLayer ?? 0)) : 0
}

/** Least time between two turns given to the event loop at an epoch's end (short epochs need not yield after each). */
const BREATHE_MS = 10

export const isActive = (group: Group, epoch: number): boolean =>
  epoch >= group.activeFrom && (group.activeUntil === undefined || epoch < group.activeUntil)

export interface Stage {
  phase: EpochRow['phase']
  block: number
  blockName: string
  blockCount: number
  epochs: number
  patience: number
  chain: Chain
  train: Features
  val: Features
  groups: Group[]
  /** Everything the best-epoch snapshot must restore (trainable or not, e.g. batch-norm statistics). */
  restorable: tf.Variable[]
  batchSize: number
  seed: number
  /** What the stage minimises and scores (task, outputs, loss, class weights). */
  objective: Objective
  /** Random rotations, shifts (and flips) of training images, only where the stage's input is the images themselves. */
  augment: AugmentOptions | null
  fastPath: boolean
  /** Where the stage's cost is recorded (step tensor peak, RSS, examples). */
  meter?: StageMeter
  /**
   * The chain is the whole model on the run's own parts (end-to-end, the fine-tune): its validation also gives the
   * run's validation accuracy for the epoch kept (StageResult.bestValScored).
   */
  wholeModel?: boolean
  /** With fastPath: dense-only chains train in the wasm kernels of fast/fusedDense.ts (false: fast/denseChain.ts). */
  fusedDense: boolean
  /**
   * A block stage's local loss (localLoss.ts) on the output of the chain's first `blockLayers` layers (the block;
   * the rest is its head). Such a stage trains through tfjs's gradient tape (the fast dense paths know no such term).
   */
  local?: { loss: LocalLoss; blockLayers: number } | null
}

export interface StageResult {
  epochs: number
  /** The validation score (accuracy, or R²) of the epoch whose weights were kept. */
  bestValScore: number | null
  /**
   * A whole-model classification stage off the fused path: the kept epoch's validation accuracy as the run's
   * figures score it (the model's softmax, engine.ts), the same bits as scoring the part again after the stage.
   */
  bestValScored: number | null
  cancelled: boolean
  ms: number
}

export class Trainer {
  epochsRun = 0
  trainingMs = 0
  constructor(private readonly hooks: TrainHooks) {}

  async runStage(stage: Stage): Promise<StageResult> {
    const started = performance.now()
    const { train, val, batchSize } = stage
    const inSize = sizeOf(train.shape)
    const batches = Math.ceil(train.n / batchSize)
    const batchBuffer = new Float32Array(batchSize * inSize)
    const { objective } = stage
    const labelBuffer = objective.task === 'regression' ? new Float32Array(batchSize) : new Int32Array(batchSize)
    const reported = (loss: number) => loss * objective.lossScale
    const shuffleRandom = seededRandom(stage.seed)
    const dropoutRandom = seededRandom(stage.seed ^ 0x5bd1e995)
    const dropoutSeed = () => Math.floor(dropoutRandom() * 2147483647)
    const augmentRandom = seededRandom(stage.seed ^ 0x27d4eb2f)
    // weights: tfjs clones; saved: the fused path's copies (its weights live in the kernel's memory during an epoch).
    let best: {
      score: number
      loss: number
      balancedScore: number
      scored: number | null
      weights: tf.Tensor[]
      saved: FusedSnapshot | null
    } | null = null
    let sinceBest = 0
    let epochsDone = 0
    let cancelled = false
    let batchMsAverage = 0
    // Only a caller that holds the model (onStageStart/onStageEnd hand it out) can read its weights during the stage;
    // for the others the fused path writes them back once, at the stage's end (0.1-0.2 ms an epoch saved, issue 20).
    const modelWatched = Boolean(this.hooks.onStageStart || this.hooks.onStageEnd)
    let breathedAt = performance.now()
    // Dense-only chains train inside one wasm instance (fast/fusedDense.ts), or where that cannot run (no wasm
    // SIMD) with the tape-free tfjs step (fast/denseChain.ts).
    const local = stage.local ?? null
    const fused = stage.fastPath && stage.fusedDense && !stage.augment && !local && tensorsInProcess() ? FusedDenseChain.open(stage) : null
    const denseChain =
      !fused && !local && stage.fastPath && tensorsInProcess() ? denseChainOf(stage.chain.layers, stage.chain.specs, train.shape) : null
    const scoreAsRun = Boolean(stage.wholeModel) && !fused && objective.task === 'classification'

    for (let epoch = 0; epoch < stage.epochs && !cancelled; epoch++) {
      const epochStart = performance.now()
      for (const group of stage.groups) group.optimizer.setEpoch(epoch, group.activeUntil ?? stage.epochs)
      const active = stage.groups.filter((group) => isActive(group, epoch))
      const variables = active.flatMap((group) => group.variables)
      const frozen = frozenPrefix(active)
      const below: Chain = { layers: stage.chain.layers.slice(0, frozen), specs: stage.chain.specs.slice(0, frozen) }
      const trained: Chain = frozen ? { layers: stage.chain.layers.slice(frozen), specs: stage.chain.specs.slice(frozen) } : stage.chain
      const order = shuffledIndices(train.n, shuffleRandom)
      const tally = epochTally()
      let read: TallyRead | null = null
      let readAt = { ms: epochStart, batches: 0 }
      for (let b = 0; b < batches; b++) {
        if (this.hooks.shouldStop?.()) {
          cancelled = true
          break
        }
        const from = b * batchSize
        const count = Math.min(batchSize, train.n - from)
        // (The fused path gathers its batch inside its own memory.)
        for (let k = 0; k < count && !fused; k++) {
          const row = order[from + k]!
          if (train.x instanceof FeatureFile) train.x.readRow(row, batchBuffer, k * inSize)
          else if (stage.augment) augmentImage(train.x, row * inSize, batchBuffer, k * inSize, train.shape, augmentRandom, stage.augment)
          else batchBuffer.set(train.x.subarray(row * inSize, (row + 1) * inSize), k * inSize)
          labelBuffer[k] = train.y[row]!
        }
        const trainStep = (): readonly [number | tf.Tensor, number | tf.Tensor] =>
          fused
            ? fused.step(order, from, count, active)
            : denseChain
              ? tf.tidy(() => {
                  const x = tf.tensor2d(batchBuffer.subarray(0, count * inSize), [count, inSize])
                  const step = denseChainStep(denseChain, x, labelBuffer.subarray(0, count), objective, active)
                  return [step.loss, step.tally] as const
                })
              : tf.tidy(() => {
                  // One upload of the batch and its labels; everything after stays where the backend keeps tensors.
                  const input = tf.tensor(batchBuffer.subarray(0, count * inSize), [count, ...train.shape])
                  const forward = { training: true, dropoutSeed, fast: stage.fastPath }
                  // Its own tidy: the frozen layers' intermediate tensors are gone before the trained part runs.
                  const x = frozen ? tf.tidy(() => applyChain(below, input, { ...forward, logits: false })) : input
                  const targets =
                    labelBuffer instanceof Int32Array
                      ? tf.tensor1d(labelBuffer.subarray(0, count), 'int32')
                      : tf.tensor1d(labelBuffer.subarray(0, count))
                  let hits: tf.Tensor | null = null
                  const { value, grads } = tf.variableGrads(() => {
                    if (local) return lossWithLocal(trained, local, x, targets, forward, objective, (t) => (hits = t))
                    const out = applyChain(trained, x, { ...forward, logits: true })
                    const { loss, tally } = tensorLoss(objective, out, targets)
                    // Kept out of the gradient tape's scope so the batch score costs no second forward pass.
                    hits = tf.keep(tally())
                    return loss
                  }, variables)
                  for (const group of active)
                    group.optimizer.applyGradients(
                      group.variables.map((variable) => {
                        // variableGrads leaves out a variable the loss does not depend on: a chain wired wrong.
                        const gradient = grads[variable.name]
                        if (!gradient) throw new Error(`No gradient for ${variable.name}: the loss does not depend on it`)
                        return { variable, gradient }
                      })
                    )
                  return [value, (hits as tf.Tensor | null) ?? tf.scalar(0)] as const
                })
        // The first batch of each epoch is the one measured (a stage's steps all have the same shapes). The fused
        // kernel holds no tensors: its figure is the tensors live in tfjs (the model's weights) plus what its step
        // works in (fusedDense.ts: stepBytes), the quantity tf.profile gives the other paths.
        const [batchLoss, batchTally] = stage.meter ? await stage.meter.step(b === 0 && !fused, trainStep) : trainStep()
        if (fused && b === 0) stage.meter?.recordStep(tf.memory().numBytes + fused.stepBytes)
        stage.meter?.batch(count)
        tally.add(batchLoss, batchTally, count)
        const fresh = await tally.after(b, batches)
        if (!fresh) continue
        read = fresh
        const now = performance.now()
        const batchMs = (now - readAt.ms) / Math.max(1, read.batches - readAt.batches)
        readAt = { ms: now, batches: read.batches }
        batchMsAverage = batchMsAverage === 0 ? batchMs : 0.9 * batchMsAverage + 0.1 * batchMs
        const remainingBatches = (stage.epochs - epoch - 1) * batches + (batches - read.batches)
        this.hooks.onProgress?.({
          phase: stage.phase,
          block: stage.block,
          blockName: stage.blockName,
          blockCount: stage.blockCount,
          epoch: epoch + 1,
          epochs: stage.epochs,
          batch: read.batches,
          batches,
          loss: reported(read.lossSum / read.seen),
          accuracy: tallyScore(objective, read.tally, read.seen),
          samplesPerSec: (read.seen / Math.max(1e-3, now - epochStart)) * 1000,
          etaMs: remainingBatches * batchMsAverage
        })
      }
      await tally.close()
      const seen = read?.seen ?? 0
      const lossSum = read?.lossSum ?? 0
      const tallySum = read?.tally ?? 0
      if (seen === 0) break
      // A cancelled epoch is not recorded: its metrics would cover part of the data only.
      if (cancelled) break
      // The fused path's weights into the model, so the epoch's hooks see them (as on the tfjs paths) where they can.
      if (modelWatched) fused?.writeBack(null)
      const trainMs = performance.now() - epochStart
      const assessment = fused ? fused.assess(val) : await assess(stage.chain, val, objective, false, scoreAsRun)
      epochsDone++
      this.epochsRun++
      this.hooks.onEpoch?.({
        block: stage.block,
        phase: stage.phase,
        epoch: epoch + 1,
        loss: reported(lossSum / seen),
        accuracy: tallyScore(objective, tallySum, seen),
        valLoss: val.n ? reported(assessment.loss) : null,
        valAccuracy: val.n ? assessment.score : null,
        learningRate: active[active.length - 1]?.optimizer.learningRate ?? 0,
        samplesPerSec: (seen / Math.max(1e-3, trainMs)) * 1000
      })
      if (betterOnValidation(objective, assessment, best)) {
        best?.weights.forEach((w) => w.dispose())
        best = {
          score: assessment.score,
          loss: assessment.loss,
          balancedScore: assessment.balancedScore,
          scored: assessment.scoredAccuracy ?? null,
          weights: fused ? [] : stage.restorable.map((v) => tf.keep(v.clone())),
          saved: fused?.snapshot() ?? null
        }
        sinceBest = 0
      } else if (stage.patience > 0 && ++sinceBest >= stage.patience) {
        break
      }
      // Lets the worker's event loop breathe (cancel messages, heartbeats) after an epoch, at most every BREATHE_MS.
      if (performance.now() - breathedAt >= BREATHE_MS) {
        await new Promise((resolve) => setImmediate(resolve))
        breathedAt = performance.now()
      }
    }
    // The fused path's weights go back to the tf variables: the best epoch's where one was kept.
    fused?.writeBack(best?.saved ?? null)
    if (best && !fused) {
      stage.restorable.forEach((variable, i) => variable.assign(best!.weights[i]!))
      best.weights.forEach((w) => w.dispose())
    }
    const ms = performance.now() - started
    this.trainingMs += ms
    return { epochs: epochsDone, bestValScore: best?.score ?? null, bestValScored: best?.scored ?? null, cancelled, ms }
  }
}

/**
 * A block stage's loss with its local term: the block forward once, its head and the local loss's projection on
 * that output, head loss + weight · local loss. `keepTally` receives the head's batch score (kept).
 */
function lossWithLocal(
  chain: Chain,
  local: NonNullable<Stage['local']>,
  x: tf.Tensor,
  targets: tf.Tensor,
  forward: { training: boolean; dropoutSeed: () => number; fast: boolean },
  objective: Objective,
  keepTally: (tally: tf.Tensor) => void
): tf.Scalar {
  const split = local.blockLayers
  const block: Chain = { layers: chain.layers.slice(0, split), specs: chain.specs.slice(0, split) }
  const head: Chain = { layers: chain.layers.slice(split), specs: chain.specs.slice(split) }
  const h = applyChain(block, x, { ...forward, logits: false })
  const out = applyChain(head, h, { ...forward, logits: true, inputTrains: true })
  const { loss, tally } = tensorLoss(objective, out, targets)
  keepTally(tf.keep(tally()))
  return tf.add(loss, localLossTerm(local.loss, h, targets as tf.Tensor1D, forward)) as tf.Scalar
}
