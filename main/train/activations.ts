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
