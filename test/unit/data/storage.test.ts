import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { gatherF64, readF64, readI32 } from '../../../main/data/storage'

/** Bit-for-bit equal typed arrays (NaN included), without an element-wise deep equality over a million values. */
const sameBytes = (a: Float64Array | Int32Array, b: Float64Array | Int32Array) =>
  a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength))

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'layerlab-storage-'))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

describe('column file reads', () => {
  // More rows than one 4 MiB read block (524,288 doubles), so gathering crosses blocks.
  const rows = 1_300_000
  const values = Float64Array.from({ length: rows }, (_, i) => (i % 97 === 0 ? NaN : i * 0.5 - 1000))
  const file = path.join(dir, 'c0.f64')
  fs.writeFileSync(file, new Uint8Array(values.buffer))

  it('reads whole f64 and i32 files', () => {
    expect(sameBytes(readF64(file), values)).toBe(true)
    const codes = Int32Array.from({ length: 1001 }, (_, i) => i - 1)
    const codesFile = path.join(dir, 'c1.i32')
    fs.writeFileSync(codesFile, new Uint8Array(codes.buffer))
    expect(sameBytes(readI32(codesFile), codes)).toBe(true)
    fs.writeFileSync(path.join(dir, 'empty.f64'), '')
    expect(readF64(path.join(dir, 'empty.f64')).length).toBe(0)
  })

  it('gathers rows as indexing the whole column would, ascending or not, past the end as NaN', () => {
    const pick = (wanted: number[]) => Float64Array.from(wanted, (row) => values[row] ?? NaN)
    const ascending = Int32Array.from({ length: 200_000 }, (_, i) => Math.floor(i * 6.4) + (i % 3))
    expect(sameBytes(gatherF64(file, ascending), pick(Array.from(ascending)))).toBe(true)
    const shuffled = Int32Array.from([5, 1_299_999, 0, 524_288, 524_287, 3])
    expect(sameBytes(gatherF64(file, shuffled), pick(Array.from(shuffled)))).toBe(true)
    const pastEnd = Int32Array.from([rows - 1, rows, rows + 5])
    expect(Array.from(gatherF64(file, pastEnd))).toEqual([values[rows - 1], NaN, NaN])
    expect(gatherF64(file, new Int32Array(0)).length).toBe(0)
  })
})
