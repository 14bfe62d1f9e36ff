/** A chain run in inference mode over a whole part: its outputs (the layer-wise prefix cache) or its scores. */
import * as tf from '@tensorflow/tfjs'
import { type Chain, applyChain } from './forward'
import { type Features, rowsOf, sizeOf } from './features'
import { FeatureFile } from './featureFile'

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
 * Float32Array in memory).
 */
export function chainOutput(chain: Chain, features: Features, cacheDir: string | null): Features {
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
    const chunk = values.dataSync() as Float32Array
    if (out instanceof FeatureFile) out.writeRows(start, chunk)
    else out.set(chunk, start * sizeOf(outShape!))
    values.dispose()
  }
  return { x: out ?? new Float32Array(0), y: features.y, n: features.n, shape: outShape ?? [] }
}

/** Class probabilities of a chain over a part: accuracy, mean cross-entropy and the predicted classes. */
export function assess(chain: Chain, features: Features, probabilities: boolean): { accuracy: number; loss: number; predicted: Int32Array } {
  const predicted = new Int32Array(features.n)
  let lossSum = 0
  let correct = 0
  const rows = evalChunk(chain, features.shape)
  for (let start = 0; start < features.n; start += rows) {
    const count = Math.min(rows, features.n - start)
    const [lossValue, classes] = tf.tidy(() => {
      const x = tf.tensor(rowsOf(features, start, count), [count, ...features.shape])
      const out = applyChain(chain, x, { training: false, logits: !probabilities })
      const depth = out.shape[1]!
      const truth = tf.oneHot(tf.tensor1d(features.y.subarray(start, start + count), 'int32'), depth)
      const loss = probabilities
        ? tf.neg(tf.sum(tf.mul(truth, tf.log(tf.clipByValue(out, 1e-7, 1)))))
        : tf.mul(tf.losses.softmaxCrossEntropy(truth, out, undefined, 0, tf.Reduction.MEAN), count)
      return [loss.dataSync()[0]!, tf.argMax(out, 1).dataSync() as Int32Array] as const
    })
    lossSum += lossValue
    predicted.set(classes, start)
    for (let i = 0; i < count; i++) if (classes[i] === features.y[start + i]) correct++
  }
  return { accuracy: features.n ? correct / features.n : 0, loss: features.n ? lossSum / features.n : 0, predicted }
}
