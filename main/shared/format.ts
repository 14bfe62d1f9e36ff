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
