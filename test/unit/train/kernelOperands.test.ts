/**
 * The kernels on tfjs-backend-wasm's own heap (main/train/fast/kernels/operands.ts; issue 20): they read tensors
 * where tfjs keeps them and write into tensors tfjs allocated, with the same bits as on their own memory (copies in
 * and out), call by call and for a whole seeded small-CNN run; other tensors on the heap keep their values; no
 * tensor is left behind; and the cpu backend still gets copies.
 */
import * as tf from '@tensorflow/tfjs'
import { afterEach, beforeAll, describe, expect, it } from 'vitest'
import { trainConfig } from '../../../main/shared/contract'
import { activateBackend, planBackend } from '../../../main/core/backend'
import { seededRandom } from '../../../main/core/random'
import { defaultModel } from '../../../main/model/presets'
import { train } from '../../../main/train/engine'
import { convKernelGradientSimd, kernelThreadReady, maxPool2BiasReluGradSimd, maxPool2BiasReluSimd } from '../../../main/train/fast/kernels'
import {
  convForwardGemm,
  convInputGradGemm,
  convKernelGradGemm,
  type ConvGeometry,
  denseForwardGemm,
  denseGradientsGemm
} from '../../../main/train/fast/kernels/convTrain'
import { ownMemory, placeOperands, tfjsHeap, writableTensor } from '../../../main/train/fast/kernels/operands'
import { digitImages } from '../../fixtures/digits'

beforeAll(async () => {
  await activateBackend(tf, planBackend({ prefer: 'wasm' }))
  await kernelThreadReady()
})
afterEach(() => {
  delete process.env.LAYERLAB_TFJS_HEAP
})

function randomTensor<T extends tf.Tensor>(shape: number[], seed: number): T {
  const random = seededRandom(seed)
  const size = shape.reduce((a, b) => a * b, 1)
  return tf.tensor(
    Float32Array.from({ length: size }, () => random() * 2 - 1),
    shape
  ) as T
}

/** Each kernel call of the taped step, as the values of its results (the result tensors disposed). */
function everyKernel(): Float32Array[] {
  return tf.tidy(() => {
    const g: ConvGeometry = { x: [5, 14, 14, 16], k: 3, f: 32, before: 1, outH: 14, outW: 14 }
    const x = randomTensor<tf.Tensor4D>(g.x, 1)
    const w = randomTensor<tf.Tensor4D>([3, 3, 16, 32], 2)
    const dy = randomTensor<tf.Tensor4D>([5, 14, 14, 32], 3)
    const images = randomTensor<tf.Tensor4D>([5, 9, 7, 1], 4)
    const imagesDy = randomTensor<tf.Tensor4D>([5, 9, 7, 16], 5)
    const bias = randomTensor<tf.Tensor1D>([32], 6)
    const pooledDy = randomTensor<tf.Tensor4D>([5, 7, 7, 32], 7)
    const [m, inputs, outputs] = [13, 37, 22]
    const dense = randomTensor<tf.Tensor2D>([m, inputs], 8)
    const kernel = randomTensor<tf.Tensor2D>([inputs, outputs], 9)
    const dz = randomTensor<tf.Tensor2D>([m, outputs], 10)
    const denseBias = randomTensor<tf.Tensor1D>([outputs], 11)
    const y = convForwardGemm(x, w, g)!
    const pooled = maxPool2BiasReluSimd(y, bias)!
    const poolGrad = maxPool2BiasReluGradSimd(y, pooled, pooledDy)!
    const products = denseGradientsGemm(dense, kernel, dz, true)!
    const results = [
      y,
      convKernelGradGemm(x, dy, g)!,
      convInputGradGemm(dy, w, g)!,
      convKernelGradientSimd(images, imagesDy, 3, 1)!,
      pooled,
      poolGrad.dx,
      poolGrad.db,
      products.dW,
      products.dx!,
      denseForwardGemm(dense, kernel, denseBias, true)!,
      denseForwardGemm(dense, kernel, null, false)!
    ]
    return results.map((t) => t.dataSync() as Float32Array)
  })
}

const bits = (values: Float32Array) => Array.from(new Uint32Array(values.buffer, values.byteOffset, values.length))

describe("the kernels on tfjs's heap", () => {
  it('run there on the threaded wasm backend, and not where LAYERLAB_TFJS_HEAP=0', () => {
    expect(tfjsHeap()).not.toBeNull()
    process.env.LAYERLAB_TFJS_HEAP = '0'
    expect(tfjsHeap()).toBeNull()
  })

  it('read and write tensors where tfjs keeps them: the operands are the tensors’ own offsets', () => {
    const heap = tfjsHeap()!
    const backend = tf.backend() as unknown as { getMemoryOffset(dataId: object): number }
    const input = tf.tensor1d([1, 2, 3, 4])
    const output = writableTensor<tf.Tensor1D>([4])
    const { at, heap: view, finish } = placeOperands(heap, [{ read: input }, { floats: 8 }, { write: output }])
    expect(at[0]).toBe(backend.getMemoryOffset(input.dataId))
    expect(at[2]).toBe(backend.getMemoryOffset(output.tensor.dataId))
    expect(at[1]! % 16).toBe(0)
    view.set([5, 6, 7, 8], at[2]! / 4)
    finish()
    expect(Array.from(output.tensor.dataSync())).toEqual([5, 6, 7, 8])
    // On a memory of their own the same operands are copied in and out.
    const own = ownMemory(new WebAssembly.Memory({ initial: 1 }))
    const copied = writableTensor<tf.Tensor1D>([4])
    const placed = placeOperands(own, [{ read: input }, { write: copied }])
    expect(Array.from(placed.heap.subarray(placed.at[0]! / 4, placed.at[0]! / 4 + 4))).toEqual([1, 2, 3, 4])
    placed.heap.set([9, 8, 7, 6], placed.at[1]! / 4)
    placed.finish()
    expect(Array.from(copied.tensor.dataSync())).toEqual([9, 8, 7, 6])
    tf.dispose([input, output.tensor, copied.tensor])
  })

  it('give the same bits as on their own memory, for every kernel of the taped step', () => {
    const onHeap = everyKernel()
    process.env.LAYERLAB_TFJS_HEAP = '0'
    const own = everyKernel()
    expect(onHeap.map(bits)).toEqual(own.map(bits))
  })

  it('leave every other tensor on the heap as it was, and no tensor behind', () => {
    const canaries = Array.from({ length: 64 }, (_, i) => randomTensor<tf.Tensor>([1 + ((i * 7) % 23)], 100 + i))
    const before = canaries.map((t) => bits(t.dataSync() as Float32Array))
    const tensors = tf.memory().numTensors
    for (let round = 0; round < 3; round++) everyKernel()
    expect(tf.memory().numTensors).toBe(tensors)
    expect(canaries.map((t) => bits(t.dataSync() as Float32Array))).toEqual(before)
    tf.dispose(canaries)
  })

  it('train the small CNN, seeded, to the same losses and weights as on their own memory', async () => {
    const data = digitImages(400, 100, 100)
    const { spec, partition } = defaultModel({ inputShape: [8, 8, 1], classes: 10 }, { preset: 'small-cnn' })
    const run = async () => {
      const rows: Array<{ loss: number; valLoss: number | null }> = []
      const outcome = await train(
        { spec, partition, config: trainConfig.parse({ epochs: 2, patience: 0, batchSize: 32, seed: 5 }), data },
        { onEpoch: (row) => rows.push({ loss: row.loss, valLoss: row.valLoss }) }
      )
      const weights = outcome.model.getWeights().map((t) => bits(t.dataSync() as Float32Array))
      outcome.model.dispose()
      return { rows, weights }
    }
    const onHeap = await run()
    process.env.LAYERLAB_TFJS_HEAP = '0'
    const own = await run()
    expect(onHeap.rows).toHaveLength(2)
    expect(onHeap.rows).toEqual(own.rows)
    expect(onHeap.weights).toEqual(own.weights)
  })

  it('on the cpu backend: copies through their own memory, the same values', async () => {
    const wasmResults = everyKernel()
    await activateBackend(tf, planBackend({ prefer: 'cpu' }))
    try {
      expect(tfjsHeap()).toBeNull()
      const cpuResults = everyKernel()
      // The same kernels on the same values: the same bits whichever backend holds the tensors.
      expect(cpuResults.map(bits)).toEqual(wasmResults.map(bits))
    } finally {
      await activateBackend(tf, planBackend({ prefer: 'wasm' }))
    }
  })
})
