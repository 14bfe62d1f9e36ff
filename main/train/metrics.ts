/** Classification metrics from predicted and true class indices. */
import type { Evaluation } from '../shared/contract'

/** Enough to fill every cell of a confusion matrix the user clicks on, for test parts of a few thousand rows. */
export const MAX_MISCLASSIFIED = 1000

export function evaluatePredictions(
  labels: string[],
  truth: Int32Array,
  predicted: Int32Array,
  rows: Int32Array,
  confidence?: Float32Array
): Evaluation {
  const classes = labels.length
  const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0))
  const misclassified: Evaluation['misclassified'] = []
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
