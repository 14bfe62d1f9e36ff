/**
 * Datasets: import (tables and image folders), listing, preview, column changes, and the prepared data the trainer
 * and exporter use. What an import produces lives in the `datasets` row (summary, parse settings, profile, recipe,
 * split counts) and in <home>/datasets/<id>/ (materialised columns or pixels, split.bin, meta.json).
 */
import fs from 'node:fs'
import path from 'node:path'
import type { Db } from '../store/db'
import type { Emit } from '../core/events'
import type { ColumnProfile, DatasetSummary, HandlerArgs, RequestResult } from '../api/contract'
import type { PreparedData } from './types'
import type { ImageRecipe, Recipe } from './recipe'
import { LabError, notFound } from '../api/errors'
import { newId, nowIso } from '../core/ids'
import { fileLabel } from './csv'
import { importTable } from './table'
import { importImages, thumbnail } from './images'
import { type ColumnOverride, VOCAB_CAP } from './profile'
import { columnFile, readJson, readRangeF64, readRangeI32, readRangeStrings, writeJson } from './storage'
import {
  type Fitted,
  type ImageMeta,
  type Meta,
  type ParseState,
  type Preparation,
  type ProfileState,
  type TableMeta,
  chooseTarget,
  fitImages,
  fitTable,
  preparedParts,
  readSplit,
  splitCounts,
  writeSplit
} from './prepare'

const PROGRESS_INTERVAL_MS = 200

interface DatasetRow {
  id: string
  name: string
  kind: 'table' | 'images'
  source_path: string
  content_hash: string
  rows: number
  target: string | null
  parse_json: string
  profile_json: string
  recipe_json: string
  split_json: string
  data_dir: string
  created_at: string
}

export class DatasetService {
  constructor(
    readonly db: Db,
    readonly home: string,
    readonly emit: Emit
  ) {}

  private get datasetsDir(): string {
    return path.join(this.home, 'datasets')
  }

  // ---------------------------------------------------------------- import

  async import(args: HandlerArgs<'datasets.import'>): Promise<DatasetSummary> {
    const source = path.resolve(args.path)
    const stat = await fs.promises.stat(source).catch(() => null)
    if (!stat) throw new LabError(`${args.path}: not found`)
    const datasetId = newId('ds')
    await fs.promises.mkdir(this.datasetsDir, { recursive: true })
    await this.removeStaleImports()
    // Everything is written under a temporary name and renamed at the end: a failed import leaves nothing behind.
    const temp = path.join(this.datasetsDir, `.import-${datasetId}`)
    const final = path.join(this.datasetsDir, datasetId)
    await fs.promises.mkdir(temp)
    let lastEmit = 0
    const progress = (rows: number, bytes: number, totalBytes: number, force = false) => {
      const now = Date.now()
      if (!force && now - lastEmit < PROGRESS_INTERVAL_MS) return
      lastEmit = now
      this.emit('dataset.progress', { path: source, rows, bytes, totalBytes })
    }
    let row: DatasetRow
    try {
      const name = args.name?.trim() || path.basename(source).replace(/\.[^.]+$/, '') || path.basename(source)
      if (stat.isDirectory()) row = await this.importFolder(source, args, temp, datasetId, name, progress)
      else row = await this.importFile(source, stat.size, args, temp, datasetId, name, progress)
      await fs.promises.rename(temp, final)
    } catch (error) {
      await fs.promises.rm(temp, { recursive: true, force: true })
      throw error
    }
    try {
      await this.db.run(
        `INSERT INTO datasets (id, name, kind, source_path, content_hash, rows, target, parse_json, profile_json, recipe_json, split_json, data_dir, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
        [
          row.id,
          row.name,
          row.kind,
          row.source_path,
          row.content_hash,
          row.rows,
          row.target,
          row.parse_json,
          row.profile_json,
          row.recipe_json,
          row.split_json,
          row.data_dir,
          row.created_at
        ]
      )
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
      if (!entry.startsWith('.import-')) continue
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
    progress: (rows: number, bytes: number, totalBytes: number, force?: boolean) => void
  ): Promise<DatasetRow> {
    const label = fileLabel(source)
    if (totalBytes === 0) throw new LabError(`${label}: the file is empty`)
    const overrides = { encoding: args.encoding, delimiter: args.delimiter, header: args.header, decimalComma: args.decimalComma }
    const imported = await importTable(source, overrides, dir, (rows, bytes) => progress(rows, bytes, totalBytes))
    progress(imported.rows, imported.bytes, totalBytes, true)
    const target = chooseTarget(imported.settings.names, args.target, label)
    const meta: TableMeta = { kind: 'table', rows: imported.rows, columns: imported.columns }
    writeJson(path.join(dir, 'meta.json'), meta)
    const requested = Object.fromEntries(Object.entries(overrides).filter(([, value]) => value !== undefined))
    const parse: ParseState = {
      kind: 'table',
      csv: imported.settings,
      requested,
      overrides: {},
      preparation: { impute: 'mean', scaling: 'standard' }
    }
    const fitted = fitTable(name, dir, meta, target, parse, [])
    writeSplit(dir, fitted.split)
    return this.rowOf(datasetId, name, 'table', source, imported.contentHash, imported.rows, target, parse, fitted)
  }

  private async importFolder(
    source: string,
    args: HandlerArgs<'datasets.import'>,
    dir: string,
    datasetId: string,
    name: string,
    progress: (rows: number, bytes: number, totalBytes: number, force?: boolean) => void
  ): Promise<DatasetRow> {
    const imported = await importImages(source, { imageSize: args.imageSize, colorMode: args.colorMode }, dir, progress)
    const meta: ImageMeta = {
      kind: 'images',
      rows: imported.rows,
      width: imported.width,
      height: imported.height,
      channels: imported.channels,
      colorMode: imported.colorMode
    }
    writeJson(path.join(dir, 'meta.json'), meta)
    const parse: ParseState = {
      kind: 'images',
      requested: Object.fromEntries(
        Object.entries({ imageSize: args.imageSize, colorMode: args.colorMode }).filter(([, value]) => value !== undefined)
      ),
      image: { width: imported.width, height: imported.height, colorMode: imported.colorMode },
      overrides: {},
      preparation: { impute: 'mean', scaling: 'standard' }
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
    return this.rowOf(datasetId, name, 'images', source, imported.contentHash, imported.rows.length, 'label', parse, fitted)
  }

  private rowOf(
    id: string,
    name: string,
    kind: 'table' | 'images',
    source: string,
    hash: string,
    rows: number,
    target: string,
    parse: ParseState,
    fitted: Fitted
  ): DatasetRow {
    return {
      id,
      name,
      kind,
      source_path: source,
      content_hash: hash,
      rows,
      target,
      parse_json: JSON.stringify(parse),
      profile_json: JSON.stringify(fitted.profile),
      recipe_json: JSON.stringify(fitted.recipe),
      split_json: JSON.stringify(splitCounts(fitted.split)),
      data_dir: path.join('datasets', id),
      created_at: nowIso()
    }
  }

  // ---------------------------------------------------------------- reading

  private async row(datasetId: string): Promise<DatasetRow> {
    const row = await this.db.get<DatasetRow>('SELECT * FROM datasets WHERE id = ?', [datasetId])
    if (!row) throw notFound('dataset', datasetId)
    return row
  }

  private dirOf(row: DatasetRow): string {
    return path.isAbsolute(row.data_dir) ? row.data_dir : path.join(this.home, row.data_dir)
  }

  /** The dataset's folder, which must still hold its data (someone may have removed it by hand). */
  private storedDir(row: DatasetRow): string {
    const dir = this.dirOf(row)
    if (!fs.existsSync(path.join(dir, 'meta.json')))
      throw new LabError(`dataset "${row.name}": its stored data is missing (${dir}); delete it and import the file again`)
    return dir
  }

  private summaryOf(row: DatasetRow): DatasetSummary {
    const profile = JSON.parse(row.profile_json) as ProfileState
    const parse = JSON.parse(row.parse_json) as ParseState
    const split = JSON.parse(row.split_json) as DatasetSummary['split']
    const summary: DatasetSummary = {
      datasetId: row.id,
      name: row.name,
      kind: row.kind,
      sourcePath: row.source_path,
      contentHash: row.content_hash,
      rows: row.rows,
      columns: profile.columns,
      target: row.target,
      classes: profile.classes,
      skipped: profile.skipped,
      split,
      featureCount: profile.featureCount,
      parse: parse as unknown as Record<string, unknown>,
      createdAt: row.created_at
    }
    if (profile.image) summary.image = profile.image
    return summary
  }

  async list(): Promise<DatasetSummary[]> {
    const rows = await this.db.all<DatasetRow>('SELECT * FROM datasets ORDER BY created_at DESC, id')
    return rows.map((row) => this.summaryOf(row))
  }

  async get(datasetId: string): Promise<DatasetSummary> {
    return this.summaryOf(await this.row(datasetId))
  }

  async delete(datasetId: string): Promise<void> {
    const row = await this.row(datasetId)
    const used = await this.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM runs WHERE dataset_id = ?', [datasetId])
    if (used && used.n > 0)
      throw new LabError(`dataset "${row.name}" is used by ${used.n} run${used.n === 1 ? '' : 's'}; delete those runs first`, 'conflict')
    await this.db.run('DELETE FROM datasets WHERE id = ?', [datasetId])
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
      if (stats.files.f64) return Array.from(readRangeF64(columnFile(dir, index, 'f64'), start, count), (v) => (Number.isNaN(v) ? null : v))
      if (stats.files.i32 && stats.vocab) {
        const vocab = stats.vocab
        return Array.from(readRangeI32(columnFile(dir, index, 'i32'), start, count), (code) => (code < 0 ? null : vocab[code]))
      }
      if (stats.files.str)
        return readRangeStrings(columnFile(dir, index, 'str'), columnFile(dir, index, 'off'), start, count).map((s) => (s === '' ? null : s))
      return new Array(count).fill(null)
    })
    const rows = Array.from({ length: count }, (_, r) => columnValues.map((values) => values[r] ?? null))
    return { columns: meta.columns.map((stats) => stats.name), rows, total }
  }

  /** Changes the target and columns' types or inclusion; the roles, split and recipe are fitted again. */
  async update(args: HandlerArgs<'datasets.update'>): Promise<DatasetSummary> {
    const row = await this.row(args.datasetId)
    if (row.kind === 'images') {
      if (args.target !== undefined || args.columns?.length || args.preparation)
        throw new LabError(`${row.name}: an image dataset's target, columns and scaling are fixed (class folders, pixels in [0, 1])`)
      return this.summaryOf(row)
    }
    const dir = this.storedDir(row)
    const meta = readJson<TableMeta>(path.join(dir, 'meta.json'))
    const parse = JSON.parse(row.parse_json) as ParseState
    const names = meta.columns.map((stats) => stats.name)
    const target = args.target !== undefined ? chooseTarget(names, args.target, row.name) : row.target!
    const overrides = { ...parse.overrides }
    for (const change of args.columns ?? []) {
      const stats = meta.columns.find((column) => column.name === change.name)
      if (!stats) throw new LabError(`${row.name}: no column "${change.name}"`)
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
      overrides[change.name] = next
    }
    const nextParse: ParseState = { ...parse, overrides, preparation: { ...parse.preparation, ...args.preparation } }
    const profile = JSON.parse(row.profile_json) as ProfileState
    const fitted = fitTable(row.name, dir, meta, target, nextParse, profile.skipped)
    writeSplit(dir, fitted.split)
    await this.db.run('UPDATE datasets SET target = ?, parse_json = ?, profile_json = ?, recipe_json = ?, split_json = ? WHERE id = ?', [
      target,
      JSON.stringify(nextParse),
      JSON.stringify(fitted.profile),
      JSON.stringify(fitted.recipe),
      JSON.stringify(splitCounts(fitted.split)),
      row.id
    ])
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
    const labels = (JSON.parse(row.recipe_json) as ImageRecipe).labels
    const result: RequestResult<'datasets.thumbnails'> = []
    for (const label of labels) {
      const images: { row: number; dataUrl: string }[] = []
      for (let i = 0; i < meta.rows.length && images.length < args.perClass; i++) {
        if (meta.rows[i].label !== label) continue
        images.push({ row: i, dataUrl: await thumbnail(path.join(dir, 'pixels.u8'), i, meta.width, meta.height, meta.channels) })
      }
      result.push({ label, images })
    }
    return result
  }

  async getRecipe(datasetId: string): Promise<Recipe> {
    return JSON.parse((await this.row(datasetId)).recipe_json) as Recipe
  }

  /** The stored split with the stored recipe applied, read from the materialised data (never the source). */
  async loadPrepared(datasetId: string): Promise<PreparedData> {
    const row = await this.row(datasetId)
    const dir = this.storedDir(row)
    const recipe = JSON.parse(row.recipe_json) as Recipe
    if (recipe.labels.length < 2) {
      const only = recipe.labels.length ? ` ("${recipe.labels[0]}")` : ''
      throw new LabError(`${row.name}: the target "${row.target}" has a single class${only}; choose another target column`)
    }
    if (recipe.inputShape.every((size) => size === 0)) throw new LabError(`${row.name}: no feature columns are included; include at least one`)
    const split = readSplit(dir, JSON.parse(row.split_json))
    const meta = readJson<Meta>(path.join(dir, 'meta.json'))
    return {
      datasetId,
      kind: row.kind,
      inputShape: recipe.inputShape,
      labels: recipe.labels,
      featureNames: recipe.featureNames,
      ...preparedParts(dir, meta, recipe, split)
    }
  }
}
