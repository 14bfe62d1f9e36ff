/**
 * Training-time building blocks with hand-written gradients, for speed on the wasm backend.
 *
 * Why: tfjs-backend-wasm runs a matMul through XNNPACK only when neither operand is transposed; with a
 * transpose flag set (as tfjs's own matMul, dense and fused-matMul gradients do: dx = dy·Wᵀ, dW = xᵀ·dy) it takes
 * a naive loop that is 10–15× slower (measured: 128×256·256×256 in 1.2 ms plain, 16 ms with either flag). An
 * explicit tf.transpose followed by a plain matMul costs a fraction of that. Other backends (cpu, tfjs-node)
 * handle the flags at full speed, so the explicit transpose is used on wasm only.
 */
import * as tf from '@tensorflow/tfjs'

/** True where transposed matMuls are slow and an explicit transpose pays (the wasm backend). */
export function prefersExplicitTranspose(): boolean {
  return tf.getBackend() === 'wasm'
}

/** a·b with either operand transposed, as one plain matMul on backends where the flags are slow. */
export function matMulT(a: tf.Tensor2D, b: tf.Tensor2D, transposeA: boolean, transposeB: boolean): tf.Tensor2D {
  if (!prefersExplicitTranspose() || (!transposeA && !transposeB)) return tf.matMul(a, b, transposeA, transposeB)
  return tf.matMul(transposeA ? tf.transpose(a) : a, transposeB ? tf.transpose(b) : b)
}

/** Activations whose derivative follows from the activation's output alone, so they fuse into the matMul. */
type FusedActivation = 'linear' | 'relu' | 'relu6' | 'sigmoid'
const FUSED = new Set<string>(['linear', 'relu', 'relu6', 'sigmoid'])

/** d(activation)/dz times dy, from the activation's output y. */
function activationGradient(activation: FusedActivation, y: tf.Tensor, dy: tf.Tensor): tf.Tensor {
  switch (activation) {
    case 'relu':
      return tf.mul(dy, tf.step(y))
    case 'relu6':
      return tf.mul(dy, tf.mul(tf.step(y), tf.step(tf.sub(6, y))))
    case 'sigmoid':
      return tf.mul(dy, tf.mul(y, tf.sub(1, y)))
    default:
      return dy
  }
}

type DenseFn = (x: tf.Tensor2D, kernel: tf.Tensor2D, bias: tf.Tensor1D) => tf.Tensor2D

function denseWithGradient(activation: FusedActivation, inputGradient: boolean): DenseFn {
  const forward = (x: tf.Tensor2D, kernel: tf.Tensor2D, bias: tf.Tensor1D, save: tf.GradSaveFunc) => {
    const y = tf.fused.matMul({ a: x, b: kernel, bias, activation })
    save([x, kernel, y])
    return {
      value: y,
      gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
        const [input, weights, output] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D]
        const dz = activationGradient(activation, output, dy) as tf.Tensor2D
        // The chain's first layer reads data, not a variable: its input gradient would be thrown away.
        const dx = inputGradient ? matMulT(dz, weights, false, true) : tf.zerosLike(input)
        return [dx, matMulT(input, dz, true, false), tf.sum(dz, 0)]
      }
    }
  }
  // customGrad's typing takes variadic tensors; this one takes exactly (x, kernel, bias).
  return tf.customGrad(forward as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as DenseFn
}

const denseFns = new Map<string, DenseFn>()
function denseFn(activation: FusedActivation, inputGradient: boolean): DenseFn {
  const key = `${activation}:${inputGradient}`
  let fn = denseFns.get(key)
  if (!fn) denseFns.set(key, (fn = denseWithGradient(activation, inputGradient)))
  return fn
}

const UNFUSED: Record<string, (z: tf.Tensor) => tf.Tensor> = {
  tanh: tf.tanh,
  elu: tf.elu,
  softmax: (z) => tf.softmax(z)
}

/** True when `denseForTraining` handles this activation (the rest go through the layer itself). */
export function trainsFast(activation: string): boolean {
  return FUSED.has(activation) || activation in UNFUSED
}

/**
 * A dense layer (rank-2 input, with bias) for training: the same output as the layer, gradients by plain matMuls.
 * `inputGradient` false skips dx where the input is data rather than an earlier layer's output.
 */
export function denseForTraining(x: tf.Tensor2D, kernel: tf.Tensor2D, bias: tf.Tensor1D, activation: string, inputGradient: boolean): tf.Tensor2D {
  if (FUSED.has(activation)) return denseFn(activation as FusedActivation, inputGradient)(x, kernel, bias)
  const z = denseFn('linear', inputGradient)(x, kernel, bias)
  return UNFUSED[activation](z) as tf.Tensor2D
}

type PoolFn = (x: tf.Tensor4D) => tf.Tensor4D
const maxPools = new Map<number, PoolFn>()

/**
 * Max pooling with window = stride = `size` over an input whose height and width are multiples of `size` (then
 * "same" and "valid" agree), with its gradient as a mask of the window maxima: wasm's MaxPoolGrad runs outside
 * XNNPACK (24 ms per batch of 32 on 28×28×16, most of a small CNN's step). A window with tied maxima shares its
 * gradient equally among them: the kernel gradient is then the same as tfjs's one-winner rule wherever the tied
 * inputs are equal (constant regions), and ties among different inputs have probability zero.
 */
export function maxPoolForTraining(x: tf.Tensor4D, size: number): tf.Tensor4D {
  let fn = maxPools.get(size)
  if (!fn) {
    const forward = (input: tf.Tensor4D, save: tf.GradSaveFunc) => {
      const y = tf.maxPool(input, size, size, 'valid')
      save([input, y])
      return {
        value: y,
        gradFunc: (dy: tf.Tensor4D, saved: tf.Tensor[]) => {
          const [source, pooled] = saved as [tf.Tensor4D, tf.Tensor4D]
          const [n, h, w, c] = pooled.shape
          const full: [number, number] = [source.shape[1], source.shape[2]]
          // Same-shape comparisons: wasm's broadcasting Equal runs in JS and is slower than the whole conv step.
          const mask = tf.cast(tf.equal(source, tf.image.resizeNearestNeighbor(pooled, full)), 'float32')
          const ties = tf.sum(tf.reshape(mask, [n, h, size, w, size, c]), [2, 4])
          return tf.mul(mask, tf.image.resizeNearestNeighbor(tf.div(dy, ties) as tf.Tensor4D, full))
        }
      }
    }
    fn = tf.customGrad(forward as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as PoolFn
    maxPools.set(size, fn)
  }
  return fn(x)
}
