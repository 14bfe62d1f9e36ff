/**
 * Which text encoding a file uses, from its first bytes: a BOM (UTF-8, UTF-16 LE/BE) is taken at its word; without one,
 * bytes that are valid UTF-8 are UTF-8 and anything else is Windows-1252 (the usual "Latin-1" of spreadsheets).
 */
import iconv from 'iconv-lite'
import { LabError } from '../shared/errors'

export const SNIFF_BYTES = 64 * 1024

export interface SniffedEncoding {
  /** iconv-lite name. */
  encoding: string
  bom: boolean
}

export function sniffEncoding(sample: Buffer, wholeFile: boolean): SniffedEncoding {
  if (sample.length >= 3 && sample[0] === 0xef && sample[1] === 0xbb && sample[2] === 0xbf) return { encoding: 'utf8', bom: true }
  if (sample.length >= 2 && sample[0] === 0xff && sample[1] === 0xfe) return { encoding: 'utf16le', bom: true }
  if (sample.length >= 2 && sample[0] === 0xfe && sample[1] === 0xff) return { encoding: 'utf16be', bom: true }
  const utf16 = utf16WithoutBom(sample)
  if (utf16) return { encoding: utf16, bom: false }
  return { encoding: isValidUtf8(sample, wholeFile) ? 'utf8' : 'windows1252', bom: false }
}

/**
 * UTF-16 without a BOM: text that is mostly ASCII has a NUL byte in every other place — after each character
 * (little-endian) or before it (big-endian). Other text files have no NUL bytes at all.
 */
function utf16WithoutBom(sample: Buffer): 'utf16le' | 'utf16be' | null {
  const pairs = Math.min(sample.length >> 1, 32 * 1024)
  if (pairs < 4) return null
  let evenZero = 0
  let oddZero = 0
  for (let i = 0; i < pairs; i++) {
    if (sample[2 * i] === 0) evenZero++
    if (sample[2 * i + 1] === 0) oddZero++
  }
  if (oddZero > 0.6 * pairs && evenZero < 0.05 * pairs) return 'utf16le'
  if (evenZero > 0.6 * pairs && oddZero < 0.05 * pairs) return 'utf16be'
  return null
}

function isValidUtf8(sample: Buffer, wholeFile: boolean): boolean {
  let bytes = sample
  if (!wholeFile) {
    // The sample may end inside a multi-byte character: drop an incomplete sequence at the end.
    let end = bytes.length
    for (let back = 1; back <= 3 && end - back >= 0; back++) {
      const byte = bytes[end - back]!
      if ((byte & 0xc0) === 0x80) continue
      if (byte >= 0xc0) {
        const need = byte >= 0xf0 ? 4 : byte >= 0xe0 ? 3 : 2
        if (back < need) end -= back
      }
      break
    }
    bytes = bytes.subarray(0, end)
  }
  try {
    new TextDecoder('utf-8', { fatal: true }).decode(bytes)
    return true
  } catch {
    return false
  }
}

/**
 * Refuses files that are not text: NUL bytes (outside UTF-16) or many control characters.
 * `label` names the file in the error.
 */
export function assertText(sample: Buffer, encoding: string, label: string): void {
  if (encoding.startsWith('utf16')) return
  let control = 0
  for (let i = 0; i < sample.length; i++) {
    const byte = sample[i]!
    if (byte === 0)
      throw new LabError(
        `${label}: not a text file (NUL byte at offset ${i}); expected a CSV (if it is UTF-16 text, pass --encoding utf-16le or utf-16be)`
      )
    if (byte < 0x20 && byte !== 0x09 && byte !== 0x0a && byte !== 0x0d && byte !== 0x0c) control++
  }
  if (control > Math.max(8, sample.length * 0.01))
    throw new LabError(`${label}: not a text file (${control} control bytes in the first ${sample.length}); expected a CSV`)
}

export function checkEncodingName(encoding: string, label: string): string {
  const normalized = encoding.toLowerCase().replace(/[^a-z0-9]/g, '')
  const name = normalized === 'latin1' ? 'windows1252' : normalized
  if (!iconv.encodingExists(name)) throw new LabError(`${label}: unknown encoding "${encoding}" (try utf8, utf16le, windows1252)`)
  return name
}

export function decodeSample(sample: Buffer, encoding: string): string {
  const text = iconv.decode(sample, encoding)
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text
}
