/**
 * The whole path a user takes, with the real data service: import the bundled digits CSV, take the default
 * model, train it in the worker with the contract's default TrainConfig in both modes. The accuracy floors
 * hold on the data service's own stored split and standardisation, not only on the test helper's.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { trainConfig } from '../../../main/shared/contract'
import { TrainingService } from '../../../main/train/service'
import { openTestServices, type TestServices } from '../../fixtures/home'
import { DIGITS_CSV } from '../../fixtures/digits'
import { classified } from '../../fixtures/figures'

let services: TestServices
let training: TrainingService
let datasetId: string

beforeAll(async () => {
  services = await openTestServices('layerlab-lab-')
  const summary = await services.datasets.import({ path: DIGITS_CSV, target: 'digit' })
  datasetId = summary.datasetId
  training = new TrainingService(services.datasets, services.runs, services.home, () => undefined)
})
afterAll(async () => {
  await training.shutdown()
  await services.close()
})

describe('digits through the data service, with every default', () => {
  const accuracy: Record<string, number> = {}
  for (const mode of ['end-to-end', 'layer-wise'] as const) {
    it(`reaches the floor ${mode}`, async () => {
      const { spec, partition } = await training.defaultModel({ datasetId })
      const { runId } = await training.start({ datasetId, spec, partition, config: trainConfig.parse({ mode }) })
      const done = await training.waitFor(runId)
      expect(done.error).toBeNull()
      expect(done.datasetName).toBe('digits')
      accuracy[mode] = classified(done.metrics).testAccuracy
      console.log(`digits via the data service, ${mode} on ${done.backend}: test ${(accuracy[mode] * 100).toFixed(2)} %`)
      expect(accuracy[mode]).toBeGreaterThanOrEqual(mode === 'end-to-end' ? 0.97 : 0.96)
    })
  }
  it('keeps layer-wise within 1.5 points of end-to-end', () => {
    expect(accuracy['end-to-end']! - accuracy['layer-wise']!).toBeLessThanOrEqual(0.015)
  })
})
