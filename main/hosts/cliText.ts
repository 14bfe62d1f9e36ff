/** What the CLI prints for people (tables, summaries, progress bars); --json prints the contract's values instead. */
import type { DatasetSummary, EventPayload, PredictResult, RunDetail, RunResources, RunSummary } from '../shared/contract'
import { accuracyBasis, characterName, percent, seconds } from '../shared/format'
import { layerList } from '../shared/blocks'
import { DATE_ORDER_TEXT, dateReading, datePartsText } from '../shared/dates'
import { STEP_MEMORY_EXPLAINED, bytes, peakWhere } from '../shared/cost'
import { asNumber, epochScoreLabel, isRegressionEvaluation, mainMetric, metricValue, metricsOf, taskOf } from '../shared/task'

/** Output sinks, injectable so tests can run the CLI in-process. */
export interface CliIo {
  out(text: string): void
  err(text: string): void
  isTty: boolean
}

export const pct = (x: number | null | undefined): string => percent(x)

/**
 * Terminal controls written as visible escapes. Names, labels, paths and messages come from the user's files: a
 * class label "\x1b]0;pwned\x07" printed raw retitles the terminal, and other sequences move the cursor, rewrite
 * lines or (on some terminals) answer back as typed input. C0 and C1 controls, DEL and the bidirectional overrides
 * (which make text read differently from what it is) become \xNN / \uNNNN; `keep` lists controls the output
 * itself uses (newlines and tabs between fields).
 */
export function visible(text: string, keep = ''): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u200e\u200f\u202a-\u202e\u2066-\u2069]/g, (c) => {
    if (keep.includes(c)) return c
    if (c === '\n') return '\\n'
    if (c === '\t') return '\\t'
    if (c === '\r') return '\\r'
    const code = c.charCodeAt(0)
    return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`
  })
}

/** What the CLI prints for people, made safe for a terminal (newlines and tabs of the layout kept). */
export const forTerminal = (text: string): string => visible(text, '\n\t')

export function table(rows: string[][]): string {
  const [head] = rows
  if (!head) return ''
  // Cells are escaped first, so the columns line up with what the terminal shows.
  const cells = rows.map((row) => row.map((cell) => visible(cell)))
  const widths = head.map((_, i) => Math.max(...cells.map((row) => (row[i] ?? '').length)))
  return (
    cells
      .map((row) =>
        row
          .map((cell, i) => cell.padEnd(widths[i] ?? 0))
          .join('  ')
          .trimEnd()
      )
      .join('\n') + '\n'
  )
}

export function describeDataset(d: DatasetSummary): string {
  const v = visible
  const features = d.columns.filter((c) => c.role === 'feature').length
  const lines = [
    `${d.datasetId}  ${v(d.name)}  (${d.kind}, ${d.rows} rows, ${features} feature columns → ${d.featureCount} inputs)`,
    `  task: ${d.task} (${v(d.taskReason)})`,
    d.task === 'regression'
      ? `  target: ${v(d.target ?? '—')} (a number${targetRange(d)})`
      : `  target: ${v(d.target ?? '—')}; classes: ${d.classes.map((c) => `${v(c.label)}:${c.count}`).join(' ')}`,
    `  split: train ${d.split.train} / validation ${d.split.val} / test ${d.split.test} (seed ${d.split.seed})`
  ]
  if (d.unlabeledRows > 0) lines.push(`  ${d.unlabeledRows} rows without a target value: left out of training and evaluation`)
  if (d.targetWarning) lines.push(`  warning: ${d.targetWarning}`)
  const csv = d.parse.csv
  const table = d.parse.table
  if (table?.format === 'workbook')
    lines.push(`  read: sheet "${v(table.sheet ?? '')}" of ${v(table.sheets?.map((s) => s.name).join(', ') ?? '')}; header in row ${table.headerRow}`)
  else if (table && table.format !== 'csv') lines.push(`  read: ${table.format === 'parquet' ? 'Parquet' : 'JSON Lines'}`)
  if (csv) {
    const parts = [
      `${csv.encoding}${csv.bom ? ' (BOM)' : ''}`,
      `delimiter ${v(characterName(csv.delimiter))}`,
      `quote ${characterName(csv.quote)}`,
      `decimal ${csv.decimalComma ? 'comma' : 'point'}`,
      csv.header ? (csv.headerRows === 2 ? 'two-row header' : 'header') : 'no header'
    ]
    if (csv.skippedLines) parts.push(`${csv.skippedLines} line(s) skipped above the table`)
    if (csv.compression === 'gzip') parts.push('gzip')
    lines.push(`  read: ${parts.join(', ')}`)
  }
  if (table?.messyNumbers?.length) lines.push(`  read as numbers: ${v(table.messyNumbers.join(', '))} (currency, thousands or percent signs removed)`)
  if (table?.setAside) {
    const { total, rows } = table.setAside
    lines.push(
      `  set aside ${total} row(s) that do not fit the table:`,
      ...rows.slice(0, 10).map((r) => `    line ${r.line} (${r.problem}): ${v(r.text.slice(0, 80))}`)
    )
    if (total > 10) lines.push(`    … ${total - 10} more`)
  }
  for (const c of d.columns) {
    if (!c.date) continue
    // A guessed order says how to take the other one.
    const other = c.date.ambiguous ? (c.date.order === 'dmy' ? 'mdy' : 'dmy') : null
    const switchTo = other ? ` (--dates ${c.name}=${other} reads it as ${DATE_ORDER_TEXT[other]})` : ''
    lines.push(`  date ${v(c.name)}: ${dateReading(c.date)}; features: ${datePartsText(c.date.parts)}${switchTo}`)
  }
  const excluded = d.columns.filter((c) => c.role === 'excluded')
  if (excluded.length) lines.push(`  excluded: ${excluded.map((c) => `${v(c.name)} (${c.excludedReason})`).join(', ')}`)
  const missing = d.columns.filter((c) => c.missing > 0)
  if (missing.length) lines.push(`  missing values: ${missing.map((c) => `${v(c.name)}:${c.missing}`).join(', ')}`)
  if (d.skipped.length) lines.push(`  skipped ${d.skipped.length} file(s):`, ...d.skipped.slice(0, 20).map((s) => `    ${v(s.path)}: ${v(s.reason)}`))
  return lines.join('\n') + '\n'
}

function targetRange(d: DatasetSummary): string {
  const column = d.columns.find((c) => c.name === d.target)
  return column?.min !== undefined && column.max !== undefined
    ? ` from ${asNumber(column.min)} to ${asNumber(column.max)}, mean ${asNumber(column.mean)}`
    : ''
}

/** A run's main figure for a table cell: "97.78 %" or "R² 0.512". */
export function mainFigure(run: RunSummary): string {
  const metric = mainMetric(taskOf(run))
  const value = metricValue(run.metrics, metric.key)
  return taskOf(run) === 'regression' && value !== null ? `R² ${metric.format(value)}` : metric.format(value)
}

/** What a classification figure rests on: the test accuracy's rows and Wilson interval, the validation's rows. */
function classificationBasis(m: RunSummary['metrics'], key: string): string {
  if (!m || 'testR2' in m) return ''
  if (key === 'testAccuracy') return ` (${accuracyBasis(m.testAccuracy, m.testRows)})`
  if (key === 'valAccuracy' && m.valRows) return ` (of ${m.valRows} rows)`
  return ''
}

export function describeRun(run: RunSummary | RunDetail): string {
  const v = visible
  const m = run.metrics
  const task = taskOf(run)
  const rows = m && 'testR2' in m ? ` (test ${m.testRows} rows, validation ${m.valRows}, train ${m.trainRows})` : ''
  const lines = [
    `${run.runId}  ${v(run.name)}  ${task}  ${run.mode}  ${run.status}  backend ${run.backend}  seed ${run.seed}`,
    `  ${metricsOf(task)
      .map((metric) => `${metric.label} ${metric.format(metricValue(m, metric.key))}${classificationBasis(m, metric.key)}`)
      .join('  ')}${rows}`
  ]
  if ('blocks' in run) {
    const score = task === 'regression' ? (v: number | null) => (v === null ? '—' : v.toFixed(3)) : pct
    for (const b of run.blocks)
      lines.push(
        `  ${v(b.name)}: ${layerList(b.layers)}  ${b.epochs} epochs  head ${epochScoreLabel(task)} ${score(b.headValAccuracy)}  ${seconds(b.ms)}`
      )
    if (run.evaluation && !isRegressionEvaluation(run.evaluation)) {
      const support = run.evaluation.perClass.map((c) => `${v(c.label)} F1 ${c.f1.toFixed(3)} (${c.support} rows)`).join(', ')
      lines.push(`  per class (test): ${support}`)
    }
    if (run.timing) lines.push(`  ${seconds(run.timing.totalMs)} in all, ${run.timing.msPerEpoch.toFixed(0)} ms/epoch`)
    if (run.resources) lines.push(...describeResources(run.resources))
    for (const a of run.artifacts) lines.push(`  artifact ${a.artifactId}: ${a.kind} ${v(a.path)} (${a.bytes} bytes)`)
  }
  if (run.error) lines.push(`  error: ${v(run.error)}`)
  return lines.join('\n') + '\n'
}

/** What the run cost: its heaviest step and per stage, RSS, examples; then what the step figure is. */
function describeResources(resources: RunResources): string[] {
  const stages = resources.stages.map((s) => `${s.name} ${bytes(s.stepPeakBytes)}`).join(', ')
  return [
    `  step memory ${bytes(resources.stepPeakBytes)} at the heaviest step (${peakWhere(resources)}; per stage: ${stages})`,
    `  peak RSS ${bytes(resources.peakRssBytes)}, ${resources.examples.toLocaleString('en-US')} examples seen` +
      (resources.pipeline
        ? `, ${resources.pipeline.workers} block workers, up to ${resources.pipeline.maxStepsInFlight} steps at once, queue ≤ ${resources.pipeline.maxQueued}/${resources.pipeline.queue}`
        : ''),
    `  (${STEP_MEMORY_EXPLAINED})`
  ]
}

/** "12,345 rows · 3.1 of 146.8 MB" for an import's progress bar. */
export function importProgressText(p: EventPayload<'dataset.progress'>): string {
  const mb = (bytes: number) => (bytes / 1e6).toFixed(1)
  const phase = p.phase === 'fitting' ? ' · splitting and fitting' : ''
  return `${p.rows.toLocaleString('en')} rows · ${mb(p.bytes)} of ${mb(p.totalBytes)} MB${phase}`
}

/** A one-line progress bar on stderr, redrawn in place; only on a terminal and never with --json. */
export function progressBar(io: CliIo, enabled: boolean) {
  let last = 0
  let lastText = ''
  return {
    draw(text: string, fraction: number, force = false) {
      if (!enabled) return
      lastText = text
      const now = Date.now()
      if (!force && now - last < 100) return
      last = now
      const width = 24
      const filled = Math.round(Math.max(0, Math.min(1, fraction)) * width)
      io.err(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${visible(text)}`.padEnd(100).slice(0, 120))
    },
    done() {
      if (enabled) io.err('\n')
    },
    /** Draws the last stage as complete and moves to a new line. */
    finish() {
      this.draw(lastText, 1, true)
      this.done()
    }
  }
}

/** The predictions for people: the first rows, then the figures against the file's target (with their row count). */
export function describePrediction(result: PredictResult): string {
  const head = result.rows
    .slice(0, 20)
    .map((r) => `${visible(r.key)}\t${typeof r.prediction === 'number' ? asNumber(r.prediction) : visible(r.prediction)}`)
    .join('\n')
  const more = result.rows.length > 20 ? `\n… ${result.rows.length - 20} more` : ''
  let scores = ''
  if (result.accuracy !== null) scores = `\naccuracy ${pct(result.accuracy)} (${accuracyBasis(result.accuracy, result.scoredRows, 'labelled')})`
  if (result.r2 !== null)
    scores = `\nR² ${result.r2.toFixed(3)}  RMSE ${asNumber(result.rmse)}  MAE ${asNumber(result.mae)} on ${result.scoredRows} rows with a target value`
  const out = result.out ? `\nwrote ${result.out}` : ''
  return `${head}${more}${scores}${out}\n`
}
