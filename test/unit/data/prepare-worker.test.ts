/**
 * A run's data (the split, its recipe, the prepared parts) is made in the import worker for a big dataset (the event
 * loop must not wait through a million rows' encoding) and on the calling thread for a small one: both give the same
 * arrays, for the stored split and for a study's fold split with its refitted recipe.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openTestServices, type TestServices } from '../../fixtures/home'
import { DatasetService } from '../../../main/data/service'
import { DatasetStore } from '../../../main/store/datasets'
import type { PreparedData } from '../../../main/data/types'
import { threeClassRows } from './helpers'

let lab: TestServices
let inWorker: DatasetService
beforeAll(async () => {
  lab = await openTestServices()
  // The same store and files, every dataset prepared in the worker.
  inWorker = new DatasetService({ store: new DatasetStore(lab.db), runs: lab.runs, home: lab.home, emit: () => undefined, inlinePrepareCells: 0 })
})
afterAll(async () => {
  await inWorker.close()
  await lab.close()
})

const arrays = (data: PreparedData) =>
  (['train', 'val', 'test'] as const).map((part) => ({ x: Array.from(data[part].x), y: Array.from(data[part].y), rows: Array.from(data[part].rows) }))

describe('preparing a run’s data', () => {
  it('gives the same parts and recipe in the import worker as on the calling thread', async () => {
    const lines = ['a,b,c,label', ...threeClassRows(2_000).map((r, i) => `${i % 13 ? r.a : ''},${r.b},${['p', 'q', 'r'][i % 3]},${r.label}`)]
    const { datasetId } = await lab.datasets.import({ path: lab.write('prep.csv', lines.join('\n')) })
    for (const split of [undefined, { kind: 'fold' as const, folds: 5, fold: 2, seed: 7 }]) {
      const here = await lab.datasets.loadPrepared(datasetId, split)
      const there = await inWorker.loadPrepared(datasetId, split)
      expect(there.train.n).toBeGreaterThan(1_000)
      expect(arrays(there)).toEqual(arrays(here))
      expect({ ...there, train: null, val: null, test: null }).toEqual({ ...here, train: null, val: null, test: null })
      expect(await inWorker.getRecipe(datasetId, split)).toEqual(await lab.datasets.getRecipe(datasetId, split))
    }
  })
})
