/**
 * The conv kernels of fast/kernels/convTrain.wat (im2col + the dense kernels' gemm; issue 20) against tfjs's own:
 * forward, kernel and input gradients equal the cpu backend's conv2d, Conv2DBackpropFilter and
 * Conv2DBackpropInput on odd shapes (image sides, channels and filters off the gemm tile, even and odd kernels,
 * "same" and "valid", more output pixels than one chunk); a training step through convForTraining gives the same
 * gradients with the kernels as without (LAYERLAB_TAPE_KERNELS=0); a seeded small CNN on the digits' 8×8 images
 * trains to the same loss and accuracy either way. Strides other than 1 never reach these kernels (forward.ts).
 */
import fs from 'node:fs'
import path from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { trainConfig, type EpochRow } from '../../../main/shared/contract'
import { activateBackend, planBackend } from '../../../main/core/backend'
import { createLayer } from '../../../main/model/build'
import { defaultModel } from '../../../main/model/presets'
import { train } from '../../../main/train/engine'
import { convForTraining } from '../../../main/train/fast/conv'
import {
  convForwardGemm,
  convInputGradGemm,
  convKernelGradGemm,
  convTrainAvailable,
  im2colGemm,
  type ConvGeometry
} from '../../../main/train/fast/kernels/convTrain'
import { convTrainWasm } from '../../../main/train/fast/kernels/convTrain.wasm'
import {
  biasReluAvailable,
  biasReluGradSimd,
  biasReluSimd,
  maxPool2BiasReluGradSimd,
  maxPool2BiasReluSimd,
  maxPool2Simd
} from '../../../main/train/fast/kernels'
import { maxPoolGradWasm } from '../../../main/train/fast/kernels/maxPoolGrad.wasm'
import { biasActivationForTraining, maxPoolForTraining, poolBiasActivationForTraining } from '../../../main/train/fast/dense'
import { seededRandom } from '../../../main/core/random'
import { digitImages } from '../../fixtures/digits'
import { classified } from '../../fixtures/figures'

beforeAll(async () => {
  await activateBackend(tf, planBackend({}))
})

// The kernels are chosen by the thread count (tapeKernelsWanted): these tests ask for them whatever the machine has.
beforeEach(() => {
  process.env.LAYERLAB_TAPE_KERNELS = '1'
})
afterEach(() => {
  delete process.env.LAYERLAB_TAPE_KERNELS
})

/** Largest absolute difference, relative to the reference's largest magnitude (at least 1). */
function relativeDiff(ours: ArrayLike<number>, reference: ArrayLike<number>): number {
  expect(ours.length).toBe(reference.length)
  let diff = 0
  let scale = 1
  for (let i = 0; i < ours.length; i++) {
    diff = Math.max(diff, Math.abs(ours[i]! - reference[i]!))
    scale = Math.max(scale, Math.abs(reference[i]!))
  }
  return diff / scale
}

/** Runs fn on the cpu backend (tfjs's reference kernels, Conv2DBackpropFilter included) and back. */
async function onCpu<T>(fn: () => T): Promise<T> {
  const previous = tf.getBackend()
  await tf.setBackend('cpu')
  try {
    return fn()
  } finally {
    await tf.setBackend(previous)
  }
}

interface Case {
  x: [number, number, number, number]
  k: number
  filters: number
  padding: 'same' | 'valid'
}

// Image sides odd and uneven, channels 1-17, filters off multiples of 4 and 8 (the gemm's masked columns), kernel
// sizes 1-5 (even ones pad unevenly in "same"), cases with more output pixels than a chunk (kkc 144: 224) and than
// eight chunks, and the first conv's shapes (one to three channels, filters a multiple of 4).
const CASES: Case[] = [
  { x: [3, 7, 5, 3], k: 3, filters: 5, padding: 'same' },
  { x: [2, 6, 9, 1], k: 4, filters: 7, padding: 'same' },
  { x: [2, 9, 8, 2], k: 5, filters: 4, padding: 'valid' },
  { x: [1, 5, 5, 3], k: 2, filters: 9, padding: 'valid' },
  { x: [2, 4, 6, 5], k: 1, filters: 3, padding: 'same' },
  { x: [2, 15, 13, 16], k: 3, filters: 33, padding: 'same' },
  { x: [3, 11, 7, 17], k: 3, filters: 1, padding: 'valid' },
  { x: [1, 3, 3, 6], k: 3, filters: 8, padding: 'valid' },
  // few channels and filters a multiple of 4: the kernel gradient without patches (16 a pass, then 4)
  { x: [3, 28, 28, 1], k: 3, filters: 16, padding: 'same' },
  { x: [2, 10, 9, 3], k: 5, filters: 20, padding: 'same' },
  // more pixels than KERNEL_GRAD_PARTS chunks: partial sums of several chunks each, the last one short
  { x: [13, 13, 11, 16], k: 3, filters: 12, padding: 'same' }
]

function geometryOf(c: Case): ConvGeometry {
  const before = c.padding === 'same' ? Math.floor((c.k - 1) / 2) : 0
  const shrink = c.padding === 'same' ? 0 : c.k - 1
  return { x: c.x, k: c.k, f: c.filters, before, outH: c.x[1] - shrink, outW: c.x[2] - shrink }
}

function randomValues(count: number, seed: number): Float32Array {
  const random = seededRandom(seed)
  return Float32Array.from({ length: count }, () => random() * 2 - 1)
}

describe('conv kernels (im2col + gemm)', () => {
  it('run here (wasm SIMD)', () => {
    expect(convTrainAvailable()).toBe(true)
  })

  it.each(CASES)("forward, kernel and input gradients equal the cpu backend's conv2d and its gradients: %o", async (c) => {
    const g = geometryOf(c)
    const x = randomValues(
      c.x.reduce((a, b) => a * b, 1),
      3
    )
    const kernel = randomValues(c.k * c.k * c.x[3] * c.filters, 5)
    const dy = randomValues(c.x[0] * g.outH * g.outW * c.filters, 7)
    const reference = await onCpu(() =>
      tf.tidy(() => {
        const xt = tf.tensor4d(x, c.x)
        const kt = tf.tensor4d(kernel, [c.k, c.k, c.x[3], c.filters])
        const dyt = tf.tensor4d(dy, [c.x[0], g.outH, g.outW, c.filters])
        const y = tf.conv2d(xt, kt, 1, c.padding)
        const [dx, dk] = tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 1, c.padding), dyt)))([
          xt,
          kt
        ])
        return { y: y.dataSync(), dx: dx!.dataSync(), dk: dk!.dataSync() }
      })
    )
    const [xt, kt, dyt] = [
      tf.tensor4d(x, c.x),
      tf.tensor4d(kernel, [c.k, c.k, c.x[3], c.filters]),
      tf.tensor4d(dy, [c.x[0], g.outH, g.outW, c.filters])
    ]
    const ours = [convForwardGemm(xt, kt, g)!, convKernelGradGemm(xt, dyt, g)!, convInputGradGemm(dyt, kt, g)!]
    expect(ours.map((t) => t.shape)).toEqual([[c.x[0], g.outH, g.outW, c.filters], [c.k, c.k, c.x[3], c.filters], c.x])
    expect(relativeDiff(ours[0]!.dataSync(), reference.y)).toBeLessThan(1e-5)
    expect(relativeDiff(ours[1]!.dataSync(), reference.dk)).toBeLessThan(1e-5)
    expect(relativeDiff(ours[2]!.dataSync(), reference.dx)).toBeLessThan(1e-5)
    tf.dispose([xt, kt, dyt, ...ours])
  })

  it('gathers patches with zeros where the window hangs over the image (im2col against a plain loop)', () => {
    const c: Case = { x: [2, 5, 4, 3], k: 4, filters: 1, padding: 'same' }
    const g = geometryOf(c)
    const [n, h, w, ch] = c.x
    const x = randomValues(n * h * w * ch, 11)
    const xt = tf.tensor4d(x, c.x)
    const patches = im2colGemm(xt, g)!
    xt.dispose()
    const expected: number[] = []
    for (let b = 0; b < n; b++)
      for (let oy = 0; oy < g.outH; oy++)
        for (let ox = 0; ox < g.outW; ox++)
          for (let i = 0; i < c.k; i++)
            for (let j = 0; j < c.k; j++)
              for (let channel = 0; channel < ch; channel++) {
                const y = oy + i - g.before
                const xx = ox + j - g.before
                expected.push(y < 0 || y >= h || xx < 0 || xx >= w ? 0 : x[((b * h + y) * w + xx) * ch + channel]!)
              }
    expect(Array.from(patches)).toEqual(expected)
  })

  it('convTrain.wasm.ts is built from convTrain.wat (scripts/build-kernels.mjs was run after the last edit)', async () => {
    const build = await import('../../../scripts/build-kernels.mjs')
    const file = path.join(__dirname, '../../../main/train/fast/kernels/convTrain.wat')
    expect(fs.existsSync(file)).toBe(true)
    expect((await build.assemble(file)).toString('base64')).toBe(convTrainWasm)
  })
})

describe('max pool 2×2 forward (maxPoolGrad.wat)', () => {
  it("equals tfjs's max pool exactly, negative windows included, and declines shapes it does not take", () => {
    for (const shape of [
      [3, 6, 10, 4],
      [2, 28, 28, 16],
      [1, 14, 2, 32]
    ] as Array<[number, number, number, number]>) {
      const values = randomValues(
        shape.reduce((a, b) => a * b, 1),
        shape[3]
      )
      const expected = tf.tidy(() => tf.maxPool(tf.tensor4d(values, shape), 2, 2, 'valid').dataSync())
      expect(Array.from(maxPool2Simd(values, shape)!)).toEqual(Array.from(expected))
    }
    expect(maxPool2Simd(new Float32Array(12), [1, 2, 2, 3])).toBeNull()
    expect(maxPool2Simd(new Float32Array(36), [1, 3, 3, 4])).toBeNull()
  })
})

/** f(x, bias), and the gradients of sum(f(x, bias) · probe) for x and for bias, as plain arrays. */
function valueAndGradients(f: (input: tf.Tensor, b: tf.Tensor1D) => tf.Tensor, x: tf.Tensor, bias: tf.Tensor1D, probe: tf.Tensor): number[][] {
  return tf.tidy(() => {
    const y = f(x, bias)
    const [dx, db] = tf.grads((input: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(f(input, b as tf.Tensor1D), probe)))([x, bias])
    return [y, dx!, db!].map((t) => Array.from(t.dataSync()))
  })
}

describe('bias and relu after a pool (biasActivationForTraining, poolBiasActivationForTraining, maxPoolGrad.wat)', () => {
  it("gives tfjs's relu(add(x, bias)) and its gradients bit for bit (-0 and NaN included), tfjs's ops where it declines", () => {
    expect(biasReluAvailable()).toBe(true)
    for (const shape of [
      [3, 5, 7, 16],
      [2, 7, 7, 32],
      [6, 8],
      [2, 3, 3, 6]
    ]) {
      const count = shape.reduce((a, b) => a * b, 1)
      const channels = shape[shape.length - 1]!
      const values = randomValues(count, count)
      // zeros of both signs and a NaN reach relu's edge cases
      values[0] = -0
      values[1] = 0
      values[2] = NaN
      const x = tf.tensor(values, shape)
      const bias = tf.tensor1d(randomValues(channels, channels).map((v, i) => (i === 0 ? -0 : v * 0.5)))
      const probe = tf.tensor(randomValues(count, 7), shape)
      const ours = valueAndGradients((input, b) => biasActivationForTraining(input, b, 'relu'), x, bias, probe)
      const reference = valueAndGradients((input, b) => tf.relu(tf.add(input, b)), x, bias, probe)
      expect(ours).toEqual(reference)
      expect(ours[1]!.some((v) => Object.is(v, -0))).toBe(true)
      tf.dispose([x, bias, probe])
    }
    expect(biasReluSimd(new Float32Array(12), new Float32Array(6))).toBeNull()
    expect(biasReluGradSimd(new Float32Array(12), new Float32Array(12), 3)).toBeNull()
  })

  it('gives relu(add(maxPoolForTraining(x), bias)) and its gradients bit for bit with the pool fused in, ties and -0 included', () => {
    for (const shape of [
      [3, 6, 10, 4],
      [2, 28, 28, 16],
      [2, 14, 14, 32],
      [1, 4, 6, 6]
    ] as Array<[number, number, number, number]>) {
      const count = shape.reduce((a, b) => a * b, 1)
      const channels = shape[3]
      // rounded values: windows with tied maxima (the first one in row-major order takes the gradient)
      const values = randomValues(count, count).map((v) => Math.round(v * 4) / 4)
      values[0] = -0
      const x = tf.tensor4d(values, shape)
      const bias = tf.tensor1d(randomValues(channels, channels).map((v) => v * 0.5))
      const pooledShape = [shape[0], shape[1] / 2, shape[2] / 2, channels]
      const probe = tf.tensor(randomValues(count / 4, 11), pooledShape)
      const ours = valueAndGradients((input, b) => poolBiasActivationForTraining(input as tf.Tensor4D, b, 2, 'relu'), x, bias, probe)
      // today's path: the pool's own kernels (maxPoolForTraining), then tfjs's Add and Relu
      const reference = valueAndGradients((input, b) => tf.relu(tf.add(maxPoolForTraining(input as tf.Tensor4D, 2), b)), x, bias, probe)
      expect(ours).toEqual(reference)
      tf.dispose([x, bias, probe])
    }
    const [x, bias, small] = [tf.zeros([1, 2, 2, 4]) as tf.Tensor4D, tf.zeros([3]) as tf.Tensor1D, tf.zeros([1, 1, 1, 3]) as tf.Tensor4D]
    expect(maxPool2BiasReluSimd(x, bias)).toBeNull()
    expect(maxPool2BiasReluGradSimd(x, small, small)).toBeNull()
    tf.dispose([x, bias, small])
  })

  it('maxPoolGrad.wasm.ts is built from maxPoolGrad.wat (scripts/build-kernels.mjs was run after the last edit)', async () => {
    const build = await import('../../../scripts/build-kernels.mjs')
    const file = path.join(__dirname, '../../../main/train/fast/kernels/maxPoolGrad.wat')
    expect((await build.assemble(file)).toString('base64')).toBe(maxPoolGradWasm)
  })
})

describe('a training step through convForTraining', () => {
  const stepCases = [
    { channels: 1, kernelSize: 3, padding: 'same' as const, filters: 16 },
    { channels: 16, kernelSize: 3, padding: 'same' as const, filters: 32 },
    { channels: 5, kernelSize: 2, padding: 'valid' as const, filters: 7 },
    { channels: 9, kernelSize: 5, padding: 'same' as const, filters: 12 }
  ]
  it.each(stepCases)('gives the same output and gradients with the conv kernels as with XNNPACK convs and the cpu backend: %o', async (conv) => {
    const spec = {
      type: 'conv2d' as const,
      filters: conv.filters,
      kernelSize: conv.kernelSize,
      strides: 1,
      padding: conv.padding,
      activation: 'relu' as const
    }
    const layer = createLayer(spec, { index: 0, seed: 6 })
    const x = tf.randomNormal([3, 9, 7, conv.channels], 0, 1, 'float32', 9) as tf.Tensor4D
    const y = layer.apply(x) as tf.Tensor
    const probe = tf.randomNormal(y.shape, 0, 1, 'float32', 4)
    layer.weights[1]!.write(tf.randomNormal([conv.filters], 0, 0.1, 'float32', 8))
    const [kernel, bias] = layer.weights.map((w) => w.read()) as [tf.Variable, tf.Variable]
    const step = () => {
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(convForTraining(x, layer, spec), probe)) as tf.Scalar, [kernel, bias])
      const dx = tf.grad((input: tf.Tensor) => tf.sum(tf.mul(convForTraining(input as tf.Tensor4D, layer, spec), probe)))(x)
      return {
        loss: value.dataSync()[0]!,
        dk: grads[kernel.name]!.dataSync().slice(),
        db: grads[bias.name]!.dataSync().slice(),
        dx: dx.dataSync().slice()
      }
    }
    const ours = step()
    process.env.LAYERLAB_TAPE_KERNELS = '0'
    const xnnpack = step()
    const values = { x: x.dataSync().slice(), kernel: kernel.dataSync().slice(), bias: bias.dataSync().slice(), probe: probe.dataSync().slice() }
    const reference = await onCpu(() =>
      tf.tidy(() => {
        const f = (input: tf.Tensor, k: tf.Tensor, b: tf.Tensor) =>
          tf.sum(tf.mul(tf.relu(tf.add(tf.conv2d(input as tf.Tensor4D, k as tf.Tensor4D, 1, conv.padding), b)), tf.tensor(values.probe, probe.shape)))
        const inputs = [tf.tensor(values.x, x.shape), tf.tensor(values.kernel, kernel.shape), tf.tensor(values.bias, bias.shape)]
        const { value, grads } = tf.valueAndGrads(f as (...t: tf.Tensor[]) => tf.Scalar)(inputs)
        return {
          loss: value.dataSync()[0]!,
          dx: grads[0]!.dataSync() as Float32Array,
          dk: grads[1]!.dataSync() as Float32Array,
          db: grads[2]!.dataSync() as Float32Array
        }
      })
    )
    for (const other of [xnnpack, reference]) {
      expect(Math.abs(ours.loss - other.loss) / Math.max(1, Math.abs(other.loss))).toBeLessThan(1e-5)
      expect(relativeDiff(ours.dk, other.dk)).toBeLessThan(1e-5)
      expect(relativeDiff(ours.db, other.db)).toBeLessThan(1e-5)
      expect(relativeDiff(ours.dx, other.dx)).toBeLessThan(1e-5)
    }
  })
})

describe('same CNN training with the conv kernels as without', () => {
  it('trains the small CNN on the digits images, seeded, to the same first-epoch loss and test accuracy', async () => {
    const data = digitImages(1200, 300)
    const { spec, partition } = defaultModel({ inputShape: [8, 8, 1], classes: 10 }, { preset: 'small-cnn' })
    const once = async (gemm: boolean) => {
      process.env.LAYERLAB_TAPE_KERNELS = gemm ? '1' : '0'
      const rows: EpochRow[] = []
      const outcome = await train(
        { spec, partition, config: trainConfig.parse({ epochs: 6, patience: 0, batchSize: 32, seed: 3 }), data },
        { onEpoch: (row) => rows.push(row) }
      )
      outcome.model.dispose()
      return { rows, accuracy: classified(outcome.metrics).testAccuracy }
    }
    const ours = await once(true)
    const xnnpack = await once(false)
    console.log(
      `small CNN on ${data.test.n} digit test images, 6 epochs: wasm kernels ${(ours.accuracy * 100).toFixed(2)} %, tfjs ops ${(xnnpack.accuracy * 100).toFixed(2)} %`
    )
    expect(Math.abs(ours.rows[0]!.loss - xnnpack.rows[0]!.loss) / xnnpack.rows[0]!.loss).toBeLessThan(1e-3)
    expect(ours.accuracy).toBeGreaterThan(0.7)
    // 297 test images: 2 points is 6 images, float-rounding noise after six epochs of different summation orders.
    expect(Math.abs(ours.accuracy - xnnpack.accuracy)).toBeLessThanOrEqual(0.02)
  })
})
