/**
 * The main metric of a study: the one number it summarises, compares and sorts by. It is the task's main metric
 * (task.ts: test accuracy for classification, test R² for regression), read on the test or the validation part;
 * next to it a study summarises the task's error figure (test loss, or test RMSE in the target's unit).
 */
import type { RunMetrics, Task } from './contract'
import { mainMetric, metricValue } from './task'

export interface MainMetric {
  /** "accuracy" or "r2": the `metric` of a study's --json. */
  key: string
  /** For sentences: "test accuracy", "test R²". */
  label: string
  higherIsBetter: boolean
  /** Shown as a percentage, and differences in percentage points (accuracy); R² is shown as it is. */
  percent: boolean
}

interface Keys {
  test: string
  val: string
  /** The error figure summarised beside the main metric. */
  error: string
}

const KEYS: Record<Task, Keys & { key: string; label: string; percent: boolean }> = {
  classification: { key: 'accuracy', label: 'accuracy', percent: true, test: 'testAccuracy', val: 'valAccuracy', error: 'testLoss' },
  regression: { key: 'r2', label: 'R²', percent: false, test: 'testR2', val: 'valR2', error: 'testRmse' }
}

/** The main metric of a study on data of this task. */
export function mainMetricOf(task: Task): MainMetric {
  const { key, label, percent, test } = KEYS[task]
  const info = mainMetric(task)
  // task.ts's main metric is the one read on test here: the same figure, named for a study's sentences.
  if (info.key !== test) throw new Error(`the main metric of ${task} is ${info.key}, not ${test}`)
  return { key, label, higherIsBetter: info.higherIsBetter, percent }
}

/** The main metric's value on the test or validation part; null for a run without it (or of another task). */
export function mainMetricValue(task: Task, metrics: RunMetrics | null | undefined, part: 'test' | 'val'): number | null {
  return metricValue(metrics, KEYS[task][part])
}

/** What the error column of a study shows: test loss (cross-entropy) or test RMSE (the target's unit). */
export function errorMetricLabel(task: Task): string {
  return task === 'regression' ? 'test RMSE' : 'test loss'
}

/** The error figure a study summarises next to the main metric: test loss, or test RMSE for regression. */
export function errorMetricValue(task: Task, metrics: RunMetrics | null | undefined): number | null {
  return metricValue(metrics, KEYS[task].error)
}
