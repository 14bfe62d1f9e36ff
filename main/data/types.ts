import type { Task } from '../shared/contract'
import type { TargetScale } from './recipe'

/**
 * What a dataset looks like once prepared for a model: the stored split with the stored recipe applied.
 * Features are row-major Float32 (tables: [n, featureCount]; images: [n, h, w, c] scaled to [0, 1]).
 */
export interface PreparedPart {
  x: Float32Array
  /** Classification: the class index per row, into `labels`. Regression: the standardised target per row. */
  y: Int32Array | Float32Array
  n: number
  /** Row index in the dataset (as the preview shows it) of each row of this part. */
  rows: Int32Array
}

export interface PreparedData {
  datasetId: string
  kind: 'table' | 'images'
  task: Task
  /** The target column's name (images: their class folder), for what the figures say they are about. */
  targetName?: string
  /** Regression: how the prepared target maps back to the target's unit; null for classification. */
  targetScale: TargetScale | null
  /** Without the batch dimension. */
  inputShape: number[]
  labels: string[]
  featureNames: string[]
  train: PreparedPart
  val: PreparedPart
  test: PreparedPart
}
