/**
 * The kernels' second thread (main/train/fast/kernels/threads.ts): every product and conv loop, and whole seeded
 * runs through the fused dense kernel and the CNN kernels, give the same bits on one thread as on two (compared
 * with ===, shapes off the gemm's tiles); the worker really takes parts; and where memory cannot be shared or the
 * worker cannot start or fails, the same results come from one thread.
 */
import path from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { trainConfig, type EpochRow } from '../../../main/shared/contract'
import { activateBackend, planBackend } from '../../../main/core/backend'
import { seededRandom } from '../../../main/core/random'
import { defaultModel } from '../../../main/model/presets'
import { train } from '../../../main/train/engine'
import {
  denseTrainKernel,
  type DenseTrainVariant,
  convReluSimd,
  kernelThreadReady,
  maxPool2BiasReluGradSimd,
  maxPool2BiasReluSimd,
  setKernelThreads,
  setThreadedGemmMinimum,
  stopKernelThread,
  threadStats
} from '../../../main/train/fast/kernels'
import {
  convForwardGemm,
  convInputGradGemm,
  convKernelGradGemm,
  convReluInferenceGemm,
  type ConvGeometry,
  denseGradientsGemm
} from '../../../main/train/fast/kernels/convTrain'
import { denseTrainSharedFusedWasm, denseTrainSharedWasm } from '../../../main/train/fast/kernels/denseTrain.wasm'
import { convTrainSharedWasm } from '../../../main/train/fast/kernels/convTrain.wasm'
import { partRange } from '../../../main/train/fast/kernels/threads'
import { digitImages, loadDigits } from '../../fixtures/digits'

const digits = await loadDigits()

beforeAll(async () => {
  await activateBackend(tf, planBackend({}))
  expect(await kernelThreadReady()).toBe(true)
})
afterEach(() => {
  setKernelThreads(undefined)
  setThreadedGemmMinimum(undefined)
})
afterAll(async () => {
  await stopKernelThread()
})

const variants = (): DenseTrainVariant[] => (['fused', 'plain'] as const).filter((variant) => denseTrainKernel(variant) !== null)

function randomValues(count: number, seed: number): Float32Array {
  const random = seededRandom(seed)
  return Float32Array.from({ length: count }, () => random() * 2 - 1)
}

/** Index of the first element that differs as bits (NaN-safe), -1 when all are the same. */
function firstDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length)
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i
  return -1
}

/** A kernel's result tensor read back, then disposed. */
function read(t: tf.Tensor | null): Float32Array {
  const values = t!.dataSync() as Float32Array
  t!.dispose()
  return values
}

/**
 * Runs fn on one thread, then on two, the worker taking the first part of each threaded call (workerFirst: else
 * a call whose parts this thread claims before the worker wakes runs here alone).
 */
function bothWays<T>(fn: () => T): { one: T; two: T; workerParts: number } {
  setKernelThreads(1)
  const one = fn()
  setKernelThreads(2, { workerFirst: true })
  const before = threadStats.workerParts
  const two = fn()
  return { one, two, workerParts: threadStats.workerParts - before }
}

describe('kernels on two threads', () => {
  it('the shared-memory builds are built from the .wat sources', async () => {
    const build = await import('../../../scripts/build-kernels.mjs')
    const kernels = path.resolve(__dirname, '../../../main/train/fast/kernels')
    expect((await build.assemble(path.join(kernels, 'denseTrain.wat'), { shared: true })).toString('base64')).toBe(denseTrainSharedWasm)
    expect((await build.assemble(path.join(kernels, 'denseTrain.wat'), { shared: true, fused: true })).toString('base64')).toBe(
      denseTrainSharedFusedWasm
    )
    expect((await build.assemble(path.join(kernels, 'convTrain.wat'), { shared: true })).toString('base64')).toBe(convTrainSharedWasm)
  })

  it('cuts [0, total) into contiguous parts of whole units', () => {
    for (const [parts, unit, total] of [
      [2, 5, 203],
      [8, 5, 12],
      [3, 49, 49 * 7],
      [8, 113, 6272]
    ] as const) {
      let end = 0
      for (let part = 0; part < parts; part++) {
        const [first, last] = partRange(part, parts, unit, total)
        expect(first).toBe(end)
        expect(first % unit === 0 || first === total).toBe(true)
        expect(last).toBeGreaterThanOrEqual(first)
        end = last
      }
      expect(end).toBe(total)
    }
  })

  for (const variant of variants())
    it(`${variant} build: gemm gives the same bits on one and two threads (modes, activations, A transposed, shapes off the tile)`, () => {
      const opened = denseTrainKernel(variant)!
      expect(opened.shared).not.toBeNull()
      const { kernel } = opened
      kernel.memory.grow(64)
      const shapes = [
        [203, 37, 71],
        [61, 29, 229],
        [200, 100, 64],
        [1259, 10, 100],
        [12, 13, 3001]
      ] as const
      for (const [M, N, K] of shapes)
        for (const [mode, act, transposed] of [
          [0, 0, false],
          [1, 1, true],
          [2, 2, false],
          [2, 1, true]
        ] as const) {
          const heap = new Float32Array(kernel.memory.buffer)
          const a = 64
          const b = a + M * K * 4 + 64
          const bias = b + K * N * 4 + 64
          const c = bias + N * 4 + 64
          heap.set(randomValues(M * K, M), a / 4)
          heap.set(randomValues(K * N, N), b / 4)
          heap.set(randomValues(N, 3), bias / 4)
          const start = randomValues(M * N, 9)
          const { one, two, workerParts } = bothWays(() => {
            heap.set(start, c / 4)
            if (transposed) kernel.gemm(c, a, b, bias, M, N, K, 4, M * 4, N * 4, N * 4, mode, act)
            else kernel.gemm(c, a, b, bias, M, N, K, K * 4, 4, N * 4, N * 4, mode, act)
            return heap.slice(c / 4, c / 4 + M * N)
          })
          expect(firstDifference(one, two), `${M}×${N}×${K} mode ${mode} act ${act}`).toBe(-1)
          expect(workerParts).toBeGreaterThan(0)
        }
    })

  it.each(['tfjs heap', 'own memory'])(
    'conv forward, kernel and input gradients and a dense layer’s gradients give the same bits on one and two threads (%s)',
    (memory) => {
      process.env.LAYERLAB_TFJS_HEAP = memory === 'tfjs heap' ? '1' : '0'
      const cases: Array<{ x: [number, number, number, number]; k: number; f: number; before: number; valid: boolean }> = [
        { x: [32, 14, 14, 16], k: 3, f: 32, before: 1, valid: false },
        { x: [7, 15, 13, 17], k: 3, f: 33, before: 0, valid: true },
        { x: [5, 28, 28, 3], k: 5, f: 7, before: 2, valid: false },
        // the kernel gradient without patches (few channels, filters a multiple of 4), cut by rows of dk
        { x: [6, 28, 28, 1], k: 3, f: 20, before: 1, valid: false }
      ]
      for (const c of cases) {
        const shrink = c.valid ? c.k - 1 : 0
        const g: ConvGeometry = { x: c.x, k: c.k, f: c.f, before: c.before, outH: c.x[1] - shrink, outW: c.x[2] - shrink }
        const x = tf.tensor4d(
          randomValues(
            c.x.reduce((p, q) => p * q, 1),
            1
          ),
          c.x
        )
        const w = tf.tensor4d(randomValues(c.k * c.k * c.x[3] * c.f, 2), [c.k, c.k, c.x[3], c.f])
        const dy = tf.tensor4d(randomValues(c.x[0] * g.outH * g.outW * c.f, 3), [c.x[0], g.outH, g.outW, c.f])
        const forward = bothWays(() => read(convForwardGemm(x, w, g)))
        const kernelGrad = bothWays(() => read(convKernelGradGemm(x, dy, g)))
        const inputGrad = bothWays(() => read(convInputGradGemm(dy, w, g)))
        // The inference conv's bias and relu reach the worker's parts too.
        const bias = tf.tensor1d(randomValues(c.f, 4))
        const inference = bothWays(() => read(convReluInferenceGemm(x, w, bias, g)))
        expect(firstDifference(inference.one, inference.two)).toBe(-1)
        expect(inference.workerParts).toBeGreaterThan(0)
        expect(inference.one.some((v) => v === 0) && inference.one.some((v) => v > 0)).toBe(true)
        bias.dispose()
        expect(firstDifference(forward.one, forward.two)).toBe(-1)
        expect(firstDifference(kernelGrad.one, kernelGrad.two)).toBe(-1)
        expect(firstDifference(inputGrad.one, inputGrad.two)).toBe(-1)
        expect(forward.workerParts * kernelGrad.workerParts * inputGrad.workerParts).toBeGreaterThan(0)
        tf.dispose([x, w, dy])
      }
      const [m, inputs, outputs] = [203, 1568, 61]
      const x = tf.tensor2d(randomValues(m * inputs, 4), [m, inputs])
      const w = tf.tensor2d(randomValues(inputs * outputs, 5), [inputs, outputs])
      const dz = tf.tensor2d(randomValues(m * outputs, 6), [m, outputs])
      const dense = bothWays(() => {
        const r = denseGradientsGemm(x, w, dz, true)!
        return { dW: read(r.dW), dx: read(r.dx) }
      })
      expect(firstDifference(dense.one.dW, dense.two.dW)).toBe(-1)
      expect(firstDifference(dense.one.dx, dense.two.dx)).toBe(-1)
      expect(dense.workerParts).toBeGreaterThan(0)
      tf.dispose([x, w, dz])
      delete process.env.LAYERLAB_TFJS_HEAP
    }
  )
})

describe('the conv stage’s pool, bias and relu on two threads', () => {
  afterEach(() => setKernelThreads(undefined))

  it('give the same bits each way on one and two threads, the bias gradient included (tfjs heap)', () => {
    process.env.LAYERLAB_TFJS_HEAP = '1'
    try {
      // the small CNN's first stage at batch 12, and rows that do not split evenly
      for (const shape of [
        [12, 28, 28, 16],
        [5, 46, 30, 12]
      ] as Array<[number, number, number, number]>) {
        const size = shape.reduce((p, q) => p * q, 1)
        const x = tf.tensor4d(randomValues(size, 11), shape)
        const bias = tf.tensor1d(randomValues(shape[3], 12))
        const pooledShape: [number, number, number, number] = [shape[0], shape[1] / 2, shape[2] / 2, shape[3]]
        const dy = tf.tensor4d(randomValues(size / 4, 13), pooledShape)
        const forward = bothWays(() => read(maxPool2BiasReluSimd(x, bias)))
        expect(firstDifference(forward.one, forward.two)).toBe(-1)
        expect(forward.workerParts).toBeGreaterThan(0)
        const y = maxPool2BiasReluSimd(x, bias)!
        const grad = bothWays(() => {
          const { dx, db } = maxPool2BiasReluGradSimd(x, y, dy)!
          return { dx: read(dx), db: read(db) }
        })
        expect(firstDifference(grad.one.dx, grad.two.dx)).toBe(-1)
        expect(firstDifference(grad.one.db, grad.two.db)).toBe(-1)
        expect(grad.workerParts).toBeGreaterThan(0)
        expect(grad.one.dx.some((v) => v !== 0)).toBe(true)
        tf.dispose([x, bias, dy, y])
      }
    } finally {
      delete process.env.LAYERLAB_TFJS_HEAP
    }
  })
})

describe('the first conv in inference on two threads', () => {
  afterEach(() => setKernelThreads(undefined))

  it('gives XNNPACK’s bits on one and two threads, images cut between them (tfjs heap)', () => {
    process.env.LAYERLAB_TFJS_HEAP = '1'
    try {
      const x = tf.tensor4d(randomValues(37 * 28 * 28, 21), [37, 28, 28, 1])
      const kernel = tf.tensor4d(randomValues(3 * 3 * 16, 22), [3, 3, 1, 16])
      const bias = tf.tensor1d(randomValues(16, 23))
      const ways = bothWays(() => read(convReluSimd(x, kernel, bias, 3, 1, 28, 28, 2)))
      expect(ways.workerParts).toBeGreaterThan(0)
      expect(firstDifference(ways.one, ways.two)).toBe(-1)
      const reference = tf.tidy(() =>
        tf.maxPool(tf.fused.conv2d({ x, filter: kernel, strides: 1, pad: 'same', bias, activation: 'relu' }), 2, 2, 'valid')
      )
      expect(firstDifference(ways.two, reference.dataSync() as Float32Array)).toBe(-1)
      tf.dispose([x, kernel, bias, reference])
    } finally {
      delete process.env.LAYERLAB_TFJS_HEAP
    }
  })
})

/** Epoch rows and final weights of a seeded run. */
async function seededRun(job: Omit<Parameters<typeof train>[0], 'config'> & { config: Parameters<typeof trainConfig.parse>[0] }) {
  const rows: EpochRow[] = []
  const outcome = await train({ ...job, config: trainConfig.parse(job.config) }, { onEpoch: (row) => rows.push(row) })
  const weights = outcome.model.getWeights().map((t) => Array.from(t.dataSync()))
  outcome.model.dispose()
  return { rows: rows.map(({ loss, valLoss, valAccuracy }) => ({ loss, valLoss, valAccuracy })), weights, metrics: outcome.metrics }
}

/** The job seeded on one kernel thread, then on two with the worker taking parts: the same rows and weights. */
async function onOneAndTwoThreads(job: Parameters<typeof seededRun>[0]) {
  setKernelThreads(1)
  const one = await seededRun(job)
  setKernelThreads(2, { workerFirst: true })
  const before = threadStats.workerParts
  const two = await seededRun(job)
  expect(threadStats.workerParts - before).toBeGreaterThan(0)
  expect(two.rows).toEqual(one.rows)
  expect(two.weights).toEqual(one.weights)
  return { one, two }
}

describe('seeded runs on one thread and on two train to the same bits', () => {
  it('the digits MLP through the fused dense kernel at the article’s settings (momentum, lr 0.1, batch 200)', async () => {
    const { spec, partition } = defaultModel({ inputShape: digits.inputShape, classes: 10 })
    const settings = { optimizer: 'momentum' as const, learningRate: 0.1, weightDecay: 1e-4 }
    const blocks = { blocks: partition.blocks.map((block) => ({ ...block, settings: { ...block.settings, ...settings } })) }
    const job = { spec, partition: blocks, config: { epochs: 4, patience: 0, batchSize: 200, seed: 5 }, data: digits, fusedDense: true }
    const { one, two } = await onOneAndTwoThreads(job)
    expect(two.metrics).toEqual(one.metrics)
  })

  it('the same MLP with every product cut between the threads (no size threshold) and with none cut', async () => {
    const { spec, partition } = defaultModel({ inputShape: digits.inputShape, classes: 10 })
    const settings = { optimizer: 'momentum' as const, learningRate: 0.1, weightDecay: 1e-4 }
    const blocks = { blocks: partition.blocks.map((block) => ({ ...block, settings: { ...block.settings, ...settings } })) }
    // Batches of 50: products from 5 k to 125 k multiply-adds, all below the default threshold.
    const job = { spec, partition: blocks, config: { epochs: 2, patience: 0, batchSize: 50, seed: 8 }, data: digits, fusedDense: true }
    setThreadedGemmMinimum(0)
    const cut = threadStats.jobs
    const { one } = await onOneAndTwoThreads(job)
    // The training steps' products were handed over too (26 batches × 2 epochs × 8 products), not only validation's.
    expect(threadStats.jobs - cut).toBeGreaterThan(26 * 2 * 8)
    setThreadedGemmMinimum(Number.MAX_SAFE_INTEGER)
    setKernelThreads(2)
    const jobs = threadStats.jobs
    const none = await seededRun(job)
    expect(threadStats.jobs).toBe(jobs)
    expect(none.rows).toEqual(one.rows)
    expect(none.weights).toEqual(one.weights)
  })

  it('the small CNN through the taped-step kernels (LAYERLAB_TAPE_KERNELS=1) on the digits’ 8×8 images', async () => {
    const data = digitImages(600, 200, 200)
    const { spec, partition } = defaultModel({ inputShape: [8, 8, 1], classes: 10 }, { preset: 'small-cnn' })
    const job = { spec, partition, config: { epochs: 2, patience: 0, batchSize: 32, seed: 3 }, data }
    process.env.LAYERLAB_TAPE_KERNELS = '1'
    try {
      await onOneAndTwoThreads(job)
    } finally {
      delete process.env.LAYERLAB_TAPE_KERNELS
    }
  })
})

describe('one thread where two cannot run, with the same results', () => {
  const product = () => {
    const opened = denseTrainKernel('plain')!
    const { kernel } = opened
    const [M, N, K] = [203, 37, 71]
    kernel.memory.grow(2)
    const heap = new Float32Array(kernel.memory.buffer)
    heap.set(randomValues(M * K + K * N, 8))
    const b = M * K * 4
    const c = b + K * N * 4 + 64
    kernel.gemm(c, 0, b, 0, M, N, K, K * 4, 4, N * 4, N * 4, 0, 1)
    return { shared: opened.shared !== null, out: heap.slice(c / 4, c / 4 + M * N) }
  }

  it('no SharedArrayBuffer: the unshared build, on this thread', () => {
    setKernelThreads(1)
    const reference = product()
    const saved = globalThis.SharedArrayBuffer
    // @ts-expect-error: a runtime without shared memory (a page that is not cross-origin isolated)
    delete globalThis.SharedArrayBuffer
    try {
      setKernelThreads(2)
      const jobs = threadStats.jobs
      const unshared = product()
      expect(unshared.shared).toBe(false)
      expect(threadStats.jobs).toBe(jobs)
      expect(firstDifference(unshared.out, reference.out)).toBe(-1)
    } finally {
      globalThis.SharedArrayBuffer = saved
    }
  })

  it('a worker that cannot start: every call on this thread', async () => {
    setKernelThreads(1)
    const reference = product()
    await stopKernelThread({ source: 'throw new Error("no threads here")' })
    try {
      expect(await kernelThreadReady(2000)).toBe(false)
      setKernelThreads(2)
      const jobs = threadStats.jobs
      const alone = product()
      expect(alone.shared).toBe(true)
      expect(threadStats.jobs).toBe(jobs)
      expect(firstDifference(alone.out, reference.out)).toBe(-1)
    } finally {
      await stopKernelThread()
    }
  })

  it('a worker that fails its parts: the caller redoes them and stops using it', async () => {
    setKernelThreads(1)
    const reference = product()
    // Claims every part of each job and reports it failed (the control block's slots as in threads.ts).
    const failing = `
      const { workerData } = require('node:worker_threads')
      const c = new Int32Array(workerData.control)
      Atomics.store(c, 5, 1)
      let seen = Atomics.load(c, 0)
      for (;;) {
        Atomics.store(c, 4, 1)
        Atomics.wait(c, 0, seen, 20)
        Atomics.store(c, 4, 0)
        const seq = Atomics.load(c, 0)
        if (seq === seen) continue
        seen = seq
        const parts = c[8]
        for (;;) {
          const v = Atomics.load(c, 1)
          if ((v >>> 8) !== (seq & 0xffffff) || (v & 255) >= parts) break
          if (Atomics.compareExchange(c, 1, v, v + 1) === v) { Atomics.or(c, 3, 1 << (v & 255)); Atomics.add(c, 2, 1) }
        }
      }`
    await stopKernelThread({ source: failing })
    try {
      expect(await kernelThreadReady(2000)).toBe(true)
      setKernelThreads(2, { workerFirst: true })
      const redone = threadStats.redone
      const out = product().out
      expect(threadStats.redone).toBeGreaterThan(redone)
      expect(firstDifference(out, reference.out)).toBe(-1)
      const jobs = threadStats.jobs
      expect(firstDifference(product().out, reference.out)).toBe(-1)
      expect(threadStats.jobs).toBe(jobs)
    } finally {
      await stopKernelThread()
    }
  })
})
