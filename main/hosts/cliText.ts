/** What the CLI prints for people (tables, summaries, progress bars); --json prints the contract's values instead. */
import type { DatasetSummary, EventPayload, RunDetail, RunSummary } from '../shared/contract'
import { characterName, percent, seconds } from '../shared/format'

/** Output sinks, injectable so tests can run the CLI in-process. */
export interface CliIo {
  out(text: string): void
  err(text: string): void
  isTty: boolean
}

export const pct = (x: number | null | undefined): string => percent(x)

export function table(rows: string[][]): string {
  const [head] = rows
  if (!head) return ''
  const widths = head.map((_, i) => Math.max(...rows.map((row) => (row[i] ?? '').length)))
  return (
    rows
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
  const features = d.columns.filter((c) => c.role === 'feature').length
  const lines = [
    `${d.datasetId}  ${d.name}  (${d.kind}, ${d.rows} rows, ${features} feature columns → ${d.featureCount} inputs)`,
    `  target: ${d.target ?? '—'}; classes: ${d.classes.map((c) => `${c.label}:${c.count}`).join(' ')}`,
    `  split: train ${d.split.train} / validation ${d.split.val} / test ${d.split.test} (seed ${d.split.seed})`
  ]
  const csv = d.parse.csv
  const table = d.parse.table
  if (table?.format === 'workbook')
    lines.push(`  read: sheet "${table.sheet}" of ${table.sheets?.map((s) => s.name).join(', ')}; header in row ${table.headerRow}`)
  else if (table && table.format !== 'csv') lines.push(`  read: ${table.format === 'parquet' ? 'Parquet' : 'JSON Lines'}`)
  if (csv) {
    const parts = [
      `${csv.encoding}${csv.bom ? ' (BOM)' : ''}`,
      `delimiter ${characterName(csv.delimiter)}`,
      `quote ${characterName(csv.quote)}`,
      `decimal ${csv.decimalComma ? 'comma' : 'point'}`,
      csv.header ? (csv.headerRows === 2 ? 'two-row header' : 'header') : 'no header'
    ]
    if (csv.skippedLines) parts.push(`${csv.skippedLines} line(s) skipped above the table`)
    if (csv.compression === 'gzip') parts.push('gzip')
    lines.push(`  read: ${parts.join(', ')}`)
  }
  if (table?.messyNumbers?.length) lines.push(`  read as numbers: ${table.messyNumbers.join(', ')} (currency, thousands or percent signs removed)`)
  if (table?.setAside) {
    const { total, rows } = table.setAside
    lines.push(
      `  set aside ${total} row(s) that do not fit the table:`,
      ...rows.slice(0, 10).map((r) => `    line ${r.line} (${r.problem}): ${r.text.slice(0, 80)}`)
    )
    if (total > 10) lines.push(`    … ${total - 10} more`)
  }
  const excluded = d.columns.filter((c) => c.role === 'excluded')
  if (excluded.length) lines.push(`  excluded: ${excluded.map((c) => `${c.name} (${c.excludedReason})`).join(', ')}`)
  const missing = d.columns.filter((c) => c.missing > 0)
  if (missing.length) lines.push(`  missing values: ${missing.map((c) => `${c.name}:${c.missing}`).join(', ')}`)
  if (d.skipped.length) lines.push(`  skipped ${d.skipped.length} file(s):`, ...d.skipped.slice(0, 20).map((s) => `    ${s.path}: ${s.reason}`))
  return lines.join('\n') + '\n'
}

export function describeRun(run: RunSummary | RunDetail): string {
  const m = run.metrics
  const lines = [
    `${run.runId}  ${run.name}  ${run.mode}  ${run.status}  backend ${run.backend}  seed ${run.seed}`,
    `  test accuracy ${pct(m?.testAccuracy)}  test loss ${m ? m.testLoss.toFixed(4) : '—'}  validation accuracy ${pct(m?.valAccuracy)}  train accuracy ${pct(m?.trainAccuracy)}`
  ]
  if ('blocks' in run) {
    for (const b of run.blocks)
      lines.push(`  ${b.name}: layers ${b.layers.join(',')}  ${b.epochs} epochs  head ${pct(b.headValAccuracy)}  ${seconds(b.ms)}`)
    if (run.timing) lines.push(`  ${seconds(run.timing.totalMs)} in all, ${run.timing.msPerEpoch.toFixed(0)} ms/epoch`)
    for (const a of run.artifacts) lines.push(`  artifact ${a.artifactId}: ${a.kind} ${a.path} (${a.bytes} bytes)`)
  }
  if (run.error) lines.push(`  error: ${run.error}`)
  return lines.join('\n') + '\n'
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
      io.err(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text}`.padEnd(100).slice(0, 120))
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
