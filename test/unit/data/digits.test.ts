import fs from 'node:fs'
import path from 'node:path'
import { parse } from 'csv-parse/sync'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openTestServices, type TestServices } from '../../fixtures/home'
import { DIGITS_CSV } from '../../fixtures/digits'
import { threeClassRows } from './helpers'
import type { TableRecipe } from '../../../main/data/recipe'
import { encodeNewData } from '../../../main/data/newData'
import { type DatasetSummary, datasetSummary } from '../../../main/shared/contract'

/** The digits file read independently of the importer: header and numeric rows. */
const [header, ...records] = parse(fs.readFileSync(DIGITS_CSV, 'utf8')) as string[][]
if (!header) throw new Error(`${DIGITS_CSV}: no header row`)
const data = records.map((row) => row.map(Number))
const pixelColumns = header.filter((name) => name !== 'digit')
const constantColumns = pixelColumns.filter((name) => {
  const c = header.indexOf(name)
  return data.every((row) => row[c] === data[0]![c])
})

let lab: TestServices
let summary: DatasetSummary
let copy: string
beforeAll(async () => {
  lab = await openTestServices()
  // Import a copy, then delete it: everything below must work from the materialised data alone.
  copy = lab.write('digits-copy.csv', fs.readFileSync(DIGITS_CSV))
  summary = await lab.datasets.import({ path: copy, name: 'digits' })
  fs.rmSync(copy)
})
afterAll(async () => {
  await lab.close()
})

describe('digits', () => {
  it('imports 1,797 rows, 10 classes, and leaves out the constant pixels', () => {
    expect(summary.rows).toBe(data.length)
    expect(summary.rows).toBe(1797)
    expect(summary.target).toBe('digit')
    expect(summary.classes.map((c) => c.label)).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'])
    expect(summary.classes.reduce((sum, c) => sum + c.count, 0)).toBe(1797)
    expect(constantColumns).toContain('p0_0')
    const excluded = summary.columns.filter((c) => c.role === 'excluded')
    expect(excluded.map((c) => c.name).sort()).toEqual([...constantColumns].sort())
    expect(excluded.every((c) => c.excludedReason === 'constant')).toBe(true)
    expect(summary.featureCount).toBe(64 - constantColumns.length)
    expect(summary.contentHash).toMatch(/^[0-9a-f]{64}$/)
    // The summary is what the contract says, with nothing extra.
    expect(datasetSummary.strict().parse(summary)).toEqual(summary)
  })

  it('splits 70/15/15, stratified by class', async () => {
    const { train, val, test } = summary.split
    expect(train + val + test).toBe(1797)
    const prepared = await lab.datasets.loadPrepared(summary.datasetId)
    const all = [...prepared.train.rows, ...prepared.val.rows, ...prepared.test.rows]
    expect(new Set(all).size).toBe(1797)
    const digitColumn = header.indexOf('digit')
    for (const part of [prepared.val, prepared.test]) {
      const perClass = new Array(10).fill(0)
      for (const row of part.rows) perClass[data[row]![digitColumn]!]++
      summary.classes.forEach((c, i) => expect(Math.abs(perClass[i] - c.count * 0.15)).toBeLessThanOrEqual(1))
    }
    // Labels follow the source rows.
    prepared.test.rows.forEach((row, i) => expect(prepared.labels[prepared.test.y[i]!]).toBe(String(data[row]![digitColumn])))
  })

  it('fits the scaling on the train rows only', async () => {
    const prepared = await lab.datasets.loadPrepared(summary.datasetId)
    const width = prepared.inputShape[0]!
    const meanOf = (x: Float32Array, n: number, f: number) => {
      let sum = 0
      for (let r = 0; r < n; r++) sum += x[r * width + f]!
      return sum / n
    }
    let largestTestMean = 0
    for (let f = 0; f < width; f++) {
      expect(Math.abs(meanOf(prepared.train.x, prepared.train.n, f))).toBeLessThan(1e-4)
      largestTestMean = Math.max(largestTestMean, Math.abs(meanOf(prepared.test.x, prepared.test.n, f)))
    }
    // Were the recipe fitted on all rows, the held-out parts would be centred too.
    expect(largestTestMean).toBeGreaterThan(0.01)
    const recipe = (await lab.datasets.getRecipe(summary.datasetId)) as TableRecipe
    const f = recipe.featureNames.indexOf('p3_4')
    const c = header.indexOf('p3_4')
    const trainMean = prepared.train.rows.reduce((sum, row) => sum + data[row]![c]!, 0) / prepared.train.n
    expect(recipe.affine!.offset[f]).toBeCloseTo(trainMean, 5)
  })

  it('loads the same prepared data every time', async () => {
    const a = await lab.datasets.loadPrepared(summary.datasetId)
    const b = await lab.datasets.loadPrepared(summary.datasetId)
    expect(b.train.rows).toEqual(a.train.rows)
    expect(b.test.x).toEqual(a.test.x)
    expect(b.val.y).toEqual(a.val.y)
    // A second import of the same file gets the same split (seed 42).
    const again = await lab.datasets.import({ path: DIGITS_CSV })
    const c = await lab.datasets.loadPrepared(again.datasetId)
    expect(c.test.rows).toEqual(a.test.rows)
    expect(again.contentHash).toBe(summary.contentHash)
    await lab.datasets.delete(again.datasetId)
  })

  it('previews the stored rows after the source is gone', async () => {
    expect(fs.existsSync(copy)).toBe(false)
    const preview = await lab.datasets.preview({ datasetId: summary.datasetId, offset: 1795, limit: 10 })
    expect(preview.total).toBe(1797)
    expect(preview.columns).toEqual(header)
    expect(preview.rows).toEqual(data.slice(1795))
  })

  it('encodes a new CSV exactly as the prepared test rows', async () => {
    const recipe = await lab.datasets.getRecipe(summary.datasetId)
    const prepared = await lab.datasets.loadPrepared(summary.datasetId)
    const width = prepared.inputShape[0]!
    const scaled = await encodeNewData(recipe, DIGITS_CSV, { scale: true })
    expect(scaled.n).toBe(1797)
    expect(scaled.keys.slice(0, 2)).toEqual(['1', '2'])
    prepared.test.rows.forEach((row, i) => {
      expect(Array.from(scaled.x.subarray(row * width, (row + 1) * width))).toEqual(Array.from(prepared.test.x.subarray(i * width, (i + 1) * width)))
      expect(scaled.truth[row]).toBe(prepared.labels[prepared.test.y[i]!])
    })
    // scale=false stops before the affine step: the raw pixel values of the feature columns.
    const raw = await encodeNewData(recipe, DIGITS_CSV, { scale: false })
    const columns = recipe.featureNames.map((name) => header.indexOf(name))
    expect(Array.from(raw.x.subarray(0, width))).toEqual(columns.map((c) => data[0]![c]))
  })

  it('encodes a new CSV without the target and with other columns, and names a missing one', async () => {
    const recipe = await lab.datasets.getRecipe(summary.datasetId)
    const shuffled = ['extra', ...pixelColumns.slice().reverse()]
    const lines = [
      shuffled.join(','),
      ...data.slice(0, 3).map((row) =>
        [
          'x',
          ...pixelColumns
            .slice()
            .reverse()
            .map((name) => row[header.indexOf(name)])
        ].join(',')
      )
    ]
    const file = lab.write('new.csv', lines.join('\n'))
    const encoded = await encodeNewData(recipe, file, { scale: true })
    const direct = await encodeNewData(recipe, DIGITS_CSV, { scale: true })
    const width = recipe.inputShape[0]
    expect(encoded.truth).toEqual([null, null, null])
    expect(Array.from(encoded.x)).toEqual(Array.from(direct.x.subarray(0, 3 * width)))
    const missing = lab.write('missing.csv', ['p0_1,p0_2', '1,2'].join('\n'))
    await expect(encodeNewData(recipe, missing, { scale: true })).rejects.toThrow(
      /^missing\.csv: missing columns "p0_3", "p0_4", .* and 49 more that the model needs/
    )
  })
})

describe('changing a dataset', () => {
  it('updates columns and target, refitting the recipe', async () => {
    const dataset = await lab.datasets.import({ path: DIGITS_CSV })
    const excluded = await lab.datasets.update({ datasetId: dataset.datasetId, columns: [{ name: 'p3_3', include: false }] })
    expect(excluded.featureCount).toBe(dataset.featureCount - 1)
    expect(excluded.columns.find((c) => c.name === 'p3_3')).toMatchObject({ role: 'excluded', excludedReason: 'user' })
    const distinct = excluded.columns.find((c) => c.name === 'p0_1')!.distinct
    const category = await lab.datasets.update({ datasetId: dataset.datasetId, columns: [{ name: 'p0_1', type: 'category' }] })
    // p0_1 is one-hot now: one feature per value seen in train instead of one.
    expect(category.featureCount).toBeGreaterThan(excluded.featureCount)
    expect(category.featureCount - excluded.featureCount + 1).toBeLessThanOrEqual(distinct)
    const recipe = (await lab.datasets.getRecipe(dataset.datasetId)) as TableRecipe
    expect(recipe.featureNames).toContain('p0_1=0')
    expect(recipe.featureNames).not.toContain('p3_3')
    await expect(lab.datasets.update({ datasetId: dataset.datasetId, target: 'nope' })).rejects.toThrow(/no column "nope"/)
    const retargeted = await lab.datasets.update({ datasetId: dataset.datasetId, target: 'p0_1' })
    expect(retargeted.target).toBe('p0_1')
    expect(retargeted.columns.find((c) => c.name === 'digit')!.role).toBe('feature')
    await lab.datasets.delete(dataset.datasetId)
  })

  it('refuses to prepare a target with a single class', async () => {
    const rows = threeClassRows(20).map((r) => `${r.a},${r.b},same`)
    const dataset = await lab.datasets.import({ path: lab.write('single.csv', ['a,b,label', ...rows].join('\n')), name: 'single' })
    await expect(lab.datasets.loadPrepared(dataset.datasetId)).rejects.toThrow(
      'single: the target "label" has a single class ("same"); choose another target column'
    )
  })

  it('refuses to prepare a dataset with every feature left out', async () => {
    const rows = threeClassRows(20).map((r) => `${r.a},${r.b},${r.label}`)
    const dataset = await lab.datasets.import({ path: lab.write('bare.csv', ['a,b,label', ...rows].join('\n')), name: 'bare' })
    const bare = await lab.datasets.update({
      datasetId: dataset.datasetId,
      columns: [
        { name: 'a', include: false },
        { name: 'b', include: false }
      ]
    })
    expect(bare.featureCount).toBe(0)
    await expect(lab.datasets.loadPrepared(dataset.datasetId)).rejects.toThrow('bare: no feature columns are included; include at least one')
  })

  it('scales with min-max and imputes with the median when asked', async () => {
    const rows = threeClassRows(40).map((r, i) => `${i % 5 === 0 ? 'NA' : r.a},${r.b},${r.label}`)
    const dataset = await lab.datasets.import({ path: lab.write('prep.csv', ['a,b,label', ...rows].join('\n')) })
    await lab.datasets.setPreparation(dataset.datasetId, { impute: 'median', scaling: 'minmax' })
    const recipe = (await lab.datasets.getRecipe(dataset.datasetId)) as TableRecipe
    const prepared = await lab.datasets.loadPrepared(dataset.datasetId)
    const trainA = Array.from(prepared.train.rows, (row) => rows[row]!.split(',')[0])
      .filter((v) => v !== 'NA')
      .map(Number)
      .sort((x, y) => x - y)
    const mid = trainA.length >> 1
    expect(recipe.columns[0]!.impute).toBe(trainA.length % 2 ? trainA[mid] : (trainA[mid - 1]! + trainA[mid]!) / 2)
    const a = Array.from({ length: prepared.train.n }, (_, r) => prepared.train.x[r * 2]!)
    expect(Math.min(...a)).toBeCloseTo(0, 6)
    expect(Math.max(...a)).toBeCloseTo(1, 6)
  })

  it('says so when the stored data was removed by hand', async () => {
    const dataset = await lab.datasets.import({ path: DIGITS_CSV, name: 'gone' })
    fs.rmSync(path.join(lab.tmp, 'home', 'datasets', dataset.datasetId), { recursive: true })
    await expect(lab.datasets.loadPrepared(dataset.datasetId)).rejects.toThrow(/^dataset "gone": its stored data is missing/)
    await lab.datasets.delete(dataset.datasetId)
    expect((await lab.datasets.list()).map((d) => d.datasetId)).not.toContain(dataset.datasetId)
  })

  it('deletes a dataset unless a run uses it', async () => {
    const dataset = await lab.datasets.import({ path: DIGITS_CSV })
    const dir = path.join(lab.tmp, 'home', 'datasets', dataset.datasetId)
    expect(fs.existsSync(dir)).toBe(true)
    await lab.db.run(
      `INSERT INTO runs (id, name, dataset_id, mode, status, backend, seed, spec_json, partition_json, config_json, created_at)
       VALUES ('run-1', 'r', ?, 'end-to-end', 'completed', 'cpu', 42, '{}', '{}', '{}', 'now')`,
      [dataset.datasetId]
    )
    await expect(lab.datasets.delete(dataset.datasetId)).rejects.toThrow(/used by 1 run; delete those runs first/)
    await lab.db.run(`DELETE FROM runs WHERE id = 'run-1'`)
    await lab.datasets.delete(dataset.datasetId)
    expect(fs.existsSync(dir)).toBe(false)
    await expect(lab.datasets.get(dataset.datasetId)).rejects.toMatchObject({ code: 'not_found' })
  })
})
