/**
 * The plain CSV reader's line parser (plainCsv.ts), with nothing but Buffer: it runs on the import thread and on its
 * helper thread (importHelper.ts), which parse alternate segments of one file.
 *
 * Numbers are read as DuckDB's cast and JavaScript's Number() read them (both correctly rounded): up to 15 digits
 * with a power of ten of at most 22 is one exact division (Clinger's fast path), anything else through Number() on
 * the field's text once it matches the grammar both read alike.
 */
import { isUtf8 } from 'node:buffer'
import { NULL_SPELLINGS } from './values'

/** How the lines of a file split into fields: what the parser needs of the dialect and the columns' kinds. */
export interface PlainLayout {
  delimiter: number
  /** The quote character's byte, -1 for none: a field holding it is not plain. */
  quote: number
  /** Per column in file order: numbers (true) or text. */
  numeric: boolean[]
}

/** The file is not plain (or not plain here): DuckDB reads it. */
export class NotPlain extends Error {}

export const NEWLINE = 10
const RETURN = 13
const MINUS = 45
const DOT = 46
const ZERO = 48
const NINE = 57
const POWERS = Array.from({ length: 23 }, (_, i) => 10 ** i)
const MISSING = new Set(NULL_SPELLINGS)
const NUMBER = /^-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$/

/**
 * Parsed rows of one stretch of a file: a number per row of each numeric column, and per text column each field's
 * byte range in `buffer` and a 64-bit hash of its bytes as (low, high) Int32 pairs. Arrays of the other kind are empty.
 */
export class RowBlock {
  rows = 0
  values: Float64Array[]
  starts: Int32Array[]
  ends: Int32Array[]
  hashes: Int32Array[]

  constructor(
    layout: PlainLayout,
    public capacity: number,
    public buffer: Buffer = Buffer.alloc(0)
  ) {
    const { numeric } = layout
    this.values = numeric.map((number) => new Float64Array(number ? capacity : 0))
    this.starts = numeric.map((number) => new Int32Array(number ? 0 : capacity))
    this.ends = numeric.map((number) => new Int32Array(number ? 0 : capacity))
    this.hashes = numeric.map((number) => new Int32Array(number ? 0 : 2 * capacity))
  }

  /** Field `row` of text column `column`, decoded. */
  text(column: number, row: number): string {
    return this.buffer.toString('utf8', this.starts[column]![row], this.ends[column]![row])
  }

  /** The arrays' buffers, the bytes' included: what a postMessage moves instead of copying. */
  transferList(withBytes = true): ArrayBuffer[] {
    const arrays = [...this.values, ...this.starts, ...this.ends, ...this.hashes].filter((array) => array.length > 0)
    return [...new Set([...(withBytes ? [this.buffer.buffer as ArrayBuffer] : []), ...arrays.map((array) => array.buffer as ArrayBuffer)])]
  }

  /** The block's arrays without its bytes: what goes back to the helper thread to be filled again. */
  arrays(): BlockArrays {
    return { capacity: this.capacity, values: this.values, starts: this.starts, ends: this.ends, hashes: this.hashes }
  }

  /** A block posted from another thread (its fields without the class). */
  static from(data: BlockArrays & { rows: number; buffer: Uint8Array }): RowBlock {
    const block = Object.create(RowBlock.prototype) as RowBlock
    Object.assign(block, data, { buffer: Buffer.from(data.buffer.buffer, data.buffer.byteOffset, data.buffer.byteLength) })
    return block
  }
}

/** A block's arrays, sent back and forth between the threads (so they are allocated once, not per segment). */
export interface BlockArrays {
  capacity: number
  values: Float64Array[]
  starts: Int32Array[]
  ends: Int32Array[]
  hashes: Int32Array[]
}

/**
 * Parses whole lines of buffer[start, end) (end: just past a line end) into `block` from its row `block.rows` on,
 * until the block is full or `end`; returns the position after the last line read. Blank lines are passed over, as
 * DuckDB does. `hashing[c]`: whether text column c's hashes are wanted. Throws NotPlain at the first thing that is
 * not plain: a quote in a field, a field too many or too few, a bare \r, text that is not UTF-8, or a numeric field
 * that is neither a number nor a missing marker.
 */
export function parseLines(layout: PlainLayout, buffer: Buffer, start: number, end: number, block: RowBlock, hashing: boolean[]): number {
  const { delimiter, quote, numeric } = layout
  const width = numeric.length
  const { values, starts, ends, hashes, capacity } = block
  let i = start
  let row = block.rows
  while (row < capacity && i < end) {
    const first = buffer[i]
    if (first === NEWLINE || (first === RETURN && buffer[i + 1] === NEWLINE)) {
      // A one-column table's blank line would be a missing value.
      if (width === 1) throw new NotPlain()
      i += first === NEWLINE ? 1 : 2
      continue
    }
    for (let column = 0; column < width; column++) {
      // What must follow the field: the delimiter, or on the last field the line end.
      const stop = column === width - 1 ? NEWLINE : delimiter
      const fieldStart = i
      let c = buffer[i]!
      if (numeric[column]) {
        let negative = false
        if (c === MINUS) {
          negative = true
          c = buffer[++i]!
        }
        let mantissa = 0
        let digits = 0
        let decimals = 0
        while (c >= ZERO && c <= NINE) {
          mantissa = mantissa * 10 + (c - ZERO)
          digits++
          c = buffer[++i]!
        }
        if (c === DOT) {
          c = buffer[++i]!
          while (c >= ZERO && c <= NINE) {
            mantissa = mantissa * 10 + (c - ZERO)
            digits++
            decimals++
            c = buffer[++i]!
          }
        }
        const numberEnd = i
        const fast = digits > 0 && digits <= 15
        if (fast && c === stop) {
          const value = mantissa / POWERS[decimals]!
          values[column]![row] = negative ? -value : value
          i++
        } else {
          // A \r\n line end, a missing marker, an exponent, more digits than the fast path takes, or not plain.
          while (c !== stop && c !== NEWLINE && c !== RETURN && c !== delimiter) c = buffer[++i]!
          let value: number
          if (fast && i === numberEnd) {
            value = mantissa / POWERS[decimals]!
            if (negative) value = -value
          } else value = slowNumber(buffer, fieldStart, i)
          values[column]![row] = value
          i = fieldEnd(buffer, i, stop)
        }
      } else {
        const hashed = hashing[column]!
        let low = 0x811c9dc5
        let high = 0x9747b28c
        let bytes = 0
        while (c !== stop && c !== NEWLINE && c !== RETURN && c !== delimiter) {
          if (c === quote) throw new NotPlain()
          if (hashed) {
            low = Math.imul(low ^ c, 0x01000193)
            high = Math.imul(high ^ c, 0x5bd1e995)
          }
          bytes |= c
          c = buffer[++i]!
        }
        if (bytes >= 0x80 && !isUtf8(buffer.subarray(fieldStart, i))) throw new NotPlain()
        starts[column]![row] = fieldStart
        ends[column]![row] = i
        if (hashed) {
          const pairs = hashes[column]!
          pairs[2 * row] = mix(low ^ (i - fieldStart))
          pairs[2 * row + 1] = mix(high ^ Math.imul(i - fieldStart, 0x27d4eb2d))
        }
        i = fieldEnd(buffer, i, stop)
      }
    }
    row++
  }
  block.rows = row
  return i
}

/**
 * The position after a field that ends at `i` (on its terminating byte), which must be `stop`: the delimiter, or on
 * the last field the line end (\n or \r\n). Anything else — a field too many or too few, a bare \r — is not plain.
 */
function fieldEnd(buffer: Buffer, i: number, stop: number): number {
  const c = buffer[i]
  if (c === stop) return i + 1
  if (c === RETURN && stop === NEWLINE && buffer[i + 1] === NEWLINE) return i + 2
  throw new NotPlain()
}

/** A numeric field past the fast path, buffer[start, end): a missing marker, a number in other digits, or not plain. */
function slowNumber(buffer: Buffer, start: number, end: number): number {
  const text = buffer.toString('latin1', start, end)
  if (MISSING.has(text)) return NaN
  if (!NUMBER.test(text)) throw new NotPlain()
  return Number(text)
}

/** murmur3's finaliser: every input bit reaches every output bit. */
function mix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b)
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35)
  return h ^ (h >>> 16)
}
