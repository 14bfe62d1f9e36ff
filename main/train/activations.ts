/** Activation functions as tensor ops, for layers applied outside tfjs-layers (a conv fused with its pool). */
import * as tf from '@tensorflow/tfjs'

/** Activations that never decrease: they commute with a window maximum. */
export const MONOTONE = new Set(['relu', 'relu6', 'sigmoid', 'tanh', 'elu', 'linear'])

export const ACTIVATIONS: Record<string, (x: tf.Tensor) => tf.Tensor> = {
  relu: tf.relu,
  relu6: tf.relu6,
  sigmoid: tf.sigmoid,
  tanh: tf.tanh,
  elu: tf.elu,
  softmax: (x) => tf.softmax(x),
  linear: (x) => x
}

/**
 * The tensor op for a dense or conv layer's activation. Validation keeps leakyRelu (which takes an alpha) to its
 * own layer, so a name missing here is a bug worth naming rather than a TypeError.
 */
export function activationOp(name: string): (x: tf.Tensor) => tf.Tensor {
  const op = ACTIVATIONS[name]
  if (!op) throw new Error(`No tensor op for activation ${name}`)
  return op
}
