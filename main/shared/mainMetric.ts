/**
 * The main metric of a run: the one number a study summarises, compares and sorts by. Today every task is
 * classification, so it is accuracy; tasks with another main metric (regression's R²) change only this file.
 */
import type { RunMetrics } from './contract'

export interface MainMetric {
  key: string
  /** For sentences: "test accuracy". */
  label: string
  higherIsBetter: boolean
  /** Shown as a percentage, and differences in percentage points. */
  percent: boolean
}

export const ACCURACY: MainMetric = { key: 'accuracy', label: 'accuracy', higherIsBetter: true, percent: true }

/** The main metric of runs like this one (a run summary's metrics, or none yet). */
export function mainMetricOf(_metrics?: RunMetrics | null): MainMetric {
  return ACCURACY
}

/** The main metric's value on the test or validation part; null for a run without metrics. */
export function mainMetricValue(metrics: RunMetrics | null | undefined, part: 'test' | 'val'): number | null {
  if (!metrics) return null
  return part === 'test' ? metrics.testAccuracy : metrics.valAccuracy
}

/** The test loss a study summarises next to the main metric. */
export function testLoss(metrics: RunMetrics | null | undefined): number | null {
  return metrics ? metrics.testLoss : null
}
