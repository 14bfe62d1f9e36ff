/**
 * The passes over column files that follow an import's read: a numeric column's histogram, and the standard scaling
 * fit of columns without missing values. Their own module, depending on storage.ts alone, because the import helper
 * thread runs them too (importHelperWorker.ts) and must boot in a few milliseconds: profile.ts and recipe.ts bring
 * the contract and its schemas, which the helper would still be loading when the first import's passes are due.
 */
import { forEachChunk, forEachChunkGroup } from './storage'

export const HISTOGRAM_BINS = 20

/** Bins per unit of value: bin = floor((value - min) · scale), the last bin closed at max; 0 when min = max. */
export const binScale = (min: number, max: number): number => (max > min ? HISTOGRAM_BINS / (max - min) : 0)

/** A numeric column's values file, to be binned between its min and max (NumericColumn.histogramPass). */
export interface HistogramPass {
  file: string
  min: number
  max: number
}

/**
 * Counts over HISTOGRAM_BINS equal-width bins of a values file (missing values left out): a pass over the file
 * just written (page cache), on the import thread or its helper (scan.ts finishColumns).
 */
export function fileHistogram({ file, min, max }: HistogramPass): number[] {
  const bins = new Int32Array(HISTOGRAM_BINS)
  const scale = binScale(min, max)
  forEachChunk(file, 'f64', (values) => {
    // Locals: the closure's captured variables would be loaded through its context on every value.
    const [low, factor, top, counts] = [min, scale, HISTOGRAM_BINS - 1, bins]
    for (let i = 0; i < values.length; i++) {
      const value = values[i]!
      if (value !== value) continue
      // The same formula as Histogram below, so both importers bin alike; value ≥ min, so |0 is floor (a
      // multiplication, not a division per value: this pass was 11 % of a 1M-row import).
      const bin = ((value - low) * factor) | 0
      counts[bin > top ? top : bin]!++
    }
  })
  return Array.from(bins)
}

export type MaskedFit = { impute: number; mean: number; std: number }

/** Columns standardMasked fits side by side: four sums are four independent chains of additions in one loop. */
export const MASKED_GROUP = 4

/**
 * Mean imputation and standard scaling of columns without missing values in two passes over their whole files,
 * each row weighted by `inTrain` (1 for a train row, 0 else): the same sums in the same order as fitColumn's passes
 * over the gathered train rows (a row outside adds +0 or -0, which changes no sum), so the same bits, without the
 * gather and its branch per row. Up to four columns per call, read side by side (a group short of four repeats
 * its last column, whose result is then left out): each column's sums are still its own chain in row order, so
 * the bits do not depend on the grouping, and the four chains overlap (1.6-1.8 against 3.5-4 ms a column of 1M
 * rows in memory). `n` train rows, at least one (maskable's conditions hold for every column).
 */
export function standardMasked(files: string[], inTrain: Float64Array, n: number): MaskedFit[] {
  const lanes = Array.from({ length: MASKED_GROUP }, (_, lane) => Math.min(lane, files.length - 1))
  const sums = new Float64Array(MASKED_GROUP)
  const means = new Float64Array(MASKED_GROUP)
  forEachChunkGroup(files, 'f64', (chunks, firstRow) => {
    // Locals for the loop (the closure's own variables would go through its context on every row).
    const [a, b, c, d] = lanes.map((lane) => chunks[lane]!)
    const weights = inTrain
    let s0 = sums[0]!,
      s1 = sums[1]!,
      s2 = sums[2]!,
      s3 = sums[3]!
    let m0 = means[0]!,
      m1 = means[1]!,
      m2 = means[2]!,
      m3 = means[3]!
    for (let i = 0; i < a!.length; i++) {
      const w = weights[firstRow + i]!
      const x0 = a![i]!
      const x1 = b![i]!
      const x2 = c![i]!
      const x3 = d![i]!
      s0 += w * x0
      m0 += w * Math.fround(x0)
      s1 += w * x1
      m1 += w * Math.fround(x1)
      s2 += w * x2
      m2 += w * Math.fround(x2)
      s3 += w * x3
      m3 += w * Math.fround(x3)
    }
    sums.set([s0, s1, s2, s3])
    means.set([m0, m1, m2, m3])
  })
  for (let lane = 0; lane < MASKED_GROUP; lane++) means[lane]! /= n
  const squares = new Float64Array(MASKED_GROUP)
  forEachChunkGroup(files, 'f64', (chunks, firstRow) => {
    const [a, b, c, d] = lanes.map((lane) => chunks[lane]!)
    const weights = inTrain
    const c0 = means[0]!,
      c1 = means[1]!,
      c2 = means[2]!,
      c3 = means[3]!
    let q0 = squares[0]!,
      q1 = squares[1]!,
      q2 = squares[2]!,
      q3 = squares[3]!
    for (let i = 0; i < a!.length; i++) {
      const w = weights[firstRow + i]!
      q0 += w * (Math.fround(a![i]!) - c0) ** 2
      q1 += w * (Math.fround(b![i]!) - c1) ** 2
      q2 += w * (Math.fround(c![i]!) - c2) ** 2
      q3 += w * (Math.fround(d![i]!) - c3) ** 2
    }
    squares.set([q0, q1, q2, q3])
  })
  return files.map((_, lane) => ({ impute: sums[lane]! / n, mean: means[lane]!, std: Math.sqrt(squares[lane]! / n) }))
}
