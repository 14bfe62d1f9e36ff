/** The predsim local loss (train/localLoss.ts): its value on hand-checked batches, its gradient, and runs that use it. */
import * as tf from '@tensorflow/tfjs'
import { beforeAll, describe, expect, it } from 'vitest'
import { trainConfig, type Partition, type TrainConfig } from '../../../main/shared/contract'
import { activateBackend, planBackend } from '../../../main/core/backend'
import { defaultModel } from '../../../main/model/presets'
import { buildLocalLoss, disposeLocalLoss, localLossVariables, similarityLoss, similarityMatrix } from '../../../main/train/localLoss'
import { train } from '../../../main/train/engine'
import { makeStripeImages } from '../../fixtures/digits'
import type { PreparedData } from '../../../main/data/types'

beforeAll(async () => {
  await activateBackend(tf, planBackend({}))
})

const values = (t: tf.Tensor) => Array.from(t.dataSync())

describe('predsim local loss', () => {
  it('matches the hand-worked value: 0 when outputs group as the labels do, 16/9 when one pair is swapped', () => {
    // Rows [1,0], [0,1], [1,0]: centred and normalised ±0.707, so their cosine similarities are ±1.
    const x = tf.tensor2d([
      [1, 0],
      [0, 1],
      [1, 0]
    ])
    expect(values(similarityMatrix(x)).map((v) => Math.round(v * 1e5) / 1e5)).toEqual([1, -1, 1, -1, 1, -1, 1, -1, 1])
    // Labels 0, 1, 0 (2 classes) have the same similarity matrix: nothing to match.
    expect(similarityLoss(x, tf.tensor1d([0, 1, 0], 'int32'), 2).dataSync()[0]).toBeCloseTo(0, 6)
    // Labels 0, 0, 1: the label matrix is [[1,1,-1],[1,1,-1],[-1,-1,1]]; four entries differ by 2 → 4·4/9.
    expect(similarityLoss(x, tf.tensor1d([0, 0, 1], 'int32'), 2).dataSync()[0]).toBeCloseTo(16 / 9, 5)
    // Image outputs: a row is each channel's standard deviation over the map; a map twice another has twice its
    // deviations, so the two are fully similar.
    const map = tf.tensor4d([1, -1, 2, 0, 3, 1, -2, 4, 0, 0, 1, 5, 2, 2, -1, 3], [1, 2, 2, 4])
    const twice = tf.concat([map, tf.mul(map, 2)])
    expect(values(similarityMatrix(twice))).toEqual([1, 1, 1, 1].map(() => expect.closeTo(1, 5)))
  })

  it('has the gradient tf.grads computes, checked against central differences', () => {
    const shape: [number, number, number, number] = [4, 3, 3, 5]
    const base = tf.randomNormal(shape, 0, 1, 'float32', 3)
    const labels = tf.tensor1d([0, 1, 0, 2], 'int32')
    const loss = (x: tf.Tensor) => similarityLoss(x, labels, 3)
    const analytic = values(tf.grad((x: tf.Tensor) => loss(x))(base))
    const at = values(base)
    const eps = 1e-2
    // A sample of coordinates (every 7th): each a float32 central difference.
    for (let i = 0; i < at.length; i += 7) {
      const plus = at.slice()
      const minus = at.slice()
      plus[i]! += eps
      minus[i]! -= eps
      const numeric = (loss(tf.tensor(plus, shape)).dataSync()[0]! - loss(tf.tensor(minus, shape)).dataSync()[0]!) / (2 * eps)
      expect(analytic[i]!, `coordinate ${i}`).toBeCloseTo(numeric, 2)
    }
    expect(analytic.some((g) => Math.abs(g) > 1e-3)).toBe(true)
  })

  it('builds a seeded projection (conv on image outputs, dense on flat ones), none when off or weighted 0', () => {
    const on = { localLoss: 'predsim', localLossWeight: 2 } as const
    const conv = buildLocalLoss(on, [7, 7, 16], 10, 1, 0)!
    expect(conv.projection.layers.map((l) => l.getClassName())).toEqual(['Conv2D'])
    expect(localLossVariables(conv).map((v) => v.shape)).toEqual([[3, 3, 16, 16], [16]])
    const again = buildLocalLoss(on, [7, 7, 16], 10, 1, 0)!
    expect(values(localLossVariables(again)[0]!)).toEqual(values(localLossVariables(conv)[0]!))
    const dense = buildLocalLoss(on, [32], 10, 1, 0)!
    expect(dense.projection.layers.map((l) => l.getClassName())).toEqual(['Dense'])
    expect(buildLocalLoss({ localLoss: 'none', localLossWeight: 2 }, [32], 10, 1, 0)).toBeNull()
    expect(buildLocalLoss({ localLoss: 'predsim', localLossWeight: 0 }, [32], 10, 1, 0)).toBeNull()
    const made = [conv, again, dense]
    const variables = made.flatMap(localLossVariables)
    made.forEach(disposeLocalLoss)
    expect(variables.every((v) => v.isDisposed)).toBe(true)
  })
})

describe('runs with a local loss', () => {
  const images = makeStripeImages(160, 8, 5)
  const setUp = (mode: TrainConfig['mode'], localLoss: 'none' | 'predsim', data: PreparedData = images) => {
    const { spec, partition } = defaultModel({ inputShape: data.inputShape, classes: data.labels.length }, { preset: 'small-cnn' })
    const blocks: Partition = {
      blocks: partition.blocks.map((block) => ({ ...block, settings: { ...block.settings, epochs: 2, patience: 0, localLoss, localLossWeight: 1 } }))
    }
    const config = trainConfig.parse({ mode, epochs: 2, batchSize: 16, seed: 3, fineTune: { enabled: false, epochs: 1, learningRateFactor: 0.1 } })
    return { spec, partition: blocks, config, data, cacheDir: null }
  }
  const weightsOf = (model: tf.Sequential) => model.layers[0]!.getWeights()[0]!.dataSync().slice()

  for (const mode of ['layer-wise', 'decoupled'] as const) {
    it(`trains ${mode} with predsim: the blocks learn other weights than without it, the heads still score`, async () => {
      const without = await train(setUp(mode, 'none'))
      const withLocal = await train(setUp(mode, 'predsim'))
      expect(withLocal.status).toBe('completed')
      expect(withLocal.blocks[0]!.headValAccuracy).toBeGreaterThan(0.6)
      const [a, b] = [weightsOf(without.model), weightsOf(withLocal.model)]
      expect(Math.max(...a.map((v, i) => Math.abs(v - b[i]!)))).toBeGreaterThan(1e-4)
      without.model.dispose()
      withLocal.model.dispose()
    })
  }

  it('refuses a local loss on a regression target with one line naming the block', async () => {
    const job = setUp('layer-wise', 'predsim')
    const part = (p: PreparedData['train']) => ({ ...p, y: Float32Array.from(p.y) })
    const regression: PreparedData = {
      ...images,
      task: 'regression',
      targetScale: { mean: 0, std: 1 },
      train: part(images.train),
      val: part(images.val),
      test: part(images.test)
    }
    await expect(train({ ...job, data: regression })).rejects.toThrow(/block "[^"]+": the predsim local loss needs classes/)
  })
})
