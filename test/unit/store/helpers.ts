/** Shared bits of the run-store tests: a data home, a dataset row for the runs' foreign key, a run to store. */
import type { Tx } from '../../../main/store/sql'
import { trainConfig, type EpochRow } from '../../../main/shared/contract'
import type { NewRun } from '../../../main/store/runs'
import { defaultModel } from '../../../main/model/presets'

/** The runs table references datasets(id): tests of the run store insert a bare dataset row. */
export async function insertDataset(db: Pick<Tx, 'run'>, id: string, name: string): Promise<void> {
  await db.run(
    `INSERT INTO datasets (id, name, kind, source_path, content_hash, rows, target, parse_json, profile_json, recipe_json, split_json, data_dir, created_at)
     VALUES (?, ?, 'table', '/data/digits.csv', 'hash', 1797, 'digit', '{}', '[]', '{}', '{}', '/data', '2026-01-01T00:00:00.000Z')`,
    [id, name]
  )
}

export function newRun(datasetId: string, extra: Partial<NewRun> = {}): NewRun {
  const { spec, partition } = defaultModel({ inputShape: [64], classes: 10 })
  return { datasetId, mode: 'end-to-end', backend: 'wasm', seed: 42, spec, partition, config: trainConfig.parse({}), ...extra }
}

export function epochRow(epoch: number): EpochRow {
  return {
    block: -1,
    phase: 'end-to-end',
    epoch,
    loss: 1 / epoch,
    accuracy: 0.5 + epoch / 100,
    valLoss: 1.2 / epoch,
    valAccuracy: 0.5,
    learningRate: 0.001,
    samplesPerSec: 1000
  }
}
