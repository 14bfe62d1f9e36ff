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
import { activationOp } from '../activations'
import {
  biasReluAvailable,
  biasReluGradSimd,
  biasReluSimd,
  maxPool2BiasReluGradSimd,
  maxPool2BiasReluSimd,
  maxPool2GradientSimd,
  maxPool2Simd,
  type Nhwc
} from './kernels'
import { denseForwardGemm, denseGradientsGemm, tapeKernelsWanted } from './kernels/convTrain'
import { forNewTensor, tensorsInProcess, valuesInProcess } from './inProcess'

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

/**
 * dx and dW through the gemm of our wasm kernels where tensors live in this process (LAYERLAB_TAPE_KERNELS=0
 * keeps the matMuls): XNNPACK packs its B operand afresh on every call, which for dx = dz·wᵀ is the whole
 * transposed kernel (a CNN's 1,568 × 64 dense layer: most of its 1.6 ms backward per batch, issue 20's note).
 */
function gemmGradients(
  input: tf.Tensor2D,
  weights: tf.Tensor2D,
  dz: tf.Tensor2D | Float32Array,
  inputGradient: boolean
): { dx: tf.Tensor2D; dW: tf.Tensor2D } | null {
  if (!tapeKernelsWanted() || !tensorsInProcess()) return null
  const dzTensor = dz instanceof Float32Array ? tf.tensor2d(forNewTensor(dz), [input.shape[0], weights.shape[1]]) : dz
  const result = denseGradientsGemm(input, weights, dzTensor, inputGradient)
  if (!result) return null
  return { dW: result.dW, dx: result.dx ?? tf.zerosLike(input) }
}

/**
 * tf.fused.matMul's result through denseForwardGemm where the taped step's kernels run on the wasm backend (its
 * gemm gives XNNPACK's bits there, the cpu backend sums in another order): with the bias fused in where tfjs
 * fuses it (a linear layer, or no gradient tape recording: tfjs's shouldFuse), else as tfjs runs it under the tape,
 * the product then Add and Relu (biasReluSimd, the same bits). Null where it does not apply (callers use tfjs's).
 */
function denseForwardByGemm(x: tf.Tensor2D, kernel: tf.Tensor2D, bias: tf.Tensor1D, activation: FusedActivation): tf.Tensor2D | null {
  if ((activation !== 'relu' && activation !== 'linear') || !tapeKernelsWanted() || tf.getBackend() !== 'wasm') return null
  const outputs = kernel.shape[1]
  // tfjs's own choice (shouldFuse): fused unless a tape records and the activation is not linear.
  const fused = activation === 'linear' || tf.engine().state.gradientDepth === 0
  if (!fused && (outputs % 4 !== 0 || !biasReluAvailable())) return null
  const z = denseForwardGemm(x, kernel, fused ? bias : null, fused && activation === 'relu')
  if (!z || fused) return z
  // The product alone: tfjs runs Add and Relu after it under the tape.
  const y = tf.tensor2d(biasReluSimd(valuesInProcess(z), valuesInProcess(bias))!, z.shape)
  z.dispose()
  return y
}

/**
 * A dense layer (rank-2 input, with bias) in inference where the taped step's kernels run on the wasm backend, for
 * a relu or linear activation: denseForwardByGemm with the bias fused in, the bits of the layer's own fused MatMul.
 * XNNPACK packs the kernel on every call even when it has not changed: 85 rows through 1,568 × 64 (a scoring
 * chunk of the small CNN) took about 2 ms there, 0.6–0.9 here. Null elsewhere, and under a gradient tape (the
 * result carries no gradient): callers apply the layer.
 */
export function denseForInference(x: tf.Tensor2D, kernel: tf.Tensor2D, bias: tf.Tensor1D, activation: string): tf.Tensor2D | null {
  if ((activation !== 'relu' && activation !== 'linear') || tf.engine().state.gradientDepth > 0) return null
  return denseForwardByGemm(x, kernel, bias, activation)
}

/**
 * A relu's dz = dy · step(y) and the bias gradient (dz summed over rows) in one SIMD kernel call where the taped
 * step's kernels run (outputs a multiple of 4), the same bits as tfjs's Step, Mul and Sum: views of the kernel's
 * memory (use them before its next call), or null.
 */
function reluGradientByKernel(dy: tf.Tensor2D, y: tf.Tensor2D): { dz: Float32Array; db: Float32Array } | null {
  const outputs = y.shape[1]
  if (outputs % 4 !== 0 || !tapeKernelsWanted() || !tensorsInProcess() || !biasReluAvailable()) return null
  return biasReluGradSimd(valuesInProcess(dy), valuesInProcess(y), outputs)
}

function denseWithGradient(activation: FusedActivation, inputGradient: boolean): DenseFn {
  const forward = (x: tf.Tensor2D, kernel: tf.Tensor2D, bias: tf.Tensor1D, save: tf.GradSaveFunc) => {
    const y = denseForwardByGemm(x, kernel, bias, activation) ?? tf.fused.matMul({ a: x, b: kernel, bias, activation })
    save([x, kernel, y])
    return {
      value: y,
      gradFunc: (dy: tf.Tensor2D, saved: tf.Tensor[]) => {
        const [input, weights, output] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D]
        const relu = activation === 'relu' ? reluGradientByKernel(dy, output) : null
        if (relu) {
          // gemmGradients copies dz into the gemm's memory; db is read before the relu kernel runs again.
          const onHost = gemmGradients(input, weights, relu.dz, inputGradient)
          if (onHost) return [onHost.dx, onHost.dW, tf.tensor1d(forNewTensor(relu.db))]
        }
        const dz = activationGradient(activation, output, dy) as tf.Tensor2D
        const onHost = gemmGradients(input, weights, dz, inputGradient)
        if (onHost) return [onHost.dx, onHost.dW, tf.sum(dz, 0)]
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
  const unfused = UNFUSED[activation]
  // trainsFast(activation) is the caller's promise; anything else is a bug in the caller.
  if (!unfused) throw new Error(`denseForTraining: no fast path for activation ${activation}`)
  const z = denseFn('linear', inputGradient)(x, kernel, bias)
  return unfused(z) as tf.Tensor2D
}

type PoolFn = (x: tf.Tensor4D) => tf.Tensor4D
const maxPools = new Map<number, PoolFn>()

/**
 * The max-pool input gradient for window = stride = `size`: each window's gradient goes to its first largest
 * input in row-major order, as tfjs's MaxPoolGrad does. Used where tensors live in this process (wasm, cpu):
 * wasm's MaxPoolGrad runs outside XNNPACK (24 ms per batch of 32 on 28×28×16, most of a small CNN's step), a
 * same-shape mask built from tensor ops still costs about 10 ms there, a JS loop 3–4 ms, and the SIMD kernel of
 * kernels/maxPoolGrad.wat (2×2 windows, channels a multiple of 4) well under 1 ms. The result may be a view into
 * the kernel's memory: use it before the next call.
 */
export function maxPoolGradient(input: Float32Array, shape: Nhwc, dy: Float32Array, size: number): Float32Array {
  if (size === 2) {
    const simd = maxPool2GradientSimd(input, shape, dy)
    if (simd) return simd
  }
  return maxPoolGradientJs(input, shape, dy, size)
}

/** maxPoolGradient in plain JS, for any window size and channel count (3–4 ms for the 2×2 case above). */
export function maxPoolGradientJs(input: Float32Array, shape: Nhwc, dy: Float32Array, size: number): Float32Array {
  const [n, height, width, channels] = shape
  const outH = height / size
  const outW = width / size
  const dx = new Float32Array(input.length)
  if (size === 2) {
    // The common 2×2 window, unrolled: candidates in row-major order, a later one wins only when strictly larger.
    const right = channels
    const below = width * channels
    for (let row = 0; row < n * outH; row++) {
      const b = Math.floor(row / outH)
      const oy = row - b * outH
      for (let ox = 0; ox < outW; ox++) {
        const corner = ((b * height + oy * 2) * width + ox * 2) * channels
        const out = (row * outW + ox) * channels
        for (let c = 0; c < channels; c++) {
          const first = corner + c
          let at = first
          let best = input[first]!
          if (input[first + right]! > best) best = input[(at = first + right)]!
          if (input[first + below]! > best) best = input[(at = first + below)]!
          if (input[first + below + right]! > best) at = first + below + right
          dx[at]! += dy[out + c]!
        }
      }
    }
    return dx
  }
  for (let b = 0; b < n; b++)
    for (let oy = 0; oy < outH; oy++)
      for (let ox = 0; ox < outW; ox++) {
        const corner = ((b * height + oy * size) * width + ox * size) * channels
        const out = ((b * outH + oy) * outW + ox) * channels
        for (let c = 0; c < channels; c++) {
          let at = corner + c
          let best = input[at]!
          for (let ky = 0; ky < size; ky++)
            for (let kx = ky === 0 ? 1 : 0; kx < size; kx++) {
              const index = corner + (ky * width + kx) * channels + c
              if (input[index]! > best) {
                best = input[index]!
                at = index
              }
            }
          dx[at]! += dy[out + c]!
        }
      }
  return dx
}

/** tfjs's max pool, or for 2×2 windows the SIMD kernel (kernels/maxPoolGrad.wat) where the taped step's kernels run. */
function maxPoolForward(input: tf.Tensor4D, size: number): tf.Tensor4D {
  if (size === 2 && tapeKernelsWanted() && tensorsInProcess()) {
    const pooled = maxPool2Simd(valuesInProcess(input), input.shape)
    const [n, h, w, c] = input.shape
    if (pooled) return tf.tensor4d(forNewTensor(pooled), [n, h / 2, w / 2, c])
  }
  return tf.maxPool(input, size, size, 'valid')
}

/**
 * Max pooling with window = stride = `size` over an input whose height and width are multiples of `size` (then
 * "same" and "valid" agree): tfjs's forward kernel, the gradient from maxPoolGradient.
 */
export function maxPoolForTraining(x: tf.Tensor4D, size: number): tf.Tensor4D {
  let fn = maxPools.get(size)
  if (!fn) {
    const forward = (input: tf.Tensor4D, save: tf.GradSaveFunc) => {
      save([input])
      return {
        value: maxPoolForward(input, size),
        gradFunc: (dy: tf.Tensor4D, saved: tf.Tensor[]) => {
          const [source] = saved as [tf.Tensor4D]
          const dx = maxPoolGradient(valuesInProcess(source), source.shape, valuesInProcess(dy), size)
          return tf.tensor4d(dx, source.shape)
        }
      }
    }
    fn = tf.customGrad(forward as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as PoolFn
    maxPools.set(size, fn)
  }
  return fn(x)
}

type BiasReluFn = (x: tf.Tensor, bias: tf.Tensor1D) => tf.Tensor

/** tf.relu(tf.add(x, bias)) with both gradients, forward and backward each one SIMD kernel call (kernels/index.ts). */
const biasRelu = tf.customGrad(((x: tf.Tensor, bias: tf.Tensor1D, save: tf.GradSaveFunc) => {
  const y = tf.tensor(forNewTensor(biasReluSimd(valuesInProcess(x), valuesInProcess(bias))!), x.shape)
  save([y])
  return {
    value: y,
    gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
      const [output] = saved as [tf.Tensor]
      const { dz, db } = biasReluGradSimd(valuesInProcess(dy), valuesInProcess(output), bias.shape[0])!
      return [tf.tensor(forNewTensor(dz), output.shape), tf.tensor1d(forNewTensor(db))]
    }
  }
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as BiasReluFn

/**
 * activation(x + bias) for training, bias over the last axis. A relu where the taped step's kernels run (channels
 * a multiple of 4) takes one SIMD kernel each way, the same bits as tfjs's Add and Relu and their gradients: a
 * CNN's conv stages spent about a quarter of their epoch in those ops and their gradients (Step, Mul, Sum), mostly
 * in the wasm backend's broadcasting Add and its thread-pool round trips (issue 20's note, Session 6).
 */
export function biasActivationForTraining(x: tf.Tensor, bias: tf.Tensor1D, activation: string): tf.Tensor {
  if (activation === 'relu' && bias.shape[0] % 4 === 0 && tapeKernelsWanted() && tensorsInProcess() && biasReluAvailable()) return biasRelu(x, bias)
  return activationOp(activation)(tf.add(x, bias))
}

type PoolBiasReluFn = (x: tf.Tensor4D, bias: tf.Tensor1D) => tf.Tensor4D

/** relu(maxPool(x, 2) + bias) with both gradients, one SIMD kernel call each way (kernels/index.ts). */
const pool2BiasRelu = tf.customGrad(((x: tf.Tensor4D, bias: tf.Tensor1D, save: tf.GradSaveFunc) => {
  const y = maxPool2BiasReluSimd(x, bias)!
  save([x, y])
  return {
    value: y,
    gradFunc: (dy: tf.Tensor4D, saved: tf.Tensor[]) => {
      const [input, output] = saved as [tf.Tensor4D, tf.Tensor4D]
      const { dx, db } = maxPool2BiasReluGradSimd(input, output, dy)!
      return [dx, db]
    }
  }
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as PoolBiasReluFn

/**
 * activation(maxPool(x, size) + bias) for training (a conv stage after its conv, forward.ts): for a 2×2 pool and a
 * relu where the taped step's kernels run (channels a multiple of 4), one SIMD kernel each way whose pooled values
 * and gradient stay in the kernel's memory (two tensor copies in and out fewer per stage and direction); the same
 * bits as maxPoolForTraining and biasActivationForTraining, which run otherwise.
 */
export function poolBiasActivationForTraining(x: tf.Tensor4D, bias: tf.Tensor1D, size: number, activation: string): tf.Tensor4D {
  const [, h, w, c] = x.shape
  if (
    size === 2 &&
    activation === 'relu' &&
    c % 4 === 0 &&
    h % 2 === 0 &&
    w % 2 === 0 &&
    bias.shape[0] === c &&
    tapeKernelsWanted() &&
    tensorsInProcess() &&
    biasReluAvailable()
  )
    return pool2BiasRelu(x, bias)
  return biasActivationForTraining(maxPoolForTraining(x, size), bias, activation) as tf.Tensor4D
}
