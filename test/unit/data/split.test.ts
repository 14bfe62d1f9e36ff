import { describe, expect, it } from 'vitest'
import { stratifiedSplit } from '../../../main/data/split'
import { seededRandom } from '../../../main/core/random'

describe('stratifiedSplit', () => {
  // Classes of 1, 2, 3, 10 and 200 rows, interleaved, plus unlabelled rows (-1).
  const sizes = [1, 2, 3, 10, 200]
  const classes: number[] = []
  sizes.forEach((size, label) => {
    for (let i = 0; i < size; i++) classes.push(label)
  })
  for (let i = 0; i < 5; i++) classes.splice(i * 7, 0, -1)
  const classOfRow = Int32Array.from(classes)

  it('puts every class of 3 or more rows in each part, 70/15/15', () => {
    const split = stratifiedSplit(classOfRow)
    const labelled = classes.filter((c) => c >= 0).length
    expect(split.train.length + split.val.length + split.test.length).toBe(labelled)
    const count = (rows: Int32Array, label: number) => Array.from(rows).filter((row) => classOfRow[row] === label).length
    sizes.forEach((size, label) => {
      const inVal = count(split.val, label)
      const inTest = count(split.test, label)
      if (size >= 3) {
        expect(inVal).toBeGreaterThanOrEqual(1)
        expect(inTest).toBeGreaterThanOrEqual(1)
        expect(Math.abs(inVal - size * 0.15)).toBeLessThanOrEqual(1)
      } else {
        expect(inVal + inTest).toBe(0)
        expect(count(split.train, label)).toBe(size)
      }
    })
    // No unlabelled row and no row twice.
    const all = [...split.train, ...split.val, ...split.test]
    expect(new Set(all).size).toBe(all.length)
    expect(all.every((row) => classOfRow[row]! >= 0)).toBe(true)
  })

  it('is the same for the same seed and differs for another', () => {
    const a = stratifiedSplit(classOfRow, 42)
    expect(stratifiedSplit(classOfRow, 42)).toEqual(a)
    expect(Array.from(stratifiedSplit(classOfRow, 7).test)).not.toEqual(Array.from(a.test))
  })
})

/** The split as it was written before the typed-array rewrite (number[] per class, push, sort): the reference. */
function referenceSplit(classOfRow: Int32Array, seed: number): { train: number[]; val: number[]; test: number[] } {
  const byClass = new Map<number, number[]>()
  for (let row = 0; row < classOfRow.length; row++) {
    const label = classOfRow[row]!
    if (label < 0) continue
    let rows = byClass.get(label)
    if (!rows) byClass.set(label, (rows = []))
    rows.push(row)
  }
  const random = seededRandom(seed)
  const parts = { train: [] as number[], val: [] as number[], test: [] as number[] }
  for (const label of [...byClass.keys()].sort((a, b) => a - b)) {
    const rows = byClass.get(label)!
    for (let i = rows.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1))
      ;[rows[i], rows[j]] = [rows[j]!, rows[i]!]
    }
    const nVal = rows.length >= 3 ? Math.max(1, Math.round(rows.length * 0.15)) : 0
    const nTest = rows.length >= 3 ? Math.max(1, Math.round(rows.length * 0.15)) : 0
    rows.forEach((row, i) => (i < nVal ? parts.val : i < nVal + nTest ? parts.test : parts.train).push(row))
  }
  const sorted = (rows: number[]) => rows.sort((a, b) => a - b)
  return { train: sorted(parts.train), val: sorted(parts.val), test: sorted(parts.test) }
}

describe('stratifiedSplit against the reference', () => {
  it('gives the same rows in each part as the number[] version, for any classes, gaps and unlabelled rows', () => {
    const random = seededRandom(7)
    for (let trial = 0; trial < 60; trial++) {
      const rows = 1 + Math.floor(random() * 3000)
      const classes = 1 + Math.floor(random() * (trial % 3 === 0 ? 3 : 40))
      // Some class numbers unused (gaps), some rows unlabelled.
      const classOfRow = Int32Array.from({ length: rows }, () => (random() < 0.05 ? -1 : Math.floor(random() * classes) * (trial % 4 === 1 ? 2 : 1)))
      const seed = trial % 2 ? 42 : trial
      const got = stratifiedSplit(classOfRow, seed)
      const want = referenceSplit(classOfRow, seed)
      expect(Array.from(got.train)).toEqual(want.train)
      expect(Array.from(got.val)).toEqual(want.val)
      expect(Array.from(got.test)).toEqual(want.test)
    }
    expect(stratifiedSplit(new Int32Array(0)).train.length).toBe(0)
    expect(stratifiedSplit(Int32Array.from([-1, -1])).train.length).toBe(0)
  })
})
