import { describe, expect, it } from 'vitest'
import { stratifiedSplit } from '../../../main/data/split'

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
