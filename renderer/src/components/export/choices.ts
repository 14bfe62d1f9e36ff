/**
 * Which runs the Export view offers, and which it starts from. Pure, so it is unit-tested: the preselected run is the
 * completed one with the best validation figure (accuracy, or R² for regression; chosen on validation, as a study
 * would; the newest on a tie) among the runs of the dataset trained on last — never a cancelled run just because it
 * is the latest, and never an accuracy weighed against an R². Runs without a test evaluation are marked in their label.
 */
import { percent } from '@shared/format'
import { mainMetric, metricValue, taskOf } from '@shared/task'
import type { RunSummary } from '@contract'

export interface RunChoice {
  label: string
  value: string
  /** Completed and scored on its test rows; otherwise exporting it asks first. */
  evaluated: boolean
}

export function exportable(runs: RunSummary[]): RunSummary[] {
  return runs.filter((r) => r.status === 'completed' || r.status === 'cancelled')
}

const evaluated = (r: RunSummary): boolean => r.status === 'completed' && r.metrics !== null

/** "test 95.0 % of 27" (classification) or "test R² 0.512 of 66" (regression), with the test rows it rests on. */
function testFigure(r: RunSummary): string {
  const rows = metricValue(r.metrics, 'testRows')
  const of = rows ? ` of ${rows}` : ''
  if (taskOf(r) === 'regression') return `test R² ${mainMetric('regression').format(metricValue(r.metrics, 'testR2'))}${of}`
  return `test ${percent(metricValue(r.metrics, 'testAccuracy'), 1)}${of}`
}

export function runChoices(runs: RunSummary[]): RunChoice[] {
  return exportable(runs)
    .slice()
    .sort((a, b) => Number(evaluated(b)) - Number(evaluated(a)) || b.createdAt.localeCompare(a.createdAt))
    .map((r) => ({
      value: r.runId,
      evaluated: evaluated(r),
      label: evaluated(r) ? `${r.name} · ${testFigure(r)}` : `${r.name} · ${r.status}, not evaluated`
    }))
}

/** The validation figure a run is chosen by: accuracy, or R² for regression (higher is better for both). */
function validationScore(r: RunSummary): number {
  return metricValue(r.metrics, taskOf(r) === 'regression' ? 'valR2' : 'valAccuracy') ?? -Infinity
}

/**
 * The completed run with the best validation figure (newest on a tie) among the evaluated runs of the dataset of the
 * newest evaluated run; null when none has finished.
 */
export function bestCompleted(runs: RunSummary[]): RunSummary | null {
  const done = exportable(runs).filter(evaluated)
  const newest = done.reduce<RunSummary | null>((a, r) => (!a || r.createdAt > a.createdAt ? r : a), null)
  if (!newest) return null
  return done
    .filter((r) => r.datasetId === newest.datasetId && taskOf(r) === taskOf(newest))
    .reduce<RunSummary | null>((best, r) => {
      if (!best) return r
      const [a, b] = [validationScore(r), validationScore(best)]
      return a > b || (a === b && r.createdAt > best.createdAt) ? r : best
    }, null)
}
