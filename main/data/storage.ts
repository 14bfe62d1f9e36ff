/**
 * The materialised dataset on disk, so that opening a dataset never parses its source again.
 * One file per column and representation:
 *   c<i>.f64  Float64 per row (NaN: missing) — columns whose values are all numbers
 *   c<i>.i32  Int32 code per row into the column's vocabulary (-1: missing) — columns with at most VOCAB_CAP distinct values
 *   c<i>.str + c<i>.off  UTF-8 bytes and Float64 end offsets per row — the rest (many distinct strings)
 * Images: pixels.u8 (row-major [n, h, w, c]) and images.json ({path, label} per row).
 * All little-endian (the typed arrays' native order on every platform Node supports).
 */
import fs from 'node:fs'
import path from 'node:path'
import { writeFileAtomic } from '../core/atomicWrite'

const BUFFER_BYTES = 1 << 16

/** Appends fixed-size values or bytes to a file through a small buffer (flat memory for any row count). */
export class BufferedWriter {
  private readonly fd: number
  private readonly buffer = new ArrayBuffer(BUFFER_BYTES)
  private readonly bytesView = new Uint8Array(this.buffer)
  private readonly f64View = new Float64Array(this.buffer)
  private readonly i32View = new Int32Array(this.buffer)
  /** Bytes used in the buffer; fixed-size writes keep it aligned (a writer holds one kind of value). */
  private used = 0
  /** Bytes written so far (flushed or not). */
  written = 0

  constructor(readonly file: string) {
    this.fd = fs.openSync(file, 'w')
  }
  f64(value: number): void {
    if (this.used + 8 > BUFFER_BYTES) this.flush()
    this.f64View[this.used >> 3] = value
    this.used += 8
    this.written += 8
  }
  i32(value: number): void {
    if (this.used + 4 > BUFFER_BYTES) this.flush()
    this.i32View[this.used >> 2] = value
    this.used += 4
    this.written += 4
  }
  bytes(data: Uint8Array): void {
    if (this.used + data.length > BUFFER_BYTES) this.flush()
    if (data.length > BUFFER_BYTES) fs.writeSync(this.fd, data)
    else {
      this.bytesView.set(data, this.used)
      this.used += data.length
    }
    this.written += data.length
  }
  flush(): void {
    if (this.used > 0) fs.writeSync(this.fd, this.bytesView, 0, this.used)
    this.used = 0
  }
  close(): void {
    this.flush()
    fs.closeSync(this.fd)
  }
}

/** Strings column: bytes plus a Float64 end offset per row. */
export class StringWriter {
  private readonly data: BufferedWriter
  private readonly offsets: BufferedWriter
  constructor(dataFile: string, offsetFile: string) {
    this.data = new BufferedWriter(dataFile)
    this.offsets = new BufferedWriter(offsetFile)
  }
  write(value: string): void {
    if (value.length > 0) this.data.bytes(Buffer.from(value, 'utf8'))
    this.offsets.f64(this.data.written)
  }
  close(): void {
    this.data.close()
    this.offsets.close()
  }
}

/** Calls `each` for every value of a fixed-size column file, reading it in 1 MiB chunks. */
export function forEachInFile(file: string, kind: 'f64' | 'i32', each: (value: number, row: number) => void): void {
  const size = kind === 'f64' ? 8 : 4
  const fd = fs.openSync(file, 'r')
  try {
    const chunk = Buffer.allocUnsafe(size * 131072)
    let row = 0
    for (;;) {
      const read = fs.readSync(fd, chunk, 0, chunk.length, row * size)
      if (read <= 0) break
      const count = Math.floor(read / size)
      for (let i = 0; i < count; i++) each(kind === 'f64' ? chunk.readDoubleLE(i * size) : chunk.readInt32LE(i * size), row + i)
      row += count
    }
  } finally {
    fs.closeSync(fd)
  }
}

export function readF64(file: string): Float64Array {
  const buffer = fs.readFileSync(file)
  const out = new Float64Array(buffer.length / 8)
  new Uint8Array(out.buffer).set(buffer)
  return out
}

export function readI32(file: string): Int32Array {
  const buffer = fs.readFileSync(file)
  const out = new Int32Array(buffer.length / 4)
  new Uint8Array(out.buffer).set(buffer)
  return out
}

/** Rows [start, start + count) of a fixed-size column file. */
export function readRangeF64(file: string, start: number, count: number): Float64Array {
  const buffer = readBytes(file, start * 8, count * 8)
  const out = new Float64Array(buffer.length / 8)
  new Uint8Array(out.buffer).set(buffer)
  return out
}

export function readRangeI32(file: string, start: number, count: number): Int32Array {
  const buffer = readBytes(file, start * 4, count * 4)
  const out = new Int32Array(buffer.length / 4)
  new Uint8Array(out.buffer).set(buffer)
  return out
}

function readBytes(file: string, position: number, length: number): Buffer {
  const fd = fs.openSync(file, 'r')
  try {
    const buffer = Buffer.alloc(length)
    const read = fs.readSync(fd, buffer, 0, length, position)
    return buffer.subarray(0, read)
  } finally {
    fs.closeSync(fd)
  }
}

/** Rows [start, start + count) of a strings column. */
export function readRangeStrings(dataFile: string, offsetFile: string, start: number, count: number): string[] {
  const ends = readRangeF64(offsetFile, start, count)
  if (ends.length === 0) return []
  // The offsets hold one end per row: rows start - 1 and start + ends.length - 1 are there when any row is.
  const first = start === 0 ? 0 : readRangeF64(offsetFile, start - 1, 1)[0]!
  const bytes = readBytes(dataFile, first, ends[ends.length - 1]! - first)
  const out: string[] = []
  let previous = first
  for (const end of ends) {
    out.push(bytes.subarray(previous - first, end - first).toString('utf8'))
    previous = end
  }
  return out
}

export const columnFile = (dir: string, index: number, ext: 'f64' | 'i32' | 'str' | 'off'): string => path.join(dir, `c${index}.${ext}`)

export function writeJson(file: string, value: unknown): void {
  writeFileAtomic(file, JSON.stringify(value))
}

export function readJson<T>(file: string): T {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as T
}
