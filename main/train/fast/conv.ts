/**
 * Stride-1 convolutions with gradients written as forward convs (XNNPACK runs those) instead of tfjs's
 * Conv2DBackpropFilter and Conv2DBackpropInput: the wasm backend has no filter-gradient kernel and runs its
 * input-gradient kernel without XNNPACK; the cpu backend's filter gradient takes seconds per batch.
 */
import * as tf from '@tensorflow/tfjs'
import type { LayerSpec } from '../../shared/contract'
import { activationOp } from '../activations'
import { convKernelGradientSimd, convReluSimd, type Nhwc } from './kernels'
import {
  convForwardGemm,
  convInputGradGemm,
  convKernelGradGemm,
  convReluInferenceGemm,
  tapeKernelsWanted,
  type ConvGeometry
} from './kernels/convTrain'
import { tensorsInProcess, valuesInProcess } from './inProcess'

/** Rows and columns a stride-1 conv pads before and after: tfjs pads "same" with the odd pixel at the end. */
function convPadding(k: number, padding: 'same' | 'valid'): [number, number] {
  if (padding === 'valid') return [0, 0]
  const before = Math.floor((k - 1) / 2)
  return [before, k - 1 - before]
}

/**
 * Whether training convs run as im2col + gemm in our own wasm kernels (kernels/convTrain.wat) where tensors live
 * in this process: no pads, flips or transposes around XNNPACK ops of odd shapes, no XNNPACK thread pool to
 * wait for on a shared machine (issue 20's note has the figures). LAYERLAB_TAPE_KERNELS=0 keeps the XNNPACK
 * convs below.
 */
export function convGemmEnabled(): boolean {
  return tapeKernelsWanted() && tensorsInProcess()
}

function geometry(input: Nhwc, k: number, filters: number, padding: 'same' | 'valid'): ConvGeometry {
  const [before, after] = convPadding(k, padding)
  return { x: input, k, f: filters, before, outH: input[1] + before + after - k + 1, outW: input[2] + before + after - k + 1 }
}

/** conv2d (stride 1) through the gemm kernels; null where they do not run (callers use tf.conv2d). */
function convForwardByGemm(x: tf.Tensor4D, kernel: tf.Tensor4D, padding: 'same' | 'valid'): tf.Tensor4D | null {
  if (!convGemmEnabled()) return null
  const [k, , , filters] = kernel.shape
  return convForwardGemm(x, kernel, geometry(x.shape, k, filters, padding))
}

/**
 * The kernel gradient of a stride-1 conv as one forward conv: with the batch as channels and the channels as
 * batch, sliding dy [n, oh, ow, f] over the padded input [n, h, w, c] gives dk [k, k, c, f] directly.
 * dk[i, j, c, f] = Σ_{n,y,x} xpad[n, y+i, x+j, c] · dy[n, y, x, f].
 */
export function convKernelGradient(input: tf.Tensor4D, dy: tf.Tensor4D, k: number, padding: 'same' | 'valid'): tf.Tensor4D {
  if (convGemmEnabled()) {
    const dk = convKernelGradGemm(input, dy, geometry(input.shape, k, dy.shape[3], padding))
    if (dk) return dk
  }
  if (input.shape[3] <= PATCH_CHANNELS && tensorsInProcess()) return convKernelGradientByPatches(input, dy, k, padding)
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
 * host where the conv kernels are off (LAYERLAB_TAPE_KERNELS=0; with them, convTrain.wat's directKernelGrad does
 * the same sums on two threads). As a conv, their kernel gradient is a batch-1 conv with a 28×28 window over 32 "channels" and a 3×3
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
  const simd = convKernelGradientSimd(input, dy, k, before)
  if (simd) return simd
  const values = valuesInProcess(input)
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
            for (let x = first; x < end; x++) patches[out + x] = values[source + x * c]!
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
export function convInputGradient(dy: tf.Tensor4D, kernel: tf.Tensor4D, inputShape: Nhwc, padding: 'same' | 'valid'): tf.Tensor4D {
  const k = kernel.shape[0]
  if (convGemmEnabled()) {
    const dx = convInputGradGemm(dy, kernel, geometry(inputShape, k, kernel.shape[3], padding))
    if (dx) return dx
  }
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
      value: convForwardByGemm(x, kernel, padding) ?? tf.conv2d(x, kernel, 1, padding),
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
export function convForTraining(
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
  return activationOp(spec.activation)(out) as tf.Tensor4D
}

/**
 * Input channels up to which an inference conv runs in kernels/convInfer.wat instead of XNNPACK: the convs on the
 * images themselves, where XNNPACK spends on 28×28×1 → 16 filters (and the max pool after it) about what it spends
 * on the next conv with 8× the multiply-adds. Deeper convs take im2col + the gemm where the taped step's kernels
 * run (kernels/convTrain.ts convReluInferenceGemm), else XNNPACK.
 */
const INFERENCE_CHANNELS = 4

/**
 * A conv2d layer (stride 1, relu) in inference, with the max pool after it when `pool` > 1 (windows and stride
 * `pool`, the conv's output a multiple of it), through kernels/convInfer.wat or, for deeper inputs, im2col + the
 * gemm: the same bits as the layer and the pool on the wasm backend. Null where it does not apply (callers apply
 * the layer).
 */
export function convReluForInference(
  x: tf.Tensor4D,
  layer: tf.layers.Layer,
  spec: Extract<LayerSpec, { type: 'conv2d' }>,
  pool: number
): tf.Tensor4D | null {
  // Only XNNPACK's order of the sum is reproduced: the cpu backend's conv adds its bias last.
  if (tf.getBackend() !== 'wasm' || spec.strides !== 1 || spec.activation !== 'relu') return null
  const [kernel, bias] = layer.weights.map((w) => w.read())
  if (!kernel) return null
  const k = spec.kernelSize
  const [before, after] = convPadding(k, spec.padding)
  const [, height, width] = x.shape
  const outH = height + before + after - k + 1
  const outW = width + before + after - k + 1
  if (outH < 1 || outW < 1) return null
  if (x.shape[3] > INFERENCE_CHANNELS) {
    // Deeper convs: im2col and the gemm (kernels/convTrain.ts), the same bits as XNNPACK's; then tfjs's pool.
    if (!convGemmEnabled()) return null
    const y = convReluInferenceGemm(
      x,
      kernel as tf.Tensor4D,
      (bias as tf.Tensor1D | undefined) ?? null,
      geometry(x.shape, k, spec.filters, spec.padding)
    )
    if (!y || pool <= 1) return y
    const pooled = tf.maxPool(y, pool, pool, 'valid')
    y.dispose()
    return pooled
  }
  return convReluSimd(x, kernel as tf.Tensor4D, (bias as tf.Tensor1D | undefined) ?? null, k, before, outH, outW, pool)
}
