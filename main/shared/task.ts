/**
 * What a model predicts: classes or a number. The facts every side shares about a task live here once: which task
 * a target column suggests (the rule the import applies and the Datasets view explains), when a classification
 * target has too many classes for its rows, each task's main metric (its label and direction), and the figures a
 * run of each task reports. The renderer, the CLI and the services read them from here; so will studies.
 * Pure (the contract's types only), so the renderer can import it.
 */
import type { Evaluation, RegressionEvaluation, RegressionMetrics, RunMetrics, RunSummary, Task, ClassificationMetrics } from './contract'

// ---------------------------------------------------------------- the target rule

/** A numeric target with more distinct values than this is a number to predict, not a set of classes. */
export const REGRESSION_MIN_DISTINCT = 20
/** Fewer rows than this per class on average: too few to learn each class; the Datasets view says so. */
export const MIN_ROWS_PER_CLASS = 5

/** What the rule reads of a target column (the import's column statistics). */
export interface TargetFacts {
  /** Every present value is a number. */
  numeric: boolean
  /** Every present value is a whole number. */
  integer: boolean
  /** Distinct present values (a lower bound when `distinctCapped`). */
  distinct: number
  distinctCapped: boolean
  /** Every present value is a true/false word. */
  booleanLike: boolean
}

/**
 * The task a target suggests, and why (one line for the user). Regression: numbers with a fraction, or whole numbers
 * with more than REGRESSION_MIN_DISTINCT distinct values. Classification: text, true/false words, or at most
 * REGRESSION_MIN_DISTINCT distinct whole numbers (codes such as 0–9 digits or 1–5 ratings).
 */
export function suggestTask(facts: TargetFacts): { task: Task; reason: string } {
  if (!facts.numeric) return { task: 'classification', reason: facts.booleanLike ? 'true/false values' : 'text values' }
  const many = facts.distinctCapped ? `more than ${facts.distinct.toLocaleString('en-US')}` : facts.distinct.toLocaleString('en-US')
  if (!facts.integer) return { task: 'regression', reason: `numbers with fractions (${many} distinct values)` }
  if (facts.distinctCapped || facts.distinct > REGRESSION_MIN_DISTINCT)
    return { task: 'regression', reason: `${many} distinct whole numbers (more than ${REGRESSION_MIN_DISTINCT})` }
  return { task: 'classification', reason: `${many} distinct whole numbers (at most ${REGRESSION_MIN_DISTINCT})` }
}

/**
 * A warning when a classification target has too many classes for its rows (fewer than MIN_ROWS_PER_CLASS rows per
 * class on average), or null. A numeric column is offered as regression instead.
 */
export function tooManyClasses(classes: number, rows: number, numeric: boolean): string | null {
  if (classes < 2 || rows >= classes * MIN_ROWS_PER_CLASS) return null
  const per = (rows / classes).toFixed(1)
  const advice = numeric ? 'the column holds numbers: predict it as a number (regression)' : 'choose a column with fewer classes'
  return `${classes} classes for ${rows} rows (${per} rows per class, fewer than ${MIN_ROWS_PER_CLASS}): ${advice}`
}

// ---------------------------------------------------------------- metrics

/** One figure a run reports: its key in the run's metrics, how it is named and shown, and which way is better. */
export interface MetricInfo<K extends string = string> {
  key: K
  label: string
  /** Short label for narrow table headers. */
  short: string
  higherIsBetter: boolean
  format(value: number | null | undefined): string
}

const dash = (value: number | null | undefined): value is null | undefined => value === null || value === undefined || Number.isNaN(value)
const asPercent = (value: number | null | undefined): string => (dash(value) ? '—' : `${(value * 100).toFixed(2)} %`)
const asScore = (value: number | null | undefined): string => (dash(value) ? '—' : value.toFixed(3))
/** Errors in the target's own unit: four significant digits, whatever the scale. */
export const asNumber = (value: number | null | undefined): string => (dash(value) ? '—' : Number(value.toPrecision(4)).toLocaleString('en-US'))

type ClassificationKey = keyof ClassificationMetrics
type RegressionKey = Exclude<keyof RegressionMetrics, 'task'>

export const CLASSIFICATION_METRICS: MetricInfo<ClassificationKey>[] = [
  { key: 'testAccuracy', label: 'test accuracy', short: 'Test acc.', higherIsBetter: true, format: asPercent },
  { key: 'valAccuracy', label: 'validation accuracy', short: 'Val. acc.', higherIsBetter: true, format: asPercent },
  { key: 'trainAccuracy', label: 'train accuracy', short: 'Train acc.', higherIsBetter: true, format: asPercent },
  { key: 'testLoss', label: 'test loss (cross-entropy)', short: 'Test loss', higherIsBetter: false, format: (v) => (dash(v) ? '—' : v.toFixed(4)) }
]

export const REGRESSION_METRICS: MetricInfo<RegressionKey>[] = [
  { key: 'testR2', label: 'test R²', short: 'Test R²', higherIsBetter: true, format: asScore },
  { key: 'testRmse', label: 'test RMSE', short: 'Test RMSE', higherIsBetter: false, format: asNumber },
  { key: 'testMae', label: 'test MAE', short: 'Test MAE', higherIsBetter: false, format: asNumber },
  { key: 'testMape', label: 'test MAPE', short: 'Test MAPE', higherIsBetter: false, format: asPercent },
  { key: 'valR2', label: 'validation R²', short: 'Val. R²', higherIsBetter: true, format: asScore },
  { key: 'valRmse', label: 'validation RMSE', short: 'Val. RMSE', higherIsBetter: false, format: asNumber },
  { key: 'trainR2', label: 'train R²', short: 'Train R²', higherIsBetter: true, format: asScore },
  { key: 'testLoss', label: 'test loss (in the target’s unit²)', short: 'Test loss', higherIsBetter: false, format: asNumber }
]

/** The figures a run of this task reports, the main one first. */
export function metricsOf(task: Task): MetricInfo[] {
  return task === 'regression' ? REGRESSION_METRICS : CLASSIFICATION_METRICS
}

/** The one figure that ranks runs of a task (Experiments' sort and filter, the compare verdict, studies). */
export function mainMetric(task: Task): MetricInfo {
  // Each list starts with its main metric.
  return metricsOf(task)[0]!
}

/** The validation figure that picks the best epoch and ranks block heads: accuracy, or R² for regression. */
export function epochScoreLabel(task: Task): string {
  return task === 'regression' ? 'R²' : 'accuracy'
}

/** A run's task: runs from before tasks existed are classification. */
export function taskOf(run: Pick<RunSummary, 'task'> | { task?: Task | undefined }): Task {
  return run.task ?? 'classification'
}

export function isRegressionMetrics(metrics: RunMetrics | null | undefined): metrics is RegressionMetrics {
  return metrics != null && 'testR2' in metrics
}

export function isRegressionEvaluation(evaluation: Evaluation | null | undefined): evaluation is RegressionEvaluation {
  return evaluation != null && 'points' in evaluation
}

/** The value of one metric key in a run's metrics, or null when the run has no such figure. */
export function metricValue(metrics: RunMetrics | null | undefined, key: string): number | null {
  if (!metrics) return null
  const value = (metrics as Record<string, unknown>)[key]
  return typeof value === 'number' ? value : null
}

/** The run's main metric value (null for runs without metrics). */
export function mainValue(run: Pick<RunSummary, 'metrics'> & { task?: Task }): number | null {
  return metricValue(run.metrics, mainMetric(taskOf(run)).key)
}

/** Why runs cannot be compared side by side, or null when they can: a figure means something else in each task. */
export function compareRefusal(runs: Array<{ name: string; task?: Task }>): string | null {
  const tasks = new Set(runs.map(taskOf))
  if (tasks.size < 2) return null
  const named = (task: Task) =>
    runs
      .filter((run) => taskOf(run) === task)
      .map((run) => `"${run.name}"`)
      .slice(0, 3)
      .join(', ')
  return `runs of different tasks cannot be compared (accuracy and R² measure different things): classification ${named('classification')}; regression ${named('regression')}. Tick runs of one task.`
}

// ---------------------------------------------------------------- regression figures

/** 1 − SSE/SST around the truth's own mean (scikit-learn's r2_score); 0 for a part whose truth is constant. */
export function rSquared(truth: ArrayLike<number>, predicted: ArrayLike<number>): number {
  const n = truth.length
  if (n === 0) return 0
  let mean = 0
  for (let i = 0; i < n; i++) mean += truth[i]!
  mean /= n
  let sse = 0
  let sst = 0
  for (let i = 0; i < n; i++) {
    sse += (truth[i]! - predicted[i]!) ** 2
    sst += (truth[i]! - mean) ** 2
  }
  return sst > 0 ? 1 - sse / sst : 0
}

export interface RegressionFigures {
  r2: number
  rmse: number
  mae: number
  /** Null when a true value is 0 (the percentage is undefined there). */
  mape: number | null
}

/** R², RMSE, MAE and MAPE of predictions against the truth, both in the target's unit. */
export function regressionFigures(truth: ArrayLike<number>, predicted: ArrayLike<number>): RegressionFigures {
  const n = truth.length
  if (n === 0) return { r2: 0, rmse: 0, mae: 0, mape: null }
  let squares = 0
  let absolute = 0
  let percentage = 0
  let zero = false
  for (let i = 0; i < n; i++) {
    const residual = truth[i]! - predicted[i]!
    squares += residual * residual
    absolute += Math.abs(residual)
    if (truth[i] === 0) zero = true
    else percentage += Math.abs(residual / truth[i]!)
  }
  return { r2: rSquared(truth, predicted), rmse: Math.sqrt(squares / n), mae: absolute / n, mape: zero ? null : percentage / n }
}

/** An epoch or head score as people read it: "97.8 %" for accuracy, "R² 0.512" for regression; "—" when absent. */
export function scoreText(task: Task, value: number | null | undefined): string {
  if (value === null || value === undefined || Number.isNaN(value)) return '—'
  return task === 'regression' ? `R² ${value.toFixed(3)}` : `${(value * 100).toFixed(1)} %`
}
