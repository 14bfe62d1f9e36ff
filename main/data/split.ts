/**
 * The stored split: 70 / 15 / 15 from a fixed seed, so every run of a dataset sees the same rows. Stratified per class
 * for classification; one random cut of the labelled rows for regression.
 */

import { seededRandom } from '../core/random'

export const SPLIT_SEED = 42
const VAL_FRACTION = 0.15
const TEST_FRACTION = 0.15

export interface Split {
  train: Int32Array
  val: Int32Array
  test: Int32Array
  seed: number
}

/**
 * Splits the rows whose class is >= 0 (class -1: no label, left out). Each class is shuffled and cut on its own;
 * a class with at least 3 rows gets at least one row in validation and in test.
 */
export function stratifiedSplit(classOfRow: Int32Array, seed = SPLIT_SEED): Split {
  const byClass = new Map<number, number[]>()
  for (let row = 0; row < classOfRow.length; row++) {
    const label = classOfRow[row]!
    if (label < 0) continue
    let rows = byClass.get(label)
    if (!rows) byClass.set(label, (rows = []))
    rows.push(row)
  }
  const random = seededRandom(seed)
  const train: number[] = []
  const val: number[] = []
  const test: number[] = []
  for (const label of [...byClass.keys()].sort((a, b) => a - b)) {
    const rows = byClass.get(label)!
    for (let i = rows.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1))
      ;[rows[i], rows[j]] = [rows[j]!, rows[i]!]
    }
    let nVal = 0
    let nTest = 0
    if (rows.length >= 3) {
      nVal = Math.max(1, Math.round(rows.length * VAL_FRACTION))
      nTest = Math.max(1, Math.round(rows.length * TEST_FRACTION))
    }
    for (let i = 0; i < rows.length; i++) (i < nVal ? val : i < nVal + nTest ? test : train).push(rows[i]!)
  }
  const sorted = (rows: number[]) => Int32Array.from(rows).sort()
  return { train: sorted(train), val: sorted(val), test: sorted(test), seed }
}

/**
 * Regression's split: the rows that have a target value (`labelled[row]`), shuffled and cut 70 / 15 / 15 from the
 * seed, with no strata (one class of every labelled row).
 */
export function randomSplit(labelled: ArrayLike<boolean>, seed = SPLIT_SEED): Split {
  return stratifiedSplit(
    Int32Array.from({ length: labelled.length }, (_, row) => (labelled[row] ? 0 : -1)),
    seed
  )
}
