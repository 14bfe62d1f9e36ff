/**
 * Intervals for a single run's score, shared by every view that shows one: a test accuracy of 25/27 says little
 * on its own, and its binomial interval says how little.
 */

/** The normal quantile of a two-sided 95 % interval. */
export const Z95 = 1.959963984540054

/**
 * Wilson score interval of a proportion (k successes in n trials). Unlike the normal ("Wald") interval it stays
 * inside [0, 1] and does not collapse to a point at 0 or n: 27/27 correct gives [0.875, 1], not [1, 1].
 * Returns null when there are no trials.
 */
export function wilsonInterval(successes: number, trials: number, z = Z95): [number, number] | null {
  if (!(trials > 0) || successes < 0 || successes > trials) return null
  const p = successes / trials
  const z2 = z * z
  const denominator = 1 + z2 / trials
  const center = (p + z2 / (2 * trials)) / denominator
  const half = (z / denominator) * Math.sqrt((p * (1 - p)) / trials + z2 / (4 * trials * trials))
  return [Math.max(0, center - half), Math.min(1, center + half)]
}

/** The Wilson interval of an accuracy measured on `rows` rows (the count of correct rows is rounded back). */
export function accuracyInterval(accuracy: number, rows: number): [number, number] | null {
  return wilsonInterval(Math.round(accuracy * rows), rows)
}

/** Two intervals overlap when neither lies wholly above the other: then neither score can be called "best". */
export function intervalsOverlap(a: readonly [number, number], b: readonly [number, number]): boolean {
  return a[0] <= b[1] && b[0] <= a[1]
}

/**
 * The index of the one interval that lies wholly above (or, lower-is-better, below) every other, else null:
 * the only case where one score may be called best.
 */
export function clearlyBest(intervals: ReadonlyArray<readonly [number, number] | null>, higherIsBetter = true): number | null {
  const known = intervals
    .map((interval, index) => ({ interval, index }))
    .filter((x): x is { interval: [number, number]; index: number } => !!x.interval)
  if (known.length < 2 || known.length < intervals.length) return null
  const top = known.reduce((a, b) => {
    const am = (a.interval[0] + a.interval[1]) / 2
    const bm = (b.interval[0] + b.interval[1]) / 2
    return (higherIsBetter ? bm > am : bm < am) ? b : a
  })
  return known.every((other) => other.index === top.index || !intervalsOverlap(other.interval, top.interval)) ? top.index : null
}
