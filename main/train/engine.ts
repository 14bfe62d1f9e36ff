/**
 * The training engine: end-to-end and greedy layer-wise training of a spec over prepared data, with a hand-written
 * loop (seeded shuffling, batches copied out of contiguous Float32Arrays, one optimizer per block). It runs inside
 * the training worker; tests also call it in-process to look inside (stage hooks, prefix counter).
 *
 * The layers of the built tf.sequential are applied one by one (layer.apply on tensors), so any contiguous range
 * of layers - a block, a frozen prefix, a block plus its auxiliary head - is a forward function without building
 * sub-models, and the weights stay the model's own.
 */
import os from 'node:os'
import path from 'node:path'
import { seededRandom } from '../core/random'
import { augmentImage, DEFAULT_AUGMENT, type AugmentOptions } from './augment'
import * as tf from '@tensorflow/tfjs'
import type { BlockResult, EpochRow, EventPayload, Evaluation, LayerSpec, ModelSpec, Partition, RunMetrics, TrainConfig } from '../api/contract'
import { LabError } from '../api/errors'
import type { PreparedData, PreparedPart } from '../data/types'
import { buildModel, createLayer, layerSeed } from '../model/build'
import { describeSpec, validatePartition } from '../model/spec'
import { BlockOptimizer, updatesOnHost } from './optimizer'
import { denseForTraining, hostValues, maxPoolForTraining, trainsFast } from './fast/dense'
import { denseChainOf, denseChainStep } from './fast/denseChain'
import { convKernelGradientSimd } from './fast/kernels'
import { FeatureFile } from './featureFile'
import { evaluatePredictions } from './metrics'

export type Progress = Omit<EventPayload<'train.progress'>, 'runId'>

export interface TrainHooks {
  /** Called after every batch (throttle on the receiving side). */
  onProgress?(progress: Progress): void
  onEpoch?(row: EpochRow): void
  /** Checked between batches: true stops the run as cancelled. */
  shouldStop?(): boolean
  /** Layer-wise: the frozen prefix's output was computed for the stage of block `block` (0-based). */
  onPrefixComputed?(block: number): void
  onStageStart?(block: number, model: tf.LayersModel): void
  onStageEnd?(block: number, model: tf.LayersModel): void
}

export interface TrainJob {
  spec: ModelSpec
  partition: Partition
  config: TrainConfig
  data: PreparedData
  /**
   * Layer-wise: the folder for the cached frozen-prefix outputs (featureFile.ts; the files are deleted when the
   * run ends); undefined: a folder under the system's temp folder; null: keep them in memory.
   */
  cacheDir?: string | null
  /**
   * Where tensors live in this process (wasm, cpu): dense-only chains train with the hand-written step of
   * fast/denseChain.ts, and max pools take their gradient on the host (a conv followed by a max pool pools before
   * its bias and activation). False keeps tfjs's own ops for these (tests compare the two); default true.
   */
  fastPath?: boolean
}

export interface TrainOutcome {
  status: 'completed' | 'cancelled'
  model: tf.Sequential
  metrics: RunMetrics | null
  evaluation: Evaluation | null
  blocks: BlockResult[]
  timing: { totalMs: number; msPerEpoch: number }
  epochsRun: number
  /** Layer-wise: how many times a frozen prefix's output was computed (once per block after the first). */
  prefixForwards: number
}

/** Epoch rows of whole-model phases (end-to-end, fine-tune) carry this block index. */
export const WHOLE_MODEL_BLOCK = -1

const EVAL_CHUNK = 512

// ---------------------------------------------------------------- seeded randomness

function shuffledIndices(n: number, random: () => number): Int32Array {
  const order = new Int32Array(n)
  for (let i = 0; i < n; i++) order[i] = i
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    const t = order[i]
    order[i] = order[j]
    order[j] = t
  }
  return order
}

// ---------------------------------------------------------------- forward passes

interface Features {
  /** The rows: in memory (the data's own parts), or in a file (layer-wise caches of prefix outputs). */
  x: Float32Array | FeatureFile
  y: Int32Array
  n: number
  /** Per-sample shape. */
  shape: number[]
}

const sizeOf = (shape: number[]) => shape.reduce((a, b) => a * b, 1)

function partFeatures(part: PreparedPart, shape: number[]): Features {
  return { x: part.x, y: part.y, n: part.n, shape }
}

/** Rows start..start+count−1 of a part's features, as one array (a view for memory, a read for a file). */
function rowsOf(features: Features, start: number, count: number): Float32Array {
  const size = sizeOf(features.shape)
  return features.x instanceof FeatureFile ? features.x.readRows(start, count) : features.x.subarray(start * size, (start + count) * size)
}

/** A chain of layers with their specs (null for a head's pooling and flatten layers). */
interface Chain {
  layers: tf.layers.Layer[]
  specs: Array<LayerSpec | null>
}

/**
 * Applies a chain. In training, dropout draws a seeded mask per call (tfjs's seeded dropout layer would reuse
 * one mask for every batch). With `logits`, a final softmax is left out so the loss can use the stable
 * softmax cross-entropy.
 */
function applyChain(
  chain: Chain,
  input: tf.Tensor,
  options: { training: boolean; logits: boolean; dropoutSeed?: () => number; /** Host max-pool gradient, conv+pool reordering. */ fast?: boolean }
): tf.Tensor {
  let x = input
  const last = chain.layers.length - 1
  // Set when a conv took its following max pool along (see below).
  let pooledAlready = false
  // Whether a layer before the current one has weights: only then does a layer need its input gradient.
  let weightsBefore = false
  chain.layers.forEach((layer, i) => {
    const inputGradient = weightsBefore
    weightsBefore ||= layer.trainableWeights.length > 0
    if (pooledAlready) {
      pooledAlready = false
      return
    }
    const spec = chain.specs[i]
    if (spec?.type === 'dropout') {
      if (options.training && spec.rate > 0) {
        const keep = tf.greaterEqual(tf.randomUniform(x.shape, 0, 1, 'float32', options.dropoutSeed?.()), spec.rate)
        x = tf.div(tf.mul(x, tf.cast(keep, 'float32')), 1 - spec.rate)
      }
      return
    }
    if (spec?.type === 'conv2d' && options.training && spec.strides === 1) {
      const next = chain.specs[i + 1]
      const size = options.fast && next?.type === 'maxPooling2d' ? hostPoolSize(next, x.shape[1]!, x.shape[2]!, spec.padding, spec.kernelSize) : 0
      if (size && MONOTONE.has(spec.activation)) {
        // conv → bias → activation → max pool equals conv → max pool → bias → activation (a per-channel constant
        // and a non-decreasing function commute with the window maximum): bias and activation then run on a
        // tensor size² times smaller, forward and backward.
        const bias = layer.weights[1]?.read()
        let out: tf.Tensor = maxPoolForTraining(convByMatMul(x as tf.Tensor4D, layer, spec, inputGradient, { bias: false, activation: false }), size)
        if (bias) out = tf.add(out, bias)
        x = ACTIVATIONS[spec.activation](out)
        pooledAlready = true
        return
      }
      x = convByMatMul(x as tf.Tensor4D, layer, spec, inputGradient)
      return
    }
    if (spec?.type === 'maxPooling2d' && options.training && options.fast && x.rank === 4) {
      const size = hostPoolSize(spec, x.shape[1]!, x.shape[2]!)
      if (size) {
        x = maxPoolForTraining(x as tf.Tensor4D, size)
        return
      }
    }
    if (spec?.type === 'dense' && options.training && x.rank === 2 && layer.weights.length === 2) {
      // Softmax outputs feeding the loss are left as logits (see above); the loss applies the softmax.
      const activation = i === last && options.logits && spec.activation === 'softmax' ? 'linear' : spec.activation
      if (trainsFast(activation)) {
        const [kernel, bias] = layer.weights.map((w) => w.read())
        x = denseForTraining(x as tf.Tensor2D, kernel as tf.Tensor2D, bias as tf.Tensor1D, activation, inputGradient)
        return
      }
    }
    if (i === last && options.logits) {
      if (spec?.type === 'activation' && spec.activation === 'softmax') return
      if (spec?.type === 'dense' && spec.activation === 'softmax') {
        const [kernel, bias] = layer.weights.map((w) => w.read())
        x = tf.add(tf.matMul(x as tf.Tensor2D, kernel as tf.Tensor2D), bias)
        return
      }
    }
    x = layer.apply(x, { training: options.training }) as tf.Tensor
  })
  return x
}

/**
 * The window size of a max pool that trains with maxPoolForTraining: window = stride, a multiple of the input's
 * height and width (given, or after a conv with that padding and kernel), and tensors in this process; else 0.
 */
function hostPoolSize(
  spec: Extract<LayerSpec, { type: 'maxPooling2d' }>,
  height: number,
  width: number,
  convPadding?: 'same' | 'valid',
  kernelSize = 1
): number {
  const size = spec.poolSize
  if (!updatesOnHost() || size < 2 || (spec.strides ?? size) !== size) return 0
  const shrink = convPadding === 'valid' ? kernelSize - 1 : 0
  return (height - shrink) % size === 0 && (width - shrink) % size === 0 ? size : 0
}

/** Activations that never decrease: they commute with a window maximum. */
const MONOTONE = new Set(['relu', 'relu6', 'sigmoid', 'tanh', 'elu', 'linear'])

const ACTIVATIONS: Record<string, (x: tf.Tensor) => tf.Tensor> = {
  relu: tf.relu,
  relu6: tf.relu6,
  sigmoid: tf.sigmoid,
  tanh: tf.tanh,
  elu: tf.elu,
  softmax: (x) => tf.softmax(x),
  linear: (x) => x
}

/** Rows and columns a stride-1 conv pads before and after: tfjs pads "same" with the odd pixel at the end. */
function convPadding(k: number, padding: 'same' | 'valid'): [number, number] {
  if (padding === 'valid') return [0, 0]
  const before = Math.floor((k - 1) / 2)
  return [before, k - 1 - before]
}

/**
 * The kernel gradient of a stride-1 conv as one forward conv: with the batch as channels and the channels as
 * batch, sliding dy [n, oh, ow, f] over the padded input [n, h, w, c] gives dk [k, k, c, f] directly.
 * dk[i, j, c, f] = Σ_{n,y,x} xpad[n, y+i, x+j, c] · dy[n, y, x, f].
 */
export function convKernelGradient(input: tf.Tensor4D, dy: tf.Tensor4D, k: number, padding: 'same' | 'valid'): tf.Tensor4D {
  if (input.shape[3] <= PATCH_CHANNELS && updatesOnHost()) return convKernelGradientByPatches(input, dy, k, padding)
  const [before, after] = convPadding(k, padding)
  const padded =
    before || after
      ? tf.pad(input, [
          [0, 0],
          [before, after],
          [before, after],
          [0, 0]
        ])
      : input
  const channelsAsBatch = tf.transpose(padded, [3, 1, 2, 0])
  const dyAsKernel = tf.transpose(dy, [1, 2, 0, 3])
  return tf.transpose(tf.conv2d(channelsAsBatch, dyAsKernel, 1, 'valid'), [1, 2, 0, 3])
}

/**
 * Inputs with at most this many channels (the images themselves: grey or RGB) take the kernel gradient on the
 * host. As a conv, their kernel gradient is a batch-1 conv with a 28×28 window over 32 "channels" and a 3×3
 * output, which XNNPACK cannot split (3–6 ms per batch of 32 on 28×28×1 with 1 or 2 threads); as patches and a
 * matMul it costs about 4 ms (the matMul packs a fresh 25,088 × 16 operand each time); the SIMD dot products
 * of kernels/convKernelGrad.wat (filters a multiple of 4) take about 1 ms.
 */
const PATCH_CHANNELS = 4

/**
 * The kernel gradient of a stride-1 conv on the host: the SIMD kernel where it runs, else one matMul of
 * patchesᵀ [k·k·c, n·oh·ow] (built from the input's values, zeros where the window hangs over the padding) and
 * dy [n·oh·ow, f], which gives dk [k, k, c, f].
 */
export function convKernelGradientByPatches(input: tf.Tensor4D, dy: tf.Tensor4D, k: number, padding: 'same' | 'valid'): tf.Tensor4D {
  const [n, h, w, c] = input.shape
  const [, outH, outW, filters] = dy.shape
  const [before] = convPadding(k, padding)
  const values = hostValues(input)
  const simd = convKernelGradientSimd(values, input.shape, hostValues(dy), dy.shape, k, before)
  if (simd) return tf.tensor4d(simd, [k, k, c, filters])
  const pixels = n * outH * outW
  const patches = new Float32Array(k * k * c * pixels)
  for (let i = 0; i < k; i++)
    for (let j = 0; j < k; j++) {
      // Output columns whose window column j falls inside the image.
      const first = Math.max(0, before - j)
      const end = Math.min(outW, w + before - j)
      for (let channel = 0; channel < c; channel++) {
        let out = ((i * k + j) * c + channel) * pixels
        for (let b = 0; b < n; b++)
          for (let y = 0; y < outH; y++, out += outW) {
            const sourceRow = y + i - before
            if (sourceRow < 0 || sourceRow >= h) continue
            const source = (b * h + sourceRow) * w * c + (j - before) * c + channel
            for (let x = first; x < end; x++) patches[out + x] = values[source + x * c]
          }
      }
    }
  const patchesT = tf.tensor2d(patches, [k * k * c, pixels])
  return tf.reshape(tf.matMul(patchesT, tf.reshape(dy, [pixels, filters])), [k, k, c, filters])
}

/**
 * The input gradient of a stride-1 conv as one forward conv: dy padded by k−1−before in front (and whatever
 * brings the output back to the input's size behind), with the kernel flipped in space and its channel axes
 * swapped (a plain conv runs on XNNPACK; wasm's transposed conv does not).
 */
export function convInputGradient(dy: tf.Tensor4D, kernel: tf.Tensor4D, inputShape: number[], padding: 'same' | 'valid'): tf.Tensor4D {
  const k = kernel.shape[0]
  const [before] = convPadding(k, padding)
  const flipped = tf.transpose(tf.reverse(kernel, [0, 1]), [0, 1, 3, 2])
  const front = k - 1 - before
  const back = (axis: 1 | 2) => inputShape[axis] - dy.shape[axis] + k - 1 - front
  const padded = tf.pad(dy, [
    [0, 0],
    [front, back(1)],
    [front, back(2)],
    [0, 0]
  ])
  return tf.conv2d(padded, flipped, 1, 'valid')
}

/**
 * A stride-1 convolution whose gradients are forward convs (see above) instead of tfjs's Conv2DBackpropFilter
 * and Conv2DBackpropInput: the wasm backend has no filter-gradient kernel and runs its input-gradient kernel
 * without XNNPACK (46 ms per batch of 32 on 14×14×16, against a few ms here); the cpu backend's filter gradient
 * takes seconds per batch even on 8×8 images. `inputGradient` false skips dx where the input is data.
 */
function trainableConv(padding: 'same' | 'valid', inputGradient: boolean): (x: tf.Tensor4D, kernel: tf.Tensor4D) => tf.Tensor4D {
  const forward = (x: tf.Tensor4D, kernel: tf.Tensor4D, save: tf.GradSaveFunc) => {
    save([x, kernel])
    return {
      value: tf.conv2d(x, kernel, 1, padding),
      gradFunc: (dy: tf.Tensor4D, saved: tf.Tensor[]) => {
        const [input, weights] = saved as [tf.Tensor4D, tf.Tensor4D]
        const dx = inputGradient ? convInputGradient(dy, weights, input.shape, padding) : tf.zerosLike(input)
        return [dx, convKernelGradient(input, dy, weights.shape[0], padding)]
      }
    }
  }
  // customGrad's typing takes variadic tensors; this one takes exactly (input, kernel).
  return tf.customGrad(forward as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor4D, kernel: tf.Tensor4D) => tf.Tensor4D
}
const trainableConvs = {
  same: { input: trainableConv('same', true), data: trainableConv('same', false) },
  valid: { input: trainableConv('valid', true), data: trainableConv('valid', false) }
}

/**
 * A conv2d layer (stride 1) applied for training: same output as the layer, gradients without tfjs's conv
 * gradient kernels. `inputGradient` false when nothing before it trains (its input gradient would be discarded).
 */
export function convByMatMul(
  x: tf.Tensor4D,
  layer: tf.layers.Layer,
  spec: Extract<LayerSpec, { type: 'conv2d' }>,
  inputGradient = true,
  apply: { bias: boolean; activation: boolean } = { bias: true, activation: true }
): tf.Tensor4D {
  const [kernel, bias] = layer.weights.map((w) => w.read())
  let out: tf.Tensor = trainableConvs[spec.padding][inputGradient ? 'input' : 'data'](x, kernel as tf.Tensor4D)
  if (bias && apply.bias) out = tf.add(out, bias)
  if (!apply.activation) return out as tf.Tensor4D
  return ACTIVATIONS[spec.activation](out) as tf.Tensor4D
}

/** True when training would need tfjs's own conv filter gradient (strided convs): wasm lacks that kernel. */
export function needsConvFilterGradient(spec: ModelSpec): boolean {
  return spec.layers.some((layer) => layer.type === 'conv2d' && layer.strides !== 1)
}

/**
 * Runs a chain in inference mode over a whole part, in chunks, into a FeatureFile in `cacheDir` (null: one
 * Float32Array in memory).
 */
function chainOutput(chain: Chain, features: Features, cacheDir: string | null): Features {
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

/** Class probabilities of a chain over a part: accuracy, mean cross-entropy and the predicted classes. */
function assess(chain: Chain, features: Features, probabilities: boolean): { accuracy: number; loss: number; predicted: Int32Array } {
  const predicted = new Int32Array(features.n)
  let lossSum = 0
  let correct = 0
  for (let start = 0; start < features.n; start += EVAL_CHUNK) {
    const count = Math.min(EVAL_CHUNK, features.n - start)
    const [lossValue, classes] = tf.tidy(() => {
      const x = tf.tensor(rowsOf(features, start, count), [count, ...features.shape])
      const out = applyChain(chain, x, { training: false, logits: !probabilities })
      const depth = out.shape[1]!
      const truth = tf.oneHot(tf.tensor1d(features.y.subarray(start, start + count), 'int32'), depth)
      const loss = probabilities
        ? tf.neg(tf.sum(tf.mul(truth, tf.log(tf.clipByValue(out, 1e-7, 1)))))
        : tf.mul(tf.losses.softmaxCrossEntropy(truth, out, undefined, 0, tf.Reduction.MEAN), count)
      return [loss.dataSync()[0], tf.argMax(out, 1).dataSync() as Int32Array] as const
    })
    lossSum += lossValue
    predicted.set(classes, start)
    for (let i = 0; i < count; i++) if (classes[i] === features.y[start + i]) correct++
  }
  return { accuracy: features.n ? correct / features.n : 0, loss: features.n ? lossSum / features.n : 0, predicted }
}

// ---------------------------------------------------------------- one stage of training

interface Group {
  optimizer: BlockOptimizer
  variables: tf.Variable[]
  /** First epoch (0-based) in which this group trains: gradual unfreezing starts lower blocks later. */
  activeFrom: number
}

interface Stage {
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
  classes: number
  /** Random rotations, shifts (and flips) of training images, only where the stage's input is the images themselves. */
  augment: AugmentOptions | null
  fastPath: boolean
}

interface StageResult {
  epochs: number
  bestValAccuracy: number | null
  cancelled: boolean
  ms: number
}

class Trainer {
  epochsRun = 0
  trainingMs = 0
  constructor(private readonly hooks: TrainHooks) {}

  async runStage(stage: Stage): Promise<StageResult> {
    const started = performance.now()
    const { train, val, batchSize } = stage
    const inSize = sizeOf(train.shape)
    const batches = Math.ceil(train.n / batchSize)
    const batchBuffer = new Float32Array(batchSize * inSize)
    const labelBuffer = new Int32Array(batchSize)
    const shuffleRandom = seededRandom(stage.seed)
    const dropoutRandom = seededRandom(stage.seed ^ 0x5bd1e995)
    const dropoutSeed = () => Math.floor(dropoutRandom() * 2147483647)
    const augmentRandom = seededRandom(stage.seed ^ 0x27d4eb2f)
    let best: { accuracy: number; loss: number; weights: tf.Tensor[] } | null = null
    let sinceBest = 0
    let epochsDone = 0
    let cancelled = false
    let batchMsAverage = 0
    const depth = stage.classes
    // Dense-only chains skip the gradient tape (see fast/denseChain.ts).
    const denseChain = stage.fastPath && updatesOnHost() ? denseChainOf(stage.chain.layers, stage.chain.specs, train.shape) : null

    for (let epoch = 0; epoch < stage.epochs && !cancelled; epoch++) {
      const epochStart = performance.now()
      for (const group of stage.groups) group.optimizer.setEpoch(epoch, stage.epochs)
      const active = stage.groups.filter((group) => epoch >= group.activeFrom)
      const variables = active.flatMap((group) => group.variables)
      const order = shuffledIndices(train.n, shuffleRandom)
      let lossSum = 0
      let correct = 0
      let seen = 0
      for (let b = 0; b < batches; b++) {
        if (this.hooks.shouldStop?.()) {
          cancelled = true
          break
        }
        const batchStart = performance.now()
        const from = b * batchSize
        const count = Math.min(batchSize, train.n - from)
        for (let k = 0; k < count; k++) {
          const row = order[from + k]
          if (train.x instanceof FeatureFile) train.x.readRow(row, batchBuffer, k * inSize)
          else if (stage.augment) augmentImage(train.x, row * inSize, batchBuffer, k * inSize, train.shape, augmentRandom, stage.augment)
          else batchBuffer.set(train.x.subarray(row * inSize, (row + 1) * inSize), k * inSize)
          labelBuffer[k] = train.y[row]
        }
        const [batchLoss, batchCorrect] = denseChain
          ? tf.tidy(() => {
              const x = tf.tensor2d(batchBuffer.subarray(0, count * inSize), [count, inSize])
              const step = denseChainStep(denseChain, x, labelBuffer.subarray(0, count), depth, active)
              return [step.loss, step.correct] as const
            })
          : tf.tidy(() => {
              const x = tf.tensor(batchBuffer.subarray(0, count * inSize), [count, ...train.shape])
              const labels = tf.tensor1d(labelBuffer.subarray(0, count), 'int32')
              const truth = tf.oneHot(labels, depth)
              let hits: tf.Tensor | null = null
              const { value, grads } = tf.variableGrads(() => {
                const logits = applyChain(stage.chain, x, { training: true, logits: true, dropoutSeed, fast: stage.fastPath })
                // Kept out of the gradient tape's scope so the batch accuracy costs no second forward pass.
                hits = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), labels), 'float32')))
                return tf.losses.softmaxCrossEntropy(truth, logits, undefined, 0, tf.Reduction.MEAN) as tf.Scalar
              }, variables)
              for (const group of active)
                group.optimizer.applyGradients(group.variables.map((variable) => ({ variable, gradient: grads[variable.name] })))
              const kept = hits as tf.Tensor | null
              const hitCount = kept ? kept.dataSync()[0] : 0
              kept?.dispose()
              return [value.dataSync()[0], hitCount] as const
            })
        lossSum += batchLoss * count
        correct += batchCorrect
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
          loss: lossSum / seen,
          accuracy: correct / seen,
          samplesPerSec: (seen / Math.max(1e-3, performance.now() - epochStart)) * 1000,
          etaMs: remainingBatches * batchMsAverage
        })
      }
      if (seen === 0) break
      // A cancelled epoch is not recorded: its metrics would cover part of the data only.
      if (cancelled) break
      const trainMs = performance.now() - epochStart
      const assessment = assess(stage.chain, val, false)
      epochsDone++
      this.epochsRun++
      this.hooks.onEpoch?.({
        block: stage.block,
        phase: stage.phase,
        epoch: epoch + 1,
        loss: lossSum / seen,
        accuracy: correct / seen,
        valLoss: val.n ? assessment.loss : null,
        valAccuracy: val.n ? assessment.accuracy : null,
        learningRate: active[active.length - 1]?.optimizer.learningRate ?? 0,
        samplesPerSec: (seen / Math.max(1e-3, trainMs)) * 1000
      })
      // Validation sets are small (hundreds of rows): equal accuracy is common, and the lower loss breaks the tie.
      const better = !best || assessment.accuracy > best.accuracy || (assessment.accuracy === best.accuracy && assessment.loss < best.loss)
      if (better) {
        best?.weights.forEach((w) => w.dispose())
        best = { accuracy: assessment.accuracy, loss: assessment.loss, weights: stage.restorable.map((v) => tf.keep(v.clone())) }
        sinceBest = 0
      } else if (stage.patience > 0 && ++sinceBest >= stage.patience) {
        break
      }
      // Lets the worker's event loop breathe (cancel messages, heartbeats) once per epoch.
      await new Promise((resolve) => setImmediate(resolve))
    }
    if (best) {
      stage.restorable.forEach((variable, i) => variable.assign(best!.weights[i]))
      best.weights.forEach((w) => w.dispose())
    }
    const ms = performance.now() - started
    this.trainingMs += ms
    return { epochs: epochsDone, bestValAccuracy: best?.accuracy ?? null, cancelled, ms }
  }
}

// ---------------------------------------------------------------- the run

const variablesOf = (layers: tf.layers.Layer[], which: 'trainable' | 'all'): tf.Variable[] =>
  layers.flatMap((layer) => (which === 'trainable' ? layer.trainableWeights : layer.weights).map((w) => w.read() as tf.Variable))

/** Checks the job before any work: the spec, the partition, and that the data fits the model. */
export function checkJob(job: TrainJob): void {
  const description = describeSpec(job.spec, { classes: job.data.labels.length })
  if (description.errors.length > 0) throw new LabError(`model spec: ${description.errors[0].message}`)
  const partitionErrors = validatePartition(job.partition, job.spec.layers.length)
  if (partitionErrors.length > 0) throw new LabError(partitionErrors[0].message)
  if (job.spec.inputShape.join(',') !== job.data.inputShape.join(','))
    throw new LabError(`model spec: input shape [${job.spec.inputShape}] does not match the data set's [${job.data.inputShape}]`)
  if (job.data.train.n === 0) throw new LabError(`dataset ${job.data.datasetId}: the training part is empty`)
}

/**
 * The auxiliary head of a layer-wise stage, on the block's output shape: flat outputs get dense(C) (linear) or
 * dense(h, relu) → dense(C) (mlp); image outputs are first pooled to at most 2×2 and flattened.
 */
function buildHead(outputShape: number[], classes: number, kind: 'linear' | 'mlp', seed: number, block: number): Chain {
  const layers: tf.layers.Layer[] = []
  const name = (part: string) => `head${block}_${part}`
  if (outputShape.length === 3) {
    const [h, w] = outputShape
    const pool: [number, number] = [Math.max(1, Math.ceil(h / 2)), Math.max(1, Math.ceil(w / 2))]
    layers.push(tf.layers.averagePooling2d({ name: name('pool'), poolSize: pool, strides: pool, padding: 'same' }))
    layers.push(tf.layers.flatten({ name: name('flatten') }))
  } else if (outputShape.length !== 1) {
    layers.push(tf.layers.flatten({ name: name('flatten') }))
  }
  const specs: Array<LayerSpec | null> = layers.map(() => null)
  const dense = (spec: LayerSpec & { type: 'dense' }, index: number, part: string) => {
    layers.push(createLayer(spec, { index, seed, name: name(part) }))
    // The spec lets training take the fast dense path (see fast/dense.ts).
    specs.push(spec)
  }
  if (kind === 'mlp') dense({ type: 'dense', units: 64, activation: 'relu' }, 1000 + block * 10, 'hidden')
  dense({ type: 'dense', units: classes, activation: 'linear' }, 1001 + block * 10, 'out')
  return { layers, specs }
}

export async function train(job: TrainJob, hooks: TrainHooks = {}): Promise<TrainOutcome> {
  checkJob(job)
  const { spec, partition, config, data } = job
  const started = performance.now()
  const model = buildModel(spec, { seed: config.seed })
  const layers = model.layers
  const blockCount = partition.blocks.length
  const trainer = new Trainer(hooks)
  const blockResults: BlockResult[] = []
  const trainPart = partFeatures(data.train, data.inputShape)
  const valPart = partFeatures(data.val, data.inputShape)
  const fullChain: Chain = { layers, specs: spec.layers }
  const blockLayers = (index: number) => layers.slice(partition.blocks[index].start, partition.blocks[index].end)
  const blockSpecs = (index: number) => spec.layers.slice(partition.blocks[index].start, partition.blocks[index].end)
  const layerIndices = (index: number) =>
    Array.from({ length: partition.blocks[index].end - partition.blocks[index].start }, (_, i) => partition.blocks[index].start + i)
  let prefixForwards = 0
  let cancelled = false
  const augmentImages: AugmentOptions | null =
    config.augment && data.inputShape.length === 3 ? { ...DEFAULT_AUGMENT, flip: config.augmentFlip } : null
  /** What the two whole-model stages (end-to-end, and the fine-tune after layer-wise) share. */
  const wholeModel = () => ({
    block: WHOLE_MODEL_BLOCK,
    blockCount,
    patience: config.patience,
    chain: fullChain,
    train: trainPart,
    val: valPart,
    restorable: variablesOf(layers, 'all'),
    batchSize: config.batchSize,
    classes: data.labels.length,
    augment: augmentImages,
    fastPath: job.fastPath ?? true
  })

  if (config.mode === 'end-to-end') {
    const groups: Group[] = partition.blocks.map((block, index) => ({
      optimizer: new BlockOptimizer(block.settings),
      variables: variablesOf(blockLayers(index), 'trainable'),
      activeFrom: config.gradualUnfreeze ? blockCount - 1 - index : 0
    }))
    hooks.onStageStart?.(WHOLE_MODEL_BLOCK, model)
    const result = await trainer.runStage({
      ...wholeModel(),
      phase: 'end-to-end',
      blockName: 'All blocks',
      epochs: config.epochs,
      groups,
      seed: config.seed
    })
    groups.forEach((group) => group.optimizer.dispose())
    hooks.onStageEnd?.(WHOLE_MODEL_BLOCK, model)
    cancelled = result.cancelled
    partition.blocks.forEach((block, index) =>
      blockResults.push({ name: block.name, layers: layerIndices(index), epochs: result.epochs, headValAccuracy: null, ms: result.ms })
    )
  } else {
    let trainFeatures = trainPart
    let valFeatures = valPart
    const cacheDir = job.cacheDir === undefined ? path.join(os.tmpdir(), 'layerlab-cache') : job.cacheDir
    const dropCache = (features: Features) => {
      if (features.x instanceof FeatureFile) features.x.dispose()
    }
    try {
      for (let j = 0; j < blockCount && !cancelled; j++) {
        const block = partition.blocks[j]
        if (j > 0) {
          // The frozen prefix's output does not change during this stage: computed once, from the previous
          // stage's cached input through the previous block only; the older cache is then dropped.
          const previous: Chain = { layers: blockLayers(j - 1), specs: blockSpecs(j - 1) }
          const [oldTrain, oldVal] = [trainFeatures, valFeatures]
          trainFeatures = chainOutput(previous, trainFeatures, cacheDir)
          valFeatures = chainOutput(previous, valFeatures, cacheDir)
          dropCache(oldTrain)
          dropCache(oldVal)
          prefixForwards++
          hooks.onPrefixComputed?.(j)
        }
        const isLast = j === blockCount - 1
        const own: Chain = { layers: blockLayers(j), specs: blockSpecs(j) }
        let head: Chain | null = null
        if (!isLast) {
          const outShape = (own.layers[own.layers.length - 1].outputShape as number[]).slice(1)
          head = buildHead(outShape, data.labels.length, block.settings.head, config.seed, j)
          // Build the head's weights (seeded) before collecting the variables to train.
          tf.tidy(() => applyChain(head!, tf.zeros([1, ...outShape]), { training: false, logits: false }))
        }
        const chain: Chain = head ? { layers: [...own.layers, ...head.layers], specs: [...own.specs, ...head.specs] } : own
        hooks.onStageStart?.(j, model)
        const optimizer = new BlockOptimizer(block.settings)
        const result = await trainer.runStage({
          phase: 'block',
          block: j,
          blockName: block.name,
          blockCount,
          epochs: block.settings.epochs,
          patience: block.settings.patience,
          chain,
          train: trainFeatures,
          val: valFeatures,
          groups: [{ optimizer, variables: variablesOf(chain.layers, 'trainable'), activeFrom: 0 }],
          restorable: variablesOf(chain.layers, 'all'),
          batchSize: config.batchSize,
          classes: data.labels.length,
          seed: layerSeed(config.seed, j, 2),
          // Later stages train on cached features, which a shift of the images would invalidate.
          augment: j === 0 ? augmentImages : null,
          fastPath: job.fastPath ?? true
        })
        optimizer.dispose()
        hooks.onStageEnd?.(j, model)
        head?.layers.forEach((layer) => layer.weights.forEach((w) => w.dispose()))
        cancelled = result.cancelled
        blockResults.push({
          name: block.name,
          layers: layerIndices(j),
          epochs: result.epochs,
          headValAccuracy: result.bestValAccuracy,
          ms: result.ms
        })
      }
    } finally {
      dropCache(trainFeatures)
      dropCache(valFeatures)
    }
    const tuned = partition.blocks.map((block, index) => ({ block, index })).filter(({ block }) => !block.settings.freezeAfter)
    if (!cancelled && config.fineTune.enabled && tuned.length > 0) {
      const groups: Group[] = tuned.map(({ block, index }) => ({
        optimizer: new BlockOptimizer(block.settings, config.fineTune.learningRateFactor),
        variables: variablesOf(blockLayers(index), 'trainable'),
        activeFrom: 0
      }))
      const result = await trainer.runStage({
        ...wholeModel(),
        phase: 'finetune',
        blockName: 'Fine-tune',
        epochs: config.fineTune.epochs,
        groups,
        seed: layerSeed(config.seed, blockCount, 3)
      })
      groups.forEach((group) => group.optimizer.dispose())
      cancelled = result.cancelled
    }
  }

  let metrics: RunMetrics | null = null
  let evaluation: Evaluation | null = null
  if (!cancelled) {
    const testPart = partFeatures(data.test, data.inputShape)
    const test = assess(fullChain, testPart, true)
    const val = assess(fullChain, valPart, true)
    const trainAssessment = assess(fullChain, trainPart, true)
    metrics = { testAccuracy: test.accuracy, testLoss: test.loss, valAccuracy: val.accuracy, trainAccuracy: trainAssessment.accuracy }
    evaluation = evaluatePredictions(data.labels, data.test.y, test.predicted, data.test.rows)
  }
  const totalMs = performance.now() - started
  return {
    status: cancelled ? 'cancelled' : 'completed',
    model,
    metrics,
    evaluation,
    blocks: blockResults,
    timing: { totalMs, msPerEpoch: trainer.epochsRun ? trainer.trainingMs / trainer.epochsRun : 0 },
    epochsRun: trainer.epochsRun,
    prefixForwards
  }
}
