/** How one raw CSV field is read: missing markers, numbers (with an optional decimal comma) and booleans. */

const MISSING = new Set(['', 'na', 'n/a', 'nan', 'null', '?'])

/** True for the markers that mean "no value": '', NA, N/A, NaN, null, ? (any case, surrounding spaces ignored). */
export function isMissing(trimmed: string): boolean {
  return trimmed.length <= 4 && MISSING.has(trimmed.toLowerCase())
}

/**
 * Missing markers as a CSV reader's NULL strings (DuckDB's nullstr, plainCsv.ts): matched exactly, so the common
 * spellings are listed; anything else isMissing() knows (e.g. 'nA') is still caught by the column builders.
 */
export const NULL_SPELLINGS: readonly string[] = ['', 'NA', 'na', 'Na', 'N/A', 'n/a', 'N/a', 'NaN', 'nan', 'NAN', 'null', 'NULL', 'Null', '?']

const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/
const NUMBER_DECIMAL_COMMA = /^[+-]?(?:\d+,?\d*|,\d+)(?:[eE][+-]?\d+)?$/

/** The number a trimmed field holds, or NaN when it is not a plain number. */
export function parseNumber(trimmed: string, decimalComma: boolean): number {
  if (decimalComma) {
    if (!NUMBER_DECIMAL_COMMA.test(trimmed)) return NaN
    return Number(trimmed.replace(',', '.'))
  }
  return NUMBER.test(trimmed) ? Number(trimmed) : NaN
}

const TRUE_WORDS = new Set(['true', 'yes', 't', 'y'])
const FALSE_WORDS = new Set(['false', 'no', 'f', 'n'])

/** 1 for true-like words, 0 for false-like words, NaN otherwise. */
export function parseBoolean(trimmed: string): number {
  const lower = trimmed.toLowerCase()
  if (TRUE_WORDS.has(lower)) return 1
  if (FALSE_WORDS.has(lower)) return 0
  return NaN
}

/** The key a value has in a category vocabulary: numbers in canonical form (1.0 and 1 are one class), else the trimmed text. */
export function categoryKey(trimmed: string, decimalComma: boolean): string {
  const value = parseNumber(trimmed, decimalComma)
  return Number.isNaN(value) ? trimmed : String(value)
}

/** Numeric labels sort numerically, anything else alphabetically. */
export function sortLabels(labels: string[]): string[] {
  const allNumeric = labels.every((label) => !Number.isNaN(parseNumber(label, false)))
  return [...labels].sort(allNumeric ? (a, b) => Number(a) - Number(b) : (a, b) => (a < b ? -1 : a > b ? 1 : 0))
}
