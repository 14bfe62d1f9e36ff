/**
 * The split and the recipe are fitted in the import worker (a 5M-row table's fit is about a second, which the main
 * thread's event loop must not wait through): what comes back and what is written equal prepare.ts's fitTable run
 * here on the same column files, on import and on a refit.
 */
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openTestServices, type TestServices } from '../../fixtures/home'
import { fitTable, readSplit, type TableMeta } from '../../../main/data/prepare'
import { readJson } from '../../../main/data/storage'
import type { ParseSettings } from '../../../main/shared/contract'
import { threeClassRows } from './helpers'

let lab: TestServices
beforeAll(async () => {
  lab = await openTestServices()
})
afterAll(async () => {
  await lab.close()
})

/** fitTable here, on the stored dataset's files and settings. */
async function fittedHere(datasetId: string) {
  const row = (await lab.datasets.get(datasetId)) as unknown as { name: string; target: string; parse: ParseSettings }
  const dir = path.join(lab.home, 'datasets', datasetId)
  return { dir, fitted: await fitTable(row.name, dir, readJson<TableMeta>(path.join(dir, 'meta.json')), row.target, row.parse, []) }
}

describe('fitting in the import worker', () => {
  it('stores the recipe and writes the split that fitTable gives on the same files, on import and on a refit', async () => {
    // Missing values and a date column, so imputation and date parts are part of what is compared.
    const lines = ['a,b,when,label', ...threeClassRows(3_000).map((r, i) => `${i % 11 ? r.a : ''},${r.b},2024-0${1 + (i % 9)}-1${i % 10},${r.label}`)]
    const summary = await lab.datasets.import({ path: lab.write('fit.csv', lines.join('\n')) })
    for (const step of ['import', 'refit']) {
      const { dir, fitted } = await fittedHere(summary.datasetId)
      expect(await lab.datasets.getRecipe(summary.datasetId), step).toEqual(fitted.recipe)
      const stored = await lab.datasets.get(summary.datasetId)
      expect(stored.split).toMatchObject({ train: fitted.split.train.length, val: fitted.split.val.length, test: fitted.split.test.length })
      const written = readSplit(dir, {
        train: fitted.split.train.length,
        val: fitted.split.val.length,
        test: fitted.split.test.length,
        seed: fitted.split.seed
      })
      expect(Array.from(written.train), step).toEqual(Array.from(fitted.split.train))
      expect(Array.from(written.test), step).toEqual(Array.from(fitted.split.test))
      if (step === 'import') await lab.datasets.update({ datasetId: summary.datasetId, preparation: { impute: 'median', scaling: 'minmax' } })
    }
    expect(((await lab.datasets.getRecipe(summary.datasetId)) as { scaling?: string }).scaling).toBe('minmax')
  })
})
