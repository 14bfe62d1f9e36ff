/**
 * The passes after a scan on two threads (columnHelper.ts): the histograms past the vocabulary and the recipe's
 * feature columns computed half on the helper give the same column files, stats, profile, split and recipe as on
 * one thread; a helper that is gone, or a share that fails there, leaves the work (and its error) to this thread.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createHash } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { type Duck, openDuck } from '../../../main/data/duck'
import { importTableFile } from '../../../main/data/importFile'
import { ColumnHelper } from '../../../main/data/columnHelper'
import { type TableMeta, fitTable, fitTableShared } from '../../../main/data/prepare'
import { fitRecipeColumns, recipeSettings } from '../../../main/data/recipe'
import type { TableImport } from '../../../main/data/importResult'
import { DEFAULT_PREPARATION, type ParseSettings } from '../../../main/shared/contract'
import { LabError } from '../../../main/shared/errors'

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'layerlab-helper-'))
let duck: Duck
let helper: ColumnHelper
beforeAll(async () => {
  duck = await openDuck({ threads: 2 })
  helper = new ColumnHelper()
})
afterAll(async () => {
  await helper.close()
  duck.close()
  fs.rmSync(root, { recursive: true, force: true })
})

const ROWS = 30_000
/** Two columns past the vocabulary (30,000 distinct values, some missing: histograms from the file), one within it, a constant, a date, a category, the label. */
function table(): string {
  const lines = ['wide,wider,small,same,when,word,label']
  for (let i = 0; i < ROWS; i++) {
    const wide = i % 97 === 0 ? '' : ((i * 7919) % 100_003) / 7
    const wider = Math.sin(i) * 1e6
    lines.push(
      `${wide},${wider},${i % 41},5,2024-0${1 + (i % 9)}-1${i % 10},${['red', 'green', 'blue'][i % 3]},${['low', 'mid', 'high'][(i * 13) % 3]}`
    )
  }
  return lines.join('\n')
}

/** Every file of a dataset folder by its sha256 (a deep comparison of the bytes themselves takes seconds). */
function filesOf(dir: string): Record<string, string> {
  return Object.fromEntries(
    fs
      .readdirSync(dir)
      .sort()
      .map((name) => [
        name,
        createHash('sha256')
          .update(fs.readFileSync(path.join(dir, name)))
          .digest('hex')
      ])
  )
}

async function imported(file: string, name: string, withHelper: boolean): Promise<{ dir: string; result: TableImport }> {
  const dir = path.join(root, name)
  fs.mkdirSync(dir)
  const result = await importTableFile({ file, dir, overrides: {}, ...(withHelper ? { helper } : {}) }, duck.connection)
  return { dir, result }
}

const parseOf = (result: TableImport, task?: 'regression'): ParseSettings => ({
  kind: 'table',
  ...(result.settings ? { csv: result.settings } : {}),
  table: result.source,
  requested: {},
  overrides: {},
  preparation: DEFAULT_PREPARATION,
  ...(task ? { task } : {})
})

describe('the column helper', () => {
  it('gives the same files, stats, profile, split and recipe as one thread, for classes and for a number', async () => {
    const file = path.join(root, 'table.csv')
    fs.writeFileSync(file, table())
    const alone = await imported(file, 'alone', false)
    const shared = await imported(file, 'shared', true)
    expect(alone.result.columns.filter((stats) => stats.histogram && !stats.vocab).map((stats) => stats.name)).toEqual(['wide', 'wider'])
    expect(shared.result).toEqual(alone.result)
    expect(filesOf(shared.dir)).toEqual(filesOf(alone.dir))
    for (const [target, task] of [
      ['label', undefined],
      ['wide', 'regression']
    ] as const) {
      const meta: TableMeta = { kind: 'table', rows: ROWS, columns: alone.result.columns }
      const here = fitTable('t', alone.dir, meta, target, parseOf(alone.result, task), [])
      const both = await fitTableShared('t', shared.dir, meta, target, parseOf(shared.result, task), [], helper)
      expect(both.recipe.featureNames.length, target).toBeGreaterThan(3)
      expect(both.profile, target).toEqual(here.profile)
      expect(both.recipe, target).toEqual(here.recipe)
      for (const part of ['train', 'val', 'test'] as const)
        expect(Array.from(both.split[part]), `${target} ${part}`).toEqual(Array.from(here.split[part]))
    }
    expect(helper.dead).toBe(false)
  })

  it("leaves the work to this thread when the helper is gone, and a share's error surfaces as this thread's", async () => {
    const file = path.join(root, 'again.csv')
    fs.writeFileSync(file, table())
    const { dir, result } = await imported(file, 'again', true)
    const settings = recipeSettings()
    const train = Int32Array.from({ length: 2_000 }, (_, i) => i * 3)
    const choices = result.columns.map((stats, index) => ({ index, stats, type: stats.numeric ? ('number' as const) : ('category' as const) }))
    const expected = fitRecipeColumns(dir, choices, train, settings)
    // "word" as a number: the helper's share throws there; this thread computes it again and throws the LabError.
    const wrong = choices.map((choice) => (choice.stats.name === 'word' ? { ...choice, type: 'number' as const } : choice))
    expect(wrong.findIndex((choice) => choice.stats.name === 'word') % 2).toBe(1)
    await expect(helper.share('recipeColumns', { dir, train, settings }, wrong)).rejects.toThrow(LabError)
    await expect(helper.share('recipeColumns', { dir, train, settings }, wrong)).rejects.toThrow(/column "word": not all values are numbers/)
    const gone = new ColumnHelper()
    await gone.close()
    expect(gone.dead).toBe(true)
    expect(await gone.share('recipeColumns', { dir, train, settings }, choices)).toEqual(expected)
    expect(await helper.share('recipeColumns', { dir, train, settings }, choices)).toEqual(expected)
  })
})
