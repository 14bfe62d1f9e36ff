/**
 * Datasets: import (tables and image folders), listing, preview, column changes, and the prepared data the trainer
 * and exporter use. What an import produces lives in the `datasets` row (summary, parse settings, profile, recipe,
 * split counts) and in <home>/datasets/<id>/ (materialised columns or pixels, split.bin, meta.json).
 */
import fs from 'node:fs'
import path from 'node:path'
import type { DatasetStore, StoredDataset } from '../store/datasets'
import type { RunStore } from '../store/runs'
import type { Emit } from '../core/events'
import {
  DEFAULT_PREPARATION,
  type ChosenDateOrder,
  type ColumnOverride,
  type ColumnProfile,
  type DatasetSummary,
  type HandlerArgs,
  type ParseSettings,
  type Preparation,
  type RequestResult,
  type SplitSpec,
  datePart
} from '../shared/contract'
import type { PreparedData } from './types'
import type { ImageRecipe, Recipe } from './recipe'
import { LabError, notFound } from '../shared/errors'
import { newId, nowIso } from '../core/ids'
import { inspectInput } from '../core/inputFile'
import { checkOutputPath } from '../core/outputFile'
import { fileLabel } from './csv'
import { ImportWorkers } from './importWorkers'
import { swapStaged } from './dateOrder'
import { importImages, thumbnail } from './images'
import { type ColumnStats, VOCAB_CAP } from './profile'
import { columnFile, readJson, readRangeF64, readRangeI32, readRangeStrings, writeJson } from './storage'
import {
  type Fitted,
  type ImageMeta,
  type Meta,
  type TableMeta,
  chooseTarget,
  classesOfRows,
  constantTarget,
  fitImages,
  preparedParts,
  readSplit,
  refitRecipe,
  splitCounts,
  splitOf,
  writeSplit
} from './prepare'
import type { Split } from './split'

const PROGRESS_INTERVAL_MS = 200

/** Folder names that say which part of a data set a folder is, not which data set: "train" alone names nothing. */
const GENERIC_FOLDER = /^(train|training|test|testing|val|valid|validation|dev|eval|images?|imgs?|pictures|photos|data|dataset|all|samples)$/i

/**
 * The default name of an image data set. A folder with a telling name keeps it; a generic one ("train") takes its
 * parent's name in front ("fashion-mnist train"), or — an upload, whose parent is a batch folder — its classes
 * ("train: 10 classes, ankle boot, bag, coat…").
 */
export function imageDatasetName(folder: string, classes: string[], uploadsRoot: string | null): string {
  const base = path.basename(folder)
  if (!GENERIC_FOLDER.test(base)) return base
  const parentDir = path.dirname(folder)
  const isUpload = uploadsRoot !== null && path.dirname(parentDir) === path.resolve(uploadsRoot)
  const parent = path.basename(parentDir)
  if (!isUpload && parent && parent !== '.' && parent !== path.sep && !GENERIC_FOLDER.test(parent)) return `${parent} ${base}`
  const shown = classes.slice(0, 3).join(', ')
  return `${base}: ${classes.length} classes, ${shown}${classes.length > 3 ? '…' : ''}`
}

type Progress = (rows: number, bytes: number, totalBytes: number, force?: boolean, phase?: 'reading' | 'profiling' | 'fitting') => void

/** Where a dataset service keeps its rows, and how it learns whether runs still use a dataset. */
export interface DatasetServiceDeps {
  store: DatasetStore
  runs: Pick<RunStore, 'countForDataset'>
  home: string
  emit: Emit
}

export class DatasetService {
  private readonly store: DatasetStore
  private readonly runs: Pick<RunStore, 'countForDataset'>
  readonly home: string
  private readonly emit: Emit
  private readonly workers: ImportWorkers
  /** Imports under way, by the importId their caller gave: datasets.cancelImport aborts them. */
  private readonly running = new Map<string, AbortController>()
  /** Datasets a date column of which is being read again in another order (one change at a time each). */
  private readonly reordering = new Set<string>()

  constructor(deps: DatasetServiceDeps) {
    ;({ store: this.store, runs: this.runs, home: this.home, emit: this.emit } = deps)
    this.workers = ImportWorkers.shared()
  }

  /** Cancels this service's running imports and waits for them to clean up (the process's workers stay for others). */
  async close(): Promise<void> {
    for (const controller of this.running.values()) controller.abort()
    const deadline = Date.now() + 5000
    while (this.running.size > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20))
  }

  /** Cancels a running import; nothing of it is kept. An id that is not running (any more) is fine. */
  cancelImport(importId: string): void {
    this.running.get(importId)?.abort()
  }

  private get datasetsDir(): string {
    return path.join(this.home, 'datasets')
  }

  // ---------------------------------------------------------------- import

  async import(args: HandlerArgs<'datasets.import'>): Promise<DatasetSummary> {
    const source = path.resolve(args.path)
    // Only a regular file or a folder: a pipe or a device would block the reader or never end (core/inputFile.ts).
    const stat = await inspectInput(source, 'file-or-directory', { label: args.path })
    const datasetId = newId('ds')
    await fs.promises.mkdir(this.datasetsDir, { recursive: true })
    await this.removeStaleImports()
    // Everything is written under a temporary name and renamed at the end: a failed import leaves nothing behind.
    const temp = path.join(this.datasetsDir, `.import-${datasetId}`)
    const final = path.join(this.datasetsDir, datasetId)
    await fs.promises.mkdir(temp)
    let lastEmit = 0
    const importId = args.importId
    const progress: Progress = (rows, bytes, totalBytes, force = false, phase = 'reading') => {
      const now = Date.now()
      if (!force && now - lastEmit < PROGRESS_INTERVAL_MS) return
      lastEmit = now
      this.emit('dataset.progress', { path: source, ...(importId ? { importId } : {}), phase, rows, bytes, totalBytes })
    }
    const controller = new AbortController()
    if (importId) this.running.set(importId, controller)
    let row: StoredDataset
    try {
      const name = args.name?.trim() || path.basename(source).replace(/(\.[^.]+)?(\.gz)?$/i, '') || path.basename(source)
      if (stat.isDirectory()) row = await this.importFolder(source, args, temp, datasetId, name, progress)
      else row = await this.importFile(source, stat.size, args, temp, datasetId, name, progress, controller.signal)
      if (controller.signal.aborted) throw new LabError(`${fileLabel(source)}: import cancelled`)
      await fs.promises.rename(temp, final)
    } catch (error) {
      await fs.promises.rm(temp, { recursive: true, force: true })
      throw error
    } finally {
      if (importId) this.running.delete(importId)
    }
    try {
      await this.store.insert(row)
    } catch (error) {
      await fs.promises.rm(final, { recursive: true, force: true })
      throw error
    }
    return this.summaryOf(row)
  }

  /** Temp folders of imports that died with their process (a day old: never one still running). */
  private async removeStaleImports(): Promise<void> {
    const dayAgo = Date.now() - 24 * 3600 * 1000
    for (const entry of await fs.promises.readdir(this.datasetsDir)) {
      if (!entry.startsWith('.import-') && !entry.startsWith('.export-')) continue
      const folder = path.join(this.datasetsDir, entry)
      const stat = await fs.promises.stat(folder).catch(() => null)
      if (stat && stat.mtimeMs < dayAgo) await fs.promises.rm(folder, { recursive: true, force: true })
    }
  }

  private async importFile(
    source: string,
    totalBytes: number,
    args: HandlerArgs<'datasets.import'>,
    dir: string,
    datasetId: string,
    name: string,
    progress: Progress,
    signal: AbortSignal
  ): Promise<StoredDataset> {
    const label = fileLabel(source)
    if (totalBytes === 0) throw new LabError(`${label}: the file is empty`)
    const overrides = {
      encoding: args.encoding,
      delimiter: args.delimiter,
      header: args.header,
      decimalComma: args.decimalComma,
      quote: args.quote,
      escape: args.escape,
      skip: args.skip
    }
    const imported = await this.workers.run(
      {
        file: source,
        dir,
        overrides,
        badRows: args.badRows,
        sheet: args.sheet,
        signal,
        onProgress: (rows, bytes) => progress(rows, bytes, totalBytes)
      },
      path.join(dir, '.spill')
    )
    progress(imported.rows, totalBytes, totalBytes, true, 'fitting')
    const names = imported.columns.map((column) => column.name)
    if (names.length < 2)
      throw new LabError(
        `${label}: the table has one column (${names[0] ?? '?'}); it needs at least one feature column besides the target (is the delimiter right?)`
      )
    const target = chooseTarget(names, args.target, label)
    const meta: TableMeta = { kind: 'table', rows: imported.rows, columns: imported.columns }
    writeJson(path.join(dir, 'meta.json'), meta)
    const given = { ...overrides, badRows: args.badRows, sheet: args.sheet }
    const requested = Object.fromEntries(Object.entries(given).filter(([, value]) => value !== undefined))
    const parse: ParseSettings = {
      kind: 'table',
      ...(imported.settings ? { csv: imported.settings } : {}),
      table: imported.source,
      requested,
      overrides: {},
      preparation: DEFAULT_PREPARATION,
      ...(args.task ? { task: args.task } : {})
    }
    const fitted = await this.workers.fit({ name, dir, meta, target, parse, skipped: [] })
    return this.record({ id: datasetId, name, kind: 'table', source, contentHash: imported.contentHash, rows: imported.rows, target, parse, fitted })
  }

  private async importFolder(
    source: string,
    args: HandlerArgs<'datasets.import'>,
    dir: string,
    datasetId: string,
    givenName: string,
    progress: Progress
  ): Promise<StoredDataset> {
    if (args.task === 'regression')
      throw new LabError(`${fileLabel(source)}: a folder of images sorted into class folders predicts classes, not a number`)
    const imported = await importImages(source, { imageSize: args.imageSize, colorMode: args.colorMode }, dir, progress)
    const name = args.name?.trim() ? givenName : imageDatasetName(source, imported.classes, path.join(this.home, 'uploads'))
    const meta: ImageMeta = {
      kind: 'images',
      rows: imported.rows,
      width: imported.width,
      height: imported.height,
      channels: imported.channels,
      colorMode: imported.colorMode
    }
    writeJson(path.join(dir, 'meta.json'), meta)
    const parse: ParseSettings = {
      kind: 'images',
      requested: Object.fromEntries(
        Object.entries({ imageSize: args.imageSize, colorMode: args.colorMode }).filter(([, value]) => value !== undefined)
      ),
      image: { width: imported.width, height: imported.height, colorMode: imported.colorMode },
      overrides: {},
      preparation: DEFAULT_PREPARATION
    }
    const columns: ColumnProfile[] = imported.channelStats.map((channel) => ({
      name: channel.name,
      type: 'number',
      missing: 0,
      distinct: channel.distinct,
      role: 'feature',
      min: channel.min,
      max: channel.max,
      mean: channel.mean,
      std: channel.std,
      histogram: channel.histogram
    }))
    const fitted = fitImages(meta, columns, imported.skipped)
    writeSplit(dir, fitted.split)
    return this.record({
      id: datasetId,
      name,
      kind: 'images',
      source,
      contentHash: imported.contentHash,
      rows: imported.rows.length,
      target: 'label',
      parse,
      fitted
    })
  }

  private record(d: {
    id: string
    name: string
    kind: StoredDataset['kind']
    source: string
    contentHash: string
    rows: number
    target: string
    parse: ParseSettings
    fitted: Fitted
  }): StoredDataset {
    return {
      id: d.id,
      name: d.name,
      kind: d.kind,
      sourcePath: d.source,
      contentHash: d.contentHash,
      rows: d.rows,
      target: d.target,
      parse: d.parse,
      profile: d.fitted.profile,
      recipe: d.fitted.recipe,
      split: splitCounts(d.fitted.split),
      dataDir: path.join('datasets', d.id),
      createdAt: nowIso()
    }
  }

  // ---------------------------------------------------------------- reading

  private async row(datasetId: string): Promise<StoredDataset> {
    const row = await this.store.get(datasetId)
    if (!row) throw notFound('dataset', datasetId)
    return row
  }

  private dirOf(row: StoredDataset): string {
    return path.isAbsolute(row.dataDir) ? row.dataDir : path.join(this.home, row.dataDir)
  }

  /** The dataset's folder, which must still hold its data (someone may have removed it by hand). */
  private storedDir(row: StoredDataset): string {
    const dir = this.dirOf(row)
    if (!fs.existsSync(path.join(dir, 'meta.json')))
      throw new LabError(`dataset "${row.name}": its stored data is missing (${dir}); delete it and import the file again`)
    return dir
  }

  private summaryOf(row: StoredDataset): DatasetSummary {
    const { profile } = row
    const summary: DatasetSummary = {
      datasetId: row.id,
      name: row.name,
      kind: row.kind,
      sourcePath: row.sourcePath,
      contentHash: row.contentHash,
      rows: row.rows,
      columns: profile.columns,
      target: row.target,
      // Datasets from before tasks were all classification.
      task: profile.task ?? 'classification',
      taskReason: profile.taskReason ?? 'imported before tasks existed',
      targetWarning: profile.targetWarning ?? null,
      suggestedTask: profile.suggestedTask ?? profile.task ?? 'classification',
      unlabeledRows: profile.unlabeledRows ?? 0,
      classes: profile.classes,
      skipped: profile.skipped,
      split: row.split,
      featureCount: profile.featureCount,
      parse: row.parse,
      createdAt: row.createdAt
    }
    if (profile.image) summary.image = profile.image
    return summary
  }

  async list(): Promise<DatasetSummary[]> {
    return (await this.store.list()).map((row) => this.summaryOf(row))
  }

  async get(datasetId: string): Promise<DatasetSummary> {
    return this.summaryOf(await this.row(datasetId))
  }

  async delete(datasetId: string): Promise<void> {
    const row = await this.row(datasetId)
    const used = await this.runs.countForDataset(datasetId)
    if (used > 0) throw new LabError(`dataset "${row.name}" is used by ${used} run${used === 1 ? '' : 's'}; delete those runs first`, 'conflict')
    await this.store.delete(datasetId)
    await fs.promises.rm(this.dirOf(row), { recursive: true, force: true })
  }

  /** Rows as stored (not re-parsed from the source): tables show every column, images their path and label. */
  async preview(args: HandlerArgs<'datasets.preview'>): Promise<RequestResult<'datasets.preview'>> {
    const row = await this.row(args.datasetId)
    const dir = this.storedDir(row)
    const meta = readJson<Meta>(path.join(dir, 'meta.json'))
    const total = row.rows
    const start = Math.min(args.offset, total)
    const count = Math.min(args.limit, total - start)
    if (meta.kind === 'images') {
      return { columns: ['path', 'label'], rows: meta.rows.slice(start, start + count).map((image) => [image.path, image.label]), total }
    }
    const columnValues = meta.columns.map((stats, index): (string | number | null)[] => {
      if (stats.spellings) {
        // People's numbers ("$1,234.50") are shown as the file wrote them; the model sees the numbers.
        const spellings = stats.spellings
        return Array.from(readRangeI32(columnFile(dir, index, 'src'), start, count), (code) => (code < 0 ? null : spellings[code]!))
      }
      // Dates with more distinct values than a vocabulary: the file's text is the strings file beside the day numbers.
      if (stats.date && stats.files.str)
        return readRangeStrings(columnFile(dir, index, 'str'), columnFile(dir, index, 'off'), start, count).map((s) => (s === '' ? null : s))
      if (stats.files.f64) return Array.from(readRangeF64(columnFile(dir, index, 'f64'), start, count), (v) => (Number.isNaN(v) ? null : v))
      if (stats.files.i32 && stats.vocab) {
        const vocab = stats.vocab
        return Array.from(readRangeI32(columnFile(dir, index, 'i32'), start, count), (code) => (code < 0 ? null : vocab[code]!))
      }
      if (stats.files.str)
        return readRangeStrings(columnFile(dir, index, 'str'), columnFile(dir, index, 'off'), start, count).map((s) => (s === '' ? null : s))
      return new Array(count).fill(null)
    })
    const rows = Array.from({ length: count }, (_, r) => columnValues.map((values) => values[r] ?? null))
    return { columns: meta.columns.map((stats) => stats.name), rows, total }
  }

  /** Writes the table as it was parsed (every column, parsed values, the names it was imported with) to CSV or Parquet. */
  async export(args: HandlerArgs<'datasets.export'>): Promise<RequestResult<'datasets.export'>> {
    const row = await this.row(args.datasetId)
    if (row.kind !== 'table') throw new LabError(`${row.name}: only tables can be exported as CSV or Parquet`)
    const dir = this.storedDir(row)
    const meta = readJson<TableMeta>(path.join(dir, 'meta.json'))
    // Checked before any work: never the data home's own files, an existing file only when asked (core/outputFile.ts).
    const out = checkOutputPath(args.out, { home: this.home, overwrite: args.overwrite ?? false })
    const format = args.format ?? (/\.parquet$/i.test(out) ? 'parquet' : 'csv')
    // DuckDB spills (if it must) into a folder of the data home that goes with the export.
    const spill = path.join(this.datasetsDir, `.export-${newId('ds')}`)
    let written: { bytes: number }
    try {
      written = await this.workers.export(
        { dir, columns: meta.columns as ColumnStats[], rows: meta.rows, out, format, overwrite: args.overwrite ?? false },
        spill
      )
    } finally {
      await fs.promises.rm(spill, { recursive: true, force: true })
    }
    return { path: out, rows: meta.rows, columns: meta.columns.length, bytes: written.bytes, format }
  }

  /** Changes the target and columns' types or inclusion; the roles, split and recipe are fitted again. */
  async update(args: HandlerArgs<'datasets.update'>): Promise<DatasetSummary> {
    const row = await this.row(args.datasetId)
    if (row.kind === 'images') {
      if (args.task === 'regression') throw new LabError(`${row.name}: an image dataset predicts its class folders, not a number`)
      if (args.target !== undefined || args.columns?.length || args.preparation)
        throw new LabError(`${row.name}: an image dataset's target, columns and scaling are fixed (class folders, pixels in [0, 1])`)
      return this.summaryOf(row)
    }
    const dir = this.storedDir(row)
    const meta = readJson<TableMeta>(path.join(dir, 'meta.json'))
    const parse = row.parse
    const names = meta.columns.map((stats) => stats.name)
    const target = args.target !== undefined ? chooseTarget(names, args.target, row.name) : row.target!
    const overrides = { ...parse.overrides }
    /** Date columns to read again in another day/month order. */
    const reorders: { index: number; order: ChosenDateOrder }[] = []
    for (const change of args.columns ?? []) {
      const stats = meta.columns.find((column) => column.name === change.name)
      if (!stats) throw new LabError(`${row.name}: no column "${change.name}"`)
      if (change.dateOrder !== undefined && !stats.date)
        throw new LabError(`${row.name}: column "${change.name}" is not a date column; a day/month order applies to dates only`)
      if (stats.date && change.type !== undefined && change.type !== 'date' && change.type !== 'text')
        throw new LabError(`${row.name}: column "${change.name}" holds dates; choose its parts (year, month, …) or exclude it`)
      if (change.type === 'date' && !stats.date)
        throw new LabError(`${row.name}: column "${change.name}" does not hold dates in one format, so it cannot be of type date`)
      if (change.dateParts !== undefined && !stats.date)
        throw new LabError(`${row.name}: column "${change.name}" is not a date column; date parts apply to dates only`)
      if (change.type === 'number' || change.type === 'integer') {
        if (!stats.files.f64)
          throw new LabError(`${row.name}: column "${change.name}" has values that are not numbers, so it cannot be of type ${change.type}`)
      } else if (change.type === 'category' || change.type === 'boolean') {
        if (!stats.files.i32)
          throw new LabError(`${row.name}: column "${change.name}" has more than ${VOCAB_CAP} distinct values, too many for type ${change.type}`)
        if (change.type === 'boolean' && !stats.booleanLike)
          throw new LabError(`${row.name}: column "${change.name}" holds values other than true/false words`)
      }
      if (change.include === true && (change.type ?? overrides[change.name]?.type) === 'text')
        throw new LabError(`${row.name}: column "${change.name}" is text; change its type to category to use it`)
      const next: ColumnOverride = { ...overrides[change.name] }
      if (change.type !== undefined) next.type = change.type
      if (change.include !== undefined) next.include = change.include
      if (change.dateParts !== undefined) {
        // Parts in their usual order, each once; choosing parts includes the column, choosing none excludes it.
        next.dateParts = datePart.options.filter((part) => change.dateParts!.includes(part))
        if (change.include === undefined) next.include = next.dateParts.length > 0
      } else if (change.include === true && next.dateParts?.length === 0) delete next.dateParts // switched back on: the default parts
      if (change.dateOrder !== undefined) {
        next.dateOrder = change.dateOrder
        if (change.dateOrder !== stats.date!.order) reorders.push({ index: meta.columns.indexOf(stats), order: change.dateOrder })
      }
      overrides[change.name] = next
    }
    const nextParse: ParseSettings = { ...parse, overrides, preparation: { ...parse.preparation, ...args.preparation } }
    // A new target starts from the task its values suggest, unless a task comes with it.
    if (args.task !== undefined) nextParse.task = args.task
    else if (target !== row.target) delete nextParse.task
    if (reorders.length && this.reordering.has(row.id))
      throw new LabError(`${row.name}: a date column is being read again; try again when that is done`)
    if (reorders.length) this.reordering.add(row.id)
    // A new day/month order is new column files and a new meta.json: each kept reversible until the refit is stored.
    const columnsBefore = [...meta.columns]
    const swaps: ReturnType<typeof swapStaged>[] = []
    try {
      for (const { index, order } of reorders) {
        const stats = await this.workers.stageDateOrder({ dir, index, stats: meta.columns[index]!, order, label: row.name })
        swaps.push(swapStaged(dir, index))
        meta.columns[index] = stats
      }
      const fitted = await this.workers.fit({ name: row.name, dir, meta, target, parse: nextParse, skipped: row.profile.skipped })
      if (swaps.length) writeJson(path.join(dir, 'meta.json'), meta)
      await this.store.refit(row.id, { target, parse: nextParse, profile: fitted.profile, recipe: fitted.recipe, split: splitCounts(fitted.split) })
    } catch (error) {
      for (const swap of swaps.reverse()) swap.undo()
      if (swaps.length) writeJson(path.join(dir, 'meta.json'), { ...meta, columns: columnsBefore })
      throw error
    } finally {
      if (reorders.length) this.reordering.delete(row.id)
    }
    for (const swap of swaps) swap.done()
    return this.get(row.id)
  }

  /** Chooses how numbers are imputed (mean or median) and scaled (standard or min-max); the recipe is fitted again. */
  async setPreparation(datasetId: string, preparation: Partial<Preparation>): Promise<DatasetSummary> {
    const row = await this.row(datasetId)
    if (row.kind !== 'table') throw new LabError(`${row.name}: images are always scaled to [0, 1]`)
    return this.update({ datasetId, preparation })
  }

  async thumbnails(args: HandlerArgs<'datasets.thumbnails'>): Promise<RequestResult<'datasets.thumbnails'>> {
    const row = await this.row(args.datasetId)
    if (row.kind !== 'images') throw new LabError(`${row.name}: thumbnails are for image datasets; this one is a table`)
    const dir = this.storedDir(row)
    const meta = readJson<ImageMeta>(path.join(dir, 'meta.json'))
    const labels = (row.recipe as ImageRecipe).labels
    const result: RequestResult<'datasets.thumbnails'> = []
    for (const label of labels) {
      const images: { row: number; dataUrl: string }[] = []
      for (const [i, image] of meta.rows.entries()) {
        if (images.length >= args.perClass) break
        if (image.label !== label) continue
        images.push({ row: i, dataUrl: await thumbnail(path.join(dir, 'pixels.u8'), i, meta.width, meta.height, meta.channels) })
      }
      result.push({ label, images })
    }
    return result
  }

  /** Thumbnails of the given rows, in the order asked; a row past the end is refused, naming it. */
  async rowThumbnails(args: HandlerArgs<'datasets.rowThumbnails'>): Promise<RequestResult<'datasets.rowThumbnails'>> {
    const row = await this.row(args.datasetId)
    if (row.kind !== 'images') throw new LabError(`${row.name}: thumbnails are for image datasets; this one is a table`)
    const dir = this.storedDir(row)
    const meta = readJson<ImageMeta>(path.join(dir, 'meta.json'))
    const outside = args.rows.find((r) => r >= meta.rows.length)
    if (outside !== undefined) throw new LabError(`${row.name}: has ${meta.rows.length} images, no row ${outside}`)
    const result: RequestResult<'datasets.rowThumbnails'> = []
    for (const r of args.rows)
      result.push({ row: r, dataUrl: await thumbnail(path.join(dir, 'pixels.u8'), r, meta.width, meta.height, meta.channels) })
    return result
  }

  /** The recipe a run's data went through: the stored one, or for another split the one fitted on its train rows. */
  async getRecipe(datasetId: string, split?: SplitSpec): Promise<Recipe> {
    const row = await this.row(datasetId)
    if (!split) return row.recipe as Recipe
    return (await this.splitAndRecipe(row, split)).recipe
  }

  private async splitAndRecipe(row: StoredDataset, spec: SplitSpec | undefined): Promise<{ dir: string; meta: Meta; split: Split; recipe: Recipe }> {
    const dir = this.storedDir(row)
    const stored = row.recipe as Recipe
    const meta = readJson<Meta>(path.join(dir, 'meta.json'))
    if (!spec) return { dir, meta, split: readSplit(dir, row.split), recipe: stored }
    const split = splitOf(classesOfRows(dir, meta, stored), spec)
    return { dir, meta, split, recipe: refitRecipe(dir, meta, stored, split.train) }
  }

  /** The rows of the classes of a dataset (stored order), for checks of a study's protocol before anything runs. */
  async classesOfRows(datasetId: string): Promise<Int32Array> {
    const row = await this.row(datasetId)
    const dir = this.storedDir(row)
    return classesOfRows(dir, readJson<Meta>(path.join(dir, 'meta.json')), row.recipe as Recipe)
  }

  /**
   * A split with the recipe applied, read from the materialised data (never the source): the stored split with the
   * stored recipe, or (studies) another split of the same stored rows with the recipe fitted on its train rows.
   * Every split reads the same column files; nothing is copied.
   */
  async loadPrepared(datasetId: string, split?: SplitSpec): Promise<PreparedData> {
    const row = await this.row(datasetId)
    const dir = this.storedDir(row)
    const stored = row.recipe as Recipe
    const summary = this.summaryOf(row)
    if (summary.task === 'regression') {
      if (stored.kind !== 'table' || !stored.targetScale) throw new Error(`${row.name}: a regression dataset without the target's scale`)
      const targetStats = readJson<TableMeta>(path.join(dir, 'meta.json')).columns.find((stats) => stats.name === row.target)
      if (targetStats && targetStats.present > 0 && targetStats.min === targetStats.max)
        throw new LabError(`${row.name}: ${constantTarget(row.target!, targetStats.min)}`)
    } else if (stored.labels.length < 2) {
      const only = stored.labels.length ? ` ("${stored.labels[0]}")` : ''
      throw new LabError(`${row.name}: the target "${row.target}" has a single class${only}; choose another target column`)
    }
    if (stored.inputShape.every((size) => size === 0)) throw new LabError(`${row.name}: no feature columns are included; include at least one`)
    const { meta, split: rows, recipe } = await this.splitAndRecipe(row, split)
    return {
      datasetId,
      kind: row.kind,
      task: summary.task,
      targetName: row.target ?? 'label',
      targetScale: recipe.kind === 'table' && summary.task === 'regression' ? (recipe.targetScale ?? null) : null,
      inputShape: recipe.inputShape,
      labels: recipe.labels,
      featureNames: recipe.featureNames,
      ...preparedParts(dir, meta, recipe, rows)
    }
  }
}
