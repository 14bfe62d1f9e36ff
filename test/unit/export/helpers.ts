/** Test helpers of the export tests: deterministic random weights and stand-in runs (the digits are in test/fixtures). */
import * as tf from '@tensorflow/tfjs'
import type { BlockSettings, RunDetail } from '../../../main/shared/contract'
import { seededRandom } from '../../../main/core/random'

/** Seeded random numbers, so every run tests the same weights. */
export const seeded = seededRandom

/**
 * Replaces every weight with seeded random values: kernels and biases in ±0.5 (non-zero biases exercise the
 * bias path), batch-norm moving variance in [0.5, 1.5) and moving mean / gamma / beta away from their
 * defaults, so an exporter that ignored them would be caught.
 */
export function randomizeWeights(model: tf.LayersModel, seed = 1): void {
  const rand = seeded(seed)
  for (const layer of model.layers) {
    const values = layer.weights.map((w) => {
      const shape = w.shape as number[]
      const size = shape.reduce((a, b) => a * b, 1)
      const kind = w.originalName.split('/').pop()
      const data = new Float32Array(size)
      for (let i = 0; i < size; i++) {
        const r = rand()
        data[i] = kind === 'moving_variance' ? 0.5 + r : kind === 'gamma' ? 0.5 + r : r - 0.5
      }
      return tf.tensor(data, shape)
    })
    if (values.length) layer.setWeights(values)
    values.forEach((v) => v.dispose())
  }
}

/** Block settings for stand-in runs (the export tests never train with them). */
export const standInSettings: BlockSettings = {
  optimizer: 'adam',
  learningRate: 0.001,
  momentum: 0.9,
  weightDecay: 0,
  epochs: 1,
  patience: 0,
  freezeAfter: true,
  schedule: 'constant',
  lars: false,
  head: 'linear',
  localLoss: 'none',
  localLossWeight: 1
}

/** A completed run as RunStore.get returns it, for tests that stand in for the store: they give what matters to them. */
export function standInRun(fields: Pick<RunDetail, 'runId' | 'name' | 'datasetId' | 'mode' | 'spec' | 'partition' | 'artifacts'>): RunDetail {
  return {
    datasetName: 'digits',
    task: 'classification',
    status: 'completed',
    backend: 'cpu',
    seed: 1,
    metrics: null,
    tags: [],
    notes: '',
    error: null,
    createdAt: '2026-01-01T00:00:00.000Z',
    startedAt: null,
    endedAt: null,
    config: {
      loss: 'mse',
      classWeights: 'none',
      mode: fields.mode,
      epochs: 1,
      batchSize: 32,
      seed: 1,
      patience: 0,
      fineTune: { enabled: false, epochs: 1, learningRateFactor: 0.1 },
      freezeOut: { enabled: false, firstFreeze: 0.8 },
      decoupled: { pipeline: false, queue: 2 },
      gradualUnfreeze: false,
      augment: false,
      augmentFlip: false,
      backend: 'auto'
    },
    epochs: [],
    blocks: [],
    evaluation: null,
    timing: null,
    peakRssBytes: null,
    resources: null,
    ...fields
  }
}
