/** A chain run in inference mode over a whole part: its outputs (the layer-wise prefix cache) or its scores. */
import * as tf from '@tensorflow/tfjs'
import { type Chain, applyChain } from './forward'
import { type Features, rowsOf, sizeOf } from './features'
import { FeatureFile } from './featureFile'
import { readAll } from './reads'

const EVAL_CHUNK = 512

/**
 * Runs a chain in inference mode over a whole part, in chunks, into a FeatureFile in `cacheDir` (null: one
 * Float32Array in memory). Reads are asynchronous (data(), not dataSync()): a GPU backend cannot read its memory
 * synchronously in Node.
 */
export async function chainOutput(chain: Chain, features: Features, cacheDir: string | null): Promise<Features> {
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
    const chunk = (await values.data()) as Float32Array
    if (out instanceof FeatureFile) out.writeRows(start, chunk)
    else out.set(chunk, start * sizeOf(outShape!))
    values.dispose()
  }
  return { x: out ?? new Float32Array(0), y: features.y, n: features.n, shape: outShape ?? [] }
}

/** Class probabilities of a chain over a part: accuracy, mean cross-entropy and the predicted classes. */
export async function assess(
  chain: Chain,
  features: Features,
  probabilities: boolean
): Promise<{ accuracy: number; loss: number; predicted: Int32Array }> {
  const predicted = new Int32Array(features.n)
  let lossSum = 0
  let correct = 0
  for (let start = 0; start < features.n; start += EVAL_CHUNK) {
    const count = Math.min(EVAL_CHUNK, features.n - start)
    const [lossTensor, classTensor] = tf.tidy(() => {
      const x = tf.tensor(rowsOf(features, start, count), [count, ...features.shape])
      const out = applyChain(chain, x, { training: false, logits: !probabilities })
      const depth = out.shape[1]!
      const truth = tf.oneHot(tf.tensor1d(features.y.subarray(start, start + count), 'int32'), depth)
      const loss = probabilities
        ? tf.neg(tf.sum(tf.mul(truth, tf.log(tf.clipByValue(out, 1e-7, 1)))))
        : tf.mul(tf.losses.softmaxCrossEntropy(truth, out, undefined, 0, tf.Reduction.MEAN), count)
      return [loss, tf.argMax(out, 1)] as const
    })
    const [lossValues, classes] = (await readAll([lossTensor, classTensor])) as [Float32Array, Int32Array]
    const lossValue = lossValues[0]!
    lossSum += lossValue
    predicted.set(classes, start)
    for (let i = 0; i < count; i++) if (classes[i] === features.y[start + i]) correct++
  }
  return { accuracy: features.n ? correct / features.n : 0, loss: features.n ? lossSum / features.n : 0, predicted }
}
