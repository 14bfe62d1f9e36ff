/** Classification metrics from predicted and true class indices. */
import type { Evaluation } from '../shared/contract'

export const MAX_MISCLASSIFIED = 50

export function evaluatePredictions(labels: string[], truth: Int32Array, predicted: Int32Array, rows: Int32Array): Evaluation {
  const classes = labels.length
  const confusion = Array.from({ length: classes }, () => new Array<number>(classes).fill(0))
  const misclassified: Evaluation['misclassified'] = []
  for (let i = 0; i < truth.length; i++) {
    confusion[truth[i]][predicted[i]]++
    if (truth[i] !== predicted[i] && misclassified.length < MAX_MISCLASSIFIED)
      misclassified.push({ row: rows[i], label: labels[truth[i]], predicted: labels[predicted[i]] })
  }
  const perClass = labels.map((label, c) => {
    const truePositive = confusion[c][c]
    const support = confusion[c].reduce((a, b) => a + b, 0)
    const predictedCount = confusion.reduce((sum, row) => sum + row[c], 0)
    const precision = predictedCount === 0 ? 0 : truePositive / predictedCount
    const recall = support === 0 ? 0 : truePositive / support
    const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall)
    return { label, precision, recall, f1, support }
  })
  return { labels, confusion, perClass, misclassified }
}
