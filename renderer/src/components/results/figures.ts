/** The rows a run's figures rest on, for runs recorded before the metrics kept them too. */
import type { ClassificationEvaluation, RunDetail, RunMetrics } from '@contract'
import { isRegressionEvaluation } from '@shared/task'

/** Test rows: stored with the metrics, else the confusion matrix's total (every test row is in one cell). */
export function testRowsOf(run: { metrics: RunMetrics | null; evaluation?: RunDetail['evaluation'] }): number | null {
  if (run.metrics?.testRows) return run.metrics.testRows
  const evaluation = run.evaluation
  if (!evaluation || isRegressionEvaluation(evaluation)) return null
  const total = evaluation.confusion.flat().reduce((a, b) => a + b, 0)
  return total ? total : null
}

/** The best validation accuracy (or R²) any epoch reached (a cancelled run has no final figures, only these). */
export function bestEpochVal(run: Pick<RunDetail, 'epochs'>): number | null {
  return run.epochs.reduce<number | null>(
    (best, r) => (r.valAccuracy !== null && (best === null || r.valAccuracy > best) ? r.valAccuracy : best),
    null
  )
}

/** A classification run's test evaluation (matrix, per class, mistakes), or null (regression, or not evaluated). */
export function classificationOf(run: Pick<RunDetail, 'evaluation'>): ClassificationEvaluation | null {
  return run.evaluation && !isRegressionEvaluation(run.evaluation) ? run.evaluation : null
}
