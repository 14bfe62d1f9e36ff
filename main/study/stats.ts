/**
 * The statistics of a study: mean, standard deviation and 95 % interval of a score over resampled splits, and the
 * corrected resampled t-test of Nadeau & Bengio (2003, "Inference for the Generalization Error") for the paired
 * difference of two configurations. Student's t distribution comes from jStat; the rest is written here.
 *
 * Why corrected: the J splits of a study share most of their training rows, so their scores are positively
 * correlated and vary less than J independent samples would. Nadeau & Bengio replace the variance of the mean,
 * s²/J, by (1/J + n_test/n_train)·s²; without it a t-test on repeated splits finds differences that are not there.
 */
import { jStat } from 'jstat'
import type { SummaryStat } from '../shared/contract'

export function mean(values: readonly number[]): number {
  return values.reduce((sum, v) => sum + v, 0) / values.length
}

/** Sample standard deviation (n − 1); 0 for a single value. */
export function sampleStd(values: readonly number[]): number {
  if (values.length < 2) return 0
  const m = mean(values)
  return Math.sqrt(values.reduce((sum, v) => sum + (v - m) ** 2, 0) / (values.length - 1))
}

/** The 97.5 % quantile of Student's t with `df` degrees of freedom: a 95 % interval is mean ± this × se. */
export function t975(df: number): number {
  return jStat.studentt.inv(0.975, df)
}

/** Two-sided p-value of a t statistic. */
export function twoSidedP(t: number, df: number): number {
  if (Number.isNaN(t)) return 1
  if (!Number.isFinite(t)) return 0
  return Math.min(1, 2 * (1 - jStat.studentt.cdf(Math.abs(t), df)))
}

/**
 * Mean, std and 95 % t interval of values. `testTrainRatio` (n_test / n_train of the splits) applies the
 * Nadeau–Bengio correction to the variance of the mean; 0 gives the plain interval (independent values).
 */
export function summarise(values: readonly number[], testTrainRatio = 0): SummaryStat {
  const n = values.length
  if (n === 0) return { n, mean: null, std: null, ci95: null }
  const m = mean(values)
  const s = sampleStd(values)
  if (n < 2) return { n, mean: m, std: null, ci95: null }
  const se = Math.sqrt((1 / n + testTrainRatio) * s * s)
  const half = t975(n - 1) * se
  return { n, mean: m, std: s, ci95: [m - half, m + half] }
}

export interface CorrectedTTest {
  mean: number
  std: number
  /** null when the differences are all equal (no variance): then p is 0 or 1. */
  t: number | null
  df: number
  pValue: number
  ci95: [number, number] | null
}

/**
 * The corrected resampled t-test on paired differences d_j (configuration b − a on split j):
 *   t = mean(d) / sqrt((1/J + n_test/n_train) · s_d²),  J − 1 degrees of freedom, two-sided.
 * For k-fold cross-validation n_test/n_train = 1/(k − 1).
 */
export function correctedResampledTTest(differences: readonly number[], testTrainRatio: number): CorrectedTTest {
  const J = differences.length
  if (J < 2) throw new Error(`the corrected resampled t-test needs at least 2 paired differences, got ${J}`)
  const m = mean(differences)
  const s = sampleStd(differences)
  const df = J - 1
  const se = Math.sqrt((1 / J + testTrainRatio) * s * s)
  if (se === 0) return { mean: m, std: 0, t: null, df, pValue: m === 0 ? 1 : 0, ci95: [m, m] }
  const t = m / se
  const half = t975(df) * se
  return { mean: m, std: s, t, df, pValue: twoSidedP(t, df), ci95: [m - half, m + half] }
}
