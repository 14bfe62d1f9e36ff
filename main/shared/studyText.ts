/**
 * The words a study's numbers are told in, shared by the CLI and the renderer so both say the same sentence.
 * The verdict comes from the numbers: a difference is called only when the test detects one.
 */
import type { EventPayload, StudyProtocol, Task } from './contract'
import type { MainMetric } from './mainMetric'
import { asNumber } from './task'

/** Significance level of the verdict. */
export const ALPHA = 0.05

export const CORRECTED_TEST_NAME = 'corrected resampled t-test (Nadeau–Bengio)'

/** One plain sentence on what the test is, for the UI and the CLI. */
export const CORRECTED_TEST_EXPLANATION =
  'A paired t-test on the per-split differences whose variance is enlarged by test rows / training rows, because the splits share most of their training rows and so vary less than independent samples would; a plain t-test would find differences that are not there.'

/** −0.0042 → "−0.4" (points) for percent metrics, else "−0.0042". Unicode minus, as print does. */
export function metricAmount(value: number, metric: Pick<MainMetric, 'percent'>, digits = 1): string {
  const shown = metric.percent ? (value * 100).toFixed(digits) : value.toFixed(digits + 3)
  return shown.replace(/^-/, '−').replace(/^−(0\.?0*)$/, '$1')
}

/** "p = 0.41", "p = 0.004", "p < 0.001". */
export function pText(p: number): string {
  if (!Number.isFinite(p)) return 'p = —'
  if (p < 0.001) return 'p < 0.001'
  return `p = ${p < 0.01 ? p.toFixed(3) : p.toFixed(2)}`
}

export interface VerdictInput {
  /** Names of the two configurations: the difference is b − a. */
  a: string
  b: string
  difference: { mean: number; ci95: [number, number] | null }
  pValue: number
  pairs: number
}

/**
 * "no detectable difference between end-to-end and layer-wise (p = 0.41; difference layer-wise − end-to-end:
 * −0.4 ± 1.1 points of test accuracy over 10 paired runs)", or "layer-wise is better than end-to-end by …".
 */
export function verdictText(v: VerdictInput, metric: MainMetric): string {
  const unit = metric.percent ? ' points' : ''
  const half = v.difference.ci95 ? (v.difference.ci95[1] - v.difference.ci95[0]) / 2 : NaN
  const spread = Number.isFinite(half) ? ` ± ${metricAmount(half, metric)}` : ''
  const over = `${v.pairs} paired run${v.pairs === 1 ? '' : 's'}`
  if (!(v.pValue < ALPHA)) {
    return `No detectable difference between ${v.a} and ${v.b} (${pText(v.pValue)}; difference ${v.b} − ${v.a}: ${metricAmount(v.difference.mean, metric)}${spread}${unit} of test ${metric.label} over ${over}).`
  }
  const bBetter = metric.higherIsBetter ? v.difference.mean > 0 : v.difference.mean < 0
  const [winner, loser] = bBetter ? [v.b, v.a] : [v.a, v.b]
  return `${capitalise(winner)} is better than ${loser} by ${metricAmount(Math.abs(v.difference.mean), metric)}${spread}${unit} of test ${metric.label} (${pText(v.pValue)} over ${over}).`
}

const capitalise = (text: string): string => text.charAt(0).toUpperCase() + text.slice(1)

/** "97.1 % ± 0.6" for a mean and its 95 % interval (percent metrics), else "0.912 ± 0.011". */
export function meanWithInterval(mean: number | null, ci95: [number, number] | null, metric: Pick<MainMetric, 'percent'>): string {
  if (mean === null || !Number.isFinite(mean)) return '—'
  const value = metric.percent ? `${(mean * 100).toFixed(1)} %` : mean.toFixed(3)
  if (!ci95) return value
  return `${value} ± ${metricAmount((ci95[1] - ci95[0]) / 2, metric)}`
}

/** A configuration's error figure: test loss to 4 decimals, or (regression) test RMSE in the target's unit. */
export function errorFigureText(task: Task, value: number | null): string {
  if (value === null || !Number.isFinite(value)) return '—'
  return task === 'regression' ? asNumber(value) : value.toFixed(4)
}

/** 1400 → "1.4 s", 80000 → "1 min 20 s". */
export function durationText(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms) || ms < 0) return '—'
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)} s`
  const s = Math.round(ms / 1000)
  return s < 60 ? `${s} s` : `${Math.floor(s / 60)} min ${s % 60} s`
}

/** "10 seeds (fresh 70/15/15 splits)", "5-fold stratified cross-validation × 3 repeats"; regression's folds are plain. */
export function describeProtocol(protocol: StudyProtocol, task: Task = 'classification'): string {
  if (protocol.kind === 'seeds') return `${protocol.seeds} seed${protocol.seeds === 1 ? '' : 's'} (fresh 70/15/15 splits)`
  const cv = `${protocol.folds}-fold ${task === 'regression' ? '' : 'stratified '}cross-validation`
  return protocol.repeats > 1 ? `${cv} × ${protocol.repeats} repeats` : cv
}

/** "study 7/20 runs done · 2 training · 1 failed · about 40 s left" */
export function studyProgressText(p: EventPayload<'study.progress'>): string {
  const parts = [`study ${p.done}/${p.total} runs done`]
  if (p.running) parts.push(`${p.running} training`)
  if (p.failed) parts.push(`${p.failed} failed`)
  if (p.etaMs !== null) parts.push(`about ${durationText(p.etaMs)} left`)
  return parts.join(' · ')
}

/** What a comparison means, for someone who does not read p-values. */
export function plainWords(v: VerdictInput, metric: MainMetric): string {
  const unit = metric.percent ? ' points' : ''
  const lo = v.difference.ci95 ? metricAmount(v.difference.ci95[0], metric) : '—'
  const hi = v.difference.ci95 ? metricAmount(v.difference.ci95[1], metric) : '—'
  if (!(v.pValue < ALPHA))
    return `On this data the two cannot be told apart: across ${v.pairs} splits, ${v.b} minus ${v.a} lies somewhere between ${lo} and ${hi}${unit} (95 % interval), a range that includes no difference at all. A single run of each could have shown either one ahead by chance; choose on cost, or run more seeds to narrow the range.`
  const bBetter = metric.higherIsBetter ? v.difference.mean > 0 : v.difference.mean < 0
  const [winner, loser] = bBetter ? [v.b, v.a] : [v.a, v.b]
  return `On the same splits, ${winner} scored better than ${loser} more consistently than chance explains: ${v.b} minus ${v.a} lies between ${lo} and ${hi}${unit} (95 % interval). The difference is real on this data; whether it is large enough to matter is your call.`
}
