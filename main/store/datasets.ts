/**
 * The datasets table: one row per import, with what the import found (parse settings, profile, recipe, split counts)
 * as JSON. The files live under <home>/<dataDir>; the data service owns both and is the only caller.
 */
import type { Db } from './sql'
import type { DatasetProfile, DatasetSummary, ParseSettings } from '../shared/contract'

export interface StoredDataset {
  id: string
  name: string
  kind: DatasetSummary['kind']
  sourcePath: string
  contentHash: string
  rows: number
  target: string | null
  parse: ParseSettings
  profile: DatasetProfile
  /** The preparation recipe, in the data module's own JSON format (data/recipe.ts). */
  recipe: unknown
  split: DatasetSummary['split']
  /** Relative to the data home (absolute in homes written by early versions). */
  dataDir: string
  createdAt: string
}

/** What a refit (new target, column choices, preparation) changes. */
export type DatasetRefit = Pick<StoredDataset, 'target' | 'parse' | 'profile' | 'recipe' | 'split'>

interface DatasetRow {
  id: string
  name: string
  kind: DatasetSummary['kind']
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

function fromRow(row: DatasetRow): StoredDataset {
  return {
    id: row.id,
    name: row.name,
    kind: row.kind,
    sourcePath: row.source_path,
    contentHash: row.content_hash,
    rows: row.rows,
    target: row.target,
    parse: JSON.parse(row.parse_json) as ParseSettings,
    profile: JSON.parse(row.profile_json) as DatasetProfile,
    recipe: JSON.parse(row.recipe_json) as unknown,
    split: JSON.parse(row.split_json) as DatasetSummary['split'],
    dataDir: row.data_dir,
    createdAt: row.created_at
  }
}

export class DatasetStore {
  constructor(private readonly db: Db) {}

  async insert(dataset: StoredDataset): Promise<void> {
    await this.db.run(
      `INSERT INTO datasets (id, name, kind, source_path, content_hash, rows, target, parse_json, profile_json, recipe_json, split_json, data_dir, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      [
        dataset.id,
        dataset.name,
        dataset.kind,
        dataset.sourcePath,
        dataset.contentHash,
        dataset.rows,
        dataset.target,
        JSON.stringify(dataset.parse),
        JSON.stringify(dataset.profile),
        JSON.stringify(dataset.recipe),
        JSON.stringify(dataset.split),
        dataset.dataDir,
        dataset.createdAt
      ]
    )
  }

  async get(datasetId: string): Promise<StoredDataset | undefined> {
    const row = await this.db.get<DatasetRow>('SELECT * FROM datasets WHERE id = ?', [datasetId])
    return row ? fromRow(row) : undefined
  }

  /** Newest first. */
  async list(): Promise<StoredDataset[]> {
    const rows = await this.db.all<DatasetRow>('SELECT * FROM datasets ORDER BY created_at DESC, id')
    return rows.map(fromRow)
  }

  async refit(datasetId: string, refit: DatasetRefit): Promise<void> {
    await this.db.run('UPDATE datasets SET target = ?, parse_json = ?, profile_json = ?, recipe_json = ?, split_json = ? WHERE id = ?', [
      refit.target,
      JSON.stringify(refit.parse),
      JSON.stringify(refit.profile),
      JSON.stringify(refit.recipe),
      JSON.stringify(refit.split),
      datasetId
    ])
  }

  async delete(datasetId: string): Promise<void> {
    await this.db.run('DELETE FROM datasets WHERE id = ?', [datasetId])
  }
}
