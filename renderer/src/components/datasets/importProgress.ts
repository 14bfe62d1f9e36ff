/** The one line under the import progress bar: what is happening now, in the units of the data (files, images, rows). */
import type { ImportProgress } from '../../stores/datasets'

const count = (n: number): string => n.toLocaleString('en-US')

/** 1536 → "1.5 KB", 3.2e6 → "3.2 MB": what a person reads on an upload. */
export function byteSize(bytes: number): string {
  if (bytes < 1000) return `${bytes} B`
  const units = ['KB', 'MB', 'GB', 'TB']
  let value = bytes / 1000
  let unit = 0
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000
    unit++
  }
  return `${value.toFixed(value < 10 ? 1 : 0)} ${units[unit]}`
}

export function importProgressText(p: ImportProgress): string {
  if (p.phase === 'uploading') {
    const files = p.totalFiles === 1 ? '' : `${count(p.files)} of ${count(p.totalFiles)} files · `
    return `Uploading ${p.label}: ${files}${byteSize(p.bytes)} of ${byteSize(p.totalBytes)}`
  }
  if (p.phase === 'fitting')
    return `Read ${count(p.rows)} ${p.kind === 'images' ? 'image' : 'row'}${p.rows === 1 ? '' : 's'} of ${p.label}; splitting and fitting the preparation…`
  if (p.phase === 'profiling') return `Profiling the columns of ${p.label}: ${count(p.rows)} row${p.rows === 1 ? '' : 's'} read`
  const done = p.totalBytes > 0 ? ` (${Math.min(100, Math.round((100 * p.bytes) / p.totalBytes))} %)` : ''
  if (p.kind === 'images') return `Decoding the images of ${p.label}: ${count(p.rows)} image${p.rows === 1 ? '' : 's'}${done}`
  if (p.kind === 'table') return `Reading ${p.label}: ${count(p.rows)} row${p.rows === 1 ? '' : 's'}${done}`
  return `Importing ${p.label}: ${count(p.rows)} done${done}`
}
