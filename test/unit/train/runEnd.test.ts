/**
 * The end of a run (issue 20): a whole-model stage's validation gives the run's validation accuracy for the epoch
 * it keeps, so the run's end does not score that part again. The figures must be those of scoring every part again
 * with the returned model, as the run's end did before: a small CNN (through tfjs's layers and the inference conv
 * kernel) end-to-end, stopped early so that the weights kept are not the last epoch's, and layer-wise with a
 * fine-tune.
 */
import * as tf from '@tensorflow/tfjs'
import { beforeAll, describe, expect, it } from 'vitest'
import { trainConfig, type TrainConfig } from '../../../main/shared/contract'
import { activateBackend, planBackend } from '../../../main/core/backend'
import { defaultModel } from '../../../main/model/presets'
import { train } from '../../../main/train/engine'
import { assess } from '../../../main/train/evaluate'
import { partFeatures } from '../../../main/train/features'
import { objectiveFor } from '../../../main/train/objective'
import { digitImages } from '../../fixtures/digits'
import { classified } from '../../fixtures/figures'

beforeAll(async () => {
  await activateBackend(tf, planBackend({}))
})

const data = digitImages(300, 120, 120)

async function runAndRescore(config: TrainConfig, blockEpochs: number) {
  const { spec, partition } = defaultModel({ inputShape: data.inputShape, classes: 10 }, { preset: 'small-cnn' })
  const blocks = { blocks: partition.blocks.map((block) => ({ ...block, settings: { ...block.settings, epochs: blockEpochs } })) }
  const valAccuracies: number[] = []
  const outcome = await train({ spec, partition: blocks, config, data }, { onEpoch: (row) => valAccuracies.push(row.valAccuracy ?? NaN) })
  const chain = { layers: outcome.model.layers, specs: spec.layers }
  const objective = objectiveFor(data, config)
  const [test, val, trainPart] = await Promise.all(
    [data.test, data.val, data.train].map((part) => assess(chain, partFeatures(part, data.inputShape), objective, true))
  )
  outcome.model.dispose()
  return { outcome, metrics: classified(outcome.metrics), test: test!, val: val!, train: trainPart!, valAccuracies }
}

describe("a run's end", () => {
  it('end-to-end, stopped early: the validation accuracy of scoring the part again with the weights kept', async () => {
    const run = await runAndRescore(trainConfig.parse({ epochs: 12, patience: 2, batchSize: 32, seed: 5 }), 12)
    // Stopped early: the kept epoch is not the last one scored.
    expect(run.outcome.epochsRun).toBeLessThan(12)
    expect(run.metrics.valAccuracy).toBe(run.val.score)
    expect(run.metrics.testAccuracy).toBe(run.test.score)
    expect(run.metrics.testLoss).toBe(run.test.loss)
    expect(run.metrics.trainAccuracy).toBe(run.train.score)
  })

  it('layer-wise with a fine-tune: the fine-tune keeps its best epoch, and the figures are the re-scored ones', async () => {
    const config = trainConfig.parse({ mode: 'layer-wise', fineTune: { enabled: true, epochs: 3 }, batchSize: 32, seed: 9 })
    const run = await runAndRescore(config, 2)
    expect(run.metrics.valAccuracy).toBe(run.val.score)
    expect(run.metrics.testAccuracy).toBe(run.test.score)
    expect(run.metrics.trainAccuracy).toBe(run.train.score)
  })
})
