/**
 * Dates as analysts write them, read once per distinct value of a text column (its vocabulary, like people's
 * numbers in messy.ts), and the parts a model gets from them. A date is held as a day number: days since
 * 1970-01-01 (UTC calendar, the time of day as a fraction; a time zone suffix is ignored, the wall clock kept).
 *
 * The same functions read the stored column at import and a new file's text at predict time, so the month and the
 * day of the week of a row are computed the same way in the app and for an exported model.
 */
import type { DateOrder, DatePart } from '../shared/contract'

const DAY_MS = 86_400_000

/** The time after a date: `T` or a space, hours and minutes, optional seconds and fraction, am/pm, a zone. */
const TIME = String.raw`(?:[T ]\s*(\d{1,2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?\s*([AaPp][Mm])?\s*(?:Z|[+-]\d{2}:?\d{2}|UTC|GMT)?)?`
const YMD = new RegExp(String.raw`^(\d{4})([-/.])(\d{1,2})\2(\d{1,2})${TIME}$`)
/** d/m/y or m/d/y: two numbers up to 31, then a four-digit year, one separator throughout. */
const NUMERIC = new RegExp(String.raw`^(\d{1,2})([-/.])(\d{1,2})\2(\d{4})${TIME}$`)
/** 3 Mar 2024, 03-Mar-2024, 3 March 2024. */
const DAY_MONTH_NAME = new RegExp(String.raw`^(\d{1,2})[-\s/.]([A-Za-z]{3,9})\.?[-\s/.,]+(\d{4})${TIME}$`)
/** Mar 3, 2024; March 3 2024. */
const MONTH_NAME_DAY = new RegExp(String.raw`^([A-Za-z]{3,9})\.?\s+(\d{1,2})(?:st|nd|rd|th)?,?\s+(\d{4})${TIME}$`)

const MONTH_NAMES = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec']
const FULL_MONTHS = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december']

/** The one-hot keys of the month and day-of-week parts, in feature order. */
export const MONTH_KEYS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'] as const
export const WEEKDAY_KEYS = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'] as const

function monthOfName(name: string): number {
  const lower = name.toLowerCase()
  const short = MONTH_NAMES.indexOf(lower)
  if (short >= 0) return short + 1
  const full = FULL_MONTHS.indexOf(lower)
  if (full >= 0) return full + 1
  // "Sept"
  if (lower === 'sept') return 9
  return NaN
}

/** The day number of a calendar date and time, or NaN when it is not one (31 February, hour 25). */
function dayNumber(year: number, month: number, day: number, time: string[]): number {
  if (!(month >= 1 && month <= 12 && day >= 1 && day <= 31)) return NaN
  const ms = Date.UTC(year, month - 1, day)
  const check = new Date(ms)
  if (check.getUTCFullYear() !== year || check.getUTCMonth() !== month - 1 || check.getUTCDate() !== day) return NaN
  let fraction = 0
  const [hh, mm, ss, ampm] = time
  if (hh !== undefined) {
    let hours = Number(hh)
    const minutes = Number(mm)
    const seconds = ss === undefined ? 0 : Number(ss)
    if (ampm) {
      if (hours < 1 || hours > 12) return NaN
      hours = (hours % 12) + (ampm.toLowerCase() === 'pm' ? 12 : 0)
    }
    if (hours > 23 || minutes > 59 || seconds > 60) return NaN
    fraction = (hours * 3600 + minutes * 60 + seconds) / 86_400
  }
  return ms / DAY_MS + fraction
}

/** The day number a text holds in the given order, or NaN. */
export function parseDate(raw: string, order: DateOrder): number {
  const text = raw.trim()
  if (order === 'ymd') {
    const m = YMD.exec(text)
    return m ? dayNumber(Number(m[1]), Number(m[3]), Number(m[4]), m.slice(5, 9)) : NaN
  }
  if (order === 'dmy' || order === 'mdy') {
    const m = NUMERIC.exec(text)
    if (!m) return NaN
    const [first, second] = [Number(m[1]), Number(m[3])]
    return order === 'dmy' ? dayNumber(Number(m[4]), second, first, m.slice(5, 9)) : dayNumber(Number(m[4]), first, second, m.slice(5, 9))
  }
  if (order === 'dMy') {
    const m = DAY_MONTH_NAME.exec(text)
    return m ? dayNumber(Number(m[3]), monthOfName(m[2]!), Number(m[1]), m.slice(4, 8)) : NaN
  }
  const m = MONTH_NAME_DAY.exec(text)
  return m ? dayNumber(Number(m[3]), monthOfName(m[1]!), Number(m[2]), m.slice(4, 8)) : NaN
}

export interface DateFormat {
  order: DateOrder
  /** No value told the day from the month (every one of both was ≤ 12): the usual order for the separator was taken. */
  ambiguous: boolean
}

export interface ReadDates {
  format: DateFormat
  /** Day number per distinct value, in the order given. */
  days: Float64Array
}

function readAll(values: readonly string[], order: DateOrder): Float64Array | null {
  const days = new Float64Array(values.length)
  for (let i = 0; i < values.length; i++) {
    const day = parseDate(values[i]!, order)
    if (Number.isNaN(day)) return null
    days[i] = day
  }
  return days
}

/**
 * How a text column's distinct values read as dates, when every one of them reads in one order; else null and the
 * column stays text (a value that is not a date is never made a missing one behind the user's back). Day/month
 * against month/day is decided by the data: a first number above 12 means day first, a second one month first;
 * when none tells, "." dates (European) are read day first and "/" or "-" ones month first, and the profile says so.
 */
export function readDates(values: readonly string[]): ReadDates | null {
  if (values.length === 0) return null
  const probe = values[0]!.trim()
  for (const order of ['ymd', 'dMy', 'Mdy'] as const) {
    const days = readAll(values, order)
    if (days) return { format: { order, ambiguous: false }, days }
  }
  const m = NUMERIC.exec(probe)
  if (!m) return null
  const dmy = readAll(values, 'dmy')
  const mdy = readAll(values, 'mdy')
  if (dmy && mdy) {
    // Both read every value: they agree only when day = month throughout; otherwise the separator decides.
    const order = m[2] === '.' ? 'dmy' : 'mdy'
    return { format: { order, ambiguous: true }, days: order === 'dmy' ? dmy : mdy }
  }
  if (dmy) return { format: { order: 'dmy', ambiguous: false }, days: dmy }
  if (mdy) return { format: { order: 'mdy', ambiguous: false }, days: mdy }
  return null
}

/**
 * Reads a date column row by row, for a column with too many distinct values for readDates (timestamps of a big
 * table: one per row). The order comes from readDates over a sample of the column's values (its first VOCAB_CAP
 * distinct ones); every row must then read in it, so the verdict is the one readDates would give over all distinct
 * values: a value in another shape (readDates' orders read disjoint shapes) or a second number above 12 where the
 * sample said day first fails the column. When the sample could not tell day from month, the other numeric order is
 * checked alongside (one match, two calendar checks): if the order read first fails and the other still reads, the
 * caller reads the column again in `retryOrder`.
 */
export class DateRowReader {
  /** The other numeric order, checked alongside while it still reads every row (ambiguous sample only). */
  private other: DateOrder | null
  /** One-entry caches of the date part (rows of a timestamp column share their day): key y·10⁴+m·10²+d → days. */
  private lastKey = -1
  private lastDays = NaN
  private otherKey = -1
  private otherDays = NaN
  constructor(
    readonly order: DateOrder,
    ambiguous: boolean
  ) {
    this.other = ambiguous ? (order === 'dmy' ? 'mdy' : 'dmy') : null
  }

  /** The day number of a present value, or NaN when it does not read in `order`. */
  read(text: string): number {
    const order = this.order
    if (order === 'ymd') {
      const fast = this.fixedWidth(text, 4, 7)
      return fast === undefined ? parseDate(text, order) : fast
    }
    if (order !== 'dmy' && order !== 'mdy') return parseDate(text, order)
    const fast = this.fixedWidth(text, 2, 5)
    if (fast !== undefined) return fast
    const m = NUMERIC.exec(text.trim())
    if (!m) {
      this.other = null
      return NaN
    }
    const [first, second, year, time] = [Number(m[1]), Number(m[3]), Number(m[4]), m.slice(5, 9)]
    if (this.other !== null && Number.isNaN(order === 'dmy' ? dayNumber(year, first, second, time) : dayNumber(year, second, first, time)))
      this.other = null
    return order === 'dmy' ? dayNumber(year, second, first, time) : dayNumber(year, first, second, time)
  }

  /**
   * The common fixed-width spellings without a regex: `2024-03-01`, `01/03/2024` (separators at `a` and `b`, one of
   * - / .), alone or with ` 08:30` / `T08:30:15`. The same day number as parseDate (the date's days plus the same
   * time fraction); undefined for any other spelling (parseDate decides).
   */
  private fixedWidth(text: string, a: number, b: number): number | undefined {
    const n = text.length
    if (n !== 10 && n !== 16 && n !== 19) return undefined
    const sep = text.charCodeAt(a)
    if ((sep !== 45 && sep !== 47 && sep !== 46) || text.charCodeAt(b) !== sep) return undefined
    const ymd = a === 4
    const year = ymd ? digits(text, 0, 4) : digits(text, 6, 4)
    const x = ymd ? digits(text, 5, 2) : digits(text, 0, 2)
    const y = ymd ? digits(text, 8, 2) : digits(text, 3, 2)
    if (year < 0 || x < 0 || y < 0) return undefined
    let fraction = 0
    if (n > 10) {
      const t = text.charCodeAt(10)
      if ((t !== 84 && t !== 32) || text.charCodeAt(13) !== 58) return undefined
      const hours = digits(text, 11, 2)
      const minutes = digits(text, 14, 2)
      const seconds = n === 19 ? (text.charCodeAt(16) === 58 ? digits(text, 17, 2) : -1) : 0
      if (hours < 0 || minutes < 0 || seconds < 0) return undefined
      if (hours > 23 || minutes > 59 || seconds > 60) {
        this.other = null
        return NaN
      }
      fraction = (hours * 3600 + minutes * 60 + seconds) / 86_400
    }
    // ymd: x month, y day; numeric orders: x and y as the order says.
    const [month, day] = ymd || this.order === 'mdy' ? [x, y] : [y, x]
    if (this.other !== null) {
      const otherKey = year * 10_000 + day * 100 + month
      if (otherKey !== this.otherKey) [this.otherKey, this.otherDays] = [otherKey, dayNumber(year, day, month, [])]
      if (Number.isNaN(this.otherDays)) this.other = null
    }
    const key = year * 10_000 + month * 100 + day
    if (key !== this.lastKey) [this.lastKey, this.lastDays] = [key, dayNumber(year, month, day, [])]
    return this.lastDays + fraction
  }

  /** After every row read in `order`: how the column reads (ambiguous while the other order read every row too). */
  get format(): DateFormat {
    return { order: this.order, ambiguous: this.other !== null }
  }

  /** After a row failed in `order`: the other order when it read every row so far (the column is read again in it). */
  get retryOrder(): DateOrder | null {
    return this.other
  }
}

/** The number written in `count` ASCII digits at `at`, or -1 when one is not a digit. */
function digits(text: string, at: number, count: number): number {
  let value = 0
  for (let i = at; i < at + count; i++) {
    const d = text.charCodeAt(i) - 48
    if (d < 0 || d > 9) return -1
    value = value * 10 + d
  }
  return value
}

/** A day number as ISO text: the date, and the time when it has one. */
export function isoOfDay(day: number): string {
  const iso = new Date(Math.round(day * DAY_MS)).toISOString()
  return iso.endsWith('T00:00:00.000Z') ? iso.slice(0, 10) : iso.slice(0, 19)
}

/**
 * A part of a date (day number `day`, NaN: missing): a number for year, day of month and days since `origin`, a
 * one-hot key (MONTH_KEYS, WEEKDAY_KEYS) for month and day of the week; NaN or null when the date is missing.
 */
export function datePartValue(day: number, part: DatePart, origin = 0): number | string | null {
  const numeric = part === 'year' || part === 'day' || part === 'days'
  if (Number.isNaN(day)) return numeric ? NaN : null
  if (part === 'days') return day - origin
  const whole = Math.floor(day)
  // 1970-01-01 was a Thursday (key 3); the keys start on Monday.
  if (part === 'weekday') return WEEKDAY_KEYS[(((whole + 3) % 7) + 7) % 7]!
  // The calendar by integer arithmetic (the recipe asks this of every row; a Date per row was 0.2 s at 1M rows);
  // beyond its tested range (years -9999..9999), the Date object decides.
  if (Math.abs(whole) > 3_000_000) {
    const date = new Date(whole * DAY_MS)
    if (part === 'year') return date.getUTCFullYear()
    if (part === 'day') return date.getUTCDate()
    return MONTH_KEYS[date.getUTCMonth()]!
  }
  const [year, month, dayOfMonth] = civilOfDay(whole)
  if (part === 'year') return year
  if (part === 'day') return dayOfMonth
  return MONTH_KEYS[month - 1]!
}

/** Year, month (1–12) and day of a whole day number: H. Hinnant's civil_from_days, exact in integers. */
function civilOfDay(days: number): [year: number, month: number, day: number] {
  const z = days + 719_468
  const era = Math.floor(z / 146_097)
  const doe = z - era * 146_097
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365)
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100))
  const mp = Math.floor((5 * doy + 2) / 153)
  const month = mp < 10 ? mp + 3 : mp - 9
  return [yoe + era * 400 + (month <= 2 ? 1 : 0), month, doy - Math.floor((153 * mp + 2) / 5) + 1]
}

/** The feature (or one-hot prefix) name of a date part: "when.year", "when.month", "when.days". */
export const datePartName = (column: string, part: DatePart): string => `${column}.${part}`
