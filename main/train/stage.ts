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
import { FeatureFile } from './featureFile'
import type { TrainHooks } from './hooks'
import { type Objective, betterOnValidation, tallyScore, tensorLoss } from './objective'

export interface Group {
  optimizer: BlockOptimizer
  variables: tf.Variable[]
  /** First epoch (0-based) in which this group trains: gradual unfreezing starts lower blocks later. */
  activeFrom: number
}

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
  /** With fastPath: dense-only chains train in the wasm kernels of fast/fusedDense.ts (false: fast/denseChain.ts). */
  fusedDense: boolean
}

export interface StageResult {
  epochs: number
  /** The validation score (accuracy, or R²) of the epoch whose weights were kept. */
  bestValScore: number | null
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
    let best: { score: number; loss: number; balancedScore: number; weights: tf.Tensor[]; saved: FusedSnapshot | null } | null = null
    let sinceBest = 0
    let epochsDone = 0
    let cancelled = false
    let batchMsAverage = 0
    // Dense-only chains train inside one wasm instance (fast/fusedDense.ts), or where that cannot run (no wasm
    // SIMD) with the tape-free tfjs step (fast/denseChain.ts).
    const fused = stage.fastPath && stage.fusedDense && !stage.augment && tensorsInProcess() ? FusedDenseChain.open(stage) : null
    const denseChain = !fused && stage.fastPath && tensorsInProcess() ? denseChainOf(stage.chain.layers, stage.chain.specs, train.shape) : null

    for (let epoch = 0; epoch < stage.epochs && !cancelled; epoch++) {
      const epochStart = performance.now()
      for (const group of stage.groups) group.optimizer.setEpoch(epoch, stage.epochs)
      const active = stage.groups.filter((group) => epoch >= group.activeFrom)
      const variables = active.flatMap((group) => group.variables)
      const order = shuffledIndices(train.n, shuffleRandom)
      let lossSum = 0
      let tallySum = 0
      let seen = 0
      for (let b = 0; b < batches; b++) {
        if (this.hooks.shouldStop?.()) {
          cancelled = true
          break
        }
        const batchStart = performance.now()
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
        const [batchLoss, batchTally] = fused
          ? fused.step(order, from, count, active)
          : denseChain
            ? tf.tidy(() => {
                const x = tf.tensor2d(batchBuffer.subarray(0, count * inSize), [count, inSize])
                const step = denseChainStep(denseChain, x, labelBuffer.subarray(0, count), objective, active)
                return [step.loss, step.tally] as const
              })
            : tf.tidy(() => {
                const x = tf.tensor(batchBuffer.subarray(0, count * inSize), [count, ...train.shape])
                const targets =
                  labelBuffer instanceof Int32Array
                    ? tf.tensor1d(labelBuffer.subarray(0, count), 'int32')
                    : tf.tensor1d(labelBuffer.subarray(0, count))
                let hits: tf.Tensor | null = null
                const { value, grads } = tf.variableGrads(() => {
                  const out = applyChain(stage.chain, x, { training: true, logits: true, dropoutSeed, fast: stage.fastPath })
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
                const kept = hits as tf.Tensor | null
                const hitCount = kept ? kept.dataSync()[0]! : 0
                kept?.dispose()
                return [value.dataSync()[0]!, hitCount] as const
              })
        lossSum += batchLoss * count
        tallySum += batchTally
        seen += count
        const batchMs = performance.now() - batchStart
        batchMsAverage = batchMsAverage === 0 ? batchMs : 0.9 * batchMsAverage + 0.1 * batchMs
        const remainingBatches = (stage.epochs - epoch - 1) * batches + (batches - b - 1)
        this.hooks.onProgress?.({
          phase: stage.phase,
          block: stage.block,
          blockName: stage.blockName,
          blockCount: stage.blockCount,
          epoch: epoch + 1,
          epochs: stage.epochs,
          batch: b + 1,
          batches,
          loss: reported(lossSum / seen),
          accuracy: tallyScore(objective, tallySum, seen),
          samplesPerSec: (seen / Math.max(1e-3, performance.now() - epochStart)) * 1000,
          etaMs: remainingBatches * batchMsAverage
        })
      }
      if (seen === 0) break
      // A cancelled epoch is not recorded: its metrics would cover part of the data only.
      if (cancelled) break
      // The fused path's weights into the model, so the epoch's hooks see them (as on the tfjs paths).
      fused?.writeBack(null)
      const trainMs = performance.now() - epochStart
      const assessment = fused ? fused.assess(val) : assess(stage.chain, val, objective, false)
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
          weights: fused ? [] : stage.restorable.map((v) => tf.keep(v.clone())),
          saved: fused?.snapshot() ?? null
        }
        sinceBest = 0
      } else if (stage.patience > 0 && ++sinceBest >= stage.patience) {
        break
      }
      // Lets the worker's event loop breathe (cancel messages, heartbeats) once per epoch.
      await new Promise((resolve) => setImmediate(resolve))
    }
    // The fused path's weights go back to the tf variables: the best epoch's where one was kept.
    fused?.writeBack(best?.saved ?? null)
    if (best && !fused) {
      stage.restorable.forEach((variable, i) => variable.assign(best!.weights[i]!))
      best.weights.forEach((w) => w.dispose())
    }
    const ms = performance.now() - started
    this.trainingMs += ms
    return { epochs: epochsDone, bestValScore: best?.score ?? null, cancelled, ms }
  }
}
