/** Metrics of a trained model on a part: classification from class indices, regression in the target's unit. */
import type { ClassificationEvaluation, RegressionEvaluation } from '../shared/contract'
import type { TargetScale } from '../data/recipe'

/** Enough to fill every cell of a confusion matrix the user clicks on, for test parts of a few thousand rows. */
export const MAX_MISCLASSIFIED = 1000

export function evaluatePredictions(
  labels: string[],
  truth: Int32Array,
  predicted: Int32Array,
  rows: Int32Array,
  confidence?: Float32Array
): ClassificationEvaluation {
  const classes = labels.length
  const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0))
  const misclassified: ClassificationEvaluation['misclassified'] = []
  // Class indices are below labels.length and the three arrays run in step: every index below lands.
  for (let i = 0; i < truth.length; i++) {
    const actual = truth[i]!
    const guess = predicted[i]!
    confusion[actual]![guess]!++
    if (actual !== guess && misclassified.length < MAX_MISCLASSIFIED)
      misclassified.push({
        row: rows[i]!,
        label: labels[actual]!,
        predicted: labels[guess]!,
        ...(confidence ? { confidence: Number(confidence[i]!.toFixed(4)) } : {})
      })
  }
  const perClass = labels.map((label, c) => {
    const own = confusion[c]!
    const truePositive = own[c]!
    const support = own.reduce((a, b) => a + b, 0)
    const predictedCount = confusion.reduce((sum, row) => sum + row[c]!, 0)
    const precision = predictedCount === 0 ? 0 : truePositive / predictedCount
    const recall = support === 0 ? 0 : truePositive / support
    const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall)
    return { label, precision, recall, f1, support }
  })
  return { labels, confusion, perClass, misclassified }
}

/** Standardised values back in the target's unit: z · std + mean (Float64, for the figures). */
export function toTargetUnit(values: ArrayLike<number>, scale: TargetScale): Float64Array {
  return Float64Array.from({ length: values.length }, (_, i) => values[i]! * scale.std + scale.mean)
}

/** Points kept for the plots at most (evenly spaced over the test rows beyond that), and the residual histogram's bins. */
export const MAX_PLOT_POINTS = 2000
export const RESIDUAL_BINS = 30
export const MAX_WORST = 50

/** What the regression plots draw: predicted against actual, the residual histogram, and the worst rows. */
export function evaluateRegression(target: string, truth: Float64Array, predicted: Float64Array, rows: Int32Array): RegressionEvaluation {
  const n = truth.length
  const step = Math.max(1, n / MAX_PLOT_POINTS)
  const points: RegressionEvaluation['points'] = []
  for (let at = 0; at < n && points.length < MAX_PLOT_POINTS; at += step) {
    const i = Math.floor(at)
    points.push({ row: rows[i]!, actual: truth[i]!, predicted: predicted[i]! })
  }
  const residuals = Float64Array.from(truth, (value, i) => value - predicted[i]!)
  let from = Infinity
  let to = -Infinity
  for (const r of residuals) {
    if (r < from) from = r
    if (r > to) to = r
  }
  if (n === 0) [from, to] = [0, 0]
  const counts = new Array<number>(RESIDUAL_BINS).fill(0)
  const width = to - from
  for (const r of residuals) counts[width > 0 ? Math.min(RESIDUAL_BINS - 1, Math.floor(((r - from) / width) * RESIDUAL_BINS)) : 0]!++
  const worst = Array.from(residuals.keys())
    .sort((a, b) => Math.abs(residuals[b]!) - Math.abs(residuals[a]!))
    .slice(0, MAX_WORST)
    .map((i) => ({ row: rows[i]!, actual: truth[i]!, predicted: predicted[i]! }))
  return { target, rows: n, points, residualHistogram: { from, to, counts }, worst }
}
