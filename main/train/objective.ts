/**
 * What a stage minimises and how it scores, per task: softmax cross-entropy (optionally class-weighted) and accuracy
 * for classification; MSE or Huber on the standardised target and R² for regression. Kept in one small module so the
 * training loop (stage.ts), its fast dense path and the evaluation share one definition of each loss.
 */
import * as tf from '@tensorflow/tfjs'
import type { Task, TrainConfig } from '../shared/contract'
import type { PreparedData } from '../data/types'
import { tapeKernelsWanted } from './fast/kernels/convTrain'
import { tensorsInProcess, valuesInProcess } from './fast/inProcess'

export interface Objective {
  task: Task
  /** Model outputs per row: the class count, or 1 for regression. */
  outputs: number
  /** Classification with balanced weights: one weight per class (inverse frequency in the train part); else null. */
  classWeights: Float32Array | null
  /** Regression: the loss on the standardised target. */
  regressionLoss: TrainConfig['loss']
  /** Reported losses are multiplied by this: the target's variance for regression (its unit²), else 1. */
  lossScale: number
}

/** Huber's threshold on the standardised target: quadratic within one standard deviation of the truth. */
export const HUBER_DELTA = 1

export function objectiveFor(data: PreparedData, config: Pick<TrainConfig, 'loss' | 'classWeights'>): Objective {
  if (data.task === 'regression') {
    const std = data.targetScale?.std ?? 1
    return { task: 'regression', outputs: 1, classWeights: null, regressionLoss: config.loss, lossScale: std * std }
  }
  const classes = data.labels.length
  return {
    task: 'classification',
    outputs: classes,
    classWeights: config.classWeights === 'balanced' ? balancedWeights(data.train.y as Int32Array, classes) : null,
    regressionLoss: config.loss,
    lossScale: 1
  }
}

/** scikit-learn's "balanced": n / (classes · count of the class) over the train rows (0 for a class with none). */
export function balancedWeights(labels: Int32Array, classes: number): Float32Array {
  const counts = new Float64Array(classes)
  for (const label of labels) counts[label]!++
  return Float32Array.from(counts, (count) => (count > 0 ? labels.length / (classes * count) : 0))
}

/** A batch's loss and what its score is tallied from: rows right (classification) or the sum of squared errors. */
export interface BatchResult {
  loss: number
  tally: number
}

/**
 * The loss of `out` [count, outputs] against the targets, and its gradient with respect to `out` into `gradient`
 * (Float64 inside). Classification: out are logits; regression: out is the standardised prediction.
 */
export function lossAndGradient(
  objective: Objective,
  out: Float32Array,
  targets: Int32Array | Float32Array,
  count: number,
  gradient: Float32Array
): BatchResult {
  if (objective.task === 'regression') return regressionLoss(objective.regressionLoss, out, targets as Float32Array, count, gradient)
  return softmaxCrossEntropy(out, targets as Int32Array, count, objective.outputs, gradient, objective.classWeights)
}

let scratch = new Float64Array(16)
const scratchOf = (size: number): Float64Array => (scratch.length >= size ? scratch : (scratch = new Float64Array(size)))

/**
 * Mean softmax cross-entropy (each row weighted by its class's weight when given), its gradient with respect to the
 * logits, and the rows predicted right.
 */
export function softmaxCrossEntropy(
  logits: Float32Array,
  labels: Int32Array,
  count: number,
  classes: number,
  gradient: Float32Array,
  weights: Float32Array | null = null
): BatchResult {
  let loss = 0
  let correct = 0
  // Each row's exponentials, computed once for the sum and the gradient (in double, as before: the same numbers).
  const exps = scratchOf(classes)
  for (let r = 0; r < count; r++) {
    const row = r * classes
    let max = -Infinity
    let best = 0
    for (let c = 0; c < classes; c++) {
      if (logits[row + c]! > max) {
        max = logits[row + c]!
        best = c
      }
    }
    let sum = 0
    for (let c = 0; c < classes; c++) {
      const e = Math.exp(logits[row + c]! - max)
      exps[c] = e
      sum += e
    }
    const label = labels[r]!
    const weight = weights ? weights[label]! : 1
    loss += weight * (Math.log(sum) - (logits[row + label]! - max))
    if (best === label) correct++
    for (let c = 0; c < classes; c++) gradient[row + c] = (weight * (exps[c]! / sum - (c === label ? 1 : 0))) / count
  }
  return { loss: count ? loss / count : 0, tally: correct }
}

/** MSE (mean of r²) or Huber (½r² within HUBER_DELTA, linear beyond), r = prediction − target. */
export function regressionLoss(
  kind: TrainConfig['loss'],
  out: Float32Array,
  targets: Float32Array,
  count: number,
  gradient: Float32Array
): BatchResult {
  let loss = 0
  let squares = 0
  for (let r = 0; r < count; r++) {
    const residual = out[r]! - targets[r]!
    squares += residual * residual
    if (kind === 'huber') {
      const size = Math.abs(residual)
      loss += size <= HUBER_DELTA ? 0.5 * residual * residual : HUBER_DELTA * (size - 0.5 * HUBER_DELTA)
      gradient[r] = (size <= HUBER_DELTA ? residual : HUBER_DELTA * Math.sign(residual)) / count
    } else {
      loss += residual * residual
      gradient[r] = (2 * residual) / count
    }
  }
  return { loss: count ? loss / count : 0, tally: squares }
}

/** A batch's loss as a tensor on the gradient tape, and its tally (rows right, or the sum of squared errors). */
export interface TensorLoss {
  loss: tf.Scalar
  tally: () => tf.Scalar
}

/**
 * The same losses on the tape (the taped training path, decoupled blocks), and the batch's tally kept out of the
 * gradient. Where tensors live in this process and the taped step's kernels are on, the loss and its gradient are
 * lossAndGradient's loops over the logits (hostTensorLoss); elsewhere, tfjs's ops (tfjsTensorLoss).
 */
export function tensorLoss(objective: Objective, out: tf.Tensor, targets: tf.Tensor): TensorLoss {
  return tapeKernelsWanted() && tensorsInProcess() && out.dtype === 'float32'
    ? hostTensorLoss(objective, out, targets)
    : tfjsTensorLoss(objective, out, targets)
}

/**
 * The loss as one custom-gradient op whose value and gradient lossAndGradient computes from the output's values: on
 * [32, 10] logits tfjs's softmax cross-entropy and its gradient are some twenty kernel calls, each broadcasting one
 * (Sub, Multiply by [32, 1]) run through XNNPACK's thread pool; here they are a few hundred multiply-adds, and the
 * small CNN's epoch took 0.95× the time (issue 20's note). The same definition as the fused dense path's.
 */
export function hostTensorLoss(objective: Objective, out: tf.Tensor, targets: tf.Tensor): TensorLoss {
  const count = out.shape[0] ?? 0
  const targetValues = targets.dataSync() as Int32Array | Float32Array
  let tally = 0
  // customGrad's typing takes variadic tensors and a save function; this one takes the output alone.
  const withGradient = tf.customGrad(((logits: tf.Tensor) => {
    const gradient = new Float32Array(logits.size)
    const result = lossAndGradient(objective, valuesInProcess(logits), targetValues, count, gradient)
    tally = result.tally
    return {
      value: tf.scalar(result.loss),
      gradFunc: (dy: tf.Tensor) => {
        // dy is 1 unless the loss is scaled or summed with another term's (a local loss adds, which keeps it 1).
        const scale = valuesInProcess(dy)[0]!
        if (scale !== 1) for (let i = 0; i < gradient.length; i++) gradient[i]! *= scale
        return tf.tensor(gradient, logits.shape)
      }
    }
  }) as unknown as Parameters<typeof tf.customGrad>[0])
  const loss = withGradient(out) as tf.Scalar
  return { loss, tally: () => tf.scalar(tally) }
}

/** The losses as tfjs ops: the reference the host loss and the fused dense path are tested against. */
export function tfjsTensorLoss(objective: Objective, out: tf.Tensor, targets: tf.Tensor): TensorLoss {
  if (objective.task === 'regression') {
    const truth = tf.reshape(targets, out.shape)
    const loss =
      objective.regressionLoss === 'huber'
        ? tf.losses.huberLoss(truth, out, undefined, HUBER_DELTA, tf.Reduction.MEAN)
        : tf.losses.meanSquaredError(truth, out, undefined, tf.Reduction.MEAN)
    return { loss: loss as tf.Scalar, tally: () => tf.sum(tf.square(tf.sub(out, truth))) }
  }
  const truth = tf.oneHot(targets as tf.Tensor1D, objective.outputs)
  const perRow = tf.losses.softmaxCrossEntropy(truth, out, undefined, 0, tf.Reduction.NONE)
  const loss = objective.classWeights ? tf.mean(tf.mul(perRow, tf.gather(tf.tensor1d(objective.classWeights), targets))) : tf.mean(perRow)
  return { loss: loss as tf.Scalar, tally: () => tf.sum(tf.cast(tf.equal(tf.argMax(out, 1), targets), 'float32')) }
}

/**
 * The epoch's running score from its tally: accuracy, or for regression 1 − SSE/n on the standardised train target
 * (the train part has mean 0 and variance 1 there, so this is its R² as the weights moved during the epoch).
 */
export function tallyScore(objective: Objective, tally: number, seen: number): number {
  if (seen === 0) return 0
  return objective.task === 'regression' ? 1 - tally / seen : tally / seen
}

/**
 * Whether a validation result beats the best so far. Classification: higher accuracy, the lower loss breaking a tie
 * (validation sets are small and equal accuracy is common); with balanced class weights, higher balanced accuracy
 * (mean recall per class) instead, since plain accuracy would pick the epoch that ignores the rare classes the
 * weights are there for. Regression: lower validation loss.
 */
export function betterOnValidation(
  objective: Objective,
  candidate: { score: number; loss: number; balancedScore: number },
  best: { score: number; loss: number; balancedScore: number } | null
): boolean {
  if (!best) return true
  if (objective.task === 'regression') return candidate.loss < best.loss
  const [a, b] = objective.classWeights ? [candidate.balancedScore, best.balancedScore] : [candidate.score, best.score]
  return a > b || (a === b && candidate.loss < best.loss)
}

/** A classifier's objective without class weights (tests and benchmarks that build stages by hand). */
export function classificationObjective(classes: number): Objective {
  return { task: 'classification', outputs: classes, classWeights: null, regressionLoss: 'mse', lossScale: 1 }
}
