/**
 * After the read, the histogram passes over the column files (scan.ts finishColumns) and the recipe's standard
 * scaling fits (prepare.ts fitTable) run every other one on the import helper thread: the counts and the bits must be
 * those of one thread, and the helper must really take part (its counters).
 */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { importCsv } from '../../../main/data/importCsv'
import { importHelper } from '../../../main/data/importHelper'
import { fitTable } from '../../../main/data/prepare'
import { Histogram } from '../../../main/data/profile'
import { type TableColumnChoice, type TableRecipe, fitTableRecipe } from '../../../main/data/recipe'
import { columnFile, readF64 } from '../../../main/data/storage'
import { DEFAULT_PREPARATION } from '../../../main/shared/contract'
import { seededRandom } from '../../../main/core/random'
import { duckAndFolder } from './helpers'

const tables = duckAndFolder('layerlab-helper-passes-')

describe('the passes after the read, on two threads', () => {
  it('give the histograms and the recipe of one thread', async () => {
    const random = seededRandom(23)
    // 70,000 rows (above HELPED_ROWS), nine numeric columns: five histogram passes here and four on the helper;
    // eight columns without missing values, two groups of four, one fitted on each thread.
    const lines = ['a,b,c,d,e,f,g,h,gaps,label']
    for (let i = 0; i < 70_000; i++) {
      const row = Array.from({ length: 8 }, (_, c) => (random() * 10 ** c - 3).toFixed(4))
      lines.push(`${row.join(',')},${i % 13 === 0 ? '' : random().toFixed(6)},${['x', 'y', 'z'][i % 3]}`)
    }
    const file = path.join(tables.root, 'wide.csv')
    fs.writeFileSync(file, lines.join('\n') + '\n')
    const dir = fs.mkdtempSync(path.join(tables.root, 'table-'))
    const helper = importHelper()!
    const histogramsBefore = helper.histograms
    const imported = await importCsv(file, dir, await tables.dialectOf(file), tables.connection)
    expect(helper.histograms - histogramsBefore).toBe(4)
    imported.columns.forEach((stats, index) => {
      if (!stats.numeric) return
      // The reference: profile.ts's Histogram, a value at a time.
      const reference = new Histogram(stats.min, stats.max)
      for (const value of readF64(columnFile(dir, index, 'f64'))) reference.add(value)
      expect(stats.histogram, stats.name).toEqual(reference.bins)
    })

    const groupsBefore = helper.maskedGroups
    const meta = { kind: 'table' as const, rows: imported.rows, columns: imported.columns }
    const parse = { kind: 'table' as const, table: imported.source, requested: {}, overrides: {}, preparation: DEFAULT_PREPARATION }
    const fitted = await fitTable('wide', dir, meta, 'label', parse, [])
    expect(helper.maskedGroups - groupsBefore).toBe(1)
    const features: TableColumnChoice[] = imported.columns.slice(0, -1).map((stats, index) => ({ index, stats, type: 'number' }))
    const oneThread = fitTableRecipe(dir, features, 'label', ['x', 'y', 'z'], fitted.split.train)
    const recipe = fitted.recipe as TableRecipe
    expect(recipe.affine).toEqual(oneThread.affine)
    expect(recipe.columns).toEqual(oneThread.columns)
  })
})
