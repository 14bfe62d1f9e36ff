/** The rows a stage trains on or assesses, in memory or in a file, and the seeded order it visits them in. */
import type { PreparedPart } from '../data/types'
import { FeatureFile } from './featureFile'

export interface Features {
  /** The rows: in memory (the data's own parts), or in a file (layer-wise caches of prefix outputs). */
  x: Float32Array | FeatureFile
  /** Class indices, or the standardised target for regression. */
  y: Int32Array | Float32Array
  n: number
  /** Per-sample shape. */
  shape: number[]
}

export const sizeOf = (shape: number[]) => shape.reduce((a, b) => a * b, 1)

export function partFeatures(part: PreparedPart, shape: number[]): Features {
  return { x: part.x, y: part.y, n: part.n, shape }
}

/** Rows start..start+count−1 of a part's features, as one array (a view for memory, a read for a file). */
export function rowsOf(features: Features, start: number, count: number): Float32Array {
  const size = sizeOf(features.shape)
  return features.x instanceof FeatureFile ? features.x.readRows(start, count) : features.x.subarray(start * size, (start + count) * size)
}

/** A seeded permutation of 0..n−1 (Fisher–Yates): the order of one epoch's batches. */
export function shuffledIndices(n: number, random: () => number): Int32Array {
  const order = new Int32Array(n)
  for (let i = 0; i < n; i++) order[i] = i
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    const t = order[i]!
    order[i] = order[j]!
    order[j] = t
  }
  return order
}
