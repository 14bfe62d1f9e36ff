/**
 * The training engine in-process, on the real digits data and on tiny generated images (wasm backend where
 * present, as the worker would choose).
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { beforeAll, describe, expect, it } from 'vitest'
import { trainConfig, type EpochRow, type ModelSpec, type Partition, type TrainConfig } from '../../../main/shared/contract'
import { activateBackend, planBackend } from '../../../main/core/backend'
import { defaultModel, partitionFromRanges } from '../../../main/model/presets'
import { train } from '../../../main/train/engine'
import { MAX_MISCLASSIFIED } from '../../../main/train/metrics'
import { WHOLE_MODEL_BLOCK, type TrainHooks } from '../../../main/train/hooks'
import { convForTraining } from '../../../main/train/fast/conv'
import { augmentImage } from '../../../main/train/augment'
import { createLayer } from '../../../main/model/build'
import { loadDigits, makeStripeImages } from '../../fixtures/digits'
import { classified, confusionOf } from '../../fixtures/figures'

const digits = await loadDigits()
const config = (overrides: Partial<TrainConfig> = {}): TrainConfig => trainConfig.parse(overrides)

/** Copies of the weights of layers [start, end) of a model. */
const weightsOf = (model: tf.LayersModel, start: number, end: number): Float32Array[] =>
  model.layers.slice(start, end).flatMap((layer) => layer.weights.map((w) => (w.read().dataSync() as Float32Array).slice()))
const same = (a: Float32Array[], b: Float32Array[]) => a.length === b.length && a.every((w, i) => w.every((v, j) => v === b[i]![j]))

let e2eAccuracy = 0

beforeAll(async () => {
  await activateBackend(tf, planBackend({}))
})

describe('digits MLP with the default settings', () => {
  it('reaches ≥ 97 % test accuracy end-to-end', async () => {
    const { spec, partition } = defaultModel({ inputShape: digits.inputShape, classes: 10 })
    const outcome = await train({ spec, partition, config: config(), data: digits })
    expect(outcome.status).toBe('completed')
    e2eAccuracy = classified(outcome.metrics).testAccuracy
    console.log(
      `digits end-to-end on ${tf.getBackend()}: test ${(e2eAccuracy * 100).toFixed(2)} %, ${outcome.epochsRun} epochs, ${outcome.timing.msPerEpoch.toFixed(0)} ms/epoch`
    )
    expect(e2eAccuracy).toBeGreaterThanOrEqual(0.97)
    const evaluation = confusionOf(outcome.evaluation)
    expect(evaluation.confusion.flat().reduce((a, b) => a + b, 0)).toBe(digits.test.n)
    const correct = evaluation.confusion.reduce((sum, row, i) => sum + row[i]!, 0)
    expect(correct / digits.test.n).toBeCloseTo(e2eAccuracy, 10)
    expect(evaluation.misclassified.length).toBe(Math.min(MAX_MISCLASSIFIED, digits.test.n - correct))
    for (const wrong of evaluation.misclassified) {
      expect(Array.from(digits.test.rows)).toContain(wrong.row)
      expect(wrong.label).not.toBe(wrong.predicted)
      // The probability of the predicted class: the largest of C, so at least 1/C.
      expect(wrong.confidence).toBeGreaterThanOrEqual(1 / 10)
      expect(wrong.confidence).toBeLessThanOrEqual(1)
    }
    expect(evaluation.perClass.map((c) => c.support).reduce((a, b) => a + b, 0)).toBe(digits.test.n)
    outcome.model.dispose()
  })

  it('reaches ≥ 96 % layer-wise, within 1.5 points of end-to-end, with frozen blocks untouched', async () => {
    const { spec, partition } = defaultModel({ inputShape: digits.inputShape, classes: 10 })
    const frozenAtStart = new Map<number, Float32Array[]>()
    const frozenUnchanged: boolean[] = []
    const ownChanged: boolean[] = []
    let ownAtStart: Float32Array[] = []
    const hooks: TrainHooks = {
      onStageStart: (block, model) => {
        const { start, end } = partition.blocks[block]!
        frozenAtStart.set(block, weightsOf(model, 0, start))
        ownAtStart = weightsOf(model, start, end)
      },
      onStageEnd: (block, model) => {
        const { start, end } = partition.blocks[block]!
        frozenUnchanged.push(same(frozenAtStart.get(block)!, weightsOf(model, 0, start)))
        ownChanged.push(!same(ownAtStart, weightsOf(model, start, end)))
      }
    }
    const outcome = await train({ spec, partition, config: config({ mode: 'layer-wise' }), data: digits }, hooks)
    const accuracy = classified(outcome.metrics).testAccuracy
    console.log(
      `digits layer-wise: test ${(accuracy * 100).toFixed(2)} % (end-to-end ${(e2eAccuracy * 100).toFixed(2)} %), heads ${outcome.blocks.map((b) => b.headValAccuracy?.toFixed(3))}`
    )
    expect(accuracy).toBeGreaterThanOrEqual(0.96)
    expect(e2eAccuracy - accuracy).toBeLessThanOrEqual(0.015)
    expect(frozenUnchanged).toEqual([true, true])
    expect(ownChanged).toEqual([true, true])
    expect(outcome.blocks.map((b) => b.name)).toEqual(['Block 1', 'Block 2'])
    expect(outcome.blocks.map((b) => b.layers)).toEqual([[0], [1, 2]])
    for (const block of outcome.blocks) {
      expect(block.headValAccuracy).toBeGreaterThan(0.9)
      expect(block.epochs).toBeGreaterThan(0)
    }
    outcome.model.dispose()
  })
})

describe('layer-wise mechanics', () => {
  it('computes the frozen prefix once per block, not once per epoch', async () => {
    const { spec, partition } = defaultModel({ inputShape: digits.inputShape, classes: 10 }, { hidden: [48, 32, 24] })
    for (const block of partition.blocks) block.settings = { ...block.settings, epochs: 4, patience: 0 }
    const computed: number[] = []
    const epochs: EpochRow[] = []
    const outcome = await train(
      { spec, partition, config: config({ mode: 'layer-wise', fineTune: { enabled: false, epochs: 1, learningRateFactor: 0.1 } }), data: digits },
      { onPrefixComputed: (block) => computed.push(block), onEpoch: (row) => epochs.push(row) }
    )
    expect(outcome.blocks).toHaveLength(3)
    expect(epochs.filter((row) => row.phase === 'block')).toHaveLength(12)
    expect(computed).toEqual([1, 2])
    expect(outcome.prefixForwards).toBe(2)
    expect(epochs.some((row) => row.phase === 'finetune')).toBe(false)
    outcome.model.dispose()
  })

  it('keeps the cached prefix outputs in files of the cache folder while their stage trains, deletes them after, and trains as from memory', async () => {
    const { spec, partition } = defaultModel({ inputShape: digits.inputShape, classes: 10 }, { hidden: [48, 32, 24] })
    for (const block of partition.blocks) block.settings = { ...block.settings, epochs: 2, patience: 0 }
    const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'layerlab-cache-test-'))
    const seen: Array<{ block: number; files: number[] }> = []
    const job = { spec, partition, config: config({ mode: 'layer-wise' }), data: digits }
    const fromFiles = await train(
      { ...job, cacheDir },
      {
        onStageStart: (block) =>
          seen.push({
            block,
            files: fs
              .readdirSync(cacheDir)
              .map((f) => fs.statSync(path.join(cacheDir, f)).size)
              .sort((a, b) => a - b)
          })
      }
    )
    // Block 1 trains on block 0's 48 outputs, block 2 on block 1's 32: one file per part (val, train), float32.
    const parts = [digits.val.n, digits.train.n]
    expect(seen).toEqual([
      { block: 0, files: [] },
      { block: 1, files: parts.map((n) => n * 48 * 4) },
      { block: 2, files: parts.map((n) => n * 32 * 4) }
    ])
    expect(fs.readdirSync(cacheDir)).toEqual([])
    const inMemory = await train({ ...job, cacheDir: null })
    expect(fromFiles.metrics).toEqual(inMemory.metrics)
    fromFiles.model.dispose()
    inMemory.model.dispose()
    fs.rmSync(cacheDir, { recursive: true, force: true })
  })

  it('stops a stage when the head has not improved for `patience` epochs and restores its best weights', async () => {
    const { spec, partition } = defaultModel({ inputShape: digits.inputShape, classes: 10 }, { hidden: [32] })
    partition.blocks[0]!.settings = { ...partition.blocks[0]!.settings, epochs: 200, patience: 2 }
    const rows: EpochRow[] = []
    const outcome = await train(
      { spec, partition, config: config({ mode: 'layer-wise', fineTune: { enabled: false, epochs: 1, learningRateFactor: 0.1 } }), data: digits },
      { onEpoch: (row) => rows.push(row) }
    )
    expect(rows.length).toBeLessThan(200)
    const best = Math.max(...rows.map((row) => row.valAccuracy!))
    expect(rows.slice(-2).every((row) => row.valAccuracy! <= best)).toBe(true)
    expect(outcome.blocks[0]!.headValAccuracy).toBe(best)
    expect(classified(outcome.metrics).valAccuracy).toBeCloseTo(best, 10)
    outcome.model.dispose()
  })
})

describe('end-to-end mechanics', () => {
  const dropoutSpec: ModelSpec = {
    version: 1,
    inputShape: digits.inputShape,
    layers: [
      { type: 'dense', units: 32, activation: 'relu' },
      { type: 'dropout', rate: 0.3 },
      { type: 'dense', units: 10, activation: 'softmax' }
    ]
  }
  const dropoutPartition: Partition = partitionFromRanges([
    [0, 2],
    [2, 3]
  ])

  it('gives the same metrics for the same seed (initialisers, shuffling, dropout) and different ones for another', async () => {
    const runOnce = async (seed: number) => {
      const rows: EpochRow[] = []
      const outcome = await train(
        { spec: dropoutSpec, partition: dropoutPartition, config: config({ epochs: 3, seed }), data: digits },
        { onEpoch: (row) => rows.push(row) }
      )
      outcome.model.dispose()
      return { metrics: outcome.metrics, losses: rows.map((row) => [row.loss, row.valLoss]) }
    }
    const first = await runOnce(7)
    const second = await runOnce(7)
    const other = await runOnce(8)
    expect(second).toEqual(first)
    expect(other.losses).not.toEqual(first.losses)
  })

  it('unfreezes one block more each epoch from the top with gradualUnfreeze', async () => {
    const { spec, partition } = defaultModel({ inputShape: digits.inputShape, classes: 10 })
    let model: tf.LayersModel | null = null
    const snapshots: Float32Array[][][] = []
    const snap = () => partition.blocks.map((block) => weightsOf(model!, block.start, block.end))
    await train(
      { spec, partition, config: config({ epochs: 2, patience: 0, gradualUnfreeze: true }), data: digits },
      {
        onStageStart: (block, m) => {
          expect(block).toBe(WHOLE_MODEL_BLOCK)
          model = m
          snapshots.push(snap())
        },
        onEpoch: () => snapshots.push(snap())
      }
    )
    const [initial, afterOne, afterTwo] = snapshots
    expect(same(initial![0]!, afterOne![0]!)).toBe(true)
    expect(same(initial![1]!, afterOne![1]!)).toBe(false)
    expect(same(afterOne![0]!, afterTwo![0]!)).toBe(false)
  })

  it('follows each block’s schedule and optimizer (step, cosine; sgd, momentum + weight decay, adam + LARS)', async () => {
    const { spec, partition } = defaultModel({ inputShape: digits.inputShape, classes: 10 }, { hidden: [32] })
    const variants = [
      { optimizer: 'sgd' as const, learningRate: 0.05, schedule: 'step' as const, lars: false, weightDecay: 0 },
      { optimizer: 'momentum' as const, learningRate: 0.02, schedule: 'cosine' as const, lars: false, weightDecay: 1e-4 },
      { optimizer: 'momentum' as const, learningRate: 5, schedule: 'constant' as const, lars: true, weightDecay: 1e-4 }
    ]
    for (const variant of variants) {
      partition.blocks[0]!.settings = { ...partition.blocks[0]!.settings, ...variant }
      const rows: EpochRow[] = []
      const outcome = await train({ spec, partition, config: config({ epochs: 4, patience: 0 }), data: digits }, { onEpoch: (row) => rows.push(row) })
      const rates = rows.map((row) => row.learningRate)
      if (variant.schedule === 'step') expect(rates.map((r) => r / variant.learningRate)).toEqual([1, 1, 0.1, 0.01].map((f) => expect.closeTo(f, 10)))
      if (variant.schedule === 'cosine')
        expect(rates.map((r) => r / variant.learningRate)).toEqual(
          [1, 0.8535533905932737, 0.5, 0.14644660940672627].map((f) => expect.closeTo(f, 10))
        )
      expect(rows[rows.length - 1]!.loss).toBeLessThan(rows[0]!.loss)
      expect(classified(outcome.metrics).testAccuracy).toBeGreaterThan(0.8)
      outcome.model.dispose()
    }
  })

  it('stops between batches when asked, as cancelled, keeping the finished epochs', async () => {
    const { spec, partition } = defaultModel({ inputShape: digits.inputShape, classes: 10 })
    const rows: EpochRow[] = []
    let batches = 0
    const outcome = await train(
      { spec, partition, config: config({ epochs: 50 }), data: digits },
      { onEpoch: (row) => rows.push(row), onProgress: () => batches++, shouldStop: () => batches >= 100 }
    )
    expect(outcome.status).toBe('cancelled')
    expect(outcome.metrics).toBeNull()
    expect(rows).toHaveLength(Math.floor(100 / Math.ceil(digits.train.n / 32)))
    outcome.model.dispose()
  })
})

describe('small CNN on tiny generated images', () => {
  it('trains convs with the same output and gradients as the conv layer, without Conv2DBackpropFilter', async () => {
    const previous = tf.getBackend()
    // The cpu backend has tfjs's own filter gradient to compare against.
    await tf.setBackend('cpu')
    try {
      for (const conv of [
        { type: 'conv2d' as const, filters: 4, kernelSize: 3, strides: 1, padding: 'same' as const, activation: 'relu' as const },
        { type: 'conv2d' as const, filters: 3, kernelSize: 2, strides: 1, padding: 'same' as const, activation: 'tanh' as const },
        { type: 'conv2d' as const, filters: 2, kernelSize: 3, strides: 1, padding: 'valid' as const, activation: 'linear' as const }
      ]) {
        const layer = createLayer(conv, { index: 0, seed: 5 })
        const x = tf.randomNormal([2, 7, 6, 3], 0, 1, 'float32', 9) as tf.Tensor4D
        layer.apply(x)
        // A non-zero bias, so a bias mix-up would show.
        layer.weights[1]!.write(tf.randomNormal(layer.weights[1]!.shape as number[], 0, 1, 'float32', 3))
        const theirs = layer.apply(x) as tf.Tensor
        const ours = convForTraining(x, layer, conv)
        expect(ours.shape).toEqual(theirs.shape)
        expect(tf.max(tf.abs(tf.sub(ours, theirs))).dataSync()[0]).toBeLessThan(1e-4)
        const probe = tf.randomNormal(theirs.shape, 0, 1, 'float32', 4)
        const kernel = layer.weights[0]!.read() as tf.Variable
        const viaLayer = tf.variableGrads(() => tf.sum(tf.mul(layer.apply(x) as tf.Tensor, probe)) as tf.Scalar, [kernel]).grads[kernel.name]!
        const viaOurs = tf.variableGrads(() => tf.sum(tf.mul(convForTraining(x, layer, conv), probe)) as tf.Scalar, [kernel]).grads[kernel.name]!
        expect(tf.norm(viaLayer).dataSync()[0]).toBeGreaterThan(0.1)
        expect(tf.max(tf.abs(tf.sub(viaLayer, viaOurs))).dataSync()[0]).toBeLessThan(1e-4)
        const inputLayer = tf.grad((input: tf.Tensor) => tf.sum(tf.mul(layer.apply(input) as tf.Tensor, probe)))(x)
        const inputOurs = tf.grad((input: tf.Tensor) => tf.sum(tf.mul(convForTraining(input as tf.Tensor4D, layer, conv), probe)))(x)
        expect(tf.max(tf.abs(tf.sub(inputLayer, inputOurs))).dataSync()[0]).toBeLessThan(1e-4)
      }
    } finally {
      await tf.setBackend(previous)
    }
  })

  it('trains end-to-end and layer-wise', async () => {
    const images = makeStripeImages(160, 8, 3)
    const { spec, partition } = defaultModel({ inputShape: [8, 8, 1], classes: 2 }, { preset: 'small-cnn' })
    expect(partition.blocks.map((b) => [b.start, b.end])).toEqual([
      [0, 2],
      [2, 4],
      [4, 7]
    ])
    const e2e = await train({ spec, partition, config: config({ epochs: 6, patience: 0, batchSize: 16 }), data: images })
    for (const block of partition.blocks) block.settings = { ...block.settings, epochs: 4, learningRate: 0.003 }
    const prefix: number[] = []
    const layerWise = await train(
      {
        spec,
        partition,
        config: config({ mode: 'layer-wise', batchSize: 16, fineTune: { enabled: true, epochs: 2, learningRateFactor: 0.1 } }),
        data: images
      },
      { onPrefixComputed: (block) => prefix.push(block) }
    )
    console.log(
      `stripes CNN on ${tf.getBackend()}: end-to-end ${classified(e2e.metrics).testAccuracy} (${e2e.timing.msPerEpoch.toFixed(0)} ms/epoch), ` +
        `layer-wise ${classified(layerWise.metrics).testAccuracy} (${layerWise.timing.msPerEpoch.toFixed(0)} ms/epoch), heads ${layerWise.blocks.map((b) => b.headValAccuracy)}`
    )
    expect(classified(e2e.metrics).testAccuracy).toBeGreaterThanOrEqual(0.9)
    expect(classified(layerWise.metrics).testAccuracy).toBeGreaterThanOrEqual(0.9)
    expect(prefix).toEqual([1, 2])
    // The conv blocks' pooled linear probes learned something too.
    expect(layerWise.blocks[0]!.headValAccuracy).toBeGreaterThan(0.6)
    e2e.model.dispose()
    layerWise.model.dispose()
  })
})

describe('image augmentation', () => {
  it('shifts every channel of an image by whole pixels with a zero border', () => {
    // 3×3, 2 channels: value = 10·row + col (+0.5 on the second channel).
    const image = new Float32Array(18)
    for (let r = 0; r < 3; r++) for (let c = 0; c < 3; c++) for (let ch = 0; ch < 2; ch++) image[(r * 3 + c) * 2 + ch] = 10 * r + c + ch / 2
    const out = new Float32Array(20).fill(7)
    // No rotation; the coins give dy = +1 and dx = -1.
    const shift = (coins: number[]) => augmentImage(image, 0, out, 2, [3, 3, 2], () => coins.shift()!, { flip: false, maxShift: 1, maxDegrees: 0 })
    shift([0.5, 1, 0])
    expect(Array.from(out.subarray(0, 2))).toEqual([7, 7])
    const firstChannel = Array.from({ length: 9 }, (_, i) => out[2 + i * 2])
    expect(firstChannel).toEqual([0, 0, 0, 1, 2, 0, 11, 12, 0])
    expect(out[2 + 3 * 2 + 1]).toBe(1.5)
    shift([0.5, 0.5, 0.5])
    expect(Array.from(out.subarray(2))).toEqual(Array.from(image))
  })

  it('trains the small CNN with augment on, reproducibly, and differently from without', async () => {
    const images = makeStripeImages(100, 8, 5)
    const { spec, partition } = defaultModel({ inputShape: [8, 8, 1], classes: 2 }, { preset: 'small-cnn' })
    const once = async (augment: boolean) => {
      const outcome = await train({ spec, partition, config: config({ epochs: 6, patience: 0, augment, batchSize: 8 }), data: images })
      outcome.model.dispose()
      return outcome.metrics
    }
    const first = await once(true)
    expect(classified(first).testAccuracy).toBeGreaterThanOrEqual(0.8)
    expect(await once(true)).toEqual(first)
    expect(await once(false)).not.toEqual(first)
  })
})

describe('every layer type', () => {
  it('builds and trains a spec using each layer type of the contract, in both modes', async () => {
    const images = makeStripeImages(80, 8, 9)
    const spec: ModelSpec = {
      version: 1,
      inputShape: [8, 8, 1],
      layers: [
        { type: 'conv2d', filters: 8, kernelSize: 3, strides: 1, padding: 'same', activation: 'linear' },
        { type: 'batchNormalization', momentum: 0.9, epsilon: 1e-3 },
        { type: 'activation', activation: 'leakyRelu', alpha: 0.1 },
        { type: 'maxPooling2d', poolSize: 2, padding: 'valid' },
        { type: 'conv2d', filters: 8, kernelSize: 3, strides: 2, padding: 'same', activation: 'elu' },
        { type: 'averagePooling2d', poolSize: 2, padding: 'valid' },
        { type: 'conv2d', filters: 8, kernelSize: 1, strides: 1, padding: 'valid', activation: 'relu6' },
        { type: 'globalAveragePooling2d' },
        { type: 'dense', units: 8, activation: 'tanh' },
        { type: 'dropout', rate: 0.2 },
        { type: 'dense', units: 2, activation: 'linear' },
        { type: 'activation', activation: 'softmax' }
      ]
    }
    const partition = partitionFromRanges([
      [0, 4],
      [4, 8],
      [8, 12]
    ])
    // The strided conv needs tfjs's own filter gradient, which only cpu has (the worker plans cpu for it).
    const previous = tf.getBackend()
    await tf.setBackend('cpu')
    try {
      for (const mode of ['end-to-end', 'layer-wise'] as const) {
        for (const block of partition.blocks) block.settings = { ...block.settings, epochs: 2, head: 'mlp' }
        const outcome = await train({
          spec,
          partition,
          config: config({ mode, epochs: 2, batchSize: 16, fineTune: { enabled: true, epochs: 1, learningRateFactor: 0.1 } }),
          data: images
        })
        expect(outcome.status).toBe('completed')
        expect(Number.isFinite(classified(outcome.metrics).testLoss)).toBe(true)
        // The batch-norm statistics moved away from their initial 0 / 1 while training.
        const [, , movingMean] = outcome.model.layers[1]!.weights.map((w) => w.read().dataSync())
        expect(Array.from(movingMean!).some((v) => Math.abs(v) > 1e-4)).toBe(true)
        outcome.model.dispose()
      }
    } finally {
      await tf.setBackend(previous)
    }
  })
})
