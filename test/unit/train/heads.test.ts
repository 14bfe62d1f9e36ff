/** Auxiliary heads: what each head setting builds on flat and image block outputs, and that each one trains. */
import * as tf from '@tensorflow/tfjs'
import { beforeAll, describe, expect, it } from 'vitest'
import { blockHead, trainConfig, type BlockHead } from '../../../main/shared/contract'
import { activateBackend, planBackend } from '../../../main/core/backend'
import { defaultModel } from '../../../main/model/presets'
import { AUTO_HEAD_FEATURES, HEAD_DESIGNS, buildHead, disposeHead, headDesign, headPool, materializeHead } from '../../../main/train/heads'
import { train } from '../../../main/train/engine'
import { makeStripeImages } from '../../fixtures/digits'

beforeAll(async () => {
  await activateBackend(tf, planBackend({}))
})

/** The head's layers by class name, with their output shapes after a run on zeros. */
function describeHead(outputShape: number[], kind: BlockHead, outputs = 10): Array<[string, number[]]> {
  const head = buildHead(outputShape, outputs, kind, 7, 0)
  materializeHead(head, outputShape)
  const shapes: Array<[string, number[]]> = []
  tf.tidy(() => {
    let x: tf.Tensor = tf.zeros([2, ...outputShape])
    for (const layer of head.layers) {
      x = layer.apply(x) as tf.Tensor
      shapes.push([layer.getClassName(), x.shape.slice(1)])
    }
  })
  disposeHead(head)
  return shapes
}

describe('auxiliary heads', () => {
  it('pools image outputs to 2×2 for linear and mlp (as before), to at most 2,048 values for auto, to 4×4 after a conv for conv', () => {
    expect(headPool(14, 14, 16, HEAD_DESIGNS.linear)).toEqual([7, 7])
    expect(headPool(7, 7, 32, HEAD_DESIGNS.linear)).toEqual([4, 4])
    expect(headPool(14, 7, 16, HEAD_DESIGNS.mlp)).toEqual([7, 4])
    // small-cnn on 28×28: 14×14×16 → 7×7×16 (784 values); 7×7×32 (1,568) kept as it is.
    expect(headPool(14, 14, 16, HEAD_DESIGNS.pooled)).toEqual([2, 2])
    expect(headPool(7, 7, 32, HEAD_DESIGNS.pooled)).toEqual([1, 1])
    // Bigger maps stay within the budget: 32×32×64 → 5×5×64 = 1,600.
    expect(headPool(32, 32, 64, HEAD_DESIGNS.pooled)).toEqual([7, 7])
    // More channels than the budget: pooled to one cell, never below.
    expect(headPool(2, 2, 4096, HEAD_DESIGNS.pooled)).toEqual([2, 2])
    expect(headPool(14, 14, 32, HEAD_DESIGNS.conv)).toEqual([4, 4])
    for (const [h, w, c] of [
      [28, 28, 16],
      [14, 14, 32],
      [9, 13, 8],
      [32, 32, 64]
    ] as const) {
      const [kh, kw] = headPool(h, w, c, HEAD_DESIGNS.pooled)
      expect(Math.ceil(h / kh) * Math.ceil(w / kw) * c).toBeLessThanOrEqual(AUTO_HEAD_FEATURES)
    }
  })

  it('builds each design: auto is linear on flat outputs and pooled-linear on images', () => {
    expect(headDesign('auto', [100])).toBe(HEAD_DESIGNS.linear)
    expect(headDesign('auto', [14, 14, 16])).toBe(HEAD_DESIGNS.pooled)
    expect(describeHead([100], 'auto')).toEqual([['Dense', [10]]])
    expect(describeHead([100], 'mlp')).toEqual([
      ['Dense', [64]],
      ['Dense', [10]]
    ])
    expect(describeHead([14, 14, 16], 'auto')).toEqual([
      ['AveragePooling2D', [7, 7, 16]],
      ['Flatten', [784]],
      ['Dense', [10]]
    ])
    // Small enough already: no pool at all.
    expect(describeHead([7, 7, 32], 'auto')).toEqual([
      ['Flatten', [1568]],
      ['Dense', [10]]
    ])
    expect(describeHead([14, 14, 16], 'linear')).toEqual([
      ['AveragePooling2D', [2, 2, 16]],
      ['Flatten', [64]],
      ['Dense', [10]]
    ])
    expect(describeHead([14, 14, 16], 'conv')).toEqual([
      ['Conv2D', [14, 14, 32]],
      ['AveragePooling2D', [4, 4, 32]],
      ['Flatten', [512]],
      ['Dense', [10]]
    ])
  })

  it('gives the same seed the same head weights and another block other ones', () => {
    const weights = (block: number, seed: number) => {
      const head = buildHead([14, 14, 16], 10, 'conv', seed, block)
      materializeHead(head, [14, 14, 16])
      const values = head.layers.flatMap((l) => l.getWeights().map((w) => Array.from(w.dataSync())))
      disposeHead(head)
      return values.flat()
    }
    expect(weights(0, 3)).toEqual(weights(0, 3))
    expect(weights(1, 3)).not.toEqual(weights(0, 3))
  })

  it('trains every head setting layer-wise on small images, each head above chance', async () => {
    const images = makeStripeImages(200, 8, 11)
    for (const kind of blockHead.options) {
      const { spec, partition } = defaultModel({ inputShape: [8, 8, 1], classes: 2 }, { preset: 'small-cnn' })
      for (const block of partition.blocks) block.settings = { ...block.settings, epochs: 3, patience: 0, learningRate: 0.003, head: kind }
      const config = trainConfig.parse({ mode: 'layer-wise', batchSize: 16, fineTune: { enabled: false, epochs: 1, learningRateFactor: 0.1 } })
      const outcome = await train({ spec, partition, config, data: images, cacheDir: null })
      outcome.model.dispose()
      expect(outcome.status).toBe('completed')
      // Stripes are vertical or horizontal: every head can tell them apart from the first block's output.
      expect(outcome.blocks[0]!.headValAccuracy, kind).toBeGreaterThan(0.6)
    }
  })
})
