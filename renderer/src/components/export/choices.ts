/**
 * Which runs the Export view offers, and which it starts from. Pure, so it is unit-tested: the preselected run is the
 * completed one with the best validation accuracy (chosen on validation, as a study would; the newest on a tie) —
 * never a cancelled run just because it is the latest. Runs without a test evaluation are marked in their label.
 */
import { percent } from '@shared/format'
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

export function runChoices(runs: RunSummary[]): RunChoice[] {
  const evaluated = (r: RunSummary) => r.status === 'completed' && r.metrics !== null
  return exportable(runs)
    .slice()
    .sort((a, b) => Number(evaluated(b)) - Number(evaluated(a)) || b.createdAt.localeCompare(a.createdAt))
    .map((r) => ({
      value: r.runId,
      evaluated: evaluated(r),
      label: evaluated(r)
        ? `${r.name} · test ${percent(r.metrics!.testAccuracy, 1)}${r.metrics!.testRows ? ` of ${r.metrics!.testRows}` : ''}`
        : `${r.name} · ${r.status}, not evaluated`
    }))
}

/** The completed run with the best validation accuracy (newest on a tie); null when none has finished. */
export function bestCompleted(runs: RunSummary[]): RunSummary | null {
  return exportable(runs)
    .filter((r) => r.status === 'completed' && r.metrics !== null)
    .reduce<RunSummary | null>((best, r) => {
      if (!best) return r
      const [a, b] = [r.metrics!.valAccuracy, best.metrics!.valAccuracy]
      return a > b || (a === b && r.createdAt > best.createdAt) ? r : best
    }, null)
}
