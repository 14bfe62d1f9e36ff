/**
 * Export and predict over the real data module: the digits CSV imported by DatasetService (its recipe, split and
 * prepared parts), new data encoded by the real encodeNewData. Proves that the standardisation baked into the
 * graph equals the data module's own, row for row. Only the run store is a stand-in (the model is trained here).
 */
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as tf from '@tensorflow/tfjs'
import { parse } from 'csv-parse/sync'
import type { Artifact, RunDetail } from '../../../main/shared/contract'
import type { RunStore } from '../../../main/store/runs'
import { openTestServices, type TestServices } from '../../fixtures/home'
import { DatasetService } from '../../../main/data/service'
import { encodeNewData } from '../../../main/data/newData'
import { ExportService } from '../../../main/export/service'
import { DIGITS_CSV } from '../../fixtures/digits'
import { standInRun, standInSettings } from './helpers'

let home: string
let services: TestServices
let datasets: DatasetService
let datasetId: string
let weights: tf.Tensor[]
/** Features after preparation: constant pixel columns are left out by the data module, so fewer than 64. */
let features: number
const artifacts: Artifact[] = []

function mlp(): tf.Sequential {
  return tf.sequential({
    layers: [
      tf.layers.dense({ inputShape: [features], units: 32, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) }),
      tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }) })
    ]
  })
}

function runDetail(runId: string): RunDetail {
  return standInRun({
    runId,
    name: 'digits',
    datasetId,
    mode: 'end-to-end',
    spec: {
      version: 1,
      inputShape: [features],
      layers: [
        { type: 'dense', units: 32, activation: 'relu' },
        { type: 'dense', units: 10, activation: 'softmax' }
      ]
    },
    partition: { blocks: [{ name: 'all', color: '#336699', start: 0, end: 2, settings: standInSettings }] },
    artifacts
  })
}

function service(): ExportService {
  const runs = {
    get: async (runId: string) => runDetail(runId),
    summary: async (runId: string) => runDetail(runId),
    addArtifact: async (_runId: string, a: Omit<Artifact, 'artifactId' | 'createdAt'>) => {
      const full = { ...a, artifactId: `art-${artifacts.length}`, createdAt: new Date().toISOString() }
      artifacts.push(full)
      return full
    }
  } as unknown as RunStore
  return new ExportService(datasets, runs, home, {
    loadRunModel: async (_runs, runId) => {
      const model = mlp()
      model.setWeights(weights)
      return { model, detail: runDetail(runId) }
    }
  })
}

beforeAll(async () => {
  services = await openTestServices('layerlab-export-real-')
  home = services.home
  datasets = services.datasets
  datasetId = (await datasets.import({ path: DIGITS_CSV, target: 'digit' })).datasetId
  const prepared = await datasets.loadPrepared(datasetId)
  features = prepared.inputShape[0]!
  const model = mlp()
  model.compile({ optimizer: tf.train.adam(0.01), loss: 'sparseCategoricalCrossentropy' })
  const x = tf.tensor2d(prepared.train.x, [prepared.train.n, features])
  const y = tf.tensor1d(Array.from(prepared.train.y), 'float32')
  await model.fit(x, y, { epochs: 10, batchSize: 64, shuffle: false, verbose: 0 })
  tf.dispose([x, y])
  weights = model.getWeights().map((w) => w.clone())
  model.dispose()
})

afterAll(async () => {
  weights?.forEach((w) => w.dispose())
  await services?.close()
})

describe('export and predict over the real data module', () => {
  it('proves parity on the stored test split with the recipe baked in', async () => {
    const prepared = await datasets.loadPrepared(datasetId)
    const result = await service().exportOnnx({ runId: 'run-real0001', opset: 13 })
    expect(result.parity.samples).toBe(prepared.test.n)
    expect(result.parity.pass).toBe(true)
  })

  it('predicts the digits CSV: the ONNX file on raw rows gives what tfjs gives on the data module’s scaled rows', async () => {
    const out = path.join(home, 'predictions.csv')
    const result = await service().predict({ model: 'run-real0001', data: DIGITS_CSV, out })
    expect(result.rows).toHaveLength(1797)
    expect(result.accuracy).toBeGreaterThan(0.9)
    expect(result.rows.every((r) => r.truth != null)).toBe(true)

    const recipe = await datasets.getRecipe(datasetId)
    const scaled = await encodeNewData(recipe, DIGITS_CSV, { scale: true })
    const model = mlp()
    model.setWeights(weights)
    const expected = tf.tidy(() => (model.predict(tf.tensor2d(scaled.x, [scaled.n, features])) as tf.Tensor).arraySync() as number[][])
    model.dispose()
    let worst = 0
    result.rows.forEach((row, i) => row.probabilities.forEach((p, j) => (worst = Math.max(worst, Math.abs(p - expected[i]![j]!)))))
    expect(worst).toBeLessThanOrEqual(1e-4)

    const records = parse(fs.readFileSync(out, 'utf8')) as string[][]
    expect(records[0]!.slice(0, 3)).toEqual(['row', 'prediction', `p_${result.labels[0]}`])
    expect(records.slice(1).map((r) => r[0])).toEqual(result.rows.map((r) => r.key))
  })
})
