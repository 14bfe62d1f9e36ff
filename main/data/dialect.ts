/**
 * The CSV dialect, decided from one sample of whole lines (csv.ts readSample) and handed to the parser explicitly:
 * encoding, delimiter (a space too, when nothing else splits the lines), quote and escape characters (apostrophes,
 * backslashes), decimal comma, header, preamble lines above the table, a two-row header (a title over merged
 * cells, then the names), a trailing delimiter on every line. Every setting the user gives is taken as given.
 */
import { LabError } from '../shared/errors'
import {
  type CsvOverrides,
  type CsvSettings,
  type Sample,
  type SampleRecord,
  columnNames,
  detectHeader,
  dropLines,
  modalWidth,
  sampleRecords,
  sampleText,
  sniffSample
} from './csv'

/** What the parser needs beyond the stored settings. */
export interface Dialect {
  settings: CsvSettings
  /** The names of the columns as they are in the file (a dropped trailing column included): what the parser reads. */
  fileNames: string[]
  /** Whether the sample holds the quote character: a quoted field may hold line ends (importCsv.ts's line limit). */
  quoteInSample: boolean
}

const RECORDS = 200

/** How consistently records split into one width: the share of records with the modal width (0 when it is 1). */
function consistency(records: SampleRecord[]): number {
  if (records.length === 0) return 0
  const { width, count } = modalWidth(records)
  return width > 1 ? count / records.length : 0
}

/**
 * The quote and escape characters: '"' unless apostrophes split the lines more consistently, or as consistently
 * while they wrap whole fields and double quotes never do ("it's" in an unquoted field stays text); a backslash
 * escape when the text has \" in it.
 */
function detectQuote(text: string, delimiter: string): { quote: string; escape: string } {
  let quote = '"'
  if (text.includes(`${delimiter}'`) || text.startsWith("'")) {
    const double = consistency(sampleRecords(text, delimiter, RECORDS, '"'))
    const single = consistency(sampleRecords(text, delimiter, RECORDS, "'"))
    // As consistent either way: the quote that wraps whole fields ('it''s', not it's) when the other never does.
    const wrapped = (q: string) =>
      sampleRecords(text, delimiter, RECORDS, '')
        .flatMap((r) => r.fields)
        .filter((f) => f.length >= 2 && f.startsWith(q) && f.endsWith(q)).length
    if (single > double || (single === double && wrapped("'") > 0 && wrapped('"') === 0)) quote = "'"
  }
  let escape = quote
  if (text.includes(`\\${quote}`)) escape = '\\'
  return { quote, escape }
}

/**
 * Preamble lines (a title, notes) above the table: the table's rows have the most common field count M (> 1); the
 * preamble is the records (each narrower than M) before the first one with M fields from which (nearly) every record
 * has M fields, so damaged rows further down do not hide it. Returns the lines to skip, or 0.
 */
function detectPreamble(records: SampleRecord[]): number {
  const { width } = modalWidth(records.filter((r) => r.fields.length > 1))
  if (width < 2) return 0
  for (let k = 0; k < records.length; k++) {
    // Titles and notes are narrower than the table: a wider line above it is a row with an extra field, not a preamble.
    if (records[k]!.fields.length > width) return 0
    if (records[k]!.fields.length !== width) continue
    if (k === 0) return 0
    const rest = records.slice(k)
    if (rest.filter((r) => r.fields.length === width).length < 0.8 * rest.length) return 0
    // The record ends on its line; a header is one line.
    return records[k]!.line - 1
  }
  return 0
}

/**
 * A two-row header: the first row has blank cells among filled ones (a title over merged cells), the second is
 * complete and reads as a header over the rows below it. Returns the second row's names.
 */
function twoRowHeader(records: SampleRecord[], decimalComma: boolean): string[] | null {
  const [first, second, ...rest] = records.slice(0, 50).map((r) => r.fields)
  if (!first || !second || rest.length < 1) return null
  const blank = first.filter((field) => field.trim() === '').length
  if (blank === 0 || blank === first.length || second.some((field) => field.trim() === '')) return null
  // The second row must not read as data itself, or "Region,,Sales" over plain data would lose a row.
  if (second.length !== first.length || !detectHeader([second, ...rest], decimalComma)) return null
  return columnNames(second, second.length)
}

export function detectDialect(sample: Sample, overrides: CsvOverrides, label: string): Dialect {
  let settings = sniffSample(sample, overrides, label)
  const fullText = sampleText(sample, settings.encoding)
  let text = settings.skippedLines > 0 ? dropLines(fullText, settings.skippedLines) : fullText

  if (settings.names.length === 1 && !overrides.delimiter) {
    // Nothing of , ; tab | splits the lines: try a space, taken when it gives a consistent table.
    const spaced = sniffSample(sample, { ...overrides, delimiter: ' ' }, label)
    if (spaced.names.length > 1 && consistency(sampleRecords(text, ' ', RECORDS, overrides.quote ?? '"')) >= 0.9) settings = spaced
  }
  if (overrides.quote === undefined && settings.quote === '"') {
    const { quote, escape } = detectQuote(text, settings.delimiter)
    if (quote !== settings.quote || (overrides.escape === undefined && escape !== settings.escape)) {
      settings = sniffSample(sample, { ...overrides, delimiter: settings.delimiter, quote, escape: overrides.escape ?? escape }, label)
    }
  }

  if (overrides.skip === undefined) {
    const records = sampleRecords(text, settings.delimiter, RECORDS, settings.quote, settings.escape)
    const skip = detectPreamble(records)
    if (skip > 0) {
      settings = sniffSample(sample, { ...overrides, delimiter: settings.delimiter, quote: settings.quote, escape: settings.escape, skip }, label)
      text = dropLines(fullText, skip)
    } else if (settings.header && overrides.header === undefined) {
      const names = twoRowHeader(records, settings.decimalComma)
      if (names) settings = { ...settings, skippedLines: 1, headerRows: 2, names }
    }
  }

  let fileNames = settings.names
  const records = sampleRecords(text, settings.delimiter, RECORDS, settings.quote, settings.escape).slice(settings.header ? 1 : 0)
  const lastIndex = fileNames.length - 1
  const lastBlank = !settings.header || fileNames[lastIndex] === `col_${lastIndex + 1}`
  if (
    lastIndex >= 1 &&
    lastBlank &&
    records.length > 0 &&
    records.every((r) => r.fields.length !== fileNames.length || (r.fields[lastIndex] ?? '').trim() === '')
  ) {
    // "a,b,label," on every line: a column with no name and no values, as a person reading the file would drop it.
    fileNames = [...settings.names]
    settings = { ...settings, names: settings.names.slice(0, -1), droppedTrailingColumn: true }
  }
  if (settings.names.length === 0) throw new LabError(`${label}: the file has no columns`)
  return { settings, fileNames, quoteInSample: settings.quote !== '' && fullText.includes(settings.quote) }
}
