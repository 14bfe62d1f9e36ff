/**
 * The forward pass of a chain of layers. The layers of the built tf.sequential are applied one by one (layer.apply
 * on tensors), so any contiguous range of layers - a block, a frozen prefix, a block plus its auxiliary head - is a
 * forward function without building sub-models, and the weights stay the model's own. In training, the layers with
 * hand-written gradients (fast/) take over where they apply.
 */
import * as tf from '@tensorflow/tfjs'
import type { LayerSpec } from '../shared/contract'
import { MONOTONE, activationOp } from './activations'
import { denseForInference, denseForTraining, maxPoolForTraining, poolBiasActivationForTraining, trainsFast } from './fast/dense'
import { convForTraining, convReluForInference } from './fast/conv'
import { tensorsInProcess } from './fast/inProcess'

/** A chain of layers with their specs (null for a head's pooling and flatten layers). */
export interface Chain {
  layers: tf.layers.Layer[]
  specs: Array<LayerSpec | null>
}

/**
 * Applies a chain. In training, dropout draws a seeded mask per call (tfjs's seeded dropout layer would reuse
 * one mask for every batch). With `logits`, a final softmax is left out so the loss can use the stable
 * softmax cross-entropy.
 */
export function applyChain(
  chain: Chain,
  input: tf.Tensor,
  options: {
    training: boolean
    logits: boolean
    dropoutSeed?: () => number
    /** Host max-pool gradient, conv+pool reordering. */
    fast?: boolean
    /** The input comes out of layers that train (a head on its block's output): the first layer passes a gradient back. */
    inputTrains?: boolean
  }
): tf.Tensor {
  let x = input
  const last = chain.layers.length - 1
  // Set when a conv took its following max pool along (see below).
  let pooledAlready = false
  // Whether a layer before the current one has weights: only then does a layer need its input gradient.
  let weightsBefore = options.inputTrains ?? false
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
    if (spec?.type === 'conv2d' && !options.training && x.rank === 4) {
      // A conv on the images themselves, and the max pool after it, in one wasm kernel (fast/conv.ts).
      const next = chain.specs[i + 1]
      const size = next?.type === 'maxPooling2d' ? inProcessPoolSize(next, x.shape[1]!, x.shape[2]!, spec.padding, spec.kernelSize) : 0
      const out = convReluForInference(x as tf.Tensor4D, layer, spec, size || 1)
      if (out) {
        x = out
        pooledAlready = size > 0
        return
      }
    }
    if (spec?.type === 'dense' && !options.training && x.rank === 2 && layer.weights.length === 2) {
      const [kernel, bias] = layer.weights.map((w) => w.read())
      const out = denseForInference(x as tf.Tensor2D, kernel as tf.Tensor2D, bias as tf.Tensor1D, spec.activation)
      if (out) {
        x = out
        return
      }
    }
    // Device backends (webgpu) have tfjs's own conv gradient kernels and take the layer itself: the forward-conv
    // gradients of fast/conv.ts exist for wasm, which lacks Conv2DBackpropFilter.
    if (spec?.type === 'conv2d' && options.training && spec.strides === 1 && tensorsInProcess()) {
      const next = chain.specs[i + 1]
      const size =
        options.fast && next?.type === 'maxPooling2d' ? inProcessPoolSize(next, x.shape[1]!, x.shape[2]!, spec.padding, spec.kernelSize) : 0
      if (size && MONOTONE.has(spec.activation)) {
        // conv → bias → activation → max pool equals conv → max pool → bias → activation (a per-channel constant
        // and a non-decreasing function commute with the window maximum): bias and activation then run on a
        // tensor size² times smaller, forward and backward.
        const bias = layer.weights[1]?.read()
        const out = convForTraining(x as tf.Tensor4D, layer, spec, inputGradient, { bias: false, activation: false })
        x = bias
          ? poolBiasActivationForTraining(out, bias as tf.Tensor1D, size, spec.activation)
          : activationOp(spec.activation)(maxPoolForTraining(out, size))
        pooledAlready = true
        return
      }
      x = convForTraining(x as tf.Tensor4D, layer, spec, inputGradient)
      return
    }
    if (spec?.type === 'maxPooling2d' && options.training && options.fast && x.rank === 4) {
      const size = inProcessPoolSize(spec, x.shape[1]!, x.shape[2]!)
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
        if (!kernel || !bias) throw new Error('A dense layer carries a kernel and a bias')
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
function inProcessPoolSize(
  spec: Extract<LayerSpec, { type: 'maxPooling2d' }>,
  height: number,
  width: number,
  convPadding?: 'same' | 'valid',
  kernelSize = 1
): number {
  const size = spec.poolSize
  if (!tensorsInProcess() || size < 2 || (spec.strides ?? size) !== size) return 0
  const shrink = convPadding === 'valid' ? kernelSize - 1 : 0
  return (height - shrink) % size === 0 && (width - shrink) % size === 0 ? size : 0
}
