/** The few statistics and labels every bench section prints: the median, the min–max spread, the load average. */
import os from 'node:os'
import { summarise } from '../main/study/stats'

/** The median (the mean of the two middle values for an even count). */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

/** "min–max" of the values ('' for fewer than two). */
export const spreadOf = (values: number[], digits = 0): string =>
  values.length > 1 ? `${Math.min(...values).toFixed(digits)}–${Math.max(...values).toFixed(digits)}` : ''

/** The 1, 5 and 15 minute load averages, as the tables and logs quote them ("1.7 2.1 3.9"). */
export const loadAverage = (): string =>
  os
    .loadavg()
    .map((value) => value.toFixed(1))
    .join(' ')

/**
 * Paired ratios a[i] / b[i] (two jobs timed side by side, repetition i): their geometric mean and its 95 % interval,
 * a t interval on the log ratios (main/study/stats.ts). On a machine whose speed drifts within seconds, each pair
 * shares the drift and the interval says what is left; one ratio of medians would carry it whole.
 */
export function pairedRatio(a: readonly number[], b: readonly number[]): { ratio: number; ci95: [number, number] | null; n: number } {
  const logs = a.map((value, i) => Math.log(value / b[i]!))
  const { mean, ci95 } = summarise(logs)
  return { ratio: Math.exp(mean ?? NaN), ci95: ci95 ? [Math.exp(ci95[0]), Math.exp(ci95[1])] : null, n: logs.length }
}

/**
 * One repetition of a paired comparison: `ours` and `reference` back to back (which goes first alternates with
 * `rep`, so neither always runs in the other's wake), then `others` (in alternating order): the schedule
 * pairedRatio's pairs assume.
 */
export async function pairedRepetition(
  rep: number,
  ours: () => Promise<unknown>,
  reference: () => Promise<unknown>,
  others: Array<() => Promise<unknown>> = []
): Promise<void> {
  if (rep % 2) await reference()
  await ours()
  if (rep % 2 === 0) await reference()
  for (const other of rep % 2 ? [...others].reverse() : others) await other()
}

/** "0.78 (0.71–0.86)": a paired ratio with its interval. */
export const ratioText = ({ ratio, ci95 }: { ratio: number; ci95: [number, number] | null }): string =>
  `${ratio.toFixed(2)}${ci95 ? ` (${ci95[0].toFixed(2)}–${ci95[1].toFixed(2)})` : ''}`
