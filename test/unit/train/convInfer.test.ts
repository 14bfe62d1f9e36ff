/**
 * The inference convs of fast/kernels/convInfer.wat and, for deeper inputs, of im2col + the gemm (issue 20: scoring
 * at a run's end, validation) against tfjs's own layers on the wasm backend, bit for bit: a conv with relu, alone or with the max pool after it, on odd shapes (grey and
 * RGB-like inputs, filters off the 16-wide block, even and odd kernels, "same" and "valid", trained-looking biases
 * either side of 0), and a whole small CNN scored through applyChain against its layers applied one by one (the
 * path scoring took before) — the same probabilities, so the same predictions, accuracy and loss.
 */
import * as tf from '@tensorflow/tfjs'
import { beforeAll, describe, expect, it } from 'vitest'
import { trainConfig, type LayerSpec } from '../../../main/shared/contract'
import { activateBackend, planBackend } from '../../../main/core/backend'
import { buildModel, createLayer } from '../../../main/model/build'
import { defaultModel } from '../../../main/model/presets'
import { applyChain } from '../../../main/train/forward'
import { assess } from '../../../main/train/evaluate'
import { partFeatures } from '../../../main/train/features'
import type { Objective } from '../../../main/train/objective'
import { convReluForInference } from '../../../main/train/fast/conv'
import { seededRandom } from '../../../main/core/random'

beforeAll(async () => {
  await activateBackend(tf, planBackend({ prefer: 'wasm' }))
})

const wasm = () => tf.getBackend() === 'wasm'

/** The float32 values as their bit patterns (so -0 and +0, or two NaNs, are told apart). */
const bits = (t: tf.Tensor) => Array.from(new Uint32Array(Float32Array.from(t.dataSync() as Float32Array).buffer))

function randomTensor(shape: number[], random: () => number, scale = 1): tf.Tensor {
  const size = shape.reduce((a, b) => a * b, 1)
  return tf.tensor(
    Float32Array.from({ length: size }, () => (random() * 2 - 1) * scale),
    shape
  )
}

describe('convInfer kernel', () => {
  const cases: Array<{ c: number; f: number; k: number; padding: 'same' | 'valid'; side: number; pool: number }> = [
    { c: 1, f: 16, k: 3, padding: 'same', side: 28, pool: 2 },
    { c: 1, f: 16, k: 3, padding: 'same', side: 28, pool: 1 },
    { c: 3, f: 20, k: 3, padding: 'same', side: 10, pool: 2 },
    { c: 2, f: 8, k: 4, padding: 'same', side: 9, pool: 1 },
    { c: 1, f: 36, k: 5, padding: 'valid', side: 13, pool: 3 },
    { c: 4, f: 4, k: 1, padding: 'valid', side: 6, pool: 2 },
    // Deeper inputs: im2col + the gemm without fused multiply-add (kernels/convTrain.ts), on two threads for the
    // bigger ones; filters off the gemm's 16/8/4-column tiles.
    { c: 16, f: 32, k: 3, padding: 'same', side: 14, pool: 2 },
    { c: 8, f: 6, k: 3, padding: 'valid', side: 9, pool: 1 },
    { c: 17, f: 33, k: 5, padding: 'same', side: 11, pool: 1 },
    { c: 32, f: 64, k: 3, padding: 'same', side: 8, pool: 2 }
  ]
  for (const { c, f, k, padding, side, pool } of cases)
    it(`equals the layer${pool > 1 ? ' and its max pool' : ''}: ${c} channels, ${f} filters, ${k}×${k} ${padding}, ${side}×${side}`, () => {
      if (!wasm()) return
      const random = seededRandom(c * 100 + f + k)
      const spec: Extract<LayerSpec, { type: 'conv2d' }> = { type: 'conv2d', filters: f, kernelSize: k, strides: 1, padding, activation: 'relu' }
      const layer = createLayer(spec, { index: 0, seed: 7, inputShape: [side, side, c] })
      const x = randomTensor([5, side, side, c], random)
      layer.apply(x)
      // A trained bias: both signs, so some outputs clamp at 0.
      layer.weights[1]!.write(randomTensor([f], random, 0.5))
      let reference = layer.apply(x) as tf.Tensor
      if (pool > 1) reference = tf.maxPool(reference as tf.Tensor4D, pool, pool, 'valid')
      const ours = convReluForInference(x as tf.Tensor4D, layer, spec, pool)
      expect(ours).not.toBeNull()
      expect(ours!.shape).toEqual(reference.shape)
      expect(bits(ours!)).toEqual(bits(reference))
    })

  it('leaves other convs to tfjs: strides, activations, filters off the SIMD width on images, deep inputs without the taped kernels', () => {
    if (!wasm()) return
    const x = tf.zeros([1, 8, 8, 1]) as tf.Tensor4D
    const deep = tf.zeros([1, 8, 8, 8]) as tf.Tensor4D
    const make = (spec: Extract<LayerSpec, { type: 'conv2d' }>, input: tf.Tensor4D) => {
      const layer = createLayer(spec, { index: 0, seed: 1, inputShape: input.shape.slice(1) })
      layer.apply(input)
      return convReluForInference(input, layer, spec, 1)
    }
    const base = { type: 'conv2d', filters: 8, kernelSize: 3, strides: 1, padding: 'same', activation: 'relu' } as const
    expect(make({ ...base, strides: 2 }, x)).toBeNull()
    expect(make({ ...base, activation: 'tanh' }, x)).toBeNull()
    expect(make({ ...base, filters: 6 }, x)).toBeNull()
    expect(make(base, x)).not.toBeNull()
    expect(make(base, deep)).not.toBeNull()
    process.env.LAYERLAB_TAPE_KERNELS = '0'
    try {
      expect(make(base, deep)).toBeNull()
    } finally {
      delete process.env.LAYERLAB_TAPE_KERNELS
    }
  })
})

describe('scoring a small CNN', () => {
  it('gives the bits of its layers applied one by one, and the same assessment', async () => {
    if (!wasm()) return
    const random = seededRandom(11)
    const { spec } = defaultModel({ inputShape: [28, 28, 1], classes: 10 }, { preset: 'small-cnn' })
    const model = buildModel(spec, { seed: 3 })
    // Trained-looking biases: the relu clamps some outputs.
    for (const layer of model.layers) if (layer.weights[1]) layer.weights[1].write(randomTensor(layer.weights[1].shape as number[], random, 0.2))
    const n = 40
    const x = randomTensor([n, 28, 28, 1], random)
    const chain = { layers: model.layers, specs: spec.layers }
    const layerByLayer = model.layers.reduce<tf.Tensor>((input, layer) => layer.apply(input) as tf.Tensor, x)
    expect(bits(applyChain(chain, x, { training: false, logits: false }))).toEqual(bits(layerByLayer))

    const labels = Int32Array.from({ length: n }, () => Math.floor(random() * 10))
    const data = { x: x.dataSync() as Float32Array, y: labels, n, rows: Int32Array.from({ length: n }, (_, i) => i) }
    const features = partFeatures(data, [28, 28, 1])
    const objective: Objective = { task: 'classification', outputs: 10, classWeights: null, regressionLoss: trainConfig.parse({}).loss, lossScale: 1 }
    const ours = await assess(chain, features, objective, true)
    const probabilities = layerByLayer.dataSync() as Float32Array
    let loss = 0
    let correct = 0
    for (let i = 0; i < n; i++) {
      const row = probabilities.subarray(i * 10, (i + 1) * 10)
      const best = row.indexOf(Math.max(...row))
      expect(ours.predicted[i]).toBe(best)
      if (best === labels[i]) correct++
      loss -= Math.log(Math.min(1, Math.max(1e-7, row[labels[i]!]!)))
    }
    expect(ours.score).toBe(correct / n)
    expect(ours.loss).toBeCloseTo(loss / n, 5)
  })
})
