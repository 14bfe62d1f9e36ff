/** The rows a run's figures rest on, for runs recorded before the metrics kept them too. */
import type { RunDetail, RunMetrics } from '@contract'

/** Test rows: stored with the metrics, else the confusion matrix's total (every test row is in one cell). */
export function testRowsOf(run: { metrics: RunMetrics | null; evaluation?: RunDetail['evaluation'] }): number | null {
  if (run.metrics?.testRows) return run.metrics.testRows
  const total = run.evaluation?.confusion.flat().reduce((a, b) => a + b, 0)
  return total ? total : null
}

/** The best validation accuracy any epoch reached (a cancelled run has no final figures, only these). */
export function bestEpochVal(run: Pick<RunDetail, 'epochs'>): number | null {
  return run.epochs.reduce<number | null>(
    (best, r) => (r.valAccuracy !== null && (best === null || r.valAccuracy > best) ? r.valAccuracy : best),
    null
  )
}
