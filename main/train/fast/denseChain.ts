/**
 * A training step for chains of dense layers only (the MLP presets, their layer-wise stages with linear or mlp
 * heads, and the fine-tune), with the backward pass written out by hand.
 *
 * Why: on the wasm and cpu backends a small MLP's batch costs far more in per-op overhead than in arithmetic
 * (the digits MLP(100,100) at batch 32: 85 kernel calls per batch through tf.variableGrads, each with the
 * engine's tape and scope bookkeeping). Here a batch is the forward fused matMuls, one read of the logits, the
 * loss and its gradient in plain JS, and per layer one step mask, two plain matMuls and a column sum (about 25
 * kernels), with no gradient tape. The weights stay the tf model's own variables, read and written through tfjs,
 * so the model API does not change; backends whose tensors live on a device keep the general path.
 */
import * as tf from '@tensorflow/tfjs'
import type { LayerSpec } from '../../shared/contract'
import type { BlockOptimizer } from '../optimizer'
import { matMulT } from './dense'
import { type BatchResult, type Objective, lossAndGradient } from '../objective'

/** Activations whose derivative follows from the activation's output: relu, relu6, sigmoid, linear. */
type HiddenActivation = 'linear' | 'relu' | 'relu6' | 'sigmoid'
const HIDDEN = new Set<string>(['linear', 'relu', 'relu6', 'sigmoid'])

interface DenseLayer {
  kernel: tf.Variable
  bias: tf.Variable
  activation: HiddenActivation
}

export interface DenseGroup {
  optimizer: BlockOptimizer
  variables: tf.Variable[]
}

/**
 * The chain as dense layers, or null when any layer is something else (dropout, conv, a rank > 2 input, an
 * activation whose derivative needs its input). The last layer's softmax (or linear output) becomes the logits.
 */
export function denseChainOf(layers: tf.layers.Layer[], specs: Array<LayerSpec | null>, inputShape: number[]): DenseLayer[] | null {
  if (inputShape.length !== 1 || layers.length === 0) return null
  const out: DenseLayer[] = []
  for (const [i, layer] of layers.entries()) {
    const spec = specs[i]
    const [kernel, bias] = layer.weights
    if (spec?.type !== 'dense' || layer.weights.length !== 2 || !kernel || !bias) return null
    const last = i === layers.length - 1
    const activation = last && spec.activation === 'softmax' ? 'linear' : spec.activation
    if (!HIDDEN.has(activation) || (last && activation !== 'linear')) return null
    out.push({
      kernel: kernel.read() as tf.Variable,
      bias: bias.read() as tf.Variable,
      activation: activation as HiddenActivation
    })
  }
  return out
}

function activationGradient(activation: HiddenActivation, y: tf.Tensor2D, dy: tf.Tensor2D): tf.Tensor2D {
  if (activation === 'relu') return tf.mul(dy, tf.step(y))
  if (activation === 'relu6') return tf.mul(dy, tf.mul(tf.step(y), tf.step(tf.sub(6, y))))
  if (activation === 'sigmoid') return tf.mul(dy, tf.mul(y, tf.sub(1, y)))
  return dy
}

/**
 * The gradients of the objective's loss with respect to every kernel and bias of the chain (first layer first),
 * and the loss, for one batch. Tensors returned belong to the caller's tidy scope.
 */
export function denseChainGradients(
  chain: DenseLayer[],
  x: tf.Tensor2D,
  targets: Int32Array | Float32Array,
  objective: Objective,
  wanted: (variable: tf.Variable) => boolean
): { result: BatchResult; grads: Array<{ variable: tf.Variable; gradient: tf.Tensor }> } {
  const count = x.shape[0]
  const inputs: tf.Tensor2D[] = []
  let h = x
  for (const layer of chain) {
    inputs.push(h)
    h = tf.fused.matMul({ a: h, b: layer.kernel as tf.Tensor2D, bias: layer.bias, activation: layer.activation }) as tf.Tensor2D
  }
  const outputs = [...inputs.slice(1), h]
  const width = objective.outputs
  const dOut = new Float32Array(count * width)
  const result = lossAndGradient(objective, h.dataSync() as Float32Array, targets, count, dOut)
  let dy: tf.Tensor2D = tf.tensor2d(dOut, [count, width])
  const grads: Array<{ variable: tf.Variable; gradient: tf.Tensor }> = []
  // The lowest layer that trains: below it no gradient is needed.
  let lowest = chain.length
  chain.forEach((layer, i) => {
    if (i < lowest && (wanted(layer.kernel) || wanted(layer.bias))) lowest = i
  })
  for (let i = chain.length - 1; i >= lowest; i--) {
    const layer = chain[i]!
    const dz = activationGradient(layer.activation, outputs[i]!, dy)
    // Pushed bias first: the list is reversed at the end into the layers' own order (kernel, bias).
    if (wanted(layer.bias)) grads.push({ variable: layer.bias, gradient: tf.sum(dz, 0) })
    if (wanted(layer.kernel)) grads.push({ variable: layer.kernel, gradient: matMulT(inputs[i]!, dz, true, false) })
    if (i > lowest) dy = matMulT(dz, layer.kernel as tf.Tensor2D, false, true)
  }
  return { result, grads: grads.reverse() }
}

/** One training step: gradients, then each active group's optimizer on its own variables. */
export function denseChainStep(
  chain: DenseLayer[],
  x: tf.Tensor2D,
  targets: Int32Array | Float32Array,
  objective: Objective,
  groups: DenseGroup[]
): BatchResult {
  const owner = new Map<tf.Variable, DenseGroup>()
  for (const group of groups) for (const variable of group.variables) owner.set(variable, group)
  let result: BatchResult = { loss: 0, tally: 0 }
  tf.tidy(() => {
    const step = denseChainGradients(chain, x, targets, objective, (variable) => owner.has(variable))
    for (const group of groups) group.optimizer.applyGradients(step.grads.filter((pair) => owner.get(pair.variable) === group))
    result = step.result
  })
  return result
}
