/**
 * A regression study through the router: Friedman #1 (some rows without a target), 3-fold cross-validation of
 * end-to-end against layer-wise. The folds are plain k-fold of the rows that have a target value, every figure is
 * the task's own (R², RMSE), members carry no binomial interval, and the protocol check speaks of rows, not classes.
 */
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openLab, type Lab } from '../../../main/lab'
import type { StudyDetail } from '../../../main/shared/contract'
import { describeStudy, studyJson } from '../../../main/hosts/cliStudy'
import { removeHome, tempHome } from '../../fixtures/home'
import { friedmanCsv } from '../../fixtures/regression'
import { call, smallBase } from './helpers'

const ROWS = 240
/** Rows whose target is blanked: they belong to no fold. */
const UNLABELLED = [5, 77, 150]

let home: string
let lab: Lab
let datasetId: string

beforeAll(async () => {
  home = tempHome('layerlab-study-regression-')
  lab = await openLab({ home })
  const lines = friedmanCsv(ROWS).trimEnd().split('\n')
  for (const row of UNLABELLED) lines[row + 1] = lines[row + 1]!.replace(/,[^,]*$/, ',')
  const file = path.join(home, 'friedman.csv')
  fs.writeFileSync(file, lines.join('\n') + '\n')
  const dataset = await call(lab, 'datasets.import', { path: file })
  expect(dataset.task).toBe('regression')
  datasetId = dataset.datasetId
})
afterAll(async () => {
  await lab?.close()
  removeHome(home)
})

describe('a regression study', () => {
  let detail: StudyDetail

  it('cross-validates on plain folds of the rows with a target, and summarises R² and RMSE', async () => {
    const base = await smallBase(lab, datasetId)
    // Long enough to learn Friedman's function (a few seconds a run): the figures must mean something.
    base.config = { ...base.config, epochs: 40 }
    for (const block of base.partition.blocks) block.settings.epochs = 15
    const { studyId } = await call(lab, 'studies.start', {
      datasetId,
      base,
      protocol: { kind: 'cv', folds: 3, repeats: 1, seed: 4 },
      workers: 2
    })
    expect(await call(lab, 'studies.wait', { studyId })).toMatchObject({ status: 'completed', task: 'regression', total: 6, done: 6, failed: 0 })
    detail = await call(lab, 'studies.get', { studyId })
    expect(detail.name).toContain('3-fold cross-validation')
    expect(detail.name).not.toContain('stratified')

    // Plain k-fold: the three test parts partition the labelled rows, their sizes within one of each other.
    const labelled = ROWS - UNLABELLED.length
    const first = detail.members.filter((m) => m.configIndex === 0)
    const sizes = first.map((m) => m.testRows)
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(labelled)
    expect(Math.max(...sizes) - Math.min(...sizes)).toBeLessThanOrEqual(1)
    const testRows = new Set<number>()
    for (const member of detail.members) {
      const run = await call(lab, 'runs.get', { runId: member.runId! })
      expect(run.task).toBe('regression')
      expect(run.config.split).toEqual(member.split)
      const metrics = run.metrics as Record<string, number> & { testRows: number; valRows: number; trainRows: number }
      // The member's score is its run's test R², on the member's own rows.
      expect(member.test).toBe(metrics.testR2)
      expect(member.val).toBe(metrics.valR2)
      expect(metrics.testRows).toBe(member.testRows)
      expect(metrics.trainRows).toBe(member.trainRows)
      expect(metrics.trainRows + metrics.valRows + metrics.testRows).toBe(labelled)
      if (member.configIndex === 0) {
        const evaluation = run.evaluation!
        if (!('points' in evaluation)) throw new Error('a regression run without residual points')
        for (const point of evaluation.points) {
          expect(UNLABELLED).not.toContain(point.row)
          expect(testRows.has(point.row)).toBe(false)
          testRows.add(point.row)
        }
      }
    }
    expect(testRows.size).toBe(labelled)

    const { stats } = detail
    expect(stats.task).toBe('regression')
    expect(stats.metric).toEqual({ key: 'r2', label: 'R²', higherIsBetter: true, percent: false })
    expect(stats.errorLabel).toBe('test RMSE')
    for (const c of stats.configs) {
      expect(c.n).toBe(3)
      // Better than predicting the mean (R² 0) on every configuration; end-to-end learns most of the function.
      expect(c.test.mean).toBeGreaterThan(0)
      expect(c.test.ci95![0]).toBeLessThan(c.test.mean!)
      // RMSE in the target's unit: y spans about 0–30 here.
      expect(c.error.mean).toBeGreaterThan(0.5)
      expect(c.error.mean).toBeLessThan(10)
    }
    expect(stats.configs[0]!.test.mean).toBeGreaterThan(0.5)
    const comparison = stats.comparison!
    expect(comparison.pairs).toBe(3)
    // n_test / n_train of 3 folds with 15 % of the rest for validation: (1/3) / (2/3 · 0.85) ≈ 0.59.
    expect(comparison.testTrainRatio).toBeGreaterThan(0.55)
    expect(comparison.testTrainRatio).toBeLessThan(0.63)
    expect(comparison.verdict).toMatch(/ of test R² .*3 paired runs/)
    expect(comparison.verdict).not.toMatch(/points/)
  })

  it('the CLI says R² and RMSE, with no binomial interval and no percentages', () => {
    const text = describeStudy(detail)
    expect(text).toContain('TEST R² (95 % INTERVAL)')
    expect(text).toContain('TEST RMSE')
    expect(text).not.toMatch(/%\s*±|Wilson|points/)
    expect(studyJson(detail)).toMatchObject({ metric: 'r2', protocol: { kind: 'cv', folds: 3 } })
  })

  it('refuses more folds than rows with a target value, in one line, before anything runs', async () => {
    const tiny = path.join(home, 'tiny.csv')
    fs.writeFileSync(tiny, friedmanCsv(30, 3))
    const dataset = await call(lab, 'datasets.import', { path: tiny })
    expect(dataset.task).toBe('regression')
    const runsBefore = (await call(lab, 'runs.list', {})).length
    const base = await smallBase(lab, dataset.datasetId)
    await expect(
      call(lab, 'studies.start', { datasetId: dataset.datasetId, base, protocol: { kind: 'cv', folds: 31, repeats: 1, seed: 1 } })
    ).rejects.toThrow(`${dataset.name}: 31-fold cross-validation needs at least 31 rows with a target value; the dataset has 30`)
    expect((await call(lab, 'runs.list', {})).length).toBe(runsBefore)
  })
})
