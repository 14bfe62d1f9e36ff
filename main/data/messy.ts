/**
 * Numbers written for people: "$1,234.50", "12 %", "1 234,5", "(1,234)", "€ 3.000,00", "1'234.5". Read once per
 * distinct value of a text column (its vocabulary, at most 10,000 values), never per row: the column's codes then
 * map to the numbers (columns.ts). One decimal mark per column, decided by the values only one mark can read.
 */

export type Decimal = '.' | ','

const CURRENCY = /^[$€£¥₹]|^(?:USD|EUR|GBP|CHF|JPY|SEK|NOK|DKK)\s?|\s?(?:[$€£¥₹]|USD|EUR|GBP|CHF|JPY|SEK|NOK|DKK|kr)$/i
/** Digits with optional groups of three (',' '.' ' ' or apostrophe), an optional fraction, an optional exponent. */
const pattern = (decimal: Decimal, group: string) =>
  new RegExp(
    `^(?:\\d{1,3}(?:[${group}'\u00a0\u202f\u2009 ]\\d{3})+|\\d+)(?:\\${decimal}\\d*)?(?:[eE][+-]?\\d+)?$|^\\${decimal}\\d+(?:[eE][+-]?\\d+)?$`
  )
const PATTERNS: Record<Decimal, RegExp> = { '.': pattern('.', ','), ',': pattern(',', '.') }
/** Spaces people put between thousands: space, no-break space, narrow no-break space, thin space. */
const GROUP_SPACE = /[\u0020\u00a0\u202f\u2009]/g

export interface MessyNumber {
  value: number
  /** Written with a sign or symbol a plain number lacks: currency, percent, groups, parentheses. */
  dressed: boolean
}

/**
 * The number a field holds under the decimal mark `decimal`, or null: a sign or accounting parentheses, a currency
 * symbol or code before or after, thousands groups, a percent sign (the value stays as written: "12 %" → 12).
 */
export function parseMessyNumber(raw: string, decimal: Decimal): MessyNumber | null {
  let text = raw.trim()
  if (text === '') return null
  let negative = false
  let dressed = false
  if (text.startsWith('(') && text.endsWith(')')) {
    negative = true
    dressed = true
    text = text.slice(1, -1).trim()
  }
  const symbol = CURRENCY.exec(text)
  if (symbol) {
    dressed = true
    text = (symbol.index === 0 ? text.slice(symbol[0].length) : text.slice(0, symbol.index)).trim()
  }
  if (text.endsWith('%')) {
    dressed = true
    text = text.slice(0, -1).trim()
  }
  if (text.startsWith('-') || text.startsWith('+') || text.startsWith('\u2212')) {
    if (text[0] !== '+') negative = !negative
    text = text.slice(1).trim()
  }
  if (!PATTERNS[decimal].test(text)) return null
  const group = decimal === '.' ? ',' : '.'
  if (/[\s'\u00a0\u202f\u2009]/.test(text) || text.includes(group)) dressed = true
  const plain = text.replace(GROUP_SPACE, '').replace(/'/g, '').split(group).join('').replace(decimal, '.')
  const value = Number(plain)
  if (!Number.isFinite(value)) return null
  return { value: negative ? -value : value, dressed }
}

/** ',' when some values can only be read with a decimal comma ("1 234,5", "0,25") and more than can only with a dot. */
export function decideDecimal(values: readonly string[]): Decimal {
  let dotOnly = 0
  let commaOnly = 0
  for (const value of values) {
    const dot = parseMessyNumber(value, '.')
    const comma = parseMessyNumber(value, ',')
    if (dot && !comma) dotOnly++
    else if (comma && !dot) commaOnly++
    else if (dot && comma && dot.value !== comma.value) {
      // Both read, differently ("1,25" / "1.250"): a mark followed by other than three digits is the decimal one.
      if (/,\d{1,2}$|,\d{4,}$/.test(value.trim())) commaOnly++
      else if (/\.\d{1,2}$|\.\d{4,}$/.test(value.trim())) dotOnly++
    }
  }
  return commaOnly > dotOnly ? ',' : '.'
}

/**
 * The numbers of a text column's distinct values (in vocabulary order) when every one of them reads as a number
 * and some are dressed as people write them (a currency sign, a percent sign, thousands groups); else null, and
 * the column stays text: a value that is not a number is never turned into a missing one behind the user's back.
 */
export function readMessyNumbers(distinct: readonly string[], decimalComma: boolean): Float64Array | null {
  if (distinct.length === 0) return null
  const decimal = decimalComma ? ',' : decideDecimal(distinct)
  const out = new Float64Array(distinct.length)
  let dressed = 0
  for (let i = 0; i < distinct.length; i++) {
    const parsed = parseMessyNumber(distinct[i]!, decimal)
    if (!parsed) return null
    out[i] = parsed.value
    if (parsed.dressed) dressed++
  }
  return dressed > 0 ? out : null
}
