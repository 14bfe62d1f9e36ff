/**
 * The proof that an export is faithful: the same inputs through tfjs and onnxruntime-node, once one sample at
 * a time (batch 1) and once as whole batches (batch N), so both the fixed and the dynamic batch paths are run.
 */
import * as tf from '@tensorflow/tfjs'
import * as ort from 'onnxruntime-node'
import type { Parity } from '../shared/contract'
import type { InputAffine } from './onnx'

export const PARITY_TOLERANCE = 1e-4

export interface ParityOptions {
  /** The affine step baked into the ONNX input: tfjs gets (x - offset) * scale, ONNX gets x. */
  inputAffine?: InputAffine
  /** The ONNX model holds only the first k layers: compare against those layers' output. */
  upToLayer?: number
  /** Feature extractors: argmax agreement is reported but does not decide `pass`. */
  featureExtractor?: boolean
  /** How many leading samples also go through batch 1 (each a separate run). */
  singleSamples?: number
  /** Batch size of the batch-N pass. */
  batchSize?: number
  /**
   * Regression: the affine step baked at the ONNX output (tfjs's output gets it here too), and the differences are
   * held to the tolerance relative to `scale` (the target's standard deviation) instead of absolutely.
   */
  outputAffine?: { scale: number; offset: number }
}

export interface ParityResult extends Parity {
  /** Worst difference of the batch-1 runs alone, and of the batch-N runs alone. */
  maxAbsDiffBatch1: number
  maxAbsDiffBatchN: number
}

function argmax(values: Float32Array, offset: number, width: number): number {
  let best = 0
  for (let j = 1; j < width; j++) if (values[offset + j]! > values[offset + best]!) best = j
  return best
}

/** tfjs output of the model, or of its first k layers, for one batch (inference mode). */
function tfjsForward(model: tf.LayersModel, x: tf.Tensor, upToLayer: number | undefined): Float32Array {
  return tf.tidy(() => {
    if (upToLayer == null) return (model.predict(x) as tf.Tensor).dataSync() as Float32Array
    let h = x
    const layers = model.layers.filter((l) => l.getClassName() !== 'InputLayer').slice(0, upToLayer)
    for (const layer of layers) h = layer.apply(h, { training: false }) as tf.Tensor
    return h.dataSync() as Float32Array
  })
}

function applyAffine(x: Float32Array, affine: InputAffine): Float32Array {
  const f = affine.offset.length
  const out = new Float32Array(x.length)
  for (let i = 0; i < x.length; i++) out[i] = (x[i]! - affine.offset[i % f]!) * affine.scale[i % f]!
  return out
}

/**
 * Runs `x` (n samples of `inputShape`, as the ONNX model takes them) through both and compares.
 * pass: max |diff| ≤ 1e-4 (regression: relative to the target's standard deviation) and (for classifiers) every argmax the same.
 */
export async function checkParity(
  model: tf.LayersModel,
  onnxBytes: Uint8Array,
  x: Float32Array,
  inputShape: number[],
  options: ParityOptions = {}
): Promise<ParityResult> {
  const per = inputShape.reduce((a, b) => a * b, 1)
  const n = Math.floor(x.length / per)
  if (n * per !== x.length || n === 0) throw new Error(`parity: ${x.length} values do not make whole samples of shape [${inputShape.join(', ')}]`)
  const tfInput = options.inputAffine ? applyAffine(x, options.inputAffine) : x
  const session = await ort.InferenceSession.create(onnxBytes)
  try {
    const [inputName] = session.inputNames
    const [outputName] = session.outputNames
    if (inputName === undefined || outputName === undefined) throw new Error('parity: the ONNX model has no input or no output')
    const run = async (start: number, count: number): Promise<{ onnxOut: Float32Array; tfOut: Float32Array }> => {
      const feed = new ort.Tensor('float32', x.slice(start * per, (start + count) * per), [count, ...inputShape])
      const result = await session.run({ [inputName]: feed })
      const output = result[outputName]
      if (!output) throw new Error(`parity: the ONNX run gave no output "${outputName}"`)
      const onnxOut = output.data as Float32Array
      const tfX = tf.tensor(tfInput.subarray(start * per, (start + count) * per), [count, ...inputShape])
      const tfOut = tfjsForward(model, tfX, options.upToLayer)
      tfX.dispose()
      const affine = options.outputAffine
      if (affine) for (let i = 0; i < tfOut.length; i++) tfOut[i] = Math.fround(tfOut[i]! * affine.scale) + affine.offset
      if (onnxOut.length !== tfOut.length) throw new Error(`parity: ONNX gives ${onnxOut.length} values, tfjs ${tfOut.length}`)
      return { onnxOut, tfOut }
    }
    const compare = (a: Float32Array, b: Float32Array, count: number): { diff: number; agree: number } => {
      let diff = 0
      for (let i = 0; i < a.length; i++) {
        const d = Math.abs(a[i]! - b[i]!)
        // NaN on either side is a failure, not a silent 0 (MAX_VALUE, not Infinity: it survives JSON).
        diff = Number.isNaN(d) ? Number.MAX_VALUE : Math.max(diff, d)
        if (diff === Number.MAX_VALUE) break
      }
      const width = a.length / count
      let agree = 0
      for (let s = 0; s < count; s++) if (argmax(a, s * width, width) === argmax(b, s * width, width)) agree++
      return { diff, agree }
    }

    let maxAbsDiffBatch1 = 0
    const singles = Math.min(n, options.singleSamples ?? 4)
    for (let s = 0; s < singles; s++) {
      const { onnxOut, tfOut } = await run(s, 1)
      maxAbsDiffBatch1 = Math.max(maxAbsDiffBatch1, compare(onnxOut, tfOut, 1).diff)
    }
    let maxAbsDiffBatchN = 0
    let agreed = 0
    const batchSize = options.batchSize ?? 256
    for (let start = 0; start < n; start += batchSize) {
      const count = Math.min(batchSize, n - start)
      const { onnxOut, tfOut } = await run(start, count)
      const { diff, agree } = compare(onnxOut, tfOut, count)
      maxAbsDiffBatchN = Math.max(maxAbsDiffBatchN, diff)
      agreed += agree
    }
    const maxAbsDiff = Math.max(maxAbsDiffBatch1, maxAbsDiffBatchN)
    const argmaxAgreement = agreed / n
    const scale = options.outputAffine ? Math.abs(options.outputAffine.scale) : null
    const relativeDiff = scale ? maxAbsDiff / scale : null
    const closeEnough = (relativeDiff ?? maxAbsDiff) <= PARITY_TOLERANCE
    return {
      maxAbsDiff,
      argmaxAgreement,
      samples: n,
      pass: options.featureExtractor ? closeEnough : closeEnough && argmaxAgreement === 1,
      ...(relativeDiff !== null && scale !== null ? { relativeDiff, scale } : {}),
      maxAbsDiffBatch1,
      maxAbsDiffBatchN
    }
  } finally {
    await session.release()
  }
}
