/** A chain run in inference mode over a whole part: its outputs (the layer-wise prefix cache) or its scores. */
import * as tf from '@tensorflow/tfjs'
import { type Chain, applyChain } from './forward'
import { type Features, rowsOf, sizeOf } from './features'
import { FeatureFile } from './featureFile'
import { readAll } from './reads'
import { type Objective, regressionLoss } from './objective'
import { rSquared } from '../shared/task'

const EVAL_CHUNK = 512
/**
 * Inference chunks (scoring, prefix caching) keep a chain's largest activation near this size. The wasm heap never
 * shrinks, and 512 images through a 28×28×16 conv (26 MB in one tensor) set the process's high-water mark far
 * above any training step's (issue 18, Fashion-MNIST's small CNN: wasm heap 53–99 MiB → 16–19 MiB, peak RSS
 * 30–40 MiB lower in both modes; the results do not change, scoring is per row).
 */
const EVAL_BYTES = 4 * 2 ** 20

/** Rows per inference chunk of a chain over inputs of this shape: 512, fewer where a layer's output per row is big. */
export function evalChunk(chain: Chain, inputShape: number[]): number {
  let largest = sizeOf(inputShape)
  for (const layer of chain.layers) {
    let shape: unknown
    try {
      shape = layer.outputShape
    } catch {
      // A head's layer has run outside a model and kept no single shape; it is no bigger than its block's output.
      continue
    }
    if (Array.isArray(shape) && shape.slice(1).every((d) => typeof d === 'number')) largest = Math.max(largest, sizeOf(shape.slice(1) as number[]))
  }
  return Math.max(16, Math.min(EVAL_CHUNK, Math.floor(EVAL_BYTES / (4 * largest))))
}

/**
 * Runs a chain in inference mode over a whole part, in chunks, into a FeatureFile in `cacheDir` (null: one
 * Float32Array in memory). Reads are asynchronous (data(), not dataSync()): a GPU backend cannot read its memory
 * synchronously in Node.
 */
export async function chainOutput(chain: Chain, features: Features, cacheDir: string | null): Promise<Features> {
  let outShape: number[] | null = null
  let out: Float32Array | FeatureFile | null = null
  const rows = evalChunk(chain, features.shape)
  for (let start = 0; start < features.n; start += rows) {
    const count = Math.min(rows, features.n - start)
    const values = tf.tidy(() => {
      const x = tf.tensor(rowsOf(features, start, count), [count, ...features.shape])
      return applyChain(chain, x, { training: false, logits: false })
    })
    if (!out) {
      outShape = values.shape.slice(1)
      out = cacheDir ? FeatureFile.create(cacheDir, sizeOf(outShape), features.n) : new Float32Array(features.n * sizeOf(outShape))
    }
    const chunk = (await values.data()) as Float32Array
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
  /**
   * Asked for by `asScored` (classification, logits): the accuracy of the chain's own last layer (the model's
   * softmax) on the same rows, as `probabilities` scores them, from the same forward pass up to that layer.
   */
  scoredAccuracy?: number
}

/**
 * A chain scored over a part. Classification with `probabilities`: the chain ends in its softmax (the whole model)
 * and the loss is −log p; without, its output is logits (a stage's chain, its softmax left out). `asScored` (with
 * logits) also gives `scoredAccuracy`: a whole-model stage's validation then holds the run's validation figure for
 * the epoch it keeps, and the run's end need not score that part again (issue 20).
 */
export async function assess(chain: Chain, features: Features, objective: Objective, probabilities: boolean, asScored = false): Promise<Assessment> {
  if (objective.task === 'regression') return assessRegression(chain, features, objective)
  const labels = features.y as Int32Array
  const predicted = new Int32Array(features.n)
  const confidence = new Float32Array(features.n)
  const split = asScored && !probabilities && chain.layers.length > 0
  // The last layer apart: once as logits, once as the model applies it, both on the same input.
  const below: Chain = { layers: chain.layers.slice(0, -1), specs: chain.specs.slice(0, -1) }
  const top: Chain = { layers: chain.layers.slice(-1), specs: chain.specs.slice(-1) }
  let lossSum = 0
  let correct = 0
  let scoredCorrect = 0
  const rows = evalChunk(chain, features.shape)
  for (let start = 0; start < features.n; start += rows) {
    const count = Math.min(rows, features.n - start)
    const [lossTensor, classTensor, topTensor, scoredTensor] = tf.tidy(() => {
      const x = tf.tensor(rowsOf(features, start, count), [count, ...features.shape])
      const inference = { training: false, logits: !probabilities }
      const h = split ? applyChain(below, x, { training: false, logits: false }) : null
      const out = h ? applyChain(top, h, inference) : applyChain(chain, x, inference)
      const depth = out.shape[1]!
      const truth = tf.oneHot(tf.tensor1d(labels.subarray(start, start + count), 'int32'), depth)
      const loss = probabilities
        ? tf.neg(tf.sum(tf.mul(truth, tf.log(tf.clipByValue(out, 1e-7, 1)))))
        : tf.mul(tf.losses.softmaxCrossEntropy(truth, out, undefined, 0, tf.Reduction.MEAN), count)
      const probs = probabilities ? out : tf.softmax(out)
      const scored = h ? tf.argMax(applyChain(top, h, { training: false, logits: false }), 1) : null
      return [loss, tf.argMax(out, 1), tf.max(probs, 1), scored] as const
    })
    const read = await readAll(scoredTensor ? [lossTensor, classTensor, topTensor, scoredTensor] : [lossTensor, classTensor, topTensor])
    const [lossValues, classes, topValues] = read as [Float32Array, Int32Array, Float32Array]
    const lossValue = lossValues[0]!
    lossSum += lossValue
    predicted.set(classes, start)
    confidence.set(topValues, start)
    for (let i = 0; i < count; i++) if (classes[i] === labels[start + i]) correct++
    const scoredClasses = read[3] as Int32Array | undefined
    if (scoredClasses) for (let i = 0; i < count; i++) if (scoredClasses[i] === labels[start + i]) scoredCorrect++
  }
  return {
    score: features.n ? correct / features.n : 0,
    loss: features.n ? lossSum / features.n : 0,
    predicted,
    balancedScore: meanRecall(labels, predicted),
    confidence,
    ...(split ? { scoredAccuracy: features.n ? scoredCorrect / features.n : 0 } : {})
  }
}

async function assessRegression(chain: Chain, features: Features, objective: Objective): Promise<Assessment> {
  const targets = features.y as Float32Array
  const predicted = new Float32Array(features.n)
  for (let start = 0; start < features.n; start += EVAL_CHUNK) {
    const count = Math.min(EVAL_CHUNK, features.n - start)
    const out = tf.tidy(() => {
      const x = tf.tensor(rowsOf(features, start, count), [count, ...features.shape])
      return applyChain(chain, x, { training: false, logits: false })
    })
    const values = (await out.data()) as Float32Array
    out.dispose()
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
