/**
 * A run with a local loss through the TrainingService (a real worker thread, the real SQLite store): it trains,
 * and the run is stored with the setting, so its detail, the Compare view and a re-run see what it trained with.
 */
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { trainConfig } from '../../../main/shared/contract'
import { LabError } from '../../../main/shared/errors'
import { SqliteDb } from '../../../main/store/db'
import { RunStore } from '../../../main/store/runs'
import { TrainingService, type TrainingData } from '../../../main/train/service'
import { insertDataset } from '../store/helpers'
import { tempHome } from '../../fixtures/home'
import { digitsSummary, loadDigits } from '../../fixtures/digits'
import { classified } from '../../fixtures/figures'

const digits: TrainingData = {
  get: async (datasetId) => {
    if (datasetId !== digitsSummary.datasetId) throw new LabError(`dataset ${datasetId} not found`, 'not_found')
    return digitsSummary
  },
  loadPrepared: async () => loadDigits()
}

let home: string
let db: SqliteDb
let runs: RunStore

beforeAll(async () => {
  home = tempHome('layerlab-localloss-')
  db = await SqliteDb.open(path.join(home, 'layerlab.sqlite'))
  await insertDataset(db, 'ds-digits', 'digits')
  runs = new RunStore(db, home)
})
afterAll(async () => {
  await db.close()
})

describe('a run with a local loss', () => {
  it('trains layer-wise with predsim in the worker and is stored with the setting', async () => {
    const training = new TrainingService(digits, runs, home, () => undefined)
    const { spec, partition } = await training.defaultModel({ datasetId: 'ds-digits' })
    for (const block of partition.blocks) block.settings = { ...block.settings, epochs: 3, localLoss: 'predsim', localLossWeight: 0.5 }
    const { runId } = await training.start({
      datasetId: 'ds-digits',
      spec,
      partition,
      config: trainConfig.parse({ mode: 'layer-wise' }),
      name: 'predsim'
    })
    const done = await training.waitFor(runId)
    expect(done.status).toBe('completed')
    expect(classified(done.metrics).testAccuracy).toBeGreaterThan(0.85)
    const detail = await runs.get(runId)
    expect(detail.partition.blocks.map((b) => [b.settings.localLoss, b.settings.localLossWeight])).toEqual([
      ['predsim', 0.5],
      ['predsim', 0.5]
    ])
    // The first block's head scored; its stage trained through the tape (the local term), its step was measured.
    expect(detail.blocks[0]!.headValAccuracy).toBeGreaterThan(0.5)
    expect(detail.resources!.stages[0]!.stepPeakBytes).toBeGreaterThan(0)
  })
})
