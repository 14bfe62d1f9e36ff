/**
 * Regression targets through the real import: the task the target suggests, the random split of the labelled rows,
 * the target standardised on the train part, and the bad inputs (missing, constant, text forced to a number).
 * Tables: scikit-learn's diabetes and wine data (Debian's python3-sklearn) and small tables written here.
 */
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openTestServices, type TestServices } from '../../fixtures/home'
import { SKLEARN_DATA, diabetesCsv } from '../../fixtures/regression'
import type { TableRecipe } from '../../../main/data/recipe'
import { datasetSummary } from '../../../main/shared/contract'

let lab: TestServices
beforeAll(async () => {
  lab = await openTestServices('layerlab-regression-data-')
})
afterAll(async () => lab?.close())

const diabetesTarget = () =>
  diabetesCsv()
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => Number(line.split(',').at(-1)))

describe('regression datasets', () => {
  it('imports diabetes as regression: 214 distinct values, a random 70/15/15 split, the target standardised on train', async () => {
    const summary = await lab.datasets.import({ path: lab.write('diabetes.csv', diabetesCsv()) })
    expect(datasetSummary.parse(summary)).toEqual(summary)
    expect(summary).toMatchObject({
      task: 'regression',
      suggestedTask: 'regression',
      target: 'progression',
      classes: [],
      unlabeledRows: 0,
      targetWarning: null
    })
    expect(summary.taskReason).toBe('214 distinct whole numbers (more than 20)')
    expect(summary.split).toEqual({ train: 310, val: 66, test: 66, seed: 42 })
    const data = await lab.datasets.loadPrepared(summary.datasetId)
    expect(data.task).toBe('regression')
    expect(data.targetName).toBe('progression')
    const truth = diabetesTarget()
    const trainValues = Array.from(data.train.rows, (row) => truth[row]!)
    const mean = trainValues.reduce((a, b) => a + b, 0) / trainValues.length
    const std = Math.sqrt(trainValues.reduce((a, b) => a + (b - mean) ** 2, 0) / trainValues.length)
    expect(data.targetScale!.mean).toBeCloseTo(mean, 9)
    expect(data.targetScale!.std).toBeCloseTo(std, 9)
    // The model sees (y − mean) / std, and y comes back from it for every part.
    expect(data.train.y).toBeInstanceOf(Float32Array)
    for (const part of [data.train, data.val, data.test]) part.rows.forEach((row, i) => expect(part.y[i]! * std + mean).toBeCloseTo(truth[row]!, 3))
    // Every row in exactly one part; the split is random, not by value: the parts' means are all close to the whole's.
    const all = [...data.train.rows, ...data.val.rows, ...data.test.rows].sort((a, b) => a - b)
    expect(all).toEqual(Array.from({ length: 442 }, (_, i) => i))
    const meanOf = (rows: Int32Array) => Array.from(rows, (row) => truth[row]!).reduce((a, b) => a + b, 0) / rows.length
    for (const part of [data.val, data.test]) expect(Math.abs(meanOf(part.rows) - mean)).toBeLessThan(0.35 * std)
  })

  it('warns when the same target is forced to classes, and switches back with the split fitted again', async () => {
    const forced = await lab.datasets.import({ path: lab.write('diabetes-classes.csv', diabetesCsv()), task: 'classification' })
    expect(forced.task).toBe('classification')
    expect(forced.suggestedTask).toBe('regression')
    expect(forced.taskReason).toBe('chosen by you (the values suggest regression: 214 distinct whole numbers (more than 20))')
    expect(forced.classes).toHaveLength(214)
    expect(forced.targetWarning).toBe(
      '214 classes for 442 rows (2.1 rows per class, fewer than 5): the column holds numbers: predict it as a number (regression)'
    )
    const switched = await lab.datasets.update({ datasetId: forced.datasetId, task: 'regression' })
    expect(switched).toMatchObject({ task: 'regression', classes: [], targetWarning: null, split: { train: 310, val: 66, test: 66 } })
    // A new target starts from what its values suggest.
    const sex = await lab.datasets.update({ datasetId: forced.datasetId, target: 'sex' })
    expect(sex).toMatchObject({ task: 'classification', target: 'sex', taskReason: '2 distinct whole numbers (at most 20)' })
  })

  it('predicts wine’s proline as a number and its class as classes', async () => {
    const wine = fs.readFileSync(path.join(SKLEARN_DATA, 'wine_data.csv'), 'utf8').trim().split('\n').slice(1)
    const header = 'alcohol,malic_acid,ash,alcalinity,magnesium,phenols,flavanoids,nonflavanoid,proanthocyanins,color,hue,od280,proline,class'
    const file = lab.write('wine.csv', [header, ...wine].join('\n') + '\n')
    const proline = await lab.datasets.import({ path: file, target: 'proline' })
    expect(proline).toMatchObject({ task: 'regression', rows: 178, split: { train: 124, val: 27, test: 27 } })
    const classes = await lab.datasets.update({ datasetId: proline.datasetId, target: 'class' })
    expect(classes).toMatchObject({ task: 'classification', targetWarning: null })
    expect(classes.classes.map((c) => c.count)).toEqual([59, 71, 48])
  })

  it('leaves rows without a target out of training and evaluation, and counts them', async () => {
    const lines = ['x,y']
    for (let i = 0; i < 60; i++) lines.push(`${(i * 7) % 23},${i % 7 === 0 ? 'NA' : (((i * 7) % 23) * 1.5 + 0.25).toFixed(2)}`)
    const summary = await lab.datasets.import({ path: lab.write('gaps.csv', lines.join('\n')) })
    expect(summary).toMatchObject({ task: 'regression', unlabeledRows: 9 })
    expect(summary.split.train + summary.split.val + summary.split.test).toBe(51)
    const data = await lab.datasets.loadPrepared(summary.datasetId)
    for (const part of [data.train, data.val, data.test]) for (const row of part.rows) expect(row % 7).not.toBe(0)
    expect(Array.from(data.train.y).every(Number.isFinite)).toBe(true)
  })

  it('refuses a text target forced to regression, naming the column and a value', async () => {
    const file = lab.write('text-target.csv', ['a,b,kind', '1,2,3', '2,3,4', '3,4,apple', '4,5,pear'].join('\n'))
    await expect(lab.datasets.import({ path: file, task: 'regression' })).rejects.toThrow(
      'text-target: the target "kind" holds text (for example "apple"), so it cannot be predicted as a number; predict it as classes or choose another target'
    )
    expect(fs.readdirSync(path.join(lab.home, 'datasets')).filter((d) => d.startsWith('ds-')).length).toBeGreaterThan(0)
    const ok = await lab.datasets.import({ path: file })
    expect(ok.task).toBe('classification')
    await expect(lab.datasets.update({ datasetId: ok.datasetId, task: 'regression' })).rejects.toThrow(
      /the target "kind" holds text \(for example "apple"\)/
    )
    expect((await lab.datasets.get(ok.datasetId)).task).toBe('classification')
  })

  it('says a constant target has nothing to predict: at import as a warning, when training as a one-line error', async () => {
    const lines = ['x,y', ...Array.from({ length: 30 }, (_, i) => `${i},5`)]
    const summary = await lab.datasets.import({ path: lab.write('constant.csv', lines.join('\n')), task: 'regression' })
    expect(summary.targetWarning).toBe('the target "y" is constant (5 on every row): there is nothing to predict; choose another target')
    await expect(lab.datasets.loadPrepared(summary.datasetId)).rejects.toThrow(
      'constant: the target "y" is constant (5 on every row): there is nothing to predict; choose another target'
    )
  })

  it('keeps the target’s scale in the recipe, the one an exported model carries', async () => {
    const summary = await lab.datasets.import({ path: lab.write('diabetes-recipe.csv', diabetesCsv()) })
    const recipe = (await lab.datasets.getRecipe(summary.datasetId)) as TableRecipe
    expect(recipe).toMatchObject({ kind: 'table', task: 'regression', target: 'progression', labels: [] })
    expect(recipe.targetScale!.std).toBeGreaterThan(70)
    expect(recipe.featureNames).toEqual(['age', 'sex', 'bmi', 'bp', 's1', 's2', 's3', 's4', 's5', 's6'])
  })
})
