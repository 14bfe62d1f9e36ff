/**
 * The study statistics against values computed by hand (the formulas evaluated on paper, the t tail by the closed
 * form of Student's t with 4 degrees of freedom and a numeric integral of its density): five fold scores of two
 * configurations → mean, interval, the corrected t and its p.
 */
import { describe, expect, it } from 'vitest'
import { correctedResampledTTest, mean, sampleStd, summarise, t975, twoSidedP } from '../../../main/study/stats'
import { studyStats } from '../../../main/study/results'
import { verdictText } from '../../../main/shared/studyText'
import { mainMetricOf } from '../../../main/shared/mainMetric'
import type { StoredMember } from '../../../main/store/studies'
import type { StudyConfig } from '../../../main/shared/contract'

// 5-fold cross-validation: n_test / n_train = 1 / (k − 1) = 1/4.
const A = [0.9, 0.92, 0.88, 0.91, 0.89]
const B = [0.93, 0.92, 0.9, 0.94, 0.91]
const RATIO = 1 / 4

describe('summary of one configuration', () => {
  it('mean, sample std and the corrected 95 % interval', () => {
    expect(mean(A)).toBeCloseTo(0.9, 12)
    // Deviations 0, .02, −.02, .01, −.01: 0.001 / 4 = 0.00025.
    expect(sampleStd(A)).toBeCloseTo(Math.sqrt(0.00025), 12)
    expect(t975(4)).toBeCloseTo(2.776445, 6)
    expect(t975(9)).toBeCloseTo(2.262157, 6)
    const s = summarise(A, RATIO)
    // se = sqrt((1/5 + 1/4) · 0.00025) = 0.0106066; half = 2.776445 · se = 0.029449.
    expect(s.n).toBe(5)
    expect(s.ci95![0]).toBeCloseTo(0.870551, 6)
    expect(s.ci95![1]).toBeCloseTo(0.929449, 6)
    // Without the correction (independent values): half = 2.776445 · 0.0158114 / √5 = 0.019632.
    const plain = summarise(A)
    expect(plain.ci95![0]).toBeCloseTo(0.880368, 6)
    expect(plain.ci95![1]).toBeCloseTo(0.919632, 6)
  })

  it('no interval from one value, nothing from none', () => {
    expect(summarise([0.9])).toEqual({ n: 1, mean: 0.9, std: null, ci95: null })
    expect(summarise([])).toEqual({ n: 0, mean: null, std: null, ci95: null })
  })
})

describe('corrected resampled t-test', () => {
  it('matches the hand computation: d = B − A, t = 2.434322, p = 0.071646', () => {
    const d = B.map((b, i) => b - A[i]!)
    const test = correctedResampledTTest(d, RATIO)
    // mean(d) = 0.02; s² = 0.0006 / 4 = 0.00015; se = sqrt(0.45 · 0.00015) = 0.00821584.
    expect(test.mean).toBeCloseTo(0.02, 12)
    expect(test.std).toBeCloseTo(Math.sqrt(0.00015), 12)
    expect(test.df).toBe(4)
    expect(test.t).toBeCloseTo(2.4343225, 6)
    // Student's t, 4 df: F(t) = 1/2 + (3/8)·u·(1 − t²/(12(1 + t²/4))) with u = t/√(1 + t²/4).
    expect(test.pValue).toBeCloseTo(0.0716459, 6)
    expect(test.ci95![0]).toBeCloseTo(-0.0028108, 6)
    expect(test.ci95![1]).toBeCloseTo(0.0428108, 6)
  })

  it('the correction matters: a plain paired t-test on the same folds would call it significant', () => {
    const d = B.map((b, i) => b - A[i]!)
    const plain = correctedResampledTTest(d, 0)
    // t = 0.02 / (0.0122474 / √5) = 3.651484.
    expect(plain.t).toBeCloseTo(3.651484, 5)
    expect(plain.pValue).toBeLessThan(0.05)
    expect(correctedResampledTTest(d, RATIO).pValue).toBeGreaterThan(0.05)
  })

  it('equal differences: no variance, p is 1 for none and 0 for a constant gain', () => {
    expect(correctedResampledTTest([0, 0, 0], 0.25)).toMatchObject({ t: null, pValue: 1 })
    expect(correctedResampledTTest([0.01, 0.01, 0.01], 0.25)).toMatchObject({ t: null, pValue: 0 })
    expect(() => correctedResampledTTest([0.01], 0.25)).toThrow(/at least 2/)
    expect(twoSidedP(0, 4)).toBe(1)
  })
})

describe('a study’s statistics and verdict', () => {
  const config = (name: string, mode: 'end-to-end' | 'layer-wise') => ({ name, config: { mode } }) as unknown as StudyConfig
  const member = (configIndex: number, memberIndex: number, test: number | null, status: StoredMember['status'] = 'completed'): StoredMember => ({
    configIndex,
    memberIndex,
    split: { kind: 'fold', folds: 5, fold: memberIndex, seed: 1 },
    seed: memberIndex,
    trainRows: 400,
    testRows: 100,
    runId: `run-${configIndex}-${memberIndex}`,
    status,
    error: status === 'failed' ? 'boom' : null,
    worker: null,
    attempt: 0,
    runStatus: status === 'pending' ? null : status,
    runOwner: null,
    metrics: test === null ? null : { testAccuracy: test, testLoss: 1 - test, valAccuracy: test, trainAccuracy: 1 },
    wallMs: 1000 + memberIndex,
    peakRssBytes: 2 ** 20,
    endedAt: null
  })

  it('pairs members by index, applies n_test/n_train, and words the verdict from the numbers', () => {
    const configs = [config('end-to-end', 'end-to-end'), config('layer-wise', 'layer-wise')]
    const members = [...A.map((v, i) => member(0, i, v)), ...B.map((v, i) => member(1, i, v))]
    const stats = studyStats(configs, members, 'classification')
    expect(stats.configs[0]!.test.ci95![0]).toBeCloseTo(0.870551, 6)
    expect(stats.comparison!.pairs).toBe(5)
    expect(stats.comparison!.testTrainRatio).toBeCloseTo(0.25, 12)
    expect(stats.comparison!.pValue).toBeCloseTo(0.0716459, 6)
    expect(stats.comparison!.verdict).toBe(
      'No detectable difference between end-to-end and layer-wise (p = 0.07; difference layer-wise − end-to-end: 2.0 ± 2.3 points of test accuracy over 5 paired runs).'
    )
    expect(stats.coverage).toBe('Statistics cover 10 of 10 runs.')
  })

  it('a failed member drops its pair and is counted in the coverage', () => {
    const configs = [config('end-to-end', 'end-to-end'), config('layer-wise', 'layer-wise')]
    const members = [...A.map((v, i) => member(0, i, v)), ...B.map((v, i) => member(1, i, i === 2 ? null : v, i === 2 ? 'failed' : 'completed'))]
    const stats = studyStats(configs, members, 'classification')
    expect(stats.configs[1]!.n).toBe(4)
    expect(stats.comparison!.pairs).toBe(4)
    expect(stats.coverage).toBe('Statistics cover 9 of 10 runs; 1 failed.')
  })

  it('says which is better when the test detects it', () => {
    const text = verdictText(
      { a: 'end-to-end', b: 'layer-wise', difference: { mean: -0.012, ci95: [-0.02, -0.004] }, pValue: 0.003, pairs: 10 },
      mainMetricOf('classification')
    )
    expect(text).toBe('End-to-end is better than layer-wise by 1.2 ± 0.8 points of test accuracy (p = 0.003 over 10 paired runs).')
  })

  it('regression: the main metric is R² (no points, no Wilson), the error figure test RMSE; the same pairing and test', () => {
    const configs = [config('end-to-end', 'end-to-end'), config('layer-wise', 'layer-wise')]
    // The same fold scores read as R²; RMSE falls as R² rises.
    const regressionMember = (configIndex: number, memberIndex: number, r2: number): StoredMember => ({
      ...member(configIndex, memberIndex, null),
      metrics: {
        testR2: r2,
        valR2: r2 - 0.01,
        trainR2: 1,
        testRmse: 10 * (1 - r2),
        testMae: 5,
        testMape: null,
        valRmse: 1,
        testLoss: (10 * (1 - r2)) ** 2,
        testRows: 100,
        valRows: 60,
        trainRows: 400
      }
    })
    const members = [...A.map((v, i) => regressionMember(0, i, v)), ...B.map((v, i) => regressionMember(1, i, v))]
    const stats = studyStats(configs, members, 'regression')
    expect(stats.task).toBe('regression')
    expect(stats.metric).toEqual({ key: 'r2', label: 'R²', higherIsBetter: true, percent: false })
    expect(stats.errorLabel).toBe('test RMSE')
    // Hand values as for accuracy: the statistics do not depend on what the score is.
    expect(stats.configs[0]!.test.mean).toBeCloseTo(0.9, 12)
    expect(stats.configs[0]!.test.ci95![0]).toBeCloseTo(0.870551, 6)
    expect(stats.configs[0]!.val.mean).toBeCloseTo(0.89, 12)
    expect(stats.configs[0]!.error.mean).toBeCloseTo(1, 12)
    expect(stats.comparison!.pValue).toBeCloseTo(0.0716459, 6)
    expect(stats.comparison!.verdict).toBe(
      'No detectable difference between end-to-end and layer-wise (p = 0.07; difference layer-wise − end-to-end: 0.0200 ± 0.0228 of test R² over 5 paired runs).'
    )
    // Classification metrics are not read as R² (a run of another task is not counted).
    expect(studyStats(configs, [...A.map((v, i) => member(0, i, v))], 'regression').coverage).toBe('Statistics cover 0 of 5 runs; 5 not finished.')
  })
})
