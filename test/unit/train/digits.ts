/**
 * PreparedData for the digits CSV, built here while the data service is being written: standardised with the
 * train part's mean and std, stratified 70/15/15 split with seed 42 (the project's stored-split convention).
 */
import fs from 'node:fs'
import path from 'node:path'
import { parse } from 'csv-parse/sync'
import type { PreparedData, PreparedPart } from '../../../main/data/types'
import { seededRandom } from '../../../main/core/random'

export const DIGITS_CSV = path.resolve(__dirname, '../../../resources/examples/digits.csv')

function shuffle<T>(items: T[], random: () => number): T[] {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    ;[items[i], items[j]] = [items[j], items[i]]
  }
  return items
}

/** Stratified split of row indices by label: 70 % train, 15 % val, the rest test. */
export function stratifiedSplit(labels: Int32Array, seed: number): { train: number[]; val: number[]; test: number[] } {
  const random = seededRandom(seed)
  const byClass = new Map<number, number[]>()
  labels.forEach((label, row) => byClass.set(label, [...(byClass.get(label) ?? []), row]))
  const out = { train: [] as number[], val: [] as number[], test: [] as number[] }
  for (const label of [...byClass.keys()].sort((a, b) => a - b)) {
    const rows = shuffle(byClass.get(label)!, random)
    const nTrain = Math.round(rows.length * 0.7)
    const nVal = Math.round(rows.length * 0.15)
    out.train.push(...rows.slice(0, nTrain))
    out.val.push(...rows.slice(nTrain, nTrain + nVal))
    out.test.push(...rows.slice(nTrain + nVal))
  }
  return { train: shuffle(out.train, random), val: out.val.sort((a, b) => a - b), test: out.test.sort((a, b) => a - b) }
}

export function makeParts(x: Float32Array, y: Int32Array, features: number, split: { train: number[]; val: number[]; test: number[] }) {
  const part = (rows: number[]): PreparedPart => {
    const px = new Float32Array(rows.length * features)
    const py = new Int32Array(rows.length)
    rows.forEach((row, i) => {
      px.set(x.subarray(row * features, (row + 1) * features), i * features)
      py[i] = y[row]
    })
    return { x: px, y: py, n: rows.length, rows: Int32Array.from(rows) }
  }
  return { train: part(split.train), val: part(split.val), test: part(split.test) }
}

let cached: { x: Float32Array; y: Int32Array; featureNames: string[] } | null = null

/** The digits, prepared; `splitSeed` other than 42 gives another split of the same rows (robustness checks). */
export function loadDigits(splitSeed = 42): PreparedData {
  if (!cached) {
    const records = parse(fs.readFileSync(DIGITS_CSV, 'utf8'), { columns: true, skip_empty_lines: true }) as Record<string, string>[]
    const featureNames = Object.keys(records[0]).filter((name) => name !== 'digit')
    const x = new Float32Array(records.length * featureNames.length)
    const y = new Int32Array(records.length)
    records.forEach((record, row) => {
      featureNames.forEach((name, f) => (x[row * featureNames.length + f] = Number(record[name])))
      y[row] = Number(record.digit)
    })
    cached = { x, y, featureNames }
  }
  const { x, y, featureNames } = cached
  const features = featureNames.length
  const split = stratifiedSplit(y, splitSeed)
  const parts = makeParts(x, y, features, split)
  // Standardise with the train part's statistics only (constant pixels: std 1).
  const mean = new Float64Array(features)
  const std = new Float64Array(features)
  const train = parts.train
  for (let i = 0; i < train.n; i++) for (let f = 0; f < features; f++) mean[f] += train.x[i * features + f] / train.n
  for (let i = 0; i < train.n; i++) for (let f = 0; f < features; f++) std[f] += (train.x[i * features + f] - mean[f]) ** 2 / train.n
  for (let f = 0; f < features; f++) std[f] = Math.sqrt(std[f]) || 1
  for (const part of [parts.train, parts.val, parts.test])
    for (let i = 0; i < part.n; i++) for (let f = 0; f < features; f++) part.x[i * features + f] = (part.x[i * features + f] - mean[f]) / std[f]
  return {
    datasetId: 'ds-digits',
    kind: 'table',
    inputShape: [features],
    labels: Array.from({ length: 10 }, (_, i) => String(i)),
    featureNames,
    ...parts
  }
}

/**
 * Tiny images for the CNN: two classes of size×size grey patterns (horizontal vs vertical stripes) with a
 * random phase and noise, so the classes are learnable but not by a single pixel.
 */
export function makeStripeImages(count: number, size: number, seed: number): PreparedData {
  const random = seededRandom(seed)
  const pixels = size * size
  const x = new Float32Array(count * pixels)
  const y = new Int32Array(count)
  for (let n = 0; n < count; n++) {
    const label = n % 2
    const phase = Math.floor(random() * 2)
    y[n] = label
    for (let r = 0; r < size; r++)
      for (let c = 0; c < size; c++) {
        const stripe = ((label === 0 ? r : c) + phase) % 2
        x[n * pixels + r * size + c] = Math.min(1, Math.max(0, 0.2 + 0.6 * stripe + (random() - 0.5) * 0.4))
      }
  }
  const split = stratifiedSplit(y, seed)
  return {
    datasetId: 'ds-stripes',
    kind: 'images',
    inputShape: [size, size, 1],
    labels: ['horizontal', 'vertical'],
    featureNames: [],
    ...makeParts(x, y, pixels, split)
  }
}
