/**
 * What a dataset looks like once prepared for a model: the stored split with the stored recipe applied.
 * Features are row-major Float32 (tables: [n, featureCount]; images: [n, h, w, c] scaled to [0, 1]).
 */
export interface PreparedPart {
  x: Float32Array
  /** Class index per row, into `labels`. */
  y: Int32Array
  n: number
  /** Row index in the dataset (as the preview shows it) of each row of this part. */
  rows: Int32Array
}

export interface PreparedData {
  datasetId: string
  kind: 'table' | 'images'
  /** Without the batch dimension. */
  inputShape: number[]
  labels: string[]
  featureNames: string[]
  train: PreparedPart
  val: PreparedPart
  test: PreparedPart
}
