/** The task rule, the warning, each task's metrics and the regression figures: the facts every side reads from shared/task.ts. */
import { describe, expect, it } from 'vitest'
import {
  REGRESSION_MIN_DISTINCT,
  compareRefusal,
  mainMetric,
  mainValue,
  metricsOf,
  regressionFigures,
  rSquared,
  scoreText,
  suggestTask,
  taskOf,
  tooManyClasses
} from '../../../main/shared/task'

const facts = (over: Partial<Parameters<typeof suggestTask>[0]>) => ({
  numeric: true,
  integer: true,
  distinct: 10,
  distinctCapped: false,
  booleanLike: false,
  ...over
})

describe('the target rule', () => {
  it('predicts numbers with fractions or many distinct whole numbers, classes otherwise', () => {
    expect(suggestTask(facts({ integer: false, distinct: 3 })).task).toBe('regression')
    expect(suggestTask(facts({ distinct: REGRESSION_MIN_DISTINCT + 1 })).task).toBe('regression')
    expect(suggestTask(facts({ distinct: REGRESSION_MIN_DISTINCT })).task).toBe('classification')
    expect(suggestTask(facts({ distinct: 10_000, distinctCapped: true })).task).toBe('regression')
    expect(suggestTask(facts({ numeric: false, integer: false, distinct: 200 }))).toEqual({ task: 'classification', reason: 'text values' })
    expect(suggestTask(facts({ numeric: false, integer: false, booleanLike: true, distinct: 2 })).reason).toBe('true/false values')
    // Diabetes' target: 214 distinct whole numbers.
    expect(suggestTask(facts({ distinct: 214 }))).toEqual({ task: 'regression', reason: '214 distinct whole numbers (more than 20)' })
  })

  it('warns when a classification target has fewer than 5 rows per class on average, offering regression for numbers', () => {
    expect(tooManyClasses(214, 442, true)).toBe(
      '214 classes for 442 rows (2.1 rows per class, fewer than 5): the column holds numbers: predict it as a number (regression)'
    )
    expect(tooManyClasses(40, 100, false)).toMatch(/choose a column with fewer classes$/)
    expect(tooManyClasses(10, 1797, true)).toBeNull()
    expect(tooManyClasses(1, 3, true)).toBeNull()
  })
})

describe('metrics by task', () => {
  it('names each task’s main metric, its label and its direction in one place', () => {
    expect(mainMetric('classification')).toMatchObject({ key: 'testAccuracy', label: 'test accuracy', higherIsBetter: true })
    expect(mainMetric('regression')).toMatchObject({ key: 'testR2', label: 'test R²', higherIsBetter: true })
    expect(metricsOf('regression').map((m) => m.key)).toEqual([
      'testR2',
      'testRmse',
      'testMae',
      'testMape',
      'valR2',
      'valRmse',
      'trainR2',
      'testLoss'
    ])
    expect(metricsOf('regression').find((m) => m.key === 'testRmse')?.higherIsBetter).toBe(false)
    expect(mainMetric('classification').format(0.97777)).toBe('97.78 %')
    expect(scoreText('regression', 0.51234)).toBe('R² 0.512')
    expect(scoreText('classification', 0.9)).toBe('90.0 %')
  })

  it('reads runs from before tasks as classification', () => {
    const old = { task: undefined, metrics: { testAccuracy: 0.9, testLoss: 0.3, valAccuracy: 0.88, trainAccuracy: 0.99 } }
    expect(taskOf(old)).toBe('classification')
    expect(mainValue(old)).toBe(0.9)
  })

  it('refuses to compare runs of different tasks, naming them', () => {
    expect(compareRefusal([{ name: 'a' }, { name: 'b', task: 'classification' }])).toBeNull()
    const refusal = compareRefusal([{ name: 'digits e2e' }, { name: 'diabetes e2e', task: 'regression' }])
    expect(refusal).toMatch(/^runs of different tasks cannot be compared/)
    expect(refusal).toContain('classification "digits e2e"; regression "diabetes e2e"')
  })
})

describe('regression figures', () => {
  it('computes R², RMSE, MAE and MAPE as scikit-learn defines them', () => {
    // y = [3, -0.5, 2, 7], ŷ = [2.5, 0, 2, 8]: scikit-learn's r2_score doc example gives 0.9486081370449679.
    expect(rSquared([3, -0.5, 2, 7], [2.5, 0, 2, 8])).toBeCloseTo(0.9486081370449679, 12)
    const figures = regressionFigures([3, 1, 2, 7], [2.5, 0, 2, 8])
    expect(figures.rmse).toBeCloseTo(Math.sqrt((0.25 + 1 + 0 + 1) / 4), 12)
    expect(figures.mae).toBeCloseTo((0.5 + 1 + 0 + 1) / 4, 12)
    expect(figures.mape).toBeCloseTo((0.5 / 3 + 1 + 0 + 1 / 7) / 4, 12)
    // A true 0 makes the percentage undefined: no MAPE rather than Infinity.
    expect(regressionFigures([0, 1], [0.1, 1]).mape).toBeNull()
    // Predicting the mean scores 0; a constant truth has no variance to explain.
    expect(rSquared([1, 2, 3], [2, 2, 2])).toBeCloseTo(0, 12)
    expect(rSquared([5, 5], [4, 6])).toBe(0)
  })
})
