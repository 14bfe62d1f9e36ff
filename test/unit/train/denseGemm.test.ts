/**
 * The taped step's dense forward through denseTrain.wat's gemm without fused multiply-add (fast/dense.ts,
 * kernels/convTrain.ts denseForwardGemm; issue 20) against the wasm backend's own ops, bit for bit: the product
 * alone equals MatMul, with the bias and relu (or none) it equals the fused MatMul, on odd shapes, on one thread
 * and two; a dense layer trained under the tape gives the bits the path before it gave (tfjs's MatMul, Add and
 * Relu forward, tfjs's Step, Mul and Sum for dz and db, the gemm's products for dW and dx), and outside a tape
 * the fused MatMul's.
 */
import * as tf from '@tensorflow/tfjs'
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { activateBackend, planBackend } from '../../../main/core/backend'
import { seededRandom } from '../../../main/core/random'
import { denseForTraining } from '../../../main/train/fast/dense'
import { kernelThreadReady, setKernelThreads, setThreadedGemmMinimum } from '../../../main/train/fast/kernels'
import { denseForwardGemm, denseGradientsGemm } from '../../../main/train/fast/kernels/convTrain'

beforeAll(async () => {
  await activateBackend(tf, planBackend({ prefer: 'wasm' }))
})

beforeEach(() => {
  process.env.LAYERLAB_TAPE_KERNELS = '1'
})
afterEach(() => {
  delete process.env.LAYERLAB_TAPE_KERNELS
  setKernelThreads(undefined)
  setThreadedGemmMinimum(undefined)
})

const wasm = () => tf.getBackend() === 'wasm'

/** The float32 values as their bit patterns (so -0 and +0 are told apart). */
const bits = (values: ArrayLike<number>) => Array.from(new Uint32Array(Float32Array.from(values).buffer))

/** Values in [-scale, scale), a share of them exact zeros (a relu's output feeds the next layer). */
function values(count: number, random: () => number, scale: number, zeros = 0): Float32Array {
  return Float32Array.from({ length: count }, () => (random() < zeros ? 0 : (random() * 2 - 1) * scale))
}

// The small CNN's two dense layers, rows and columns off the gemm's 4-row blocks and 16/8/4-column tiles, a
// single row, a long sum.
const shapes: Array<[number, number, number]> = [
  [32, 1568, 64],
  [32, 64, 10],
  [7, 13, 5],
  [1, 9, 3],
  [33, 100, 12],
  [5, 3, 17],
  [64, 300, 100]
]

describe('denseForwardGemm', () => {
  for (const threads of [1, 2])
    it(`gives the wasm backend's MatMul and fused MatMul bits on ${threads} thread${threads > 1 ? 's' : ''}`, async () => {
      if (!wasm()) return
      if (threads === 2) {
        // Every product cut between the threads, the worker taking the first part.
        expect(await kernelThreadReady()).toBe(true)
        setKernelThreads(2, { workerFirst: true })
        setThreadedGemmMinimum(0)
      } else setKernelThreads(1)
      const random = seededRandom(threads)
      for (const [m, inputs, outputs] of shapes) {
        const x = values(m * inputs, random, 1, 0.3)
        const w = values(inputs * outputs, random, 0.1)
        const b = values(outputs, random, 0.3)
        tf.tidy(() => {
          const [xt, wt, bt] = [tf.tensor2d(x, [m, inputs]), tf.tensor2d(w, [inputs, outputs]), tf.tensor1d(b)]
          expect(bits(denseForwardGemm(xt, wt, null, false)!.dataSync())).toEqual(bits(tf.matMul(xt, wt).dataSync()))
          for (const activation of ['relu', 'linear'] as const) {
            const reference = tf.fused.matMul({ a: xt, b: wt, bias: bt, activation }).dataSync()
            expect(bits(denseForwardGemm(xt, wt, bt, activation === 'relu')!.dataSync())).toEqual(bits(reference))
          }
        })
      }
    })
})

describe('a dense layer for training', () => {
  /** Kernel, bias, input and the probe the test's loss weighs the output by. */
  function layer(m: number, inputs: number, outputs: number, seed: number) {
    const random = seededRandom(seed)
    return {
      x: tf.tensor2d(values(m * inputs, random, 1, 0.3), [m, inputs]),
      kernel: tf.variable(tf.tensor2d(values(inputs * outputs, random, 0.2), [inputs, outputs])),
      bias: tf.variable(tf.tensor1d(values(outputs, random, 0.3))),
      probe: tf.tensor2d(values(m * outputs, random, 1), [m, outputs])
    }
  }

  for (const [m, inputs, outputs] of [
    [32, 1568, 64],
    [9, 20, 12],
    [32, 64, 10]
  ] as const)
    for (const activation of ['relu', 'linear'] as const)
      it(`under the tape, ${activation}, ${m}×${inputs}·${inputs}×${outputs}: the forward and the gradients of the path before it, bit for bit`, () => {
        if (!wasm()) return
        const { x, kernel, bias, probe } = layer(m, inputs, outputs, m + outputs)
        tf.tidy(() => {
          let output: tf.Tensor | null = null
          const { grads } = tf.variableGrads(() => {
            output = tf.keep(denseForTraining(x, kernel, bias, activation, true))
            return tf.sum(tf.mul(output, probe)) as tf.Scalar
          })
          const dx = tf.grad((input: tf.Tensor) => tf.sum(tf.mul(denseForTraining(input as tf.Tensor2D, kernel, bias, activation, true), probe)))(x)
          // The path before: tfjs's ops for the forward (under a tape tfjs runs a relu unfused), dz and db; the
          // gemm's gradient products (kernels/convTrain.ts) for dW and dx.
          const z = tf.add(tf.matMul(x, kernel), bias)
          const y = activation === 'relu' ? tf.relu(z) : z
          const dz = activation === 'relu' ? tf.mul(probe, tf.step(y)) : probe
          const products = denseGradientsGemm(x, kernel, dz as tf.Tensor2D, true)!
          const referenceDW = bits(products.dW.dataSync())
          const referenceDx = bits(products.dx!.dataSync())
          // The linear layer's forward is tfjs's fused MatMul with the bias (fused under a tape too).
          const forward = activation === 'linear' ? tf.fused.matMul({ a: x, b: kernel, bias }) : y
          expect(bits(output!.dataSync())).toEqual(bits(forward.dataSync()))
          expect(bits(grads[kernel.name]!.dataSync())).toEqual(referenceDW)
          expect(bits(grads[bias.name]!.dataSync())).toEqual(bits(tf.sum(dz, 0).dataSync()))
          expect(bits(dx.dataSync())).toEqual(referenceDx)
        })
      })

  it('outside a tape (a frozen prefix), the fused MatMul with bias and relu', () => {
    if (!wasm()) return
    const { x, kernel, bias } = layer(20, 37, 24, 5)
    tf.tidy(() => {
      const ours = denseForTraining(x, kernel, bias, 'relu', false)
      expect(bits(ours.dataSync())).toEqual(bits(tf.fused.matMul({ a: x, b: kernel, bias, activation: 'relu' }).dataSync()))
    })
  })
})
