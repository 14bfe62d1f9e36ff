/**
 * Layer-wise training's cache of frozen-prefix outputs, kept in a file instead of the process's memory.
 *
 * Why: block j trains on the output of blocks 0..j−1 for every training and validation row, computed once per
 * stage (issue 7). Held in memory, that cache grows with the data (a 14×14×16 feature map is 12.5 KB per image:
 * 750 MB for 60,000 images) and made a layer-wise run need more memory than the end-to-end run it should be
 * cheaper than. In a file, the process holds one batch at a time; the operating system keeps the file in its
 * page cache while memory is free and drops it under pressure. Reading a batch is one positioned read per row
 * (rows come in shuffled order), a few microseconds each from the page cache.
 */
import fs from 'node:fs'
import path from 'node:path'

let nextFile = 0

export class FeatureFile {
  private closed = false

  private constructor(
    readonly file: string,
    private readonly fd: number,
    /** Floats per row. */
    readonly rowSize: number,
    readonly rows: number
  ) {}

  /** A new file for `rows` rows of `rowSize` floats in `dir` (created if missing). */
  static create(dir: string, rowSize: number, rows: number): FeatureFile {
    fs.mkdirSync(dir, { recursive: true })
    const file = path.join(dir, `features-${process.pid}-${Date.now()}-${nextFile++}.f32`)
    const fd = fs.openSync(file, 'w+', 0o600)
    return new FeatureFile(file, fd, rowSize, rows)
  }

  /** Writes consecutive rows from `first` on. */
  writeRows(first: number, values: Float32Array): void {
    const bytes = Buffer.from(values.buffer, values.byteOffset, values.byteLength)
    let done = 0
    while (done < bytes.length) done += fs.writeSync(this.fd, bytes, done, bytes.length - done, first * this.rowSize * 4 + done)
  }

  /** Copies row `row` into `out` at float offset `at`. */
  readRow(row: number, out: Float32Array, at: number): void {
    this.read(out, at, row, 1)
  }

  /** Consecutive rows from `first` into a new array. */
  readRows(first: number, count: number): Float32Array {
    const out = new Float32Array(count * this.rowSize)
    this.read(out, 0, first, count)
    return out
  }

  private read(out: Float32Array, at: number, first: number, count: number): void {
    const target = Buffer.from(out.buffer, out.byteOffset + at * 4, count * this.rowSize * 4)
    let done = 0
    while (done < target.length) {
      const got = fs.readSync(this.fd, target, done, target.length - done, first * this.rowSize * 4 + done)
      if (got === 0) throw new Error(`feature cache ${this.file}: rows ${first}–${first + count - 1} were never written`)
      done += got
    }
  }

  /** Closes and deletes the file (idempotent). */
  dispose(): void {
    if (this.closed) return
    this.closed = true
    fs.closeSync(this.fd)
    fs.rmSync(this.file, { force: true })
  }
}
