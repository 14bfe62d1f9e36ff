/** A chain run in inference mode over a whole part: its outputs (the layer-wise prefix cache) or its scores. */
import * as tf from '@tensorflow/tfjs'
import { type Chain, applyChain } from './forward'
import { type Features, rowsOf, sizeOf } from './features'
import { FeatureFile } from './featureFile'
import { type Objective, regressionLoss } from './objective'
import { rSquared } from '../shared/task'

const EVAL_CHUNK = 512

/**
 * Runs a chain in inference mode over a whole part, in chunks, into a FeatureFile in `cacheDir` (null: one
 * Float32Array in memory).
 */
export function chainOutput(chain: Chain, features: Features, cacheDir: string | null): Features {
  let outShape: number[] | null = null
  let out: Float32Array | FeatureFile | null = null
  for (let start = 0; start < features.n; start += EVAL_CHUNK) {
    const count = Math.min(EVAL_CHUNK, features.n - start)
    const values = tf.tidy(() => {
      const x = tf.tensor(rowsOf(features, start, count), [count, ...features.shape])
      return applyChain(chain, x, { training: false, logits: false })
    })
    if (!out) {
      outShape = values.shape.slice(1)
      out = cacheDir ? FeatureFile.create(cacheDir, sizeOf(outShape), features.n) : new Float32Array(features.n * sizeOf(outShape))
    }
    const chunk = values.dataSync() as Float32Array
    if (out instanceof FeatureFile) out.writeRows(start, chunk)
    else out.set(chunk, start * sizeOf(outShape!))
    values.dispose()
  }
  return { x: out ?? new Float32Array(0), y: features.y, n: features.n, shape: outShape ?? [] }
}

export interface Assessment {
  /** Accuracy, or R² (1 − SSE/SST around this part's own mean) for regression. */
  score: number
  /** Mean loss as trained (cross-entropy, or MSE/Huber on the standardised target). */
  loss: number
  /** Classification: the predicted class per row; regression: the standardised prediction per row. */
  predicted: Int32Array | Float32Array
  /** Classification: the mean recall over the classes present (balanced accuracy); regression: the score. */
  balancedScore: number
  /** Classification only: the probability the model gave each predicted class (softmax's, when the chain gives logits). */
  confidence?: Float32Array
}

/**
 * A chain scored over a part. Classification with `probabilities`: the chain ends in its softmax (the whole model)
 * and the loss is −log p; without, its output is logits (a stage's chain, its softmax left out).
 */
export function assess(chain: Chain, features: Features, objective: Objective, probabilities: boolean): Assessment {
  if (objective.task === 'regression') return assessRegression(chain, features, objective)
  const labels = features.y as Int32Array
  const predicted = new Int32Array(features.n)
  const confidence = new Float32Array(features.n)
  let lossSum = 0
  let correct = 0
  for (let start = 0; start < features.n; start += EVAL_CHUNK) {
    const count = Math.min(EVAL_CHUNK, features.n - start)
    const [lossValue, classes, top] = tf.tidy(() => {
      const x = tf.tensor(rowsOf(features, start, count), [count, ...features.shape])
      const out = applyChain(chain, x, { training: false, logits: !probabilities })
      const depth = out.shape[1]!
      const truth = tf.oneHot(tf.tensor1d(labels.subarray(start, start + count), 'int32'), depth)
      const loss = probabilities
        ? tf.neg(tf.sum(tf.mul(truth, tf.log(tf.clipByValue(out, 1e-7, 1)))))
        : tf.mul(tf.losses.softmaxCrossEntropy(truth, out, undefined, 0, tf.Reduction.MEAN), count)
      const probs = probabilities ? out : tf.softmax(out)
      return [loss.dataSync()[0]!, tf.argMax(out, 1).dataSync() as Int32Array, tf.max(probs, 1).dataSync() as Float32Array] as const
    })
    lossSum += lossValue
    predicted.set(classes, start)
    confidence.set(top, start)
    for (let i = 0; i < count; i++) if (classes[i] === labels[start + i]) correct++
  }
  return {
    score: features.n ? correct / features.n : 0,
    loss: features.n ? lossSum / features.n : 0,
    predicted,
    balancedScore: meanRecall(labels, predicted),
    confidence
  }
}

function assessRegression(chain: Chain, features: Features, objective: Objective): Assessment {
  const targets = features.y as Float32Array
  const predicted = new Float32Array(features.n)
  for (let start = 0; start < features.n; start += EVAL_CHUNK) {
    const count = Math.min(EVAL_CHUNK, features.n - start)
    const values = tf.tidy(() => {
      const x = tf.tensor(rowsOf(features, start, count), [count, ...features.shape])
      return applyChain(chain, x, { training: false, logits: false }).dataSync() as Float32Array
    })
    predicted.set(values.subarray(0, count), start)
  }
  const scratch = new Float32Array(features.n)
  const { loss } = regressionLoss(objective.regressionLoss, predicted, targets, features.n, scratch)
  const score = rSquared(targets, predicted)
  return { score, loss, predicted, balancedScore: score }
}

/** Balanced accuracy: the recall of each class present in `truth`, averaged. */
export function meanRecall(truth: Int32Array, predicted: Int32Array): number {
  const rows = new Map<number, number>()
  const right = new Map<number, number>()
  for (let i = 0; i < truth.length; i++) {
    const label = truth[i]!
    rows.set(label, (rows.get(label) ?? 0) + 1)
    if (predicted[i] === label) right.set(label, (right.get(label) ?? 0) + 1)
  }
  let sum = 0
  for (const [label, count] of rows) sum += (right.get(label) ?? 0) / count
  return rows.size ? sum / rows.size : 0
}
