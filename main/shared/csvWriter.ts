/** CSV out, RFC 4180 quoting: a field with a comma, quote, CR or LF (or edge spaces) is quoted, quotes doubled. */
export function csvField(value: string | number | null): string {
  if (value == null) return ''
  const text = typeof value === 'number' ? (Number.isFinite(value) ? String(value) : '') : value
  return /[",\r\n]|^\s|\s$/.test(text) ? `"${text.replace(/"/g, '""')}"` : text
}

export function writeCsv(header: string[], rows: (string | number | null)[][]): string {
  return [header, ...rows].map((row) => row.map(csvField).join(',')).join('\n') + '\n'
}
