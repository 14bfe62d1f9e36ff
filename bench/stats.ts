/** The few statistics and labels every bench section prints: the median, the min–max spread, the load average. */
import os from 'node:os'

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
