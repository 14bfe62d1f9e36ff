/**
 * The engine on webgpu (Dawn on SwiftShader, software Vulkan) against the in-process backends, in one process:
 * gradients of every layer type against cpu, the fused optimizer updates against the tf-op ones, and whole runs
 * (digits MLP, a small CNN on generated 12×12 images; both modes) against wasm with the same seeds. The same
 * seed trains to the same accuracy within noise: float sums in another order, nothing else, separate them.
 *
 * SwiftShader is slow (a 12×12 CNN epoch takes tens of seconds on a loaded 2-core machine), so the runs are short;
 * nothing here is timed.
 */
import * as tf from '@tensorflow/tfjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { defaultBlockSettings } from '../../../main/shared/blocks'
import { trainConfig, type LayerSpec, type ModelSpec, type Partition, type TrainConfig } from '../../../main/shared/contract'
import type { PreparedData } from '../../../main/data/types'
import { activateBackend, closeBackend, planBackend } from '../../../main/core/backend'
import { activateWebGPU } from '../../../main/core/webgpu'
import { buildModel } from '../../../main/model/build'
import { defaultModel } from '../../../main/model/presets'
import { applyChain } from '../../../main/train/forward'
import { BlockOptimizer } from '../../../main/train/optimizer'
import { DEVICE_READ_EVERY } from '../../../main/train/reads'
import { train, type TrainOutcome } from '../../../main/train/engine'
import type { Progress } from '../../../main/train/hooks'
import { loadDigits } from '../../fixtures/digits'
import { makeShapeImages } from '../../fixtures/shapes'
import { useSwiftShader } from '../../fixtures/webgpu'
import { classified, regressed } from '../../fixtures/figures'
import { openTestServices } from '../../fixtures/home'
import { friedmanCsv } from '../../fixtures/regression'

const missing = useSwiftShader()

/** Every layer type and activation of the contract (the global pool in its own model: a stack flattens once). */
const EVERY_LAYER: LayerSpec[] = [
  { type: 'conv2d', filters: 8, kernelSize: 3, strides: 1, padding: 'same', activation: 'relu' },
  { type: 'batchNormalization', momentum: 0.99, epsilon: 1e-3 },
  { type: 'maxPooling2d', poolSize: 2, padding: 'valid' },
  { type: 'conv2d', filters: 8, kernelSize: 3, strides: 1, padding: 'valid', activation: 'elu' },
  { type: 'activation', activation: 'leakyRelu', alpha: 0.2 },
  { type: 'averagePooling2d', poolSize: 2, padding: 'same' },
  { type: 'conv2d', filters: 8, kernelSize: 3, strides: 2, padding: 'same', activation: 'tanh' },
  { type: 'dropout', rate: 0.1 },
  { type: 'flatten' },
  { type: 'dense', units: 16, activation: 'relu6' },
  { type: 'activation', activation: 'sigmoid' },
  { type: 'dense', units: 16, activation: 'linear' },
  { type: 'activation', activation: 'elu' },
  { type: 'dense', units: 6, activation: 'softmax' }
]
const GLOBAL_POOL: LayerSpec[] = [
  { type: 'conv2d', filters: 8, kernelSize: 3, strides: 1, padding: 'same', activation: 'relu' },
  { type: 'maxPooling2d', poolSize: 2, padding: 'same' },
  { type: 'conv2d', filters: 8, kernelSize: 3, strides: 1, padding: 'same', activation: 'sigmoid' },
  { type: 'globalAveragePooling2d' },
  { type: 'dense', units: 6, activation: 'softmax' }
]

/** Loss and gradients of a batch through the engine's own forward pass, on the active backend. */
async function lossAndGradients(spec: ModelSpec, x: Float32Array, labels: Int32Array): Promise<{ loss: number; grads: Float32Array[] }> {
  const model = buildModel(spec, { seed: 3 })
  const variables = model.layers.flatMap((layer) => layer.trainableWeights.map((w) => w.read() as tf.Variable))
  let dropoutSeed = 99
  const { value, grads } = tf.variableGrads(() => {
    const input = tf.tensor(x, [labels.length, ...spec.inputShape])
    const logits = applyChain({ layers: model.layers, specs: spec.layers }, input, {
      training: true,
      logits: true,
      dropoutSeed: () => dropoutSeed++,
      fast: true
    })
    return tf.losses.softmaxCrossEntropy(tf.oneHot(tf.tensor1d(labels, 'int32'), 6), logits) as tf.Scalar
  }, variables)
  const values = await Promise.all([value, ...variables.map((v) => grads[v.name]!)].map((t) => t.data()))
  model.dispose()
  tf.dispose([value, ...Object.values(grads)])
  return { loss: values[0]![0]!, grads: values.slice(1) as Float32Array[] }
}

const worstRelative = (a: Float32Array[], b: Float32Array[]) =>
  Math.max(
    ...a.map((grad, i) => {
      const scale = Math.max(1e-3, ...Array.from(grad, Math.abs))
      return Math.max(...Array.from(grad, (v, j) => Math.abs(v - b[i]![j]!))) / scale
    })
  )

async function on<T>(backend: 'webgpu' | 'wasm' | 'cpu', work: () => Promise<T>): Promise<T> {
  if (!(await tf.setBackend(backend))) throw new Error(`backend ${backend} did not start`)
  return work()
}

function runJob(
  data: PreparedData,
  model: { spec: ModelSpec; partition: Partition },
  config: Partial<TrainConfig>,
  blockEpochs: number,
  lr?: number
) {
  const partition: Partition = {
    blocks: model.partition.blocks.map((block) => ({
      ...block,
      settings: { ...block.settings, epochs: blockEpochs, patience: 0, ...(lr ? { learningRate: lr } : {}) }
    }))
  }
  return { spec: model.spec, partition, config: trainConfig.parse({ patience: 0, ...config }), data, cacheDir: null }
}

/** The same job on wasm and on webgpu: their accuracies, epochs and progress events. */
async function pair(job: () => Promise<ReturnType<typeof runJob>>) {
  const result: Record<string, { outcome: TrainOutcome; progress: Progress[] }> = {}
  for (const backend of ['wasm', 'webgpu'] as const) {
    const progress: Progress[] = []
    const outcome = await on(backend, async () => train(await job(), { onProgress: (p) => progress.push(p) }))
    outcome.model.dispose()
    result[backend] = { outcome, progress }
  }
  return { wasm: result.wasm!, webgpu: result.webgpu! }
}

/** Within `rows` rows of `n`: two backends whose float sums differ in order may part on a borderline row or two. */
const closeTo = (a: number, b: number, n: number, rows: number) => expect(Math.abs(a - b) * n).toBeLessThanOrEqual(rows + 1e-9)

// Minutes per test on SwiftShader under load; the runs are as short as a fair comparison allows.
describe.skipIf(missing)('the engine on webgpu (SwiftShader)', { timeout: 15 * 60_000 }, () => {
  beforeAll(async () => {
    await activateBackend(tf, planBackend({ prefer: 'wasm' }))
    const active = await activateWebGPU(tf, { allowSoftware: true })
    if (!active.ok) throw new Error(active.reason)
  })
  afterAll(async () => {
    await closeBackend(tf)
  })

  it('gives every layer type the same loss and gradients as the cpu backend', async () => {
    const images = makeShapeImages(16, 12)
    const x = images.train.x.slice(0, 16 * 144)
    const labels = (images.train.y as Int32Array).slice(0, 16)
    for (const layers of [EVERY_LAYER, GLOBAL_POOL]) {
      const spec: ModelSpec = { version: 1, inputShape: [12, 12, 1], layers }
      const cpu = await on('cpu', () => lossAndGradients(spec, x, labels))
      const gpu = await on('webgpu', () => lossAndGradients(spec, x, labels))
      expect(Math.abs(gpu.loss - cpu.loss)).toBeLessThan(1e-4)
      expect(gpu.grads.length).toBe(cpu.grads.length)
      expect(worstRelative(gpu.grads, cpu.grads)).toBeLessThan(1e-4)
    }
  })

  it('updates weights in fused GPU programs exactly as the tf-op path does (sgd, momentum, adam; weight decay)', async () => {
    await on('webgpu', async () => {
      for (const optimizer of ['sgd', 'momentum', 'adam'] as const) {
        const settings = { ...defaultBlockSettings(), optimizer, learningRate: 0.01, weightDecay: 1e-3 }
        const start = tf.randomNormal([37, 5], 0, 1, 'float32', 1)
        const weights = [tf.variable(start.clone()), tf.variable(start.clone())]
        const fused = new BlockOptimizer(settings, 1, { fusedOnGpu: true })
        const ops = new BlockOptimizer(settings, 1, { fusedOnGpu: false })
        for (let step = 0; step < 5; step++) {
          const gradient = tf.randomNormal([37, 5], 0, 1, 'float32', 10 + step)
          fused.applyGradients([{ variable: weights[0]!, gradient }])
          ops.applyGradients([{ variable: weights[1]!, gradient }])
          gradient.dispose()
        }
        const [a, b, initial] = await Promise.all([...weights, start].map((w) => w.data()))
        const moved = Math.max(...Array.from(a!, (v, i) => Math.abs(v - initial![i]!)))
        expect(moved).toBeGreaterThan(1e-3)
        expect(Math.max(...Array.from(a!, (v, i) => Math.abs(v - b![i]!)))).toBeLessThan(1e-5)
        fused.dispose()
        ops.dispose()
        tf.dispose([start, ...weights])
      }
    })
  })

  it('digits MLP end-to-end: the accuracy of wasm, progress every few batches, nothing left on the device', async () => {
    const before = await on('webgpu', async () => tf.memory().numTensors)
    const { wasm, webgpu } = await pair(async () => runJob(await loadDigits(), defaultModel({ inputShape: [61], classes: 10 }), { epochs: 6 }, 6))
    const n = (await loadDigits()).test.n
    console.log(`digits e2e: wasm test ${classified(wasm.outcome.metrics).testAccuracy}, webgpu ${classified(webgpu.outcome.metrics).testAccuracy}`)
    expect(webgpu.outcome.epochsRun).toBe(wasm.outcome.epochsRun)
    expect(classified(webgpu.outcome.metrics).testAccuracy).toBeGreaterThan(0.9)
    closeTo(classified(webgpu.outcome.metrics).testAccuracy, classified(wasm.outcome.metrics).testAccuracy, n, 2)
    closeTo(classified(webgpu.outcome.metrics).valAccuracy, classified(wasm.outcome.metrics).valAccuracy, n, 2)
    // 40 batches an epoch: wasm reports every batch; webgpu every DEVICE_READ_EVERY batches the sums it took half
    // way there, and the last batch's exactly.
    const batches = Math.ceil(1259 / 32)
    expect(wasm.progress.length).toBe(6 * batches)
    expect(webgpu.progress.length).toBe(6 * Math.ceil(batches / DEVICE_READ_EVERY))
    expect(webgpu.progress.slice(0, 5).map((p) => p.batch)).toEqual([4, 12, 20, 28, 40])
    expect(webgpu.progress.at(-1)).toMatchObject({ batch: batches, batches, epoch: 6 })
    expect(await on('webgpu', async () => tf.memory().numTensors)).toBe(before)
  })

  it('digits MLP layer-wise (block stages on cached features, then the fine-tune): the accuracy of wasm', async () => {
    const { wasm, webgpu } = await pair(async () =>
      runJob(
        await loadDigits(),
        defaultModel({ inputShape: [61], classes: 10 }),
        { mode: 'layer-wise', fineTune: { enabled: true, epochs: 2, learningRateFactor: 0.1 } },
        3
      )
    )
    const n = (await loadDigits()).test.n
    console.log(
      `digits layer-wise: wasm test ${classified(wasm.outcome.metrics).testAccuracy}, webgpu ${classified(webgpu.outcome.metrics).testAccuracy}`
    )
    expect(webgpu.outcome.prefixForwards).toBe(1)
    expect(webgpu.outcome.epochsRun).toBe(wasm.outcome.epochsRun)
    expect(classified(webgpu.outcome.metrics).testAccuracy).toBeGreaterThan(0.9)
    closeTo(classified(webgpu.outcome.metrics).testAccuracy, classified(wasm.outcome.metrics).testAccuracy, n, 2)
    expect(webgpu.outcome.blocks.map((block) => block.epochs)).toEqual(wasm.outcome.blocks.map((block) => block.epochs))
    expect(webgpu.outcome.blocks.every((block) => block.headValAccuracy !== null)).toBe(true)
  })

  for (const mode of ['end-to-end', 'layer-wise'] as const) {
    it(`small CNN on generated 12×12 shapes, ${mode}: the accuracy of wasm`, async () => {
      const images = () => makeShapeImages(240, 12)
      const model = defaultModel({ inputShape: [12, 12, 1], classes: 6 }, { preset: 'small-cnn' })
      const { wasm, webgpu } = await pair(async () =>
        runJob(
          images(),
          model,
          mode === 'end-to-end' ? { epochs: 5 } : { mode, fineTune: { enabled: true, epochs: 1, learningRateFactor: 0.1 } },
          3,
          0.01
        )
      )
      const n = images().test.n
      console.log(
        `small CNN ${mode}: wasm test ${classified(wasm.outcome.metrics).testAccuracy}, webgpu ${classified(webgpu.outcome.metrics).testAccuracy} (of ${n})`
      )
      expect(webgpu.outcome.epochsRun).toBe(wasm.outcome.epochsRun)
      // Six classes: chance is 1/6. Both learn (about 0.5–0.7 on the training part at this length), and the same.
      expect(classified(webgpu.outcome.metrics).trainAccuracy).toBeGreaterThan(0.35)
      closeTo(classified(webgpu.outcome.metrics).testAccuracy, classified(wasm.outcome.metrics).testAccuracy, n, 2)
      closeTo(classified(webgpu.outcome.metrics).trainAccuracy, classified(wasm.outcome.metrics).trainAccuracy, images().train.n, 3)
    })
  }

  it('regression (Friedman #1, MSE) end-to-end: the R² and RMSE of wasm', async () => {
    const lab = await openTestServices('layerlab-webgpu-regression-')
    try {
      const summary = await lab.datasets.import({ path: lab.write('friedman.csv', friedmanCsv(400)) })
      expect(summary.task).toBe('regression')
      const model = defaultModel(summary, { hidden: [32, 32] })
      const { wasm, webgpu } = await pair(async () => runJob(await lab.datasets.loadPrepared(summary.datasetId), model, { epochs: 8 }, 8, 0.01))
      const [onWasm, onGpu] = [regressed(wasm.outcome.metrics), regressed(webgpu.outcome.metrics)]
      console.log(`friedman e2e: wasm test R² ${onWasm.testR2}, webgpu ${onGpu.testR2} (of ${onGpu.testRows})`)
      expect(webgpu.outcome.epochsRun).toBe(wasm.outcome.epochsRun)
      expect(onGpu.testR2).toBeGreaterThan(0.5)
      expect(Math.abs(onGpu.testR2 - onWasm.testR2)).toBeLessThan(0.02)
      expect(Math.abs(onGpu.testRmse - onWasm.testRmse) / onWasm.testRmse).toBeLessThan(0.05)
    } finally {
      await lab.close()
    }
  })

  it('stops between batches when asked and reports the run as cancelled', async () => {
    const data = await loadDigits()
    const job = runJob(data, defaultModel({ inputShape: [61], classes: 10 }), { epochs: 50 }, 50)
    let progress = 0
    const outcome = await on('webgpu', () => train(job, { onProgress: () => progress++, shouldStop: () => progress >= 2 }))
    expect(outcome.status).toBe('cancelled')
    expect(outcome.metrics).toBeNull()
    expect(outcome.epochsRun).toBe(0)
    outcome.model.dispose()
  })
})
