/**
 * The recipe's standard scaling of a column without missing values is fitted in two weighted passes over the whole
 * column file (columnPasses.ts standardMasked) instead of gathering the train rows: the same sums in the same order, so
 * the same bits as the passes over the gathered rows, which still fit the other columns.
 */
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { importCsv } from '../../../main/data/importCsv'
import { type TableColumnChoice, fitTableRecipe } from '../../../main/data/recipe'
import { stratifiedSplit } from '../../../main/data/split'
import { seededRandom } from '../../../main/core/random'
import { duckAndFolder } from './helpers'

const tables = duckAndFolder('layerlab-recipe-')

describe('recipe fit', () => {
  it('gives the bits of the passes over the gathered train rows', async () => {
    const random = seededRandom(11)
    const lines = ['wide,small,int,constant,big,gaps,label']
    for (let i = 0; i < 30_000; i++) {
      const wide = (random() * 2e6 - 1e6).toFixed(3)
      const small = (random() * 1e-3).toExponential(6)
      const gaps = i % 17 === 0 ? '' : (random() * 10).toFixed(2)
      lines.push(`${wide},${small},${i % 97},7.25,${1e9 + random()},${gaps},${['a', 'b', 'c'][i % 3]}`)
    }
    const file = path.join(tables.root, 'fit.csv')
    fs.writeFileSync(file, lines.join('\n') + '\n')
    const dir = fs.mkdtempSync(path.join(tables.root, 'table-'))
    const imported = await importCsv(file, dir, await tables.dialectOf(file), tables.connection)
    const classes = Int32Array.from({ length: imported.rows }, (_, i) => i % 3)
    const { train } = stratifiedSplit(classes)
    const features: TableColumnChoice[] = imported.columns.slice(0, -1).map((stats, index) => ({ index, stats, type: 'number' }))
    // The weighted passes take a column only when its stats say it has no missing value; saying it has one sends
    // the same column through the gathered rows.
    const gathered = features.map((choice) => ({ ...choice, stats: { ...choice.stats, missing: choice.stats.missing || 1 } }))
    const fast = fitTableRecipe(dir, features, 'label', ['a', 'b', 'c'], train)
    const slow = fitTableRecipe(dir, gathered, 'label', ['a', 'b', 'c'], train)
    expect(fast).toEqual(slow)
    expect(fast.affine!.scale[3]).toBe(1)
    expect(fast.columns.map((column) => column.impute)).toEqual(slow.columns.map((column) => column.impute))
    // Five such columns: a group of four read side by side and one alone (its lanes repeat it). Each column's sums
    // are its own chain, so fitting a column alone gives its bits in the group.
    features.forEach((choice, i) => {
      const alone = fitTableRecipe(dir, [choice], 'label', ['a', 'b', 'c'], train)
      expect([alone.affine!.offset[0], alone.affine!.scale[0], alone.columns[0]!.impute]).toEqual([
        fast.affine!.offset[i],
        fast.affine!.scale[i],
        fast.columns[i]!.impute
      ])
    })
  })
})
