// PLACEHOLDER — replaced by the datasets work (issue 3).
/** The fitted preparation, JSON-serialisable: stored with the dataset and in the ONNX metadata. */
export interface Recipe {
  kind: 'table' | 'images'
  labels: string[]
  inputShape: number[]
  featureNames: string[]
  /**
   * prepared = (encoded - offset) * scale, per prepared feature, where `encoded` is the row after imputation and
   * one-hot encoding but before scaling (one-hot features: offset 0, scale 1). Null for images.
   */
  affine: { offset: number[]; scale: number[] } | null
  [key: string]: unknown
}

export interface NewData {
  x: Float32Array
  n: number
  inputShape: number[]
  /** `row` number (tables, 1-based data rows) or file path (images), one per sample. */
  keys: string[]
  /** The true label where the input has it. */
  truth: (string | null)[]
}

/** Reads a new CSV or image folder and applies the recipe (scale=false: stop before the affine step). */
export async function encodeNewData(_recipe: Recipe, _dataPath: string, _options: { scale: boolean }): Promise<NewData> {
  throw new Error('not implemented yet')
}
