/**
 * Other splits of the stored rows for studies: stratified k-fold folds partition the data, fold splits keep their
 * parts apart, and loadPrepared with a split spec reads the same column files with the recipe fitted on its own
 * train rows.
 */
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { foldSplit, smallestClass, stratifiedFolds, stratifiedSplit } from '../../../main/data/split'
import { checkProtocol, planMembers } from '../../../main/study/protocol'
import { openTestServices, type TestServices } from '../../fixtures/home'
import { DIGITS_CSV } from '../../fixtures/digits'
import { diabetesCsv } from '../../fixtures/regression'

/** 3 classes of 11, 6 and 5 rows, interleaved, and two rows without a class at the end. */
const PATTERN = [0, 1, 2, 0, 1, 0, 2, 0, 1, 0, 1]
const classes = Int32Array.from({ length: 24 }, (_, i) => (i >= 22 ? -1 : i === 21 ? 2 : i === 10 ? 0 : PATTERN[i % 11]!))

describe('stratified k-fold', () => {
  it('puts every labelled row in exactly one fold, and every class evenly (±1) in each', () => {
    for (const k of [2, 3, 5]) {
      const foldOf = stratifiedFolds(classes, k, 7)
      expect(Array.from(foldOf.slice(22))).toEqual([-1, -1])
      for (let row = 0; row < 22; row++) expect(foldOf[row]).toBeGreaterThanOrEqual(0)
      for (let row = 0; row < 22; row++) expect(foldOf[row]).toBeLessThan(k)
      for (const label of [0, 1, 2]) {
        const perFold = Array.from({ length: k }, (_, f) => Array.from(foldOf).filter((fold, row) => fold === f && classes[row] === label).length)
        expect(Math.max(...perFold) - Math.min(...perFold)).toBeLessThanOrEqual(1)
      }
      const sizes = Array.from({ length: k }, (_, f) => Array.from(foldOf).filter((fold) => fold === f).length)
      expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1)
    }
  })

  it('the k test parts partition the labelled rows; each split keeps train, validation and test apart', () => {
    const k = 5
    const tested: number[] = []
    for (let fold = 0; fold < k; fold++) {
      const split = foldSplit(classes, k, fold, 3)
      const all = [...split.train, ...split.val, ...split.test]
      expect(new Set(all).size).toBe(all.length)
      expect(all.sort((a, b) => a - b)).toEqual(Array.from({ length: 22 }, (_, i) => i))
      expect(split.val.length).toBeGreaterThan(0)
      tested.push(...split.test)
    }
    expect(tested.sort((a, b) => a - b)).toEqual(Array.from({ length: 22 }, (_, i) => i))
  })

  it('repeats exactly from its seed; another seed draws other folds', () => {
    expect(Array.from(stratifiedFolds(classes, 5, 11))).toEqual(Array.from(stratifiedFolds(classes, 5, 11)))
    expect(Array.from(stratifiedFolds(classes, 5, 11))).not.toEqual(Array.from(stratifiedFolds(classes, 5, 12)))
    expect(smallestClass(classes)).toEqual({ label: 2, count: 5 })
  })
})

describe('protocols', () => {
  it('plans members: seeds split afresh; repeated k-fold tests on every fold once per repeat', () => {
    expect(planMembers({ kind: 'seeds', seeds: 3, firstSeed: 1 })).toEqual([
      { memberIndex: 0, split: { kind: 'holdout', seed: 1 }, seed: 1 },
      { memberIndex: 1, split: { kind: 'holdout', seed: 2 }, seed: 2 },
      { memberIndex: 2, split: { kind: 'holdout', seed: 3 }, seed: 3 }
    ])
    const cv = planMembers({ kind: 'cv', folds: 3, repeats: 2, seed: 5 })
    expect(cv.map((m) => m.split)).toEqual([0, 1, 2, 0, 1, 2].map((fold, i) => ({ kind: 'fold', folds: 3, fold, seed: i < 3 ? 5 : 6 })))
    expect(new Set(cv.map((m) => m.seed)).size).toBe(6)
  })

  it('refuses in one line what cannot work: one seed, one fold, more folds than the smallest class has rows', () => {
    const labels = ['a', 'b', 'c']
    expect(() => checkProtocol({ kind: 'seeds', seeds: 1, firstSeed: 1 }, 'classification', classes, labels, 'toy', 2)).toThrow(
      'a study needs at least 2 seeds to measure how much a score varies; 1 seed gives a single run (train it with layerlab train)'
    )
    expect(() => checkProtocol({ kind: 'cv', folds: 1, repeats: 1, seed: 1 }, 'classification', classes, labels, 'toy', 2)).toThrow(
      'cross-validation needs at least 2 folds, got 1'
    )
    expect(() => checkProtocol({ kind: 'cv', folds: 6, repeats: 1, seed: 1 }, 'classification', classes, labels, 'toy', 2)).toThrow(
      'toy: 6-fold stratified cross-validation needs at least 6 rows of every class; class "c" has 5: use at most 5 folds'
    )
    expect(() => checkProtocol({ kind: 'cv', folds: 5, repeats: 1, seed: 1 }, 'classification', classes, labels, 'toy', 2)).not.toThrow()
  })
})

describe('loadPrepared with a split spec (digits through the real import)', () => {
  let services: TestServices
  let datasetId: string
  let dir: string
  beforeAll(async () => {
    services = await openTestServices('layerlab-folds-')
    datasetId = (await services.datasets.import({ path: DIGITS_CSV })).datasetId
    dir = path.join(services.home, 'datasets', datasetId)
  })
  afterAll(() => services.close())

  it('a fold split reads the stored columns (no copy) with the recipe fitted on its own train rows', async () => {
    const before = fs.readdirSync(dir).sort()
    const stored = await services.datasets.loadPrepared(datasetId)
    const fold = await services.datasets.loadPrepared(datasetId, { kind: 'fold', folds: 5, fold: 2, seed: 1 })
    expect(fs.readdirSync(dir).sort()).toEqual(before)
    expect(fold.inputShape).toEqual(stored.inputShape)
    expect(fold.train.n + fold.val.n + fold.test.n).toBe(1797)
    expect(fold.test.n).toBeGreaterThanOrEqual(359)
    expect(fold.test.n).toBeLessThanOrEqual(360)
    // Standardised on its own train rows: every feature of the train part has mean ≈ 0.
    const features = fold.inputShape[0]!
    for (let f = 0; f < features; f += 10) {
      let sum = 0
      for (let r = 0; r < fold.train.n; r++) sum += fold.train.x[r * features + f]!
      expect(Math.abs(sum / fold.train.n)).toBeLessThan(1e-4)
    }
    const recipe = await services.datasets.getRecipe(datasetId, { kind: 'fold', folds: 5, fold: 2, seed: 1 })
    const storedRecipe = await services.datasets.getRecipe(datasetId)
    expect(recipe.featureNames).toEqual(storedRecipe.featureNames)
    expect(recipe.affine!.offset).not.toEqual(storedRecipe.affine!.offset)
  })

  it('a holdout from the stored seed is the stored split, with the same recipe', async () => {
    const stored = await services.datasets.loadPrepared(datasetId)
    const same = await services.datasets.loadPrepared(datasetId, { kind: 'holdout', seed: 42 })
    expect(Array.from(same.test.rows)).toEqual(Array.from(stored.test.rows))
    expect(Array.from(same.train.x.slice(0, 200))).toEqual(Array.from(stored.train.x.slice(0, 200)))
    const other = await services.datasets.loadPrepared(datasetId, { kind: 'holdout', seed: 7 })
    expect(Array.from(other.test.rows)).not.toEqual(Array.from(stored.test.rows))
    expect(other.test.n).toBe(stored.test.n)
    const classOfRow = await services.datasets.classesOfRows(datasetId)
    expect(stratifiedSplit(classOfRow, 7).test.length).toBe(other.test.n)
  })
})

describe('loadPrepared with a split spec on a regression table (diabetes)', () => {
  let services: TestServices
  let datasetId: string
  beforeAll(async () => {
    services = await openTestServices('layerlab-folds-regression-')
    datasetId = (await services.datasets.import({ path: services.write('diabetes.csv', diabetesCsv()) })).datasetId
  })
  afterAll(() => services.close())

  it('a holdout from the stored seed is the stored split with the same recipe, target scale included', async () => {
    const stored = await services.datasets.loadPrepared(datasetId)
    const same = await services.datasets.loadPrepared(datasetId, { kind: 'holdout', seed: 42 })
    expect(Array.from(same.test.rows)).toEqual(Array.from(stored.test.rows))
    expect(same.targetScale).toEqual(stored.targetScale)
    expect(await services.datasets.getRecipe(datasetId, { kind: 'holdout', seed: 42 })).toEqual(await services.datasets.getRecipe(datasetId))
  })

  it('plain k-fold: the folds partition the rows, sizes within one, the target standardised on each fold’s own train rows', async () => {
    const classOfRow = await services.datasets.classesOfRows(datasetId)
    // No strata for a number: every row with a target is one class.
    expect(new Set(classOfRow)).toEqual(new Set([0]))
    const tests: number[][] = []
    for (let fold = 0; fold < 4; fold++) {
      const part = await services.datasets.loadPrepared(datasetId, { kind: 'fold', folds: 4, fold, seed: 3 })
      expect(part.task).toBe('regression')
      expect(part.train.n + part.val.n + part.test.n).toBe(442)
      tests.push(Array.from(part.test.rows))
      // The target scale is this fold's train rows' own: their standardised target has mean 0 and std 1.
      const y = part.train.y as Float32Array
      const mean = y.reduce((a, b) => a + b, 0) / y.length
      const std = Math.sqrt(y.reduce((a, b) => a + (b - mean) ** 2, 0) / y.length)
      expect(Math.abs(mean)).toBeLessThan(1e-5)
      expect(std).toBeCloseTo(1, 5)
      const recipe = await services.datasets.getRecipe(datasetId, { kind: 'fold', folds: 4, fold, seed: 3 })
      expect(recipe.kind === 'table' && recipe.targetScale).toEqual(part.targetScale)
    }
    expect(tests.map((t) => t.length).sort()).toEqual([110, 110, 111, 111])
    expect(new Set(tests.flat()).size).toBe(442)
  })
})
