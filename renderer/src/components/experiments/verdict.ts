/**
 * What the Compare view says about which run did best. Pure, so it is unit-tested. For classification a run is called
 * best only when its test accuracy's 95 % (Wilson) interval lies wholly above every other run's: 25 of 27 against 24
 * of 27 is no evidence either way, and the verdict says so. A regression figure (R²) has no such interval here, so
 * the verdict names the highest one with its rows and never calls it clearly best.
 */
import { percent, percentRange } from '@shared/format'
import { accuracyInterval, clearlyBest } from '@shared/intervals'
import { mainMetric, metricValue, taskOf } from '@shared/task'
import type { RunDetail } from '@contract'
import { testRowsOf } from '../results/figures'

export interface Verdict {
  /** A run's figure clears every other's interval. */
  clear: boolean
  text: string
  /** Each scored run's figure with what it rests on. */
  figures: string[]
}

type Compared = Pick<RunDetail, 'name' | 'mode' | 'metrics' | 'evaluation'> & { task?: RunDetail['task'] }

/** Each run's test accuracy with its rows and Wilson interval (null: not evaluated, or its rows unknown). */
export function testIntervals(
  runs: Compared[]
): Array<{ run: Compared; rows: number | null; accuracy: number | null; interval: [number, number] | null }> {
  return runs.map((run) => {
    const rows = testRowsOf(run)
    const accuracy = metricValue(run.metrics, 'testAccuracy')
    return { run, rows, accuracy, interval: accuracy !== null && rows ? accuracyInterval(accuracy, rows) : null }
  })
}

/** The verdict over runs of one task, or null when fewer than two of them were scored on their test rows. */
export function compareVerdict(runs: Compared[]): Verdict | null {
  const task = taskOf(runs[0] ?? {})
  if (task === 'regression') return regressionVerdict(runs)
  const scored = testIntervals(runs).filter((t) => t.accuracy !== null)
  if (scored.length < 2) return null
  const figures = scored.map((t) => `${t.run.name}: ${percent(t.accuracy)}, 95 % interval ${percentRange(t.interval)}`)
  const best = clearlyBest(scored.map((t) => t.interval))
  if (best !== null) {
    const winner = scored[best]!
    return {
      clear: true,
      text: `${winner.run.name} (${winner.run.mode}) has the best test accuracy, and its 95 % interval lies above every other run's.`,
      figures
    }
  }
  if (scored.some((t) => !t.interval))
    return { clear: false, text: 'No run can be called best: some runs do not record how many test rows they were scored on.', figures }
  return {
    clear: false,
    text: `No run is clearly best: the test accuracies' 95 % intervals overlap, so the difference may be chance (on ${scored
      .map((t) => t.rows)
      .join(' and ')} test rows). Repeating each configuration with other seeds (a study) would tell.`,
    figures
  }
}

function regressionVerdict(runs: Compared[]): Verdict | null {
  const main = mainMetric('regression')
  const scored = runs
    .map((run) => ({ run, value: metricValue(run.metrics, main.key), rows: metricValue(run.metrics, 'testRows') }))
    .filter((s): s is { run: Compared; value: number; rows: number | null } => s.value !== null)
  if (scored.length < 2) return null
  const top = scored.reduce((a, b) => ((main.higherIsBetter ? b.value > a.value : b.value < a.value) ? b : a))
  const figures = scored.map((s) => `${s.run.name}: ${main.label} ${main.format(s.value)}${s.rows ? ` on ${s.rows} test rows` : ''}`)
  return {
    clear: false,
    text: `Highest ${main.label}: ${top.run.name} (${top.run.mode}, ${main.format(top.value)}). R² comes with no interval here, so a small difference may be chance; repeating each configuration with other seeds (a study) would tell.`,
    figures
  }
}
