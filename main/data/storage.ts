/**
 * The materialised dataset on disk, so that opening a dataset never parses its source again.
 * One file per column and representation:
 *   c<i>.f64  Float64 per row (NaN: missing) — columns whose values are all numbers
 *   c<i>.i32  Int32 code per row into the column's vocabulary (-1: missing) — columns with at most VOCAB_CAP distinct values
 *   c<i>.str + c<i>.off  UTF-8 bytes and Float64 end offsets per row — the rest (many distinct strings)
 *   c<i>.src  Int32 code per row into the column's `spellings` — the text of a column read as numbers ("$1,234.50")
 * Images: pixels.u8 (row-major [n, h, w, c]) and images.json ({path, label} per row).
 * All little-endian (the typed arrays' native order on every platform Node supports).
 */
import fs from 'node:fs'
import path from 'node:path'
import { writeFileAtomic } from '../core/atomicWrite'

/**
 * Open descriptors a writing pass may hold at once, whatever the number of columns: a table of 100,000 columns
 * must not need 200,000 descriptors (the process limit is often 1,024), and the import's own reads, DuckDB and the
 * host's sockets need some too.
 */
export const OPEN_FILES_LIMIT = 64

/**
 * The files of one writing pass, of which at most `limit` are open at a time (least recently written closed first).
 * Writers say where to write (their own running offset), so a file closed and opened again goes on where it stopped.
 * closeAll() releases every descriptor, whatever failed before it.
 */
export class FilePool {
  /** file → descriptor, least recently used first (a Map keeps insertion order). */
  private readonly open = new Map<string, number>()
  private readonly created = new Set<string>()

  constructor(private readonly limit = OPEN_FILES_LIMIT) {}

  write(file: string, data: Uint8Array, length: number, position: number): void {
    let fd = this.open.get(file)
    if (fd === undefined) {
      if (this.open.size >= this.limit) this.close(this.open.keys().next().value as string)
      // The first open creates (or empties) the file; later ones go on writing it.
      fd = fs.openSync(file, this.created.has(file) ? 'r+' : 'w')
      this.created.add(file)
    } else this.open.delete(file)
    this.open.set(file, fd)
    let done = 0
    while (done < length) done += fs.writeSync(fd, data, done, length - done, position + done)
  }

  /** Creates an empty file (a column with no rows written still has its file). */
  touch(file: string): void {
    if (this.created.has(file)) return
    fs.closeSync(fs.openSync(file, 'w'))
    this.created.add(file)
  }

  close(file: string): void {
    const fd = this.open.get(file)
    if (fd === undefined) return
    this.open.delete(file)
    fs.closeSync(fd)
  }

  /** Closes everything; removes files too when the pass failed (the caller removes its folder anyway). */
  closeAll(): void {
    for (const fd of this.open.values()) {
      try {
        fs.closeSync(fd)
      } catch {
        // closing the rest matters more than this one's error
      }
    }
    this.open.clear()
  }

  forget(file: string): void {
    this.close(file)
    this.created.delete(file)
    fs.rmSync(file, { force: true })
  }

  get openCount(): number {
    return this.open.size
  }
}

/** Write buffers of a pass share this many bytes (each writer gets its share, between 512 bytes and 256 KiB). */
const BUFFER_BUDGET = 64 << 20
const MIN_BUFFER = 512
const MAX_BUFFER = 256 << 10

/** A writer's buffer size when `writers` files are written in one pass. */
export const bufferShare = (writers: number): number => Math.max(MIN_BUFFER, Math.min(MAX_BUFFER, Math.floor(BUFFER_BUDGET / Math.max(1, writers))))

/**
 * Appends to one column file through a buffer that grows up to its share (narrow tables: 256 KiB, one write per
 * few thousand rows; wide ones: small buffers, so 100,000 columns fit in memory). Whole spans go in at once
 * (reserve: a DuckDB vector of 2,048 doubles is one copy) or one value at a time (f64 / i32 / bytes).
 */
export class ColumnWriter {
  private buffer = Buffer.alloc(0)
  /** Views over the buffer: valid until the next reserve() (which may grow it). */
  f64View = new Float64Array(0)
  i32View = new Int32Array(0)
  /** Bytes used in the buffer. */
  private used = 0
  /** Bytes written so far (flushed or not). */
  written = 0
  private flushed = 0

  constructor(
    readonly file: string,
    private readonly pool: FilePool,
    private readonly share = MAX_BUFFER
  ) {}

  /** Room for `bytes` more bytes (flushing or growing first); returns the byte offset in the buffer to write at. */
  reserve(bytes: number): number {
    if (this.used + bytes > this.buffer.length) {
      if (this.used + bytes > this.share) this.flush()
      if (this.used + bytes > this.buffer.length) this.grow(this.used + bytes)
    }
    const at = this.used
    this.used += bytes
    this.written += bytes
    return at
  }

  /** Gives back the end of the last reserve() (bytes not written after all). */
  unreserve(bytes: number): void {
    this.used -= bytes
    this.written -= bytes
  }

  private grow(needed: number): void {
    let size = Math.max(MIN_BUFFER, this.buffer.length)
    while (size < needed) size *= 2
    size = Math.max(needed, Math.min(size, Math.max(this.share, needed)))
    // Whole 8-byte units, so the Float64 view covers the buffer.
    size = Math.ceil(size / 8) * 8
    const next = Buffer.alloc(size)
    this.buffer.copy(next, 0, 0, this.used)
    this.buffer = next
    this.f64View = new Float64Array(next.buffer, next.byteOffset, size >> 3)
    this.i32View = new Int32Array(next.buffer, next.byteOffset, size >> 2)
  }

  f64(value: number): void {
    const at = this.reserve(8)
    this.f64View[at >> 3] = value
  }

  i32(value: number): void {
    const at = this.reserve(4)
    this.i32View[at >> 2] = value
  }

  bytes(data: Uint8Array): void {
    if (data.length > this.share) {
      this.flush()
      this.pool.write(this.file, data, data.length, this.flushed)
      this.flushed += data.length
      this.written += data.length
      return
    }
    const at = this.reserve(data.length)
    this.buffer.set(data, at)
  }

  /** A string's UTF-8 bytes, written straight into the buffer; returns their count. */
  utf8(value: string): number {
    const max = value.length * 3
    if (max > this.share) {
      const data = Buffer.from(value, 'utf8')
      this.bytes(data)
      return data.length
    }
    const at = this.reserve(max)
    const n = this.buffer.write(value, at, 'utf8')
    this.unreserve(max - n)
    return n
  }

  flush(): void {
    if (this.used === 0) return
    this.pool.write(this.file, this.buffer, this.used, this.flushed)
    this.flushed += this.used
    this.used = 0
  }

  /** Flushes and closes; the file exists afterwards even when nothing was written. */
  close(): void {
    this.flush()
    if (this.flushed === 0) this.pool.touch(this.file)
    this.pool.close(this.file)
    this.buffer = Buffer.alloc(0)
  }

  /** Drops the file (after a failed pass, or values no longer wanted). */
  discard(): void {
    this.used = 0
    this.buffer = Buffer.alloc(0)
    this.pool.forget(this.file)
  }
}

/** One value at a time into a file that only this writer uses (image pixels): its own pool of one descriptor. */
export class BufferedWriter extends ColumnWriter {
  private readonly own: FilePool
  constructor(file: string) {
    const pool = new FilePool(1)
    super(file, pool)
    this.own = pool
  }
  override close(): void {
    try {
      super.close()
    } finally {
      this.own.closeAll()
    }
  }
}

/** Strings column: UTF-8 bytes plus a Float64 end offset per row. */
export class StringsWriter {
  private readonly data: ColumnWriter
  private readonly offsets: ColumnWriter
  constructor(dir: string, index: number, pool: FilePool, share?: number) {
    this.data = new ColumnWriter(columnFile(dir, index, 'str'), pool, share)
    this.offsets = new ColumnWriter(columnFile(dir, index, 'off'), pool, share)
  }
  write(value: string): void {
    if (value.length > 0) this.data.utf8(value)
    this.offsets.f64(this.data.written)
  }
  close(): void {
    this.data.close()
    this.offsets.close()
  }
  discard(): void {
    this.data.discard()
    this.offsets.discard()
  }
}

const CHUNK_BYTES = 4 << 20
/**
 * Full-size chunk buffers no call holds (a fresh 4 MB per column file was GC work at 1M rows); at most four are
 * kept, what forEachChunkGroup takes for four columns.
 */
const freeChunkBuffers: ArrayBuffer[] = []
const KEPT_CHUNK_BUFFERS = 4

/** Calls `each` with successive Float64Array / Int32Array chunks of a column file (4 MiB at a time). */
export function forEachChunk(file: string, kind: 'f64' | 'i32', each: (values: Float64Array | Int32Array, firstRow: number) => void): void {
  forEachChunkGroup([file], kind, (chunks, firstRow) => each(chunks[0]!, firstRow))
}

/**
 * forEachChunk over several column files of the same length at once: `each` gets the same rows of every file, so
 * a loop can work on several columns side by side (recipe.ts: one column's sum is a chain of dependent additions,
 * four columns' sums are four chains the processor runs together).
 */
export function forEachChunkGroup(
  files: string[],
  kind: 'f64' | 'i32',
  each: (chunks: (Float64Array | Int32Array)[], firstRow: number) => void
): void {
  const size = kind === 'f64' ? 8 : 4
  const fds: number[] = []
  const buffers: ArrayBuffer[] = []
  try {
    for (const file of files) fds.push(fs.openSync(file, 'r'))
    const lengths = fds.map((fd) => fs.fstatSync(fd).size)
    if (lengths.some((length) => length !== lengths[0])) throw new Error(`column files of different lengths: ${files.join(', ')}`)
    // No bigger than the file: a wide table finishes 100,000 columns of a few rows each.
    const wanted = Math.max(size, Math.min(CHUNK_BYTES, Math.ceil(lengths[0]! / size) * size))
    // Taken for the call: a callback that reads another file meanwhile gets a buffer of its own.
    for (let i = 0; i < fds.length; i++) buffers.push((wanted === CHUNK_BYTES && freeChunkBuffers.pop()) || new ArrayBuffer(wanted))
    const bytes = buffers.map((buffer) => new Uint8Array(buffer))
    for (let row = 0; ;) {
      let count = 0
      for (let i = 0; i < fds.length; i++) count = Math.floor(readFull(fds[i]!, bytes[i]!, row * size) / size)
      if (count <= 0) break
      each(
        buffers.map((buffer) => (kind === 'f64' ? new Float64Array(buffer, 0, count) : new Int32Array(buffer, 0, count))),
        row
      )
      row += count
    }
  } finally {
    for (const fd of fds) fs.closeSync(fd)
    for (const buffer of buffers) if (buffer.byteLength === CHUNK_BYTES && freeChunkBuffers.length < KEPT_CHUNK_BUFFERS) freeChunkBuffers.push(buffer)
  }
}

/** Reads into all of `bytes` from `position`, or up to the end of the file: the bytes read. */
function readFull(fd: number, bytes: Uint8Array, position: number): number {
  let done = 0
  while (done < bytes.length) {
    const read = fs.readSync(fd, bytes, done, bytes.length - done, position + done)
    if (read <= 0) break
    done += read
  }
  return done
}

/** A whole fixed-size column file, read straight into the typed array (no Buffer of the file, no copy of it). */
function readInto(file: string, out: Uint8Array): void {
  const fd = fs.openSync(file, 'r')
  try {
    let done = 0
    while (done < out.length) {
      const read = fs.readSync(fd, out, done, out.length - done, done)
      if (read <= 0) throw new Error(`${file}: ${out.length - done} bytes fewer than its size`)
      done += read
    }
  } finally {
    fs.closeSync(fd)
  }
}

export function readF64(file: string): Float64Array {
  const out = new Float64Array(Math.floor(fs.statSync(file).size / 8))
  readInto(file, new Uint8Array(out.buffer))
  return out
}

export function readI32(file: string): Int32Array {
  const out = new Int32Array(Math.floor(fs.statSync(file).size / 4))
  readInto(file, new Uint8Array(out.buffer))
  return out
}

/**
 * The values of `rows` from an f64 column file (a row past its end reads NaN, as an index past a typed array's end
 * would). Ascending rows (a split's parts) are read in blocks through one buffer: a fit over the train rows never
 * holds the whole column (5M rows: 40 MB per column, 19 columns).
 */
export function gatherF64(file: string, rows: Int32Array, ascending = isAscending(rows)): Float64Array {
  const out = new Float64Array(rows.length)
  if (!ascending) {
    const values = readF64(file)
    for (let i = 0; i < rows.length; i++) out[i] = values[rows[i]!] ?? NaN
    return out
  }
  let next = 0
  forEachChunk(file, 'f64', (values, firstRow) => {
    // A local cursor: the closure's own variable would be read and written through its context on every row.
    let k = next
    const end = firstRow + values.length
    const count = rows.length
    for (; k < count && rows[k]! < end; k++) out[k] = values[rows[k]! - firstRow]!
    next = k
  })
  for (let k = next; k < rows.length; k++) out[k] = NaN
  return out
}

/** Whether rows are in ascending order (a split's parts are): gatherF64 then reads its file in blocks. */
export function isAscending(rows: Int32Array): boolean {
  for (let k = 1; k < rows.length; k++) if (rows[k]! < rows[k - 1]!) return false
  return true
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

/** A column's file of one kind; `src` holds the text codes of a column read as numbers from people's spellings. */
export const columnFile = (dir: string, index: number, ext: 'f64' | 'i32' | 'str' | 'off' | 'src'): string => path.join(dir, `c${index}.${ext}`)

export function writeJson(file: string, value: unknown): void {
  writeFileAtomic(file, JSON.stringify(value))
}

export function readJson<T>(file: string): T {
  return JSON.parse(fs.readFileSync(file, 'utf8')) as T
}
