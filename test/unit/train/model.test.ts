import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { describe, expect, it } from 'vitest'
import { modelSpec, type ModelSpec } from '../../../main/shared/contract'
import { buildModel } from '../../../main/model/build'
import { loadWeights, saveWeights } from '../../../main/model/io'
import { defaultModel } from '../../../main/model/presets'
import { BLOCK_COLORS, discriminativeRate } from '../../../main/shared/blocks'
import { describeSpec, forwardFlops, validatePartition, validateSpec } from '../../../main/model/spec'
import { LabError } from '../../../main/shared/errors'

const spec = (inputShape: number[], layers: unknown[]): ModelSpec => modelSpec.parse({ version: 1, inputShape, layers })

describe('spec validation', () => {
  it('names the layer and the fix when a dense layer gets an image', () => {
    const errors = validateSpec(
      spec([8, 8, 1], [{ type: 'conv2d', filters: 16, kernelSize: 3 }, { type: 'maxPooling2d' }, { type: 'dense', units: 10, activation: 'softmax' }])
    )
    expect(errors).toEqual([{ layer: 2, message: 'layer 3 (dense): needs a flat input, got [4,4,16]: add a flatten layer' }])
  })

  it('reports convs on flat data, pools that do not fit, a missing softmax and a class-count mismatch', () => {
    expect(
      validateSpec(
        spec(
          [64],
          [
            { type: 'conv2d', filters: 4, kernelSize: 3 },
            { type: 'dense', units: 10, activation: 'softmax' }
          ]
        )
      )[0]!.message
    ).toBe('layer 1 (conv2d): needs an image input [height,width,channels], got [64]')
    expect(
      validateSpec(
        spec([2, 2, 1], [{ type: 'maxPooling2d', poolSize: 3 }, { type: 'flatten' }, { type: 'dense', units: 2, activation: 'softmax' }])
      )[0]!.message
    ).toMatch(/^layer 1 \(maxPooling2d\): pool 3 does not fit the 2×2 input/)
    expect(validateSpec(spec([64], [{ type: 'dense', units: 10, activation: 'relu' }]))).toEqual([
      { layer: 0, message: 'layer 1 (dense): the output layer needs activation softmax (class probabilities)' }
    ])
    expect(validateSpec(spec([64], [{ type: 'dense', units: 3, activation: 'softmax' }]), { classes: 10 })[0]!.message).toBe(
      'layer 1 (dense): outputs 3 values but the data set has 10 classes'
    )
    expect(
      validateSpec(
        spec(
          [64],
          [
            { type: 'dense', units: 8, activation: 'leakyRelu' },
            { type: 'dense', units: 2, activation: 'softmax' }
          ]
        )
      )[0]!.message
    ).toMatch(/^layer 1 \(dense\): activation leakyRelu exists only as its own layer/)
  })

  it('infers shapes and counts parameters per layer like Keras', () => {
    const cnn = spec(
      [28, 28, 1],
      [
        { type: 'conv2d', filters: 16, kernelSize: 3, padding: 'same', activation: 'relu' },
        { type: 'maxPooling2d' },
        { type: 'conv2d', filters: 32, kernelSize: 3, padding: 'valid', activation: 'relu' },
        { type: 'batchNormalization' },
        { type: 'globalAveragePooling2d' },
        { type: 'dropout', rate: 0.5 },
        { type: 'dense', units: 10, activation: 'softmax' }
      ]
    )
    const description = describeSpec(cnn)
    expect(description.errors).toEqual([])
    expect(description.layers.map((l) => l.outputShape)).toEqual([[28, 28, 16], [14, 14, 16], [12, 12, 32], [12, 12, 32], [32], [32], [10]])
    expect(description.layers.map((l) => l.params)).toEqual([160, 0, 4640, 128, 0, 0, 330])
    expect(description.totalParams).toBe(160 + 4640 + 128 + 330)
    // The same shapes and counts as the model tfjs builds.
    const model = buildModel(cnn, { seed: 1 })
    expect(model.countParams()).toBe(description.totalParams)
    expect(model.layers.map((l) => (l.outputShape as number[]).slice(1))).toEqual(description.layers.map((l) => l.outputShape))
    model.dispose()
  })

  it('refuses to build an invalid spec with a one-line LabError', () => {
    expect(() => buildModel(spec([64], [{ type: 'flatten' }, { type: 'dense', units: 2, activation: 'softmax' }]), { seed: 1 })).toThrow(
      new LabError('model spec: layer 1 (flatten): the input is already flat ([64]): remove this layer')
    )
  })
})

describe('partitions', () => {
  const base = defaultModel({ inputShape: [64], classes: 10 })
  it('accepts the default and rejects gaps, overlaps and uncovered layers', () => {
    expect(validatePartition(base.partition, 3)).toEqual([])
    const [a, b] = base.partition.blocks
    if (!a || !b) throw new Error('the default partition has two blocks')
    expect(validatePartition({ blocks: [a, { ...b, start: 2 }] }, 3)[0]!.message).toBe(
      'block 2 (Block 2): starts at layer 3, expected 2 (blocks must be contiguous and in order)'
    )
    expect(validatePartition({ blocks: [a] }, 3)[0]!.message).toBe('partition: the blocks cover layers 1..1 but the model has 3 layers (1..3)')
    expect(validatePartition({ blocks: [a, { ...b, name: 'Block 1' }] }, 3)[0]!.message).toBe('block 2 (Block 1): the name is used by another block')
  })

  it('builds the MLP and small-CNN presets with one block per hidden layer / conv stage', () => {
    const mlp = defaultModel({ inputShape: [64], classes: 10 }, { hidden: [100, 50, 20] })
    expect(mlp.spec.layers.map((l) => (l.type === 'dense' ? `${l.units}${l.activation}` : l.type))).toEqual([
      '100relu',
      '50relu',
      '20relu',
      '10softmax'
    ])
    expect(mlp.partition.blocks.map((b) => [b.name, b.start, b.end])).toEqual([
      ['Block 1', 0, 1],
      ['Block 2', 1, 2],
      ['Block 3', 2, 4]
    ])
    expect(new Set(mlp.partition.blocks.map((b) => b.color)).size).toBe(3)
    expect(mlp.partition.blocks.every((b) => (BLOCK_COLORS as readonly string[]).includes(b.color))).toBe(true)
    const cnn = defaultModel({ inputShape: [28, 28, 1], classes: 10 })
    expect(cnn.spec.layers.map((l) => l.type)).toEqual(['conv2d', 'maxPooling2d', 'conv2d', 'maxPooling2d', 'flatten', 'dense', 'dense'])
    expect(validateSpec(cnn.spec, { classes: 10 })).toEqual([])
    expect(validatePartition(cnn.partition, cnn.spec.layers.length)).toEqual([])
    // An MLP over images flattens first, inside the first block.
    const imageMlp = defaultModel({ inputShape: [8, 8, 1], classes: 3 }, { preset: 'mlp', hidden: [16] })
    expect(imageMlp.partition.blocks.map((b) => [b.start, b.end])).toEqual([[0, 3]])
    expect(validateSpec(imageMlp.spec, { classes: 3 })).toEqual([])
    expect(() => defaultModel({ inputShape: [64], classes: 10 }, { preset: 'small-cnn' })).toThrow(/small-cnn: needs image input/)
  })

  it('builds cnn-medium for images of 32×32 and up: three conv stages and a head, 0.3 M weights at any size', () => {
    const sizes = [
      [64, 64, 3],
      [128, 96, 3],
      [32, 32, 1]
    ]
    for (const inputShape of sizes) {
      const { spec: medium, partition } = defaultModel({ inputShape, classes: 10 }, { preset: 'cnn-medium' })
      expect(validateSpec(medium, { classes: 10 })).toEqual([])
      expect(validatePartition(partition, medium.layers.length)).toEqual([])
      expect(partition.blocks.map((b) => [b.start, b.end])).toEqual([
        [0, 5],
        [5, 10],
        [10, 15],
        [15, 19]
      ])
      // The global pool keeps the head's size independent of the image: only the first conv sees the channels.
      const model = buildModel(medium, { seed: 1 })
      expect(model.countParams()).toBe(inputShape[2] === 3 ? 305_706 : 305_130)
      model.dispose()
    }
    expect(() => defaultModel({ inputShape: [28, 28, 1], classes: 10 }, { preset: 'cnn-medium' })).toThrow(
      /cnn-medium: needs images of at least 32×32, these are 28×28: use small-cnn/
    )
    expect(() => defaultModel({ inputShape: [64], classes: 10 }, { preset: 'cnn-medium' })).toThrow(/cnn-medium: needs image input/)
  })

  it('counts forward FLOPs per sample from the inferred shapes (dense and conv layers)', () => {
    const mlp = defaultModel({ inputShape: [61], classes: 10 }, { hidden: [100, 100] }).spec
    expect(forwardFlops(mlp)).toBe(2 * (61 * 100 + 100 * 100 + 100 * 10))
    // small CNN at 28×28×1: conv 3×3 1→16 on 28×28, conv 3×3 16→32 on 14×14, dense 1568→64, dense 64→10.
    const cnn = defaultModel({ inputShape: [28, 28, 1], classes: 10 }).spec
    expect(forwardFlops(cnn)).toBe(2 * (28 * 28 * 9 * 16 + 14 * 14 * 9 * 16 * 32 + 1568 * 64 + 64 * 10))
    const medium = defaultModel({ inputShape: [64, 64, 3], classes: 10 }, { preset: 'cnn-medium' }).spec
    expect((forwardFlops(medium) * 32) / 1e9).toBeCloseTo(9.9, 1)
    expect(forwardFlops(spec([8, 8, 1], [{ type: 'dense', units: 3, activation: 'softmax' }]))).toBe(0)
  })

  it('spreads discriminative learning rates by 2.6 per block from the top', () => {
    const { partition } = defaultModel({ inputShape: [64], classes: 10 }, { hidden: [10, 10, 10] })
    const rates = partition.blocks.map((_, index) => discriminativeRate(0.01, index, partition.blocks.length))
    expect(rates[2]).toBe(0.01)
    expect(rates[1]).toBeCloseTo(0.01 / 2.6, 12)
    expect(rates[0]).toBeCloseTo(0.01 / 2.6 ** 2, 12)
    expect(partition.blocks[0]!.settings.learningRate).toBe(0.001)
  })
})

describe('weights files', () => {
  it('round-trip into a freshly built model and refuse another model', async () => {
    const { spec: mlp } = defaultModel({ inputShape: [64], classes: 10 }, { hidden: [12] })
    const source = buildModel(mlp, { seed: 1 })
    const target = buildModel(mlp, { seed: 2 })
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'layerlab-weights-')), 'weights.bin')
    const bytes = await saveWeights(source, file)
    expect(fs.statSync(file).size).toBe(bytes)
    expect(fs.readdirSync(path.dirname(file))).toEqual(['weights.bin'])
    const x = tf.randomNormal([4, 64], 0, 1, 'float32', 1)
    const before = (target.predict(x) as tf.Tensor).arraySync()
    await loadWeights(target, file)
    expect((target.predict(x) as tf.Tensor).arraySync()).toEqual((source.predict(x) as tf.Tensor).arraySync())
    expect((target.predict(x) as tf.Tensor).arraySync()).not.toEqual(before)
    const other = buildModel(defaultModel({ inputShape: [64], classes: 10 }, { hidden: [13] }).spec, { seed: 1 })
    await expect(loadWeights(other, file)).rejects.toThrow(/weight layer0_dense\/kernel has shape \[64,12\] but the model needs \[64,13\]/)
    fs.writeFileSync(file, 'not weights')
    await expect(loadWeights(target, file)).rejects.toThrow(/not a LayerLab weights file/)
  })
})
