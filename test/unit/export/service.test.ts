/**
 * ExportService end to end on a digits MLP trained here: export with proof, artifacts, prefix exports and
 * predict (by file and by run id) with the CSV written. The run store, dataset service and new-data encoder
 * are stand-ins that follow their contracts (their real modules are tested in their own areas).
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import * as tf from '@tensorflow/tfjs'
import { parse } from 'csv-parse/sync'
import { onnx } from 'onnx-proto'
import type { Artifact, RunDetail } from '../../../main/shared/contract'
import type { DatasetService } from '../../../main/data/service'
import type { RunStore } from '../../../main/store/runs'
import type { NewData, Recipe } from '../../../main/data/recipe'
import type { PreparedData, PreparedPart } from '../../../main/data/types'
import { ExportService, onnxFileName, readOnnxFile } from '../../../main/export/service'
import { exportToOnnx } from '../../../main/export/onnx'
import { LabError } from '../../../main/shared/errors'
import { readDigitsPixels } from '../../fixtures/digits'
import { standInRun, standInSettings } from './helpers'

const LABELS = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']
const TRAIN = 1300
const VAL = 200

let home: string
let offset: number[]
let scale: number[]
let prepared: PreparedData
let weights: tf.Tensor[]
/** A CSV of the rows not used for training (the test rows) in the digits layout. */
let newCsv: string
let encodeCalls: { scale: boolean }[]

function standardise(x: Float32Array): Float32Array {
  return x.map((v, i) => (v - offset[i % 64]!) * scale[i % 64]!)
}

function part(from: number, to: number): PreparedPart {
  const { pixels, labels } = readDigitsPixels()
  return {
    x: standardise(pixels.slice(from * 64, to * 64)),
    y: Int32Array.from(labels.slice(from, to)),
    n: to - from,
    rows: Int32Array.from({ length: to - from }, (_, i) => from + i)
  }
}

function buildMlp(softmax = true): tf.Sequential {
  return tf.sequential({
    name: 'digits_mlp',
    layers: [
      tf.layers.dense({ inputShape: [64], units: 32, activation: 'relu', kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }),
      tf.layers.dropout({ rate: 0.1 }),
      tf.layers.dense({ units: 10, activation: softmax ? 'softmax' : 'linear', kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) })
    ]
  })
}

const spec = {
  version: 1 as const,
  inputShape: [64],
  layers: [
    { type: 'dense' as const, units: 32, activation: 'relu' as const },
    { type: 'dropout' as const, rate: 0.1 },
    { type: 'dense' as const, units: 10, activation: 'softmax' as const }
  ]
}

function detail(runId: string, artifacts: Artifact[]): RunDetail {
  return standInRun({
    runId,
    name: 'digits mlp',
    datasetId: 'ds-digits',
    mode: 'layer-wise',
    spec,
    partition: {
      blocks: [
        { name: 'features', color: '#336699', start: 0, end: 2, settings: standInSettings },
        { name: 'classifier', color: '#993366', start: 2, end: 3, settings: standInSettings }
      ]
    },
    artifacts
  })
}

interface Harness {
  service: ExportService
  artifacts: Artifact[]
  loads: number
}

/** A service over in-memory stand-ins; `mutate` changes the loaded model (e.g. to break it). */
function harness(options: { softmax?: boolean; mutate?: (model: tf.LayersModel) => void; labels?: string[] } = {}): Harness {
  const artifacts: Artifact[] = []
  const h: Harness = { service: undefined as unknown as ExportService, artifacts, loads: 0 }
  const labels = options.labels ?? LABELS
  const recipe = {
    kind: 'table',
    version: 1,
    labels,
    inputShape: [64],
    featureNames: Array.from({ length: 64 }, (_, i) => `p${Math.floor(i / 8)}_${i % 8}`),
    affine: { offset, scale },
    target: 'digit',
    columns: [],
    missingMarkers: [],
    imputeNumbers: 'mean',
    scaling: 'standard'
  } as unknown as Recipe
  const runs = {
    get: async (runId: string) => detail(runId, artifacts),
    summary: async (runId: string) => detail(runId, artifacts),
    addArtifact: async (_runId: string, a: Omit<Artifact, 'artifactId' | 'createdAt'>) => {
      const full = { ...a, artifactId: `art-${artifacts.length}`, createdAt: new Date(Date.now() + artifacts.length).toISOString() }
      artifacts.push(full)
      return full
    }
  } as unknown as RunStore
  const datasets = {
    getRecipe: async () => recipe,
    get: async () => ({ contentHash: 'sha256-digits' }),
    loadPrepared: async () => ({ ...prepared, labels })
  } as unknown as DatasetService
  h.service = new ExportService(datasets, runs, home, {
    loadRunModel: async (_runs, runId) => {
      h.loads++
      const model = buildMlp(options.softmax ?? true)
      // The same trained weights either way: only the last activation differs.
      model.setWeights(weights)
      options.mutate?.(model)
      return { model, detail: detail(runId, artifacts) }
    },
    encodeNewData: async (_recipe, dataPath, opts): Promise<NewData> => {
      encodeCalls.push(opts)
      const lines = fs.readFileSync(dataPath, 'utf8').trim().split('\n').slice(1)
      const raw = Float32Array.from(lines.flatMap((l) => l.split(',').slice(0, 64).map(Number)))
      return {
        x: opts.scale ? standardise(raw) : raw,
        n: lines.length,
        inputShape: [64],
        keys: lines.map((_, i) => String(i + 1)),
        truth: lines.map((l) => labels[Number(l.split(',')[64])]!),
        truthValues: null
      }
    }
  })
  return h
}

beforeAll(async () => {
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'layerlab-export-'))
  encodeCalls = []
  const { pixels, n } = readDigitsPixels()
  // Standardisation fitted on the train rows, as the data module does.
  offset = Array.from({ length: 64 }, (_, j) => {
    let s = 0
    for (let i = 0; i < TRAIN; i++) s += pixels[i * 64 + j]!
    return s / TRAIN
  })
  scale = offset.map((m, j) => {
    let s = 0
    for (let i = 0; i < TRAIN; i++) s += (pixels[i * 64 + j]! - m) ** 2
    return s > 0 ? 1 / Math.sqrt(s / TRAIN) : 1
  })
  prepared = {
    datasetId: 'ds-digits',
    kind: 'table',
    task: 'classification',
    targetScale: null,
    inputShape: [64],
    labels: LABELS,
    featureNames: [],
    train: part(0, TRAIN),
    val: part(TRAIN, TRAIN + VAL),
    test: part(TRAIN + VAL, n)
  }
  const model = buildMlp()
  model.compile({ optimizer: tf.train.adam(0.01), loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] })
  const x = tf.tensor2d(prepared.train.x, [TRAIN, 64])
  const y = tf.tensor1d(Array.from(prepared.train.y), 'float32')
  await model.fit(x, y, { epochs: 15, batchSize: 64, shuffle: false, verbose: 0 })
  x.dispose()
  y.dispose()
  weights = model.getWeights().map((w) => w.clone())
  model.dispose()
  // The unseen rows as a CSV with the digits header (pixels first, then digit).
  const { labels } = readDigitsPixels()
  const header = [...Array.from({ length: 64 }, (_, i) => `p${Math.floor(i / 8)}_${i % 8}`), 'digit'].join(',')
  const body = Array.from({ length: n - TRAIN - VAL }, (_, k) => {
    const i = TRAIN + VAL + k
    return [...pixels.slice(i * 64, (i + 1) * 64), labels[i]].join(',')
  })
  newCsv = path.join(home, 'new-digits.csv')
  fs.writeFileSync(newCsv, [header, ...body].join('\n') + '\n')
})

afterAll(() => {
  weights?.forEach((w) => w.dispose())
  if (home) fs.rmSync(home, { recursive: true, force: true })
})

describe('exportOnnx', () => {
  it('names the file after its run', () => {
    expect(onnxFileName('digits · layer-wise · 12-01 07:10:32')).toBe('digits-layer-wise-12-01-07-10-32.onnx')
    expect(onnxFileName('wine e2e', 2)).toBe('wine-e2e-blocks-2.onnx')
    expect(onnxFileName('···')).toBe('model.onnx')
    expect(onnxFileName('Äpfel/../x')).toBe('Apfel-x.onnx')
  })

  it('exports the run with the standardisation baked in, proves parity on the test rows and records the artifact', async () => {
    const h = harness()
    const result = await h.service.exportOnnx({ runId: 'run-aaaa0001', opset: 13 })
    // Named after the run ("digits mlp"), so downloads of several runs keep apart.
    expect(result.path).toBe(path.join(home, 'runs', 'run-aaaa0001', 'digits-mlp.onnx'))
    expect(fs.statSync(result.path).size).toBe(result.bytes)
    expect(result.parity.samples).toBe(1797 - TRAIN - VAL)
    expect(result.parity.maxAbsDiff).toBeLessThanOrEqual(1e-4)
    expect(result.parity.argmaxAgreement).toBe(1)
    expect(result.parity.pass).toBe(true)
    expect(h.artifacts).toHaveLength(1)
    expect(h.artifacts[0]).toMatchObject({
      kind: 'onnx',
      path: result.path,
      bytes: result.bytes,
      info: { opset: 13, blocks: null, bakeNormalization: true, parity: result.parity }
    })
    expect(result.artifactId).toBe(h.artifacts[0]!.artifactId)
    // No temp file left behind.
    expect(fs.readdirSync(path.dirname(result.path))).toEqual(['digits-mlp.onnx'])

    const file = await readOnnxFile(result.path)
    expect(file.labels).toEqual(LABELS)
    expect(file.recipe.affineInModel).toBe(true)
    expect(file.recipe.affine?.offset).toEqual(offset.map((v) => v))
    expect(file.metadata).toMatchObject({ run_id: 'run-aaaa0001', dataset_hash: 'sha256-digits', output: 'probabilities' })
    expect(file.proto.producerName).toBe('LayerLab')
    expect(JSON.parse(file.metadata.preprocessing!)).toMatchObject({ layout: 'NC', inputRange: null, normalization: 'inside the model' })
    const ops = (file.proto.graph as onnx.GraphProto).node.map((n) => n.opType)
    expect(ops).toEqual(['Sub', 'Mul', 'Gemm', 'Relu', 'Gemm', 'Softmax', 'Identity'])
  })

  it('leaves the affine step out when asked, and writes to `out` at opset 17', async () => {
    const h = harness()
    const out = path.join(home, 'custom', 'plain.onnx')
    const result = await h.service.exportOnnx({ runId: 'run-aaaa0002', opset: 17, bakeNormalization: false, out })
    expect(result.path).toBe(out)
    expect(result.opset).toBe(17)
    expect(result.parity.pass).toBe(true)
    const file = await readOnnxFile(out)
    expect(file.recipe.affineInModel).toBe(false)
    expect(JSON.parse(file.metadata.preprocessing!).normalization).toEqual({ formula: '(x - offset) * scale', offset, scale })
    expect(Number(file.proto.opsetImport[0]!.version)).toBe(17)
    expect((file.proto.graph as onnx.GraphProto).node[0]!.opType).toBe('Gemm')
    expect(h.artifacts[0]!.info.bakeNormalization).toBe(false)
  })

  it('exports the first k blocks as a feature extractor, compared on features', async () => {
    const h = harness()
    const result = await h.service.exportOnnx({ runId: 'run-aaaa0003', opset: 13, blocks: 1 })
    expect(path.basename(result.path)).toBe('digits-mlp-blocks-1.onnx')
    expect(result.parity.pass).toBe(true)
    expect(result.parity.maxAbsDiff).toBeLessThanOrEqual(1e-4)
    const file = await readOnnxFile(result.path)
    expect(file.metadata.output).toBe('features')
    expect(file.metadata.blocks).toBe('1')
    const out = (file.proto.graph as onnx.GraphProto).output[0]!.type!.tensorType!.shape!.dim!
    expect(Number(out[1]!.dimValue)).toBe(32)
    await expect(h.service.predict({ model: result.path, data: newCsv })).rejects.toThrow(/is a feature extractor/)
  })

  it('refuses more blocks than the run has', async () => {
    await expect(harness().service.exportOnnx({ runId: 'run-aaaa0004', opset: 13, blocks: 3 })).rejects.toThrow(
      /has 2 blocks, cannot export the first 3/
    )
  })

  it('returns a failing parity (a diverged run with NaN weights) instead of throwing, and still records it', async () => {
    const h = harness({
      mutate: (model) => {
        const layer = model.layers[0]!
        const [kernel, bias] = layer.getWeights()
        if (!kernel || !bias) throw new Error('the first dense layer has a kernel and a bias')
        const values = kernel.dataSync().slice()
        values[0] = NaN
        layer.setWeights([tf.tensor(values, kernel.shape), bias])
      }
    })
    const result = await h.service.exportOnnx({ runId: 'run-aaaa0005', opset: 13 })
    expect(result.parity.pass).toBe(false)
    expect(h.artifacts[0]!.info.parity).toMatchObject({ pass: false })
  })
})

describe('predict', () => {
  it('predicts a CSV with an exported file: rows, probabilities, accuracy and the CSV out', async () => {
    const h = harness()
    const { path: file } = await h.service.exportOnnx({ runId: 'run-bbbb0001', opset: 13 })
    encodeCalls = []
    const out = path.join(home, 'pred', 'predictions.csv')
    const result = await h.service.predict({ model: file, data: newCsv, out })
    // The standardisation is inside the model: the encoder must stop before it.
    expect(encodeCalls).toEqual([{ scale: false }])
    const n = 1797 - TRAIN - VAL
    expect(result.labels).toEqual(LABELS)
    expect(result.rows).toHaveLength(n)
    for (const row of result.rows.slice(0, 20)) {
      expect(row.probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4)
      expect(row.prediction).toBe(LABELS[row.probabilities.indexOf(Math.max(...row.probabilities))])
    }
    // Trained for a few epochs on 1,300 rows: well above chance on the 297 unseen ones.
    expect(result.accuracy).toBeGreaterThan(0.85)
    const { labels } = readDigitsPixels()
    const expected = result.rows.filter((r, k) => r.prediction === String(labels[TRAIN + VAL + k])).length / n
    expect(result.accuracy).toBeCloseTo(expected, 10)
    expect(result.out).toBe(out)
    const records = parse(fs.readFileSync(out, 'utf8')) as string[][]
    expect(records[0]).toEqual(['row', 'prediction', ...LABELS.map((l) => `p_${l}`)])
    expect(records).toHaveLength(n + 1)
    expect(records[1]![0]).toBe('1')
    expect(records[1]![1]).toBe(result.rows[0]!.prediction)
    expect(Number(records[1]![2])).toBeCloseTo(result.rows[0]!.probabilities[0]!, 6)
  })

  it('by run id: exports first when the run has no ONNX artifact, then reuses the newest one', async () => {
    const h = harness()
    const first = await h.service.predict({ model: 'run-cccc0001', data: newCsv })
    expect(h.loads).toBe(1)
    expect(h.artifacts).toHaveLength(1)
    const second = await h.service.predict({ model: 'run-cccc0001', data: newCsv })
    expect(h.loads).toBe(1)
    expect(second.rows.map((r) => r.prediction)).toEqual(first.rows.map((r) => r.prediction))
    expect(first.accuracy).toBeGreaterThan(0.85)
  })

  it('by run id: skips feature-extractor artifacts', async () => {
    const h = harness()
    await h.service.exportOnnx({ runId: 'run-cccc0002', opset: 13, blocks: 1 })
    const result = await h.service.predict({ model: 'run-cccc0002', data: newCsv })
    expect(h.artifacts.map((a) => a.info.output)).toEqual(['features', 'probabilities'])
    expect(result.rows[0]!.probabilities).toHaveLength(10)
  })

  it('turns logits into probabilities for a model without softmax', async () => {
    const h = harness({ softmax: false })
    const { path: file } = await h.service.exportOnnx({ runId: 'run-dddd0001', opset: 13 })
    expect((await readOnnxFile(file)).metadata.output).toBe('logits')
    const result = await h.service.predict({ model: file, data: newCsv })
    for (const row of result.rows.slice(0, 10)) {
      expect(row.probabilities.every((p) => p >= 0 && p <= 1)).toBe(true)
      expect(row.probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 4)
    }
    expect(result.accuracy).toBeGreaterThan(0.85)
  })

  it('quotes labels with commas and quotes in the CSV header', async () => {
    const odd = ['zero, nil', 'one "1"', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine\nlines']
    const h = harness({ labels: odd })
    const { path: file } = await h.service.exportOnnx({ runId: 'run-eeee0001', opset: 13 })
    const out = path.join(home, 'odd.csv')
    const result = await h.service.predict({ model: file, data: newCsv, out })
    const records = parse(fs.readFileSync(out, 'utf8')) as string[][]
    expect(records[0]).toEqual(['row', 'prediction', ...odd.map((l) => `p_${l}`)])
    expect(records.slice(1).map((r) => r[1])).toEqual(result.rows.map((r) => r.prediction))
  })

  it('says what is wrong with a file that is not a LayerLab ONNX model', async () => {
    const h = harness()
    const missing = path.join(home, 'nope.onnx')
    await expect(h.service.predict({ model: missing, data: newCsv })).rejects.toThrow(`${missing}: not found`)
    const garbage = path.join(home, 'garbage.onnx')
    fs.writeFileSync(garbage, 'this is not protobuf at all')
    await expect(h.service.predict({ model: garbage, data: newCsv })).rejects.toThrow(LabError)
    const bare = path.join(home, 'bare.onnx')
    fs.writeFileSync(bare, exportToOnnx(buildMlp()))
    await expect(h.service.predict({ model: bare, data: newCsv })).rejects.toThrow(
      `${bare}: has no LayerLab metadata (labels, recipe); export it from LayerLab`
    )
  })
})

describe('writing files', () => {
  it('reports an unwritable destination as one line naming it', async () => {
    const blocker = path.join(home, 'a-file')
    fs.writeFileSync(blocker, 'x')
    const target = path.join(blocker, 'model.onnx')
    await expect(harness().service.exportOnnx({ runId: 'run-ffff0001', opset: 13, out: target })).rejects.toThrow(
      new RegExp(`^${target.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: cannot write`)
    )
  })
})
