/**
 * The settings diff of two or more runs: flatten each run's settings to "path → value" and keep the paths
 * whose values differ. Pure, so it is unit-tested without a browser.
 */
import type { RunDetail } from '@contract'

export type Flat = Record<string, string>

function flatten(value: unknown, prefix: string, out: Flat): void {
  if (value === null || value === undefined || typeof value !== 'object') {
    out[prefix] = value === undefined ? '—' : String(value)
    return
  }
  if (Array.isArray(value) && value.every((v) => typeof v !== 'object' || v === null)) {
    out[prefix] = value.join(' × ')
    return
  }
  for (const [key, child] of Object.entries(value as Record<string, unknown>)) flatten(child, prefix ? `${prefix}.${key}` : key, out)
}

/** A run's settings as a person reads them: dataset, mode, seed, config, layers, blocks with their settings. */
export function runSettings(run: RunDetail): Flat {
  const out: Flat = { dataset: run.datasetName, mode: run.mode, seed: String(run.seed), backend: run.backend }
  flatten(run.config, 'config', out)
  delete out['config.mode']
  delete out['config.seed']
  out['model.input'] = run.spec.inputShape.join(' × ')
  run.spec.layers.forEach((layer, i) => {
    const { type, ...params } = layer
    out[`model.layer ${i + 1}`] = `${type}${
      Object.keys(params).length
        ? ` (${Object.entries(params)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')})`
        : ''
    }`
  })
  run.partition.blocks.forEach((block) => {
    out[`${block.name}.layers`] = `${block.start + 1}–${block.end}`
    flatten(block.settings, block.name, out)
  })
  return out
}

export interface DiffRow {
  key: string
  values: string[]
}

export function diffSettings(runs: RunDetail[]): DiffRow[] {
  const flats = runs.map(runSettings)
  const keys = [...new Set(flats.flatMap((f) => Object.keys(f)))]
  return keys.map((key) => ({ key, values: flats.map((f) => f[key] ?? '—') })).filter((row) => new Set(row.values).size > 1)
}

/**
 * Epoch rows as one sequence (x = 1, 2, … across blocks and fine-tune) so runs of every mode overlay. A decoupled
 * run trains all blocks in each epoch: its sequence is the last block's rows (the model's output), x = epoch.
 */
export function sequence(run: RunDetail, metric: 'valAccuracy' | 'accuracy' | 'loss' | 'valLoss'): Array<[number, number]> {
  const last = run.partition.blocks.length - 1
  const rows = run.mode === 'decoupled' ? run.epochs.filter((row) => row.block === last) : run.epochs
  const points: Array<[number, number]> = []
  rows.forEach((row, i) => {
    const value = row[metric]
    if (value !== null && Number.isFinite(value)) points.push([i + 1, value])
  })
  return points
}
