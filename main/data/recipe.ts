/**
 * The recipe: the preparation fitted on a dataset's TRAIN rows, JSON-serialisable and self-contained, so that a model
 * file carrying it (ONNX metadata) can prepare new data without the lab. The same encoders serve loadPrepared (values
 * from the materialised columns) and encodeNewData (values from a new file), so both give the same numbers.
 */
import type { ColumnType, DateOrder, DatePart, Imputation, Scaling, Task } from '../shared/contract'
import { LabError } from '../shared/errors'
import { parseBoolean, sortLabels } from './values'
import { MONTH_KEYS, WEEKDAY_KEYS, datePartName, datePartValue, parseDate } from './dates'
import { columnFile, gatherF64, isAscending, readF64, readI32 } from './storage'
import { MASKED_GROUP, type MaskedFit, standardMasked } from './columnPasses'
import type { ColumnStats } from './profile'

export interface TableColumnRecipe {
  name: string
  type: ColumnType
  /** numeric: one feature; boolean: one 0/1 feature; onehot: one feature per vocabulary entry. */
  encoding: 'numeric' | 'boolean' | 'onehot'
  /** The value a missing entry takes: a number (numeric, boolean) or a category. */
  impute: number | string
  scaling: Scaling | 'none'
  /** One-hot categories in feature order (values not in it encode as all zeros). */
  vocabulary?: string[]
  /**
   * A feature derived from a date column (one recipe column per part, all named after the date column): the part,
   * how the column's text reads as a date (for new files), and for `days` the day number counted from (the first
   * train date). Year, day and days are numeric; month and weekday one-hot over MONTH_KEYS / WEEKDAY_KEYS.
   */
  date?: { part: DatePart; order: DateOrder; origin?: number }
}

interface RecipeBase {
  labels: string[]
  featureNames: string[]
  /**
   * prepared = (encoded - offset) * scale, per prepared feature, where `encoded` is the row after imputation and
   * one-hot encoding but before scaling (one-hot features: offset 0, scale 1). Null for images.
   */
  affine: { offset: number[]; scale: number[] } | null
}

/** Regression: the prepared target is (y − mean) / std, fitted on the train rows; a prediction z is z · std + mean. */
export interface TargetScale {
  mean: number
  std: number
}

export interface TableRecipe extends RecipeBase {
  kind: 'table'
  version: 1
  /** Without the batch dimension: one row of prepared features. */
  inputShape: [features: number]
  target: string
  /** Absent in recipes from before tasks: classification. */
  task?: Task
  /** Regression: the target's standardisation (labels is then empty). */
  targetScale?: TargetScale
  columns: TableColumnRecipe[]
  missingMarkers: string[]
  imputeNumbers: Imputation
  scaling: Scaling
}

export interface ImageRecipe extends RecipeBase {
  kind: 'images'
  version: 1
  /** Without the batch dimension. */
  inputShape: [height: number, width: number, channels: number]
  width: number
  height: number
  channels: 1 | 3
  colorMode: 'grayscale' | 'rgb'
  /** Transparent pixels are flattened on this colour before anything else. */
  background: '#ffffff'
  /** Images are resized to width × height ignoring the aspect ratio. */
  resize: 'fill'
  /** Pixels are uint8 × pixelScale, i.e. in [0, 1]. */
  pixelScale: number
  affine: null
}

export type Recipe = TableRecipe | ImageRecipe

export interface NewData {
  x: Float32Array
  n: number
  inputShape: number[]
  /** `row` number (tables, 1-based data rows) or file path (images), one per sample. */
  keys: string[]
  /** The true label where the input has it (regression: the number as written, canonical). */
  truth: (string | null)[]
  /** Regression: the true target per sample (NaN where missing or not a number); null for classification. */
  truthValues: Float64Array | null
}

export const MISSING_MARKERS = ['', 'NA', 'N/A', 'NaN', 'null', '?']

// ---------------------------------------------------------------- encoders

/** Writes one column's encoded (imputed, one-hot, unscaled) features. */
export interface ColumnEncoder {
  width: number
  /** `value`: a number for numeric columns (NaN: missing), a vocabulary key or null otherwise. */
  encode(value: number | string | null, out: Float32Array, at: number): void
}

export function columnEncoder(column: TableColumnRecipe): ColumnEncoder {
  const date = column.date
  if (date) {
    // The stored column gives day numbers; a new file gives the text, read in the order the column was read in.
    const inner = columnEncoder({ ...column, date: undefined })
    return {
      width: inner.width,
      encode(value, out, at) {
        const day = typeof value === 'number' ? value : value === null ? NaN : parseDate(value, date.order)
        inner.encode(datePartValue(day, date.part, date.origin), out, at)
      }
    }
  }
  if (column.encoding === 'numeric') {
    const impute = column.impute as number
    return {
      width: 1,
      encode(value, out, at) {
        const number = typeof value === 'number' ? value : value === null ? NaN : Number(value)
        out[at] = Number.isNaN(number) ? impute : number
      }
    }
  }
  if (column.encoding === 'boolean') {
    const impute = column.impute as number
    return {
      width: 1,
      encode(value, out, at) {
        const bit = value === null ? NaN : typeof value === 'number' ? value : parseBoolean(value)
        out[at] = Number.isNaN(bit) ? impute : bit
      }
    }
  }
  const vocabulary = column.vocabulary ?? []
  const index = new Map(vocabulary.map((key, i) => [key, i]))
  const imputeIndex = index.get(column.impute as string) ?? -1
  return {
    width: vocabulary.length,
    encode(value, out, at) {
      for (let i = 0; i < vocabulary.length; i++) out[at + i] = 0
      const hot = value === null ? imputeIndex : (index.get(String(value)) ?? -1)
      if (hot >= 0) out[at + hot] = 1
    }
  }
}

export function featureNamesOf(columns: TableColumnRecipe[]): string[] {
  return columns.flatMap((column) => {
    const name = column.date ? datePartName(column.name, column.date.part) : column.name
    return column.encoding === 'onehot' ? (column.vocabulary ?? []).map((key) => `${name}=${key}`) : [name]
  })
}

/** Applies the affine step in place. */
export function applyAffine(x: Float32Array, affine: { offset: number[]; scale: number[] }): void {
  const width = affine.offset.length
  for (let i = 0; i < x.length; i++) {
    const f = i % width
    x[i] = (x[i]! - affine.offset[f]!) * affine.scale[f]!
  }
}

// ---------------------------------------------------------------- fitting on the materialised columns

export interface TableColumnChoice {
  index: number
  stats: ColumnStats
  type: ColumnType
  /** A date column: the one part this choice makes a feature of (a date column is one choice per part). */
  datePart?: DatePart
}

/** A column's values for the encoder, row by row, from its materialised file (date columns: day numbers). */
function columnValues(
  dir: string,
  choice: TableColumnChoice,
  encoding: TableColumnRecipe['encoding'],
  date?: TableColumnRecipe['date']
): (row: number) => number | string | null {
  if (encoding === 'numeric' || date) {
    if (!choice.stats.files.f64)
      throw new LabError(`column "${choice.stats.name}": not all values are numbers, so it cannot be of type ${choice.type}`)
    const values = readF64(columnFile(dir, choice.index, 'f64'))
    return (row) => values[row]!
  }
  if (!choice.stats.files.i32 || !choice.stats.vocab)
    throw new LabError(`column "${choice.stats.name}": more than ${choice.stats.distinct} distinct values, too many for type ${choice.type}`)
  const codes = readI32(columnFile(dir, choice.index, 'i32'))
  const vocab = choice.stats.vocab
  return (row) => {
    const code = codes[row]!
    return code < 0 ? null : vocab[code]!
  }
}

const encodingOf = (type: ColumnType): TableColumnRecipe['encoding'] =>
  type === 'number' || type === 'integer' ? 'numeric' : type === 'boolean' ? 'boolean' : 'onehot'

const DATE_VOCABULARY: Partial<Record<DatePart, readonly string[]>> = { month: MONTH_KEYS, weekday: WEEKDAY_KEYS }

/** The recipe's date facts of a choice: its part, the column's order, and for `days` the first train day. */
function dateOf(dir: string, choice: TableColumnChoice, train: Int32Array): TableColumnRecipe['date'] {
  const part = choice.datePart
  const format = choice.stats.date
  if (!part || !format) throw new Error(`date part of column "${choice.stats.name}" without a date format`)
  if (part !== 'days') return { part, order: format.order }
  const days = readF64(columnFile(dir, choice.index, 'f64'))
  let origin = Infinity
  for (const row of train) if (days[row]! < origin) origin = days[row]!
  return { part, order: format.order, origin: Number.isFinite(origin) ? Math.floor(origin) : 0 }
}

/** Whether standardMasked's passes give this column's fit: no missing values, finite, one value per table row. */
function maskable(choice: TableColumnChoice, rows: number): boolean {
  const { stats } = choice
  return (
    (choice.type === 'number' || choice.type === 'integer') &&
    stats.missing === 0 &&
    stats.files.f64 &&
    Number.isFinite(stats.min) &&
    Number.isFinite(stats.max) &&
    stats.present === rows
  )
}

/** Whether the preparation is the one standardMasked fits: mean imputation and standard scaling (the defaults). */
export const standardPreparation = (options: { impute?: Imputation; scaling?: Scaling }): boolean =>
  (options.impute ?? 'mean') === 'mean' && (options.scaling ?? 'standard') === 'standard'

/**
 * standardMasked's work for a table: the maskable columns in groups of four, their files, and the weights (1 for the
 * train rows of the table, 0 for the others), in shared memory where another thread is to read them.
 */
export interface MaskedPlan {
  groups: TableColumnChoice[][]
  files: string[][]
  weights: Float64Array
  n: number
}

export function maskedPlan(dir: string, features: TableColumnChoice[], train: Int32Array, shared = false): MaskedPlan | null {
  const rows = features[0] ? features[0].stats.present + features[0].stats.missing : 0
  const chosen = features.filter((choice) => maskable(choice, rows))
  if (chosen.length === 0 || train.length === 0) return null
  const weights = new Float64Array(shared ? new SharedArrayBuffer(rows * 8) : new ArrayBuffer(rows * 8))
  for (let i = 0; i < train.length; i++) weights[train[i]!] = 1
  const groups: TableColumnChoice[][] = []
  for (let at = 0; at < chosen.length; at += MASKED_GROUP) groups.push(chosen.slice(at, at + MASKED_GROUP))
  return { groups, files: groups.map((group) => group.map((choice) => columnFile(dir, choice.index, 'f64'))), weights, n: train.length }
}

/** Fits of the maskable columns, by choice: the groups' results from `fitted` (another thread's), else made here. */
export function maskedFits(plan: MaskedPlan | null, fitted: (MaskedFit[] | null)[] = []): Map<TableColumnChoice, MaskedFit> {
  const fits = new Map<TableColumnChoice, MaskedFit>()
  plan?.groups.forEach((group, g) => {
    const results = fitted[g] ?? standardMasked(plan.files[g]!, plan.weights, plan.n)
    group.forEach((choice, i) => fits.set(choice, results[i]!))
  })
  return fits
}

interface FittedColumn {
  column: TableColumnRecipe
  /** The affine step of this column's features. */
  offset: number[]
  scale: number[]
}

/**
 * Fits one feature column on the train rows: its imputation value, its one-hot vocabulary, and its affine step from the
 * imputed train values (standard: mean and std; minmax: min and range; boolean and one-hot: identity).
 */
function fitColumn(
  dir: string,
  choice: TableColumnChoice,
  train: Int32Array,
  trainAscending: boolean,
  options: { impute: Imputation; scaling: Scaling },
  /** standardMasked's fit of this column, where it has one (mean imputation and standard scaling only). */
  masked?: MaskedFit
): FittedColumn {
  const date = choice.type === 'date' ? dateOf(dir, choice, train) : undefined
  const encoding = date ? (DATE_VOCABULARY[date.part] ? 'onehot' : 'numeric') : encodingOf(choice.type)
  // Plain numbers are read below straight from their file; the rest through a value per row.
  const stored = encoding === 'numeric' && !date ? () => NaN : columnValues(dir, choice, encoding, date)
  // A date part is fitted on the part's values (a year, a month key), computed from the day numbers.
  const value = date ? (row: number) => datePartValue(stored(row) as number, date.part, date.origin) : stored
  const name = choice.stats.name
  const extra = date ? { date } : {}
  if (encoding === 'numeric') {
    if (masked && !date) {
      const { impute, mean, std } = masked
      return {
        column: { name, type: choice.type, encoding, impute, scaling: options.scaling },
        offset: [mean],
        scale: [std > 1e-12 ? 1 / std : 1]
      }
    }
    // The train rows' values in one typed array first: the passes below are then tight loops (they were a seventh
    // of a 1M-row import through a closure per value). Same sums in the same order as before.
    const n = train.length
    if (!date && !choice.stats.files.f64) throw new LabError(`column "${name}": not all values are numbers, so it cannot be of type ${choice.type}`)
    const xs = date ? Float64Array.from(train, (row) => value(row) as number) : gatherF64(columnFile(dir, choice.index, 'f64'), train, trainAscending)
    let present = 0
    let sum = 0
    for (let i = 0; i < n; i++) {
      const v = xs[i]!
      if (v === v) {
        present++
        sum += v
      }
    }
    let impute = present > 0 ? sum / present : 0
    if (options.impute === 'median' && present > 0) {
      const sorted = new Float64Array(present)
      let k = 0
      for (let i = 0; i < n; i++) if (xs[i] === xs[i]) sorted[k++] = xs[i]!
      sorted.sort()
      const mid = present >> 1
      impute = present % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
    }
    // The affine step is fitted on the values the model sees: after imputation, in Float32 like the prepared rows.
    const encoded = new Float32Array(n)
    let mean = 0
    let min = Infinity
    let max = -Infinity
    for (let i = 0; i < n; i++) {
      const x = xs[i]!
      encoded[i] = x === x ? x : impute
      // Read back: the Float32 the model sees.
      const v = encoded[i]!
      mean += v
      if (v < min) min = v
      if (v > max) max = v
    }
    mean = n ? mean / n : 0
    let offset: number
    let scale: number
    if (options.scaling === 'minmax') {
      offset = n ? min : 0
      scale = max > min ? 1 / (max - min) : 1
    } else {
      let squares = 0
      for (let i = 0; i < n; i++) squares += (encoded[i]! - mean) ** 2
      const std = n ? Math.sqrt(squares / n) : 0
      offset = mean
      // A constant feature (std 0) is only centred: dividing by 0 would make it NaN.
      scale = std > 1e-12 ? 1 / std : 1
    }
    return { column: { name, type: choice.type, encoding, impute, scaling: options.scaling, ...extra }, offset: [offset], scale: [scale] }
  }
  if (encoding === 'boolean') {
    let ones = 0
    let zeros = 0
    for (const row of train) {
      const key = value(row)
      if (key === null) continue
      if (parseBoolean(String(key)) === 1) ones++
      else zeros++
    }
    return { column: { name, type: choice.type, encoding, impute: ones > zeros ? 1 : 0, scaling: 'none' }, offset: [0], scale: [1] }
  }
  const counts = new Map<string, number>()
  for (const row of train) {
    const key = value(row)
    if (key !== null) counts.set(String(key), (counts.get(String(key)) ?? 0) + 1)
  }
  // Months and days of the week: all of them, in calendar order, seen in train or not (a new file may have them).
  const vocabulary = date ? [...DATE_VOCABULARY[date.part]!] : sortLabels([...counts.keys()])
  let impute = vocabulary[0] ?? ''
  for (const key of vocabulary) if ((counts.get(key) ?? 0) > (counts.get(impute) ?? 0)) impute = key
  return {
    column: { name, type: choice.type, encoding, impute, scaling: 'none', vocabulary, ...extra },
    offset: vocabulary.map(() => 0),
    scale: vocabulary.map(() => 1)
  }
}

/** Encodes the given rows from the materialised columns (imputed and one-hot, not scaled). */
export function encodeStoredRows(dir: string, choices: TableColumnChoice[], columns: TableColumnRecipe[], rows: Int32Array): Float32Array {
  const encoders = columns.map(columnEncoder)
  const width = encoders.reduce((sum, encoder) => sum + encoder.width, 0)
  const x = new Float32Array(rows.length * width)
  let at = 0
  columns.forEach((column, c) => {
    const choice = choices[c]
    if (!choice) throw new Error(`encodeStoredRows: no stored column for "${column.name}"`)
    const value = columnValues(dir, choice, column.encoding, column.date)
    const encoder = encoders[c]!
    for (let r = 0; r < rows.length; r++) encoder.encode(value(rows[r]!), x, r * width + at)
    at += encoder.width
  })
  return x
}

/** Fits the table recipe on the train rows, one column at a time (memory: one column, not the whole table). */
export function fitTableRecipe(
  dir: string,
  features: TableColumnChoice[],
  target: string,
  labels: string[],
  train: Int32Array,
  options: { impute?: Imputation; scaling?: Scaling } = {},
  /** standardMasked's fits where they are made already (prepare.ts fitTable: on two threads). */
  masked?: Map<TableColumnChoice, MaskedFit>
): TableRecipe {
  const settings = { impute: options.impute ?? 'mean', scaling: options.scaling ?? 'standard' } as const
  const ascending = isAscending(train)
  const fits = masked ?? (standardPreparation(settings) ? maskedFits(maskedPlan(dir, features, train)) : new Map<TableColumnChoice, MaskedFit>())
  const fitted = features.map((choice) => fitColumn(dir, choice, train, ascending, settings, fits.get(choice)))
  const columns = fitted.map((f) => f.column)
  const featureNames = featureNamesOf(columns)
  return {
    kind: 'table',
    version: 1,
    labels,
    inputShape: [featureNames.length],
    featureNames,
    affine: { offset: fitted.flatMap((f) => f.offset), scale: fitted.flatMap((f) => f.scale) },
    target,
    columns,
    missingMarkers: MISSING_MARKERS,
    imputeNumbers: settings.impute,
    scaling: settings.scaling
  }
}
