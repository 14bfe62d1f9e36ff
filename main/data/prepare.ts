/**
 * From a dataset's stored data to what a model sees: roles from the column stats and the user's choices, class
 * counts, the stratified split (split.bin) and the recipe fitted on its train rows; and the prepared parts.
 */
import path from 'node:path'
import type { ColumnProfile, DatasetProfile, DatasetSummary, ParseSettings, SplitSpec, Task } from '../shared/contract'
import { suggestTask, tooManyClasses } from '../shared/task'
import type { PreparedPart } from './types'
import {
  type ImageRecipe,
  type Recipe,
  type TableColumnChoice,
  type TableRecipe,
  type TargetScale,
  applyAffine,
  encodeStoredRows,
  fitTableRecipe,
  maskedFits,
  maskedPlan,
  standardPreparation
} from './recipe'
import { HELPED_ROWS, shareWithHelper } from './importHelper'
import { type MaskedFit, standardMasked } from './columnPasses'
import { LabError } from '../shared/errors'
import { writeFileAtomic } from '../core/atomicWrite'
import { type ImageRow, type Skipped, readPixels } from './images'
import { type ColumnStats, VOCAB_CAP, columnProfile } from './profile'
import { type Split, SPLIT_SEED, foldSplit, randomSplit, stratifiedSplit } from './split'
import { columnFile, readF64, readI32, readJson, readRangeStrings } from './storage'
import { parseNumber, sortLabels } from './values'

const TARGET_NAMES = ['target', 'label', 'class', 'y', 'digit', 'species']

/** meta.json of a table dataset. */
export interface TableMeta {
  kind: 'table'
  rows: number
  columns: ColumnStats[]
}

/** meta.json of an image dataset. */
export interface ImageMeta {
  kind: 'images'
  rows: ImageRow[]
  width: number
  height: number
  channels: 1 | 3
  colorMode: 'grayscale' | 'rgb'
}

export type Meta = TableMeta | ImageMeta

/** What a (re)fit produces from the stored data and the current choices. */
export interface Fitted {
  profile: DatasetProfile
  split: Split
  recipe: Recipe
}

/** The target: the one asked for, else a conventional name, else the last column. */
export function chooseTarget(names: string[], asked: string | undefined, label: string): string {
  if (asked !== undefined) {
    const found = names.find((name) => name === asked) ?? names.find((name) => name.toLowerCase() === asked.toLowerCase())
    if (!found) {
      const shown = names.slice(0, 8).join(', ') + (names.length > 8 ? `, … (${names.length} columns)` : '')
      throw new LabError(`${label}: no column "${asked}" for the target; columns are ${shown}`)
    }
    return found
  }
  for (const wanted of TARGET_NAMES) {
    const found = names.find((name) => name.toLowerCase() === wanted)
    if (found) return found
  }
  const last = names.at(-1)
  if (last === undefined) throw new LabError(`${label}: the file has no columns`)
  return last
}

/** The task of a table's target: the user's choice, else what its values suggest (shared/task.ts), and why. */
export function targetTask(stats: ColumnStats, chosen: Task | undefined): { task: Task; reason: string; suggested: Task } {
  const suggestion = suggestTask(stats)
  if (!chosen || chosen === suggestion.task) return { task: suggestion.task, reason: suggestion.reason, suggested: suggestion.task }
  return { task: chosen, reason: `chosen by you (the values suggest ${suggestion.task}: ${suggestion.reason})`, suggested: suggestion.task }
}

/** A value of a column that is not a number, for a message (the column has one: it is not numeric). */
function textExample(dir: string, index: number, stats: ColumnStats): string {
  const notNumber = (value: string) => value !== '' && Number.isNaN(parseNumber(value, false))
  const fromVocab = stats.vocab?.find(notNumber) ?? stats.top.find((entry) => notNumber(entry.value))?.value
  if (fromVocab !== undefined) return fromVocab
  if (stats.files.str) {
    const sample = readRangeStrings(columnFile(dir, index, 'str'), columnFile(dir, index, 'off'), 0, 10_000).find(notNumber)
    if (sample !== undefined) return sample
  }
  return '?'
}

/** Roles from the stats and the user's choices, then the task, the split, and the recipe fitted on train. */
export async function fitTable(
  name: string,
  dir: string,
  meta: TableMeta,
  target: string,
  parse: ParseSettings,
  skipped: Skipped[]
): Promise<Fitted> {
  const columns = meta.columns.map((stats) => columnProfile(stats, stats.name === target, parse.overrides[stats.name]))
  const targetIndex = meta.columns.findIndex((stats) => stats.name === target)
  const targetStats = meta.columns[targetIndex]
  // chooseTarget picked the target from these very columns.
  if (!targetStats) throw new Error(`${name}: no column "${target}" for the target`)
  const features: TableColumnChoice[] = []
  columns.forEach((profile, index) => {
    // columns is meta.columns profiled, index for index.
    if (profile.role !== 'feature') return
    const stats = meta.columns[index]!
    // A date column is one feature choice per part it gives (profile.date.parts: the user's, or the default).
    if (profile.type === 'date' && profile.date) for (const datePart of profile.date.parts) features.push({ index, stats, type: 'date', datePart })
    else features.push({ index, stats, type: profile.type })
  })
  const { task, reason, suggested } = targetTask(targetStats, parse.task)
  const facts = { task, taskReason: reason, suggestedTask: suggested }
  if (task === 'regression') {
    if (!targetStats.files.f64)
      throw new LabError(
        `${name}: the target "${target}" holds text (for example "${textExample(dir, targetIndex, targetStats)}"), so it cannot be predicted as a number; predict it as classes or choose another target`
      )
    const values = readF64(columnFile(dir, targetIndex, 'f64'))
    const split = randomSplit(
      Array.from(values, (value) => !Number.isNaN(value)),
      SPLIT_SEED
    )
    const targetScale = fitTargetScale(values, split.train)
    const masked = await maskedOnTwoThreads(dir, features, split.train, parse.preparation)
    const recipe = { ...fitTableRecipe(dir, features, target, [], split.train, parse.preparation, masked), task, targetScale }
    const constant = targetStats.present > 0 && targetStats.min === targetStats.max
    return {
      profile: {
        columns,
        classes: [],
        skipped,
        featureCount: recipe.inputShape[0],
        ...facts,
        targetWarning: constant ? constantTarget(target, targetStats.min) : null,
        unlabeledRows: targetStats.missing
      },
      split,
      recipe
    }
  }
  const { vocab, counts: codeCounts } = targetStats
  if (!vocab || !codeCounts)
    throw new LabError(
      `${name}: the target "${target}" has more than ${VOCAB_CAP} distinct values; choose a column of classes, or predict it as a number`
    )
  const presentKeys = vocab.filter((_, code) => codeCounts[code]! > 0)
  const labels = sortLabels(presentKeys)
  const labelIndex = new Map(labels.map((label, i) => [label, i]))
  const codeToClass = vocab.map((key) => labelIndex.get(key) ?? -1)
  const codes = readI32(columnFile(dir, targetIndex, 'i32'))
  const classOfRow = new Int32Array(codes.length)
  const counts = new Array<number>(labels.length).fill(0)
  // Codes index the target's vocabulary, and classes its labels: every lookup below lands.
  for (let row = 0; row < codes.length; row++) {
    const code = codes[row]!
    const cls = code < 0 ? -1 : codeToClass[code]!
    classOfRow[row] = cls
    if (cls >= 0) counts[cls]!++
  }
  const split = stratifiedSplit(classOfRow, SPLIT_SEED)
  const masked = await maskedOnTwoThreads(dir, features, split.train, parse.preparation)
  const recipe = { ...fitTableRecipe(dir, features, target, labels, split.train, parse.preparation, masked), task }
  return {
    profile: {
      columns,
      classes: labels.map((label, i) => ({ label, count: counts[i]! })),
      skipped,
      featureCount: recipe.inputShape[0],
      ...facts,
      targetWarning: tooManyClasses(labels.length, targetStats.present, targetStats.numeric),
      unlabeledRows: targetStats.missing
    },
    split,
    recipe
  }
}

/**
 * The recipe's standard scaling fits (columnPasses.ts standardMasked), every other group of four columns on the import
 * helper thread while this thread fits the rest (19 columns of 1M rows: about 100 ms on one thread); a group the
 * helper cannot fit is fitted here. Undefined where the recipe fits them itself: another preparation, a small
 * table.
 */
async function maskedOnTwoThreads(
  dir: string,
  features: TableColumnChoice[],
  train: Int32Array,
  preparation: ParseSettings['preparation']
): Promise<Map<TableColumnChoice, MaskedFit> | undefined> {
  // The passes read every row of the table, train or not: the table's size decides.
  const rows = features[0] ? features[0].stats.present + features[0].stats.missing : 0
  if (rows < HELPED_ROWS || !standardPreparation(preparation)) return undefined
  const plan = maskedPlan(dir, features, train, true)
  if (!plan) return undefined
  const fitted = await shareWithHelper(
    plan.files,
    (helper, files) => helper.masked(files, plan.weights, plan.n),
    (files) => standardMasked(files, plan.weights, plan.n)
  )
  return maskedFits(plan, fitted)
}

export const constantTarget = (target: string, value: number): string =>
  `the target "${target}" is constant (${value} on every row): there is nothing to predict; choose another target`

/** Mean and standard deviation of the target over the train rows (a constant target keeps std 1: no division by 0). */
export function fitTargetScale(values: Float64Array, train: Int32Array): TargetScale {
  let mean = 0
  for (const row of train) mean += values[row]!
  mean = train.length ? mean / train.length : 0
  let squares = 0
  for (const row of train) squares += (values[row]! - mean) ** 2
  const std = train.length ? Math.sqrt(squares / train.length) : 0
  return { mean, std: std > 1e-12 ? std : 1 }
}

export function fitImages(meta: ImageMeta, columns: ColumnProfile[], skipped: Skipped[]): Fitted {
  const labels = sortLabels([...new Set(meta.rows.map((row) => row.label))])
  const labelIndex = new Map(labels.map((label, i) => [label, i]))
  const classOfRow = Int32Array.from(meta.rows, (row) => labelIndex.get(row.label)!)
  const counts = new Array<number>(labels.length).fill(0)
  for (const cls of classOfRow) counts[cls]!++
  const split = stratifiedSplit(classOfRow, SPLIT_SEED)
  const recipe: ImageRecipe = {
    kind: 'images',
    version: 1,
    labels,
    inputShape: [meta.height, meta.width, meta.channels],
    featureNames: columns.map((column) => column.name),
    affine: null,
    width: meta.width,
    height: meta.height,
    channels: meta.channels,
    colorMode: meta.colorMode,
    background: '#ffffff',
    resize: 'fill',
    pixelScale: 1 / 255
  }
  return {
    profile: {
      columns,
      classes: labels.map((label, i) => ({ label, count: counts[i]! })),
      skipped,
      featureCount: meta.width * meta.height * meta.channels,
      image: { width: meta.width, height: meta.height, channels: meta.channels },
      task: 'classification',
      taskReason: 'images sorted into class folders',
      suggestedTask: 'classification',
      targetWarning: tooManyClasses(labels.length, meta.rows.length, false),
      unlabeledRows: 0
    },
    split,
    recipe
  }
}

/** split.bin: train, val and test row indices, one Int32 run after the other (counts in split_json). */
export function writeSplit(dir: string, split: Split): void {
  const all = new Int32Array(split.train.length + split.val.length + split.test.length)
  all.set(split.train, 0)
  all.set(split.val, split.train.length)
  all.set(split.test, split.train.length + split.val.length)
  writeFileAtomic(path.join(dir, 'split.bin'), new Uint8Array(all.buffer))
}

export function readSplit(dir: string, counts: { train: number; val: number; test: number; seed: number }): Split {
  const all = readI32(path.join(dir, 'split.bin'))
  return {
    train: all.subarray(0, counts.train),
    val: all.subarray(counts.train, counts.train + counts.val),
    test: all.subarray(counts.train + counts.val, counts.train + counts.val + counts.test),
    seed: counts.seed
  }
}

/** The parts of a split, prepared. */
export interface PreparedParts {
  train: PreparedPart
  val: PreparedPart
  test: PreparedPart
}

/**
 * What a run's data is: the stored split with the stored recipe, or (studies) `spec`'s split of the same stored rows
 * with the recipe fitted again on its train rows; with `parts`, every part with the recipe applied. Run in the import
 * worker (importWorker.ts): at 1M rows the parts alone take 0.5-1 s and a refitted split over a second.
 */
export interface PrepareRequest {
  dir: string
  stored: Recipe
  splitCounts: DatasetSummary['split']
  spec?: SplitSpec
  parts: boolean
}

export function prepareSplit(request: PrepareRequest): { recipe: Recipe; parts: PreparedParts | null } {
  const { dir, stored, splitCounts: counts, spec } = request
  const meta = readJson<Meta>(path.join(dir, 'meta.json'))
  let split: Split
  let recipe = stored
  if (!spec) split = readSplit(dir, counts)
  else {
    split = splitOf(classesOfRows(dir, meta, stored), spec)
    recipe = refitRecipe(dir, meta, stored, split.train)
  }
  return { recipe, parts: request.parts ? preparedParts(dir, meta, recipe, split) : null }
}

/**
 * The buffers that move the parts to another thread without a copy; an array that shares its buffer with others
 * is copied first (it cannot move alone).
 */
export function transferableParts<T extends PreparedParts>(data: T): { data: T; transfer: ArrayBuffer[] } {
  const transfer: ArrayBuffer[] = []
  const own = <A extends Float32Array | Int32Array>(array: A): A => {
    const whole = array.byteOffset === 0 && array.byteLength === array.buffer.byteLength && array.buffer instanceof ArrayBuffer
    const usable = whole && !transfer.includes(array.buffer as ArrayBuffer) ? array : (array.slice() as A)
    transfer.push(usable.buffer as ArrayBuffer)
    return usable
  }
  const part = (p: PreparedPart) => ({ ...p, x: own(p.x), y: own(p.y), rows: own(p.rows) })
  return { data: { ...data, train: part(data.train), val: part(data.val), test: part(data.test) }, transfer }
}

/** Train, validation and test rows with the recipe applied to the materialised data. */
export function preparedParts(dir: string, meta: Meta, recipe: Recipe, split: Split): PreparedParts {
  let part: (rows: Int32Array) => PreparedPart
  if (meta.kind === 'images') {
    const r = recipe as ImageRecipe
    const labelIndex = new Map(r.labels.map((label, i) => [label, i]))
    const per = r.width * r.height * r.channels
    part = (rows) => ({
      x: readPixels(path.join(dir, 'pixels.u8'), per, rows, r.pixelScale),
      y: Int32Array.from(rows, (i) => labelIndex.get(meta.rows[i]!.label)!),
      n: rows.length,
      rows: Int32Array.from(rows)
    })
  } else {
    const r = recipe as TableRecipe
    const choices: TableColumnChoice[] = r.columns.map((column) => {
      const index = meta.columns.findIndex((stats) => stats.name === column.name)
      const stats = meta.columns[index]
      // The recipe was fitted on this dataset's own columns.
      if (!stats) throw new Error(`The recipe's column "${column.name}" is not in the dataset`)
      return { index, stats, type: column.type }
    })
    const targetIndex = meta.columns.findIndex((stats) => stats.name === r.target)
    const targetStats = meta.columns[targetIndex]
    if (!targetStats) throw new Error(`The recipe's target "${r.target}" is not in the dataset`)
    const targetOf = preparedTarget(dir, targetIndex, targetStats, r)
    part = (rows) => {
      const x = encodeStoredRows(dir, choices, r.columns, rows)
      if (r.affine) applyAffine(x, r.affine)
      return { x, y: targetOf(rows), n: rows.length, rows: Int32Array.from(rows) }
    }
  }
  return { train: part(split.train), val: part(split.val), test: part(split.test) }
}

/** The target of given rows as the model trains on it: class indices, or the standardised number (regression). */
function preparedTarget(dir: string, index: number, stats: ColumnStats, recipe: TableRecipe): (rows: Int32Array) => Int32Array | Float32Array {
  const scale = recipe.targetScale
  if (recipe.task === 'regression' && scale) {
    const values = readF64(columnFile(dir, index, 'f64'))
    return (rows) => Float32Array.from(rows, (i) => (values[i]! - scale.mean) / scale.std)
  }
  const labelIndex = new Map(recipe.labels.map((label, i) => [label, i]))
  // A classification recipe was fitted on a target with a vocabulary (fitTable refuses one without).
  const codeToClass = stats.vocab!.map((key) => labelIndex.get(key) ?? -1)
  const codes = readI32(columnFile(dir, index, 'i32'))
  return (rows) => Int32Array.from(rows, (i) => codeToClass[codes[i]!]!)
}

export function splitCounts(split: Split): DatasetSummary['split'] {
  return { train: split.train.length, val: split.val.length, test: split.test.length, seed: split.seed }
}

// ---------------------------------------------------------------- other splits of the stored rows (studies)

/**
 * The class of every stored row (-1: no label), as the stored split was cut from. Regression: one class (0) for
 * every row with a target value, so the same stratified cuts are plain random ones (and k-fold is plain k-fold).
 */
export function classesOfRows(dir: string, meta: Meta, recipe: Recipe): Int32Array {
  const labelIndex = new Map(recipe.labels.map((label, i) => [label, i]))
  if (meta.kind === 'images') return Int32Array.from(meta.rows, (row) => labelIndex.get(row.label) ?? -1)
  const r = recipe as TableRecipe
  const targetIndex = meta.columns.findIndex((stats) => stats.name === r.target)
  const targetStats = meta.columns[targetIndex]
  if (r.task === 'regression') {
    if (!targetStats?.files.f64) throw new Error(`The recipe's target "${r.target}" is not a column of numbers in the dataset`)
    return Int32Array.from(readF64(columnFile(dir, targetIndex, 'f64')), (value) => (Number.isNaN(value) ? -1 : 0))
  }
  if (!targetStats?.vocab) throw new Error(`The recipe's target "${r.target}" is not a column of classes in the dataset`)
  const codeToClass = targetStats.vocab.map((key) => labelIndex.get(key) ?? -1)
  const codes = readI32(columnFile(dir, targetIndex, 'i32'))
  return Int32Array.from(codes, (code) => (code < 0 ? -1 : codeToClass[code]!))
}

/** The rows of a split spec, cut from the same stored rows (and classes) as the stored split. */
export function splitOf(classOfRow: Int32Array, spec: SplitSpec): Split {
  return spec.kind === 'holdout' ? stratifiedSplit(classOfRow, spec.seed) : foldSplit(classOfRow, spec.folds, spec.fold, spec.seed)
}

/**
 * The stored recipe fitted again on other train rows: imputation and scaling come from these rows, so no test row
 * leaks into them. One-hot vocabularies stay the stored ones, so every split gives the same features (and one model
 * spec fits them all).
 */
export function refitRecipe(dir: string, meta: Meta, stored: Recipe, train: Int32Array): Recipe {
  if (stored.kind === 'images' || meta.kind === 'images') return stored
  const choices: TableColumnChoice[] = stored.columns.map((column) => {
    const index = meta.columns.findIndex((stats) => stats.name === column.name)
    const stats = meta.columns[index]
    if (!stats) throw new Error(`The recipe's column "${column.name}" is not in the dataset`)
    return { index, stats, type: column.type, ...(column.date ? { datePart: column.date.part } : {}) }
  })
  const refitted = fitTableRecipe(dir, choices, stored.target, stored.labels, train, { impute: stored.imputeNumbers, scaling: stored.scaling })
  const fitted: TableRecipe = { ...refitted, task: stored.task }
  if (stored.task === 'regression') {
    // The target's standardisation comes from these train rows too.
    const targetIndex = meta.columns.findIndex((stats) => stats.name === stored.target)
    fitted.targetScale = fitTargetScale(readF64(columnFile(dir, targetIndex, 'f64')), train)
  }
  const offset: number[] = []
  const scale: number[] = []
  let at = 0
  const columns = fitted.columns.map((column, i) => {
    const kept = stored.columns[i]!
    const width = column.encoding === 'onehot' ? (column.vocabulary?.length ?? 0) : 1
    if (column.encoding === 'onehot') {
      const vocabulary = kept.vocabulary ?? []
      offset.push(...vocabulary.map(() => 0))
      scale.push(...vocabulary.map(() => 1))
      at += width
      return { ...column, vocabulary, impute: vocabulary.includes(String(column.impute)) ? column.impute : kept.impute }
    }
    offset.push(fitted.affine!.offset[at]!)
    scale.push(fitted.affine!.scale[at]!)
    at += width
    return column
  })
  return { ...fitted, columns, featureNames: stored.featureNames, inputShape: stored.inputShape, affine: { offset, scale } }
}
