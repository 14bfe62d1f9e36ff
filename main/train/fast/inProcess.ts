/**
 * Backends whose tensors live in this process's own memory (the wasm heap, the cpu backend's arrays). There,
 * reading a gradient or writing a weight is a plain copy, so small loops in JavaScript or wasm beat the dozen-odd
 * kernel calls a tensor expression costs. tfjs-node and GPU backends keep tensors elsewhere: a read-back would cost
 * a device sync, so they stay on tensor ops.
 */
import * as tf from '@tensorflow/tfjs'

export function tensorsInProcess(): boolean {
  const backend = tf.getBackend()
  return backend === 'wasm' || backend === 'cpu'
}

/**
 * A float32 tensor's values without a copy where the backend keeps them in this process's wasm heap (a view,
 * valid until the next tensor is made), a copy (dataSync) elsewhere. Read only.
 */
export function valuesInProcess(tensor: tf.Tensor): Float32Array {
  const backend = tf.backend() as unknown as { typedArrayFromHeap?: (info: tf.TensorInfo) => Float32Array }
  if (tf.getBackend() === 'wasm' && tensor.dtype === 'float32' && typeof backend.typedArrayFromHeap === 'function')
    return backend.typedArrayFromHeap(tensor)
  return tensor.dataSync() as Float32Array
}

/**
 * A kernel's result (a view of its memory) as the values of a new tensor: the wasm backend copies them into its
 * heap at once; the cpu backend would keep the array itself, which the kernel's next call overwrites, so it gets a
 * copy.
 */
export function forNewTensor(values: Float32Array): Float32Array {
  return tf.getBackend() === 'wasm' ? values : values.slice()
}
