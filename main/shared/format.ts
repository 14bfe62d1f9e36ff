/** Number formats the CLI and the renderer share, so a figure reads the same everywhere. */
import { wilsonInterval } from './intervals'
import type { CsvDialect } from './contract'

/** 0.9777 → "97.77 %"; null or undefined → "—". */
export function percent(value: number | null | undefined, digits = 2): string {
  return value === null || value === undefined || Number.isNaN(value) ? '—' : `${(value * 100).toFixed(digits)} %`
}

/** One line for anything thrown: the message of an Error, else its text. */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** 1234 ms → "1.2 s"; null or undefined → "—". */
export function seconds(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? '—' : `${(ms / 1000).toFixed(1)} s`
}

/** The first line of errorText: what a one-line message about a failure quotes. */
export function errorLine(error: unknown): string {
  return errorText(error).split('\n')[0] ?? ''
}

/** What one row of a data set is, in words: a table has rows, an image folder has images. */
export function rowNoun(kind: 'table' | 'images', n: number): string {
  return `${kind === 'images' ? 'image' : 'row'}${n === 1 ? '' : 's'}`
}

/** 1797 rows of a table → "1,797 rows"; 700 of an image folder → "700 images". */
export function rowCount(kind: 'table' | 'images', n: number): string {
  return `${n.toLocaleString('en-US')} ${rowNoun(kind, n)}`
}

/** An interval of proportions as percentages: [0.757, 0.979] → "75.7–97.9 %". */
export function percentRange(interval: readonly [number, number] | null, digits = 1): string {
  return interval ? `${(interval[0] * 100).toFixed(digits)}–${(interval[1] * 100).toFixed(digits)} %` : '—'
}

/**
 * What an accuracy rests on: "25 of 27 test rows, 95 % interval 75.7–97.9 %" (Wilson). Without a row count, "on an
 * unknown number of rows" — never a bare figure that looks surer than it is.
 */
export function accuracyBasis(accuracy: number | null | undefined, rows: number | null | undefined, part = 'test'): string {
  if (accuracy === null || accuracy === undefined) return ''
  if (!rows) return `on an unknown number of ${part} rows`
  const correct = Math.round(accuracy * rows)
  return `${correct.toLocaleString('en-US')} of ${rows.toLocaleString('en-US')} ${part} rows, 95 % interval ${percentRange(wilsonInterval(correct, rows))}`
}

/** The dialect of a CSV import as `import --json` reports it and the Datasets view shows it. */
export interface DialectReport {
  encoding: string
  delimiter: string
  quote: string
  decimal: '.' | ','
  header: boolean
  skippedLines: number
}

export function dialectReport(csv: CsvDialect): DialectReport {
  return {
    encoding: csv.encoding,
    delimiter: csv.delimiter,
    quote: csv.quote,
    decimal: csv.decimalComma ? ',' : '.',
    header: csv.header,
    skippedLines: csv.skippedLines
  }
}

/** A delimiter or quote as people name it: "," → "comma", "\t" → "tab". */
export function characterName(c: string): string {
  const names: Record<string, string> = {
    ',': 'comma',
    ';': 'semicolon',
    '\t': 'tab',
    '|': 'pipe',
    ' ': 'space',
    '"': 'double quote',
    "'": 'apostrophe',
    '': 'none'
  }
  return names[c] ?? `"${c}"`
}

/** 1536 → "1.5 KiB". */
export function formatBytes(bytes: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0 ? `${bytes} bytes` : `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`
}
