/**
 * What a run costs (issue 18): every run carries its step tensor peaks per stage, RSS, time and examples, and the
 * figures show what layer-wise training saves: a block stage holds one block's activations, end-to-end all.
 * Tensor bytes are counted by tfjs itself, the same for the same shapes on every machine and load, so these are
 * exact comparisons, not timings.
 */
import * as tf from '@tensorflow/tfjs'
import { beforeAll, describe, expect, it } from 'vitest'
import { trainConfig, type Partition, type RunResources, type TrainConfig } from '../../../main/shared/contract'
import { activateBackend, planBackend } from '../../../main/core/backend'
import { defaultModel } from '../../../main/model/presets'
import { train } from '../../../main/train/engine'
import { loadDigits, makeStripeImages } from '../../fixtures/digits'

const images = makeStripeImages(96, 16, 5)
const config = (overrides: Partial<TrainConfig>): TrainConfig => trainConfig.parse({ batchSize: 16, patience: 0, ...overrides })

beforeAll(async () => {
  await activateBackend(tf, planBackend({}))
})

async function run(mode: TrainConfig['mode'], change: (partition: Partition) => void = () => {}, overrides: Partial<TrainConfig> = {}) {
  const { spec, partition } = defaultModel({ inputShape: [16, 16, 1], classes: 2 }, { preset: 'small-cnn' })
  for (const block of partition.blocks) block.settings = { ...block.settings, epochs: 1, patience: 0 }
  change(partition)
  const outcome = await train({
    spec,
    partition,
    config: config({ mode, epochs: 2, fineTune: { enabled: true, epochs: 1, learningRateFactor: 0.1 }, ...overrides }),
    data: images,
    cacheDir: null
  })
  outcome.model.dispose()
  return outcome.resources
}

const stagePeak = (resources: RunResources, phase: string) =>
  Math.max(...resources.stages.filter((s) => s.phase === phase).map((s) => s.stepPeakBytes))

describe('run resources', () => {
  it('are recorded for every stage: step tensor peak, RSS, time, examples (epochs × training rows)', async () => {
    const e2e = await run('end-to-end')
    expect(e2e.stages).toHaveLength(1)
    expect(e2e.stages[0]).toMatchObject({ phase: 'end-to-end', block: -1, blocks: 3, examples: 2 * images.train.n })
    expect(e2e.examples).toBe(2 * images.train.n)
    const layerWise = await run('layer-wise')
    expect(layerWise.stages.map((s) => [s.phase, s.block, s.blocks])).toEqual([
      ['block', 0, 1],
      ['block', 1, 1],
      ['block', 2, 1],
      ['finetune', -1, 3]
    ])
    expect(layerWise.examples).toBe(4 * images.train.n)
    for (const resources of [e2e, layerWise]) {
      expect(resources.stepPeakBytes).toBe(Math.max(...resources.stages.map((s) => s.stepPeakBytes)))
      expect(resources.peakRssBytes).toBeGreaterThan(10 * 2 ** 20)
      expect(resources.wallMs).toBeGreaterThan(0)
      expect(resources.pipeline).toBeNull()
      for (const stage of resources.stages) {
        expect(stage.stepPeakBytes).toBeGreaterThan(0)
        expect(stage.peakRssBytes).toBeGreaterThan(0)
        expect(stage.ms).toBeGreaterThan(0)
      }
      if (tf.getBackend() === 'wasm') expect(resources.backendHeapBytes).toBeGreaterThan(0)
    }
    // A block stage keeps one block's activations for its backward pass; end-to-end keeps the whole model's.
    expect(stagePeak(layerWise, 'block')).toBeLessThan(0.75 * e2e.stepPeakBytes)
    // The default fine-tune trains every block, as end-to-end does: about its memory.
    expect(stagePeak(layerWise, 'finetune')).toBeGreaterThan(0.8 * e2e.stepPeakBytes)
  })

  it('keeps a block frozen in the fine-tune off the gradient tape: the whole run then stays below end-to-end', async () => {
    const e2e = await run('end-to-end')
    const full = await run('layer-wise')
    const upper = await run('layer-wise', (partition) => {
      partition.blocks[0]!.settings.freezeAfter = true
    })
    expect(upper.stages.at(-1)).toMatchObject({ phase: 'finetune', blocks: 2 })
    expect(stagePeak(upper, 'finetune')).toBeLessThan(0.75 * stagePeak(full, 'finetune'))
    expect(upper.stepPeakBytes).toBeLessThan(0.75 * e2e.stepPeakBytes)
  })
})

describe('step memory on the fused dense kernel', () => {
  /** The digits MLP: end-to-end and layer-wise, on the fused kernel or on the tape-free tfjs step under tf.profile. */
  async function digitsRun(mode: TrainConfig['mode'], fusedDense: boolean) {
    const data = await loadDigits()
    const { spec, partition } = defaultModel({ inputShape: data.inputShape, classes: 10 })
    for (const block of partition.blocks) block.settings = { ...block.settings, epochs: 1, patience: 0 }
    const outcome = await train({
      spec,
      partition,
      config: trainConfig.parse({ mode, epochs: 1, batchSize: 32, patience: 0, fineTune: { enabled: true, epochs: 1, learningRateFactor: 0.1 } }),
      data,
      cacheDir: null,
      fusedDense
    })
    outcome.model.dispose()
    return outcome.resources
  }

  it('counts what a step works in, as the tfjs step measures it (not the kernel with its copy of the rows), so layer-wise is lower there too', async () => {
    const fused = { e2e: await digitsRun('end-to-end', true), lw: await digitsRun('layer-wise', true) }
    const tfjs = { e2e: await digitsRun('end-to-end', false), lw: await digitsRun('layer-wise', false) }
    // The same quantity: within 30 % of tf.profile's figure for the same stage (the kernel keeps transposed copies
    // of the kernels for the input gradient, 44 KB here, where tfjs reads them transposed in place).
    for (const [a, b] of [
      [fused.e2e.stepPeakBytes, tfjs.e2e.stepPeakBytes],
      [stagePeak(fused.lw, 'block'), stagePeak(tfjs.lw, 'block')]
    ] as const)
      expect(Math.abs(a - b) / b).toBeLessThan(0.3)
    // Not the kernel's whole memory, which also holds its copy of the training and validation rows (1,527 × 64 floats).
    expect(fused.e2e.stepPeakBytes).toBeLessThan(tfjs.e2e.stepPeakBytes + 1527 * 64 * 4)
    // A block stage's step holds one block's activations and moments: lower than end-to-end's.
    expect(stagePeak(fused.lw, 'block')).toBeLessThan(fused.e2e.stepPeakBytes)
  })
})
