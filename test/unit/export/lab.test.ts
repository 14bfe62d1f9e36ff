/**
 * The whole path through the lab's router, with every real service: import the digits CSV, train a small MLP
 * layer-wise in the training worker, export it to ONNX (whole model and first block) and predict the CSV.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parse } from 'csv-parse/sync'
import { onnx } from 'onnx-proto'
import { openLab, type Lab } from '../../../main/lab'
import type { ApiResponse, RequestResult } from '../../../main/shared/contract'
import { DIGITS_CSV } from '../../fixtures/digits'

let lab: Lab
let runId: string

async function call<T>(name: string, args: unknown): Promise<T> {
  const response = (await lab.router.handle(name, args)) as ApiResponse<T>
  if (!response.ok) throw new Error(`${name}: ${response.error.code}: ${response.error.message}`)
  return response.result
}

beforeAll(async () => {
  lab = await openLab({ home: fs.mkdtempSync(path.join(os.tmpdir(), 'layerlab-export-lab-')) })
  const dataset = await call<RequestResult<'datasets.import'>>('datasets.import', { path: DIGITS_CSV, target: 'digit' })
  const { spec, partition } = await call<RequestResult<'models.default'>>('models.default', {
    datasetId: dataset.datasetId,
    preset: 'mlp',
    hidden: [32, 32]
  })
  for (const block of partition.blocks) Object.assign(block.settings, { epochs: 5, learningRate: 0.01 })
  const started = await call<{ runId: string }>('train.start', {
    datasetId: dataset.datasetId,
    spec,
    partition,
    config: { mode: 'layer-wise', epochs: 3, fineTune: { enabled: false } }
  })
  runId = started.runId
  const summary = await call<RequestResult<'runs.wait'>>('runs.wait', { runId })
  if (summary.status !== 'completed') throw new Error(`training ended ${summary.status}: ${summary.error}`)
})

afterAll(async () => {
  await lab?.close()
  if (lab) fs.rmSync(lab.home, { recursive: true, force: true })
})

describe('export and predict through the lab', () => {
  it('exports a trained run with a passing proof and lists the artifact on the run', async () => {
    const result = await call<RequestResult<'export.onnx'>>('export.onnx', { runId })
    expect(result.opset).toBe(13)
    expect(result.parity.pass).toBe(true)
    expect(result.parity.samples).toBeGreaterThan(100)
    expect(fs.existsSync(result.path)).toBe(true)
    const detail = await call<RequestResult<'runs.get'>>('runs.get', { runId })
    const artifact = detail.artifacts.find((a) => a.artifactId === result.artifactId)
    expect(artifact).toMatchObject({ kind: 'onnx', path: result.path, bytes: result.bytes })
    expect(artifact?.info).toMatchObject({ opset: 13, bakeNormalization: true, parity: result.parity })
    const proto = onnx.ModelProto.decode(fs.readFileSync(result.path))
    const meta = Object.fromEntries(proto.metadataProps.map((p) => [p.key, p.value]))
    expect(meta.run_id).toBe(runId)
    expect(meta.dataset_hash).toBe((await call<RequestResult<'datasets.get'>>('datasets.get', { datasetId: detail.datasetId })).contentHash)
  })

  it('exports the first block as a feature extractor at opset 17', async () => {
    const result = await call<RequestResult<'export.onnx'>>('export.onnx', { runId, opset: 17, blocks: 1 })
    expect(path.basename(result.path)).toMatch(/^[\w.-]+-blocks-1\.onnx$/)
    expect(result.parity.pass).toBe(true)
  })

  it('predicts the digits CSV by run id and writes the CSV', async () => {
    const out = path.join(lab.home, 'predictions.csv')
    const result = await call<RequestResult<'predict.run'>>('predict.run', { model: runId, data: DIGITS_CSV, out })
    expect(result.rows).toHaveLength(1797)
    expect(result.accuracy).toBeGreaterThan(0.8)
    const records = parse(fs.readFileSync(out, 'utf8')) as string[][]
    expect(records).toHaveLength(1798)
    expect(records[0]).toEqual(['row', 'prediction', ...result.labels.map((l) => `p_${l}`)])
  })

  it('refuses a bad blocks count and an unknown run with one-line errors', async () => {
    const tooMany = await lab.router.handle('export.onnx', { runId, blocks: 9 })
    expect(tooMany).toMatchObject({ ok: false, error: { code: 'user_error' } })
    const missing = await lab.router.handle('export.onnx', { runId: 'run-00000000' })
    expect(missing).toMatchObject({ ok: false, error: { code: 'not_found' } })
  })
})
