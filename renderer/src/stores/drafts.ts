/**
 * What the user was working on, kept in the browser's localStorage so that it survives a reload (and a restart of
 * the desktop app): the selected dataset, and per dataset its own model, partition and training settings. Keyed
 * by the data home, so two homes never mix. Pure functions over a Storage, unit-tested with a stand-in.
 */
import { modelSpec, partition, trainConfig, type ModelSpec, type Partition, type TrainConfig } from '@contract'
import type { ModelPreset } from '@contract'

export interface Draft {
  /** modelSourceKey of the dataset when the draft was saved: a draft for other inputs or classes is dropped. */
  sourceKey: string
  preset: ModelPreset
  hidden: number[]
  spec: ModelSpec
  partition: Partition
  config: TrainConfig
}

const prefix = (home: string): string => `layerlab:${home}:`

function read(storage: Storage, key: string): unknown {
  try {
    const text = storage.getItem(key)
    return text === null ? null : (JSON.parse(text) as unknown)
  } catch {
    return null
  }
}

function write(storage: Storage, key: string, value: unknown): void {
  try {
    storage.setItem(key, JSON.stringify(value))
  } catch {
    // Storage full or refused (private mode): the app works on, it only forgets across reloads.
  }
}

export function loadSelection(storage: Storage, home: string): string | null {
  const value = read(storage, `${prefix(home)}dataset`)
  return typeof value === 'string' ? value : null
}

export function saveSelection(storage: Storage, home: string, datasetId: string | null): void {
  if (datasetId === null) storage.removeItem(`${prefix(home)}dataset`)
  else write(storage, `${prefix(home)}dataset`, datasetId)
}

/** The draft of a dataset, checked against the contract (an old or hand-edited entry is ignored, not trusted). */
export function loadDraft(storage: Storage, home: string, datasetId: string): Draft | null {
  const value = read(storage, `${prefix(home)}draft:${datasetId}`) as Partial<Draft> | null
  if (!value || typeof value.sourceKey !== 'string') return null
  const spec = modelSpec.safeParse(value.spec)
  const blocks = partition.safeParse(value.partition)
  const config = trainConfig.safeParse(value.config)
  if (!spec.success || !blocks.success || !config.success) return null
  const hidden = Array.isArray(value.hidden) && value.hidden.every((n) => Number.isInteger(n) && n > 0) ? value.hidden : [100, 100]
  return {
    sourceKey: value.sourceKey,
    preset: value.preset === 'small-cnn' ? 'small-cnn' : 'mlp',
    hidden,
    spec: spec.data,
    partition: blocks.data,
    config: config.data
  }
}

export function saveDraft(storage: Storage, home: string, datasetId: string, draft: Draft): void {
  write(storage, `${prefix(home)}draft:${datasetId}`, draft)
}

export function dropDraft(storage: Storage, home: string, datasetId: string): void {
  storage.removeItem(`${prefix(home)}draft:${datasetId}`)
}
