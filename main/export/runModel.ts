/** A run's trained model, rebuilt from its stored spec with its saved weights: what export and predict start from. */
import type * as tf from '@tensorflow/tfjs'
import type { RunDetail } from '../shared/contract'
import type { RunStore } from '../store/runs'
import { LabError } from '../shared/errors'
import { buildModel } from '../model/build'
import { loadWeights } from '../model/io'

/** Rebuilds a run's model from its stored spec and loads its saved weights (the exporter's entry point). */
export async function loadRunModel(runs: RunStore, runId: string): Promise<{ model: tf.LayersModel; detail: RunDetail }> {
  const detail = await runs.get(runId)
  const weights = [...detail.artifacts].reverse().find((artifact) => artifact.kind === 'weights')
  if (!weights) throw new LabError(`run ${runId}: has no saved weights (status ${detail.status})`)
  const model = buildModel(detail.spec, { seed: detail.seed })
  try {
    await loadWeights(model, weights.path)
  } catch (error) {
    model.dispose()
    throw error
  }
  return { model, detail }
}
