/** What the CLI prints for a study: a table of configurations with intervals, the verdict, and the --json shape. */
import type { StudyDetail, SummaryStat } from '../shared/contract'
import { CORRECTED_TEST_EXPLANATION, durationText, meanWithInterval } from '../shared/studyText'
import { table } from './cliText'

/** The --json object of `layerlab study` and `layerlab show STUDY_ID` (documented in the README). */
export function studyJson(detail: StudyDetail) {
  const { stats } = detail
  const c = stats.comparison
  return {
    studyId: detail.studyId,
    metric: stats.metric.key,
    protocol: detail.protocol,
    status: detail.status,
    configs: stats.configs.map((config) => ({
      name: config.name,
      mode: config.mode,
      runs: config.runs,
      mean: config.test.mean,
      std: config.test.std,
      ci95: config.test.ci95
    })),
    ...(c
      ? { comparison: { difference: { mean: c.difference.mean, ci95: c.difference.ci95 }, test: c.test, pValue: c.pValue, verdict: c.verdict } }
      : {})
  }
}

const mib = (s: SummaryStat) => (s.mean === null ? '—' : `${(s.mean / 2 ** 20).toFixed(0)} MiB`)

export function describeStudy(detail: StudyDetail): string {
  const { stats } = detail
  const metric = stats.metric
  const lines = [
    `${detail.studyId}  ${detail.name}  ${detail.status}  ${detail.done}/${detail.total} runs  ${detail.workers} worker${detail.workers === 1 ? '' : 's'}`
  ]
  const order = detail.kind === 'sweep' ? [...stats.configs].sort((a, b) => (b.val.mean ?? -Infinity) - (a.val.mean ?? -Infinity)) : stats.configs
  const rows = [
    ['CONFIGURATION', 'RUNS', `TEST ${metric.label.toUpperCase()} (95 % INTERVAL)`, `VALIDATION`, 'TEST LOSS', 'WALL TIME', 'PEAK RSS'],
    ...order.map((c) => [
      `${c.name}${stats.best === c.configIndex && detail.kind === 'sweep' ? '  ← best on validation' : ''}`,
      `${c.n}/${c.total}`,
      meanWithInterval(c.test.mean, c.test.ci95, metric),
      meanWithInterval(c.val.mean, c.val.ci95, metric),
      c.loss.mean === null ? '—' : c.loss.mean.toFixed(4),
      durationText(c.wallMs.mean),
      mib(c.peakRssBytes)
    ])
  ]
  lines.push(
    ...table(rows)
      .trimEnd()
      .split('\n')
      .map((line) => `  ${line}`)
  )
  if (stats.comparison) {
    lines.push(`  ${stats.comparison.verdict}`)
    lines.push(`  test: ${stats.comparison.test}. ${CORRECTED_TEST_EXPLANATION}`)
  }
  if (detail.kind === 'sweep' && stats.best !== null) {
    const best = stats.configs[stats.best]!
    lines.push(`  best on validation: ${best.name}; on test ${meanWithInterval(best.test.mean, best.test.ci95, metric)}`)
  }
  lines.push(`  ${stats.coverage}`)
  for (const m of detail.members.filter((member) => member.status === 'failed'))
    lines.push(
      `  failed: ${detail.configs[m.configIndex]?.name ?? m.configIndex} seed ${m.seed}${m.runId ? ` (${m.runId})` : ''}: ${m.error ?? 'unknown error'}`
    )
  if (detail.error) lines.push(`  ${detail.error}`)
  return lines.join('\n') + '\n'
}
