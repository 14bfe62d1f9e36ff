/** Number formats the CLI and the renderer share, so a figure reads the same everywhere. */

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
