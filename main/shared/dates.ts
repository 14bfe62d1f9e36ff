/** How date columns are described, the same words in the CLI and the renderer. */
import type { ColumnProfile, DateOrder, DatePart } from './contract'

/** How an order reads, for people. */
export const DATE_ORDER_TEXT: Record<DateOrder, string> = {
  ymd: 'year-month-day',
  dmy: 'day/month/year',
  mdy: 'month/day/year',
  dMy: 'day month-name year',
  Mdy: 'month-name day, year'
}

/** Each part as a user chooses it. */
export const DATE_PART_TEXT: Record<DatePart, string> = {
  year: 'year',
  month: 'month',
  weekday: 'day of week',
  day: 'day of month',
  days: 'days since first'
}

/** "day/month/year (no day above 12 told day from month), 2021-01-04 to 2023-12-29": how the column was read. */
export function dateReading(date: NonNullable<ColumnProfile['date']>): string {
  const order = DATE_ORDER_TEXT[date.order] + (date.ambiguous ? ' (no value above 12 told day from month)' : '')
  return `${order}, ${date.first} to ${date.last}`
}

/** "year, month, day of week" or "excluded". */
export const datePartsText = (parts: readonly DatePart[]): string =>
  parts.length ? parts.map((part) => DATE_PART_TEXT[part]).join(', ') : 'excluded'
