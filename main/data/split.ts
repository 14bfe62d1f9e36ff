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
  // Typed arrays throughout (a 5M-row table took 1.1 s through number[] pushes and sorts): each class's rows in row
  // order, shuffled by the same swaps from the same random sequence; each row's part is marked and the parts read
  // out in row order, which is the sorted order the split keeps.
  const groups = classGroups(classOfRow)
  const random = seededRandom(seed)
  const VAL = 1
  const TEST = 2
  const partOf = new Uint8Array(classOfRow.length)
  const sizes = [0, 0, 0]
  for (const rows of groups) {
    for (let i = rows.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1))
      const swap = rows[i]!
      rows[i] = rows[j]!
      rows[j] = swap
    }
    let nVal = 0
    let nTest = 0
    if (rows.length >= 3) {
      nVal = Math.max(1, Math.round(rows.length * VAL_FRACTION))
      nTest = Math.max(1, Math.round(rows.length * TEST_FRACTION))
    }
    for (let i = 0; i < rows.length; i++) partOf[rows[i]!] = i < nVal ? VAL : i < nVal + nTest ? TEST : 0
    // nVal + nTest <= rows.length (both 0 below 3 rows, and 2 * round(0.15 n) <= n from 3 on).
    sizes[VAL]! += nVal
    sizes[TEST]! += nTest
    sizes[0]! += rows.length - nVal - nTest
  }
  const parts = sizes.map((size) => new Int32Array(size))
  const filled = [0, 0, 0]
  for (let row = 0; row < classOfRow.length; row++) {
    if (classOfRow[row]! < 0) continue
    const part = partOf[row]!
    parts[part]![filled[part]!++] = row
  }
  return { train: parts[0]!, val: parts[VAL]!, test: parts[TEST]!, seed }
}

/** The rows of each class (class -1 left out) in row order, classes in ascending order, as typed arrays. */
function classGroups(classOfRow: Int32Array): Int32Array[] {
  // Labels are class numbers (0 … classes - 1): counted in an array, not a Map, per row.
  let top = -1
  for (let row = 0; row < classOfRow.length; row++) if (classOfRow[row]! > top) top = classOfRow[row]!
  const counts = new Int32Array(top + 1)
  for (let row = 0; row < classOfRow.length; row++) {
    const label = classOfRow[row]!
    if (label >= 0) counts[label]!++
  }
  const groups: (Int32Array | null)[] = Array.from(counts, (count) => (count > 0 ? new Int32Array(count) : null))
  const filled = new Int32Array(top + 1)
  for (let row = 0; row < classOfRow.length; row++) {
    const label = classOfRow[row]!
    if (label >= 0) groups[label]![filled[label]!++] = row
  }
  return groups.filter((rows): rows is Int32Array => rows !== null)
}

/** Rows grouped by class (class -1 left out), each class's rows in row order; classes in ascending order. */
function rowsByClass(classOfRow: Int32Array): number[][] {
  const byClass = new Map<number, number[]>()
  for (let row = 0; row < classOfRow.length; row++) {
    const label = classOfRow[row]!
    if (label < 0) continue
    let rows = byClass.get(label)
    if (!rows) byClass.set(label, (rows = []))
    rows.push(row)
  }
  return [...byClass.keys()].sort((a, b) => a - b).map((label) => byClass.get(label)!)
}

function shuffleInPlace(rows: number[], random: () => number): void {
  for (let i = rows.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[rows[i], rows[j]] = [rows[j]!, rows[i]!]
  }
}

/**
 * Stratified k-fold assignment: each class is shuffled from `seed` and dealt round-robin into the folds, starting
 * where the previous class stopped, so every fold gets floor or ceil of its share of every class and the fold
 * sizes differ by at most one. Returns the fold of each row (-1 for rows without a class).
 */
export function stratifiedFolds(classOfRow: Int32Array, folds: number, seed: number): Int32Array {
  const foldOf = new Int32Array(classOfRow.length).fill(-1)
  const random = seededRandom(seed)
  let next = 0
  for (const rows of rowsByClass(classOfRow)) {
    shuffleInPlace(rows, random)
    for (const row of rows) {
      foldOf[row] = next
      next = (next + 1) % folds
    }
  }
  return foldOf
}

/** The share of the non-test rows a fold split keeps for validation (early stopping, choosing a sweep's best). */
export const FOLD_VAL_FRACTION = 0.15

/**
 * Fold `fold` of a stratified k-fold assignment as the test part; validation is a stratified 15 % of the other
 * rows (seeded too), training the rest.
 */
export function foldSplit(classOfRow: Int32Array, folds: number, fold: number, seed: number): Split {
  const foldOf = stratifiedFolds(classOfRow, folds, seed)
  const test: number[] = []
  const rest = new Int32Array(classOfRow.length).fill(-1)
  for (let row = 0; row < classOfRow.length; row++) {
    if (foldOf[row] === -1) continue
    if (foldOf[row] === fold) test.push(row)
    else rest[row] = classOfRow[row]!
  }
  const random = seededRandom(seed ^ 0x5bd1e995)
  const train: number[] = []
  const val: number[] = []
  for (const rows of rowsByClass(rest)) {
    shuffleInPlace(rows, random)
    const nVal = rows.length >= 2 ? Math.max(1, Math.round(rows.length * FOLD_VAL_FRACTION)) : 0
    rows.forEach((row, i) => (i < nVal ? val : train).push(row))
  }
  const sorted = (rows: number[]) => Int32Array.from(rows).sort()
  return { train: sorted(train), val: sorted(val), test: sorted(test), seed }
}

/** The rows of the smallest class (0 when there is none): stratified k-fold needs at least k of them. */
export function smallestClass(classOfRow: Int32Array): { label: number; count: number } | null {
  const groups = rowsByClass(classOfRow)
  let smallest: { label: number; count: number } | null = null
  for (const rows of groups) {
    const label = classOfRow[rows[0]!]!
    if (!smallest || rows.length < smallest.count) smallest = { label, count: rows.length }
  }
  return smallest
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
