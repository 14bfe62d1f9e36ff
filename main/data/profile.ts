/**
 * Column statistics gathered in the import pass, and what follows from them: the column's type, its role
 * (feature, target, excluded and why) and the profile the contract shows.
 */
import type { ColumnOverride, ColumnProfile, ColumnType } from '../shared/contract'
import { DEFAULT_DATE_PARTS } from '../shared/importFacts'
import { type DateFormat, isoOfDay } from './dates'
import { HISTOGRAM_BINS, binScale } from './columnPasses'

/** Distinct values are counted (and coded) up to this many; beyond it a column is "many distinct". */
export const VOCAB_CAP = 10_000
export const CATEGORY_MAX = 50

/** What the import pass learned about one column, stored in the dataset's meta.json. */
export interface ColumnStats {
  name: string
  missing: number
  present: number
  /** Every present value is a number. */
  numeric: boolean
  integer: boolean
  /** Strictly increasing numbers (a row number), which implies all distinct even past VOCAB_CAP. */
  increasing: boolean
  /** Every present value is a true/false word. */
  booleanLike: boolean
  min: number
  max: number
  mean: number
  std: number
  /** Distinct present values, at most VOCAB_CAP. */
  distinct: number
  distinctCapped: boolean
  /** Values by code (the c<i>.i32 file exists) or null when there were too many. */
  vocab: string[] | null
  /** Count per vocab entry. */
  counts: number[] | null
  top: { value: string; count: number }[]
  histogram: number[] | null
  /** Which files hold the column. */
  files: { f64: boolean; i32: boolean; str: boolean }
  /** A column read as numbers from people's spellings ("$1,234.50", "12 %"): the spellings, coded in c<i>.src. */
  spellings?: string[]
  /**
   * A column read as dates: the f64 file holds day numbers (days since 1970-01-01), the text stays in c<i>.src (under
   * VOCAB_CAP distinct values) or in the strings file (more: files.str beside files.f64).
   */
  date?: DateFormat
}

/** Online statistics for one numeric column (Welford: stable in one pass). */
export class NumericMoments {
  n = 0
  mean = 0
  m2 = 0
  min = Infinity
  max = -Infinity
  add(value: number): void {
    this.n++
    const delta = value - this.mean
    this.mean += delta / this.n
    this.m2 += delta * (value - this.mean)
    if (value < this.min) this.min = value
    if (value > this.max) this.max = value
  }
  get std(): number {
    return this.n > 0 ? Math.sqrt(this.m2 / this.n) : 0
  }
}

/** The type the values suggest. */
export function inferType(stats: ColumnStats): ColumnType {
  if (stats.present === 0) return 'text'
  if (stats.date) return 'date'
  if (stats.numeric) return stats.integer ? 'integer' : 'number'
  if (stats.booleanLike && stats.distinct <= 2) return 'boolean'
  if (!stats.distinctCapped && stats.distinct <= CATEGORY_MAX && stats.distinct < 0.5 * stats.present) return 'category'
  return 'text'
}

const ID_NAME = /^(id|.*_id)$/i

/** All present values distinct (checked exactly when countable, or by a strictly increasing sequence). */
function allDistinct(stats: ColumnStats): boolean {
  if (stats.increasing && stats.present > 1) return true
  return !stats.distinctCapped && stats.distinct === stats.present && stats.present > 1
}

/** Why a column is left out by default, or null when it is a feature. */
export function exclusionReason(stats: ColumnStats, type: ColumnType): ColumnProfile['excludedReason'] | null {
  if (stats.distinct <= 1 && !stats.distinctCapped) return 'constant'
  const idName = ID_NAME.test(stats.name)
  const distinct = allDistinct(stats) && stats.missing === 0
  if (distinct && (idName || type === 'integer' || type === 'category' || type === 'text')) {
    // A handful of rows can be all distinct by chance: only call a nameless column an id from 20 rows on.
    if (idName || stats.present >= 20) return 'id'
  }
  if (type === 'text') return 'text'
  return null
}

/** The contract's profile of one column under its current type, role and overrides. */
export function columnProfile(stats: ColumnStats, isTarget: boolean, override: ColumnOverride = {}): ColumnProfile {
  const type = override.type ?? inferType(stats)
  let role: ColumnProfile['role'] = 'feature'
  let excludedReason: ColumnProfile['excludedReason']
  if (isTarget) role = 'target'
  else if (override.include === false) [role, excludedReason] = ['excluded', 'user']
  else if (override.include !== true) {
    const reason = exclusionReason(stats, type)
    if (reason) [role, excludedReason] = ['excluded', reason]
  } else if (type === 'text') [role, excludedReason] = ['excluded', 'text']
  const parts = type === 'date' ? (override.dateParts ?? DEFAULT_DATE_PARTS) : []
  // A date column without parts gives the model nothing: it is excluded, by the user's choice.
  if (type === 'date' && role === 'feature' && parts.length === 0) [role, excludedReason] = ['excluded', 'user']
  const profile: ColumnProfile = { name: stats.name, type, missing: stats.missing, distinct: stats.distinct, role }
  if (excludedReason) profile.excludedReason = excludedReason
  if (type === 'date' && stats.date && stats.present > 0)
    profile.date = {
      order: stats.date.order,
      ambiguous: stats.date.ambiguous,
      first: isoOfDay(stats.min),
      last: isoOfDay(stats.max),
      parts: role === 'feature' ? [...parts] : []
    }
  if (stats.numeric && stats.present > 0) {
    Object.assign(profile, { min: stats.min, max: stats.max, mean: stats.mean, std: stats.std })
    if (stats.histogram) profile.histogram = stats.histogram
  }
  if (stats.top.length > 0 && (type === 'category' || type === 'boolean' || type === 'text' || isTarget)) profile.top = stats.top
  return profile
}

/** Counts over HISTOGRAM_BINS equal-width bins between min and max. */
export class Histogram {
  readonly bins = new Array<number>(HISTOGRAM_BINS).fill(0)
  private readonly scale: number
  constructor(
    readonly min: number,
    readonly max: number
  ) {
    this.scale = binScale(min, max)
  }
  add(value: number): void {
    if (Number.isNaN(value)) return
    const bin = Math.min(HISTOGRAM_BINS - 1, Math.floor((value - this.min) * this.scale))
    this.bins[bin]!++
  }
}

/** A top value longer than this is stored cut (with "…"): a 50 MB field must not travel in every datasets.list. */
export const SAMPLE_CHARS = 200

const cut = (value: string): string => (value.length > SAMPLE_CHARS ? `${value.slice(0, SAMPLE_CHARS)}…` : value)

/**
 * The most frequent vocab entries (counts[code] is how often vocab[code] occurs), most frequent first, ties by
 * value; without sorting the whole vocabulary: only entries at or above the limit-th count are compared.
 */
export function topValues(vocab: readonly (string | number)[], counts: readonly number[], limit = 10): { value: string; count: number }[] {
  let candidates: { value: string; count: number }[]
  if (vocab.length <= limit * 4) candidates = vocab.map((value, code) => ({ value: String(value), count: counts[code]! }))
  else {
    // The limit-th largest count, from a small descending list of the best counts seen.
    const best: number[] = []
    for (const count of counts) {
      if (best.length < limit || count > best[limit - 1]!) {
        if (best.length === limit) best.pop()
        best.push(count)
        best.sort((a, b) => b - a)
      }
    }
    const threshold = best[best.length - 1] ?? 0
    candidates = []
    for (let code = 0; code < counts.length; code++)
      if (counts[code]! >= threshold) candidates.push({ value: String(vocab[code]), count: counts[code]! })
  }
  return candidates
    .sort((a, b) => b.count - a.count || (a.value < b.value ? -1 : a.value > b.value ? 1 : 0))
    .slice(0, limit)
    .map((entry) => ({ value: cut(entry.value), count: entry.count }))
}
