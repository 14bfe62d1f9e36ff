/**
 * A regression model from import to prediction through the lab's router, with every real service: diabetes
 * imported (regression by its values), trained end-to-end and layer-wise in the training worker, exported to ONNX
 * with the target's affine step baked in and proven against onnxruntime relative to the target's scale, then
 * predicted on the same CSV (numbers, RMSE/MAE/R²), on one without the target and on one missing columns.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parse } from 'csv-parse/sync'
import * as ort from 'onnxruntime-node'
import { onnx } from 'onnx-proto'
import { openLab, type Lab } from '../../../main/lab'
import type { ApiResponse, RequestResult } from '../../../main/shared/contract'
import { regressionFigures } from '../../../main/shared/task'
import { diabetesCsv } from '../../fixtures/regression'
import { regressed } from '../../fixtures/figures'

let lab: Lab
let dir: string
let csv: string
const runs: Record<string, string> = {}

async function call<T>(name: string, args: unknown): Promise<T> {
  const response = (await lab.router.handle(name, args)) as ApiResponse<T>
  if (!response.ok) throw new Error(`${name}: ${response.error.code}: ${response.error.message}`)
  return response.result
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'layerlab-regression-export-'))
  lab = await openLab({ home: path.join(dir, 'home') })
  csv = path.join(dir, 'diabetes.csv')
  fs.writeFileSync(csv, diabetesCsv())
  const dataset = await call<RequestResult<'datasets.import'>>('datasets.import', { path: csv })
  expect(dataset.task).toBe('regression')
  const { spec, partition } = await call<RequestResult<'models.default'>>('models.default', { datasetId: dataset.datasetId })
  for (const mode of ['end-to-end', 'layer-wise'] as const) {
    const { runId } = await call<{ runId: string }>('train.start', { datasetId: dataset.datasetId, spec, partition, config: { mode, seed: 1 } })
    const summary = await call<RequestResult<'runs.wait'>>('runs.wait', { runId })
    if (summary.status !== 'completed') throw new Error(`training ended ${summary.status}: ${summary.error}`)
    runs[mode] = runId
  }
})

afterAll(async () => {
  await lab?.close()
  if (dir) fs.rmSync(dir, { recursive: true, force: true })
})

describe('regression export and predict through the lab', () => {
  for (const mode of ['end-to-end', 'layer-wise'] as const) {
    it(`records a ${mode} run as regression with R² and errors in the target's unit`, async () => {
      const run = await call<RequestResult<'runs.get'>>('runs.get', { runId: runs[mode] })
      expect(run.task).toBe('regression')
      const metrics = regressed(run.metrics)
      expect(Object.keys(metrics)).toEqual(expect.arrayContaining(['testR2', 'testRmse', 'testMae', 'valR2', 'valRmse', 'trainR2', 'testLoss']))
      expect(metrics.testR2).toBeGreaterThan(0.3)
      // Progression runs from 25 to 346 with a std near 77: an RMSE in that unit, not a standardised one below 1.
      expect(metrics.testRmse).toBeGreaterThan(30)
      expect(metrics.testRmse).toBeLessThan(80)
    })

    it(`exports the ${mode} run with the target's scale baked in and a proof relative to it`, async () => {
      const result = await call<RequestResult<'export.onnx'>>('export.onnx', { runId: runs[mode] })
      expect(result.parity.pass).toBe(true)
      expect(result.parity.samples).toBe(66)
      expect(result.parity.scale).toBeGreaterThan(70)
      expect(result.parity.relativeDiff).toBeCloseTo(result.parity.maxAbsDiff / result.parity.scale!, 12)
      expect(result.parity.relativeDiff!).toBeLessThanOrEqual(1e-4)
      const proto = onnx.ModelProto.decode(fs.readFileSync(result.path))
      const meta = Object.fromEntries(proto.metadataProps.map((p) => [p.key, p.value]))
      expect(meta).toMatchObject({ task: 'regression', target: 'progression', output: 'value' })
      const scale = JSON.parse(meta.target_scale!) as { mean: number; std: number; inModel: boolean }
      expect(scale).toMatchObject({ formula: 'output * std + mean', inModel: true })
      // The graph ends Mul(std) → Add(mean) → Identity: raw rows in, the number in the target's unit out.
      const ops = proto.graph!.node!.map((n) => n.opType)
      expect(ops.slice(-3)).toEqual(['Mul', 'Add', 'Identity'])
      // Raw rows through onnxruntime land where the run's own figures say: R² on the test rows matches.
      const session = await ort.InferenceSession.create(fs.readFileSync(result.path))
      const rows = (parse(fs.readFileSync(csv, 'utf8')) as string[][]).slice(1).map((r) => r.map(Number))
      const x = Float32Array.from(rows.flatMap((r) => r.slice(0, 10)))
      const output = await session.run({ [session.inputNames[0]!]: new ort.Tensor('float32', x, [rows.length, 10]) })
      const predicted = Array.from(output[session.outputNames[0]!]!.data as Float32Array)
      await session.release()
      const run = await call<RequestResult<'runs.get'>>('runs.get', { runId: runs[mode] })
      const test = (run.evaluation as { points: Array<{ row: number; predicted: number }> }).points
      for (const point of test) expect(predicted[point.row]).toBeCloseTo(point.predicted, 2)
    })
  }

  it('predicts numbers with RMSE, MAE and R² against the file’s target, and writes a numeric prediction column', async () => {
    const out = path.join(dir, 'predictions.csv')
    const result = await call<RequestResult<'predict.run'>>('predict.run', { model: runs['end-to-end'], data: csv, out })
    expect(result).toMatchObject({ task: 'regression', labels: [], accuracy: null, scoredRows: 442 })
    expect(result.rows).toHaveLength(442)
    const truth = result.rows.map((r) => r.truth as number)
    const predicted = result.rows.map((r) => r.prediction as number)
    expect(truth.slice(0, 3)).toEqual([151, 75, 141])
    const figures = regressionFigures(truth, predicted)
    expect(result.r2).toBeCloseTo(figures.r2, 9)
    expect(result.rmse).toBeCloseTo(figures.rmse, 9)
    expect(result.mae).toBeCloseTo(figures.mae, 9)
    expect(result.r2!).toBeGreaterThan(0.35)
    const written = parse(fs.readFileSync(out, 'utf8')) as string[][]
    expect(written[0]).toEqual(['row', 'prediction'])
    expect(written.slice(1).map((r) => Number(r[1]))).toEqual(predicted)
    expect(written.slice(1).every((r) => Number.isFinite(Number(r[1])))).toBe(true)
  })

  it('predicts a file without the target column (no figures) and names every column a file lacks', async () => {
    const lines = fs.readFileSync(csv, 'utf8').trim().split('\n')
    const noTarget = path.join(dir, 'no-target.csv')
    fs.writeFileSync(noTarget, lines.map((l) => l.split(',').slice(0, 10).join(',')).join('\n'))
    const result = await call<RequestResult<'predict.run'>>('predict.run', { model: runs['end-to-end'], data: noTarget })
    expect(result).toMatchObject({ task: 'regression', r2: null, rmse: null, mae: null, scoredRows: 0 })
    expect(result.rows.every((r) => typeof r.prediction === 'number' && r.truth === null)).toBe(true)
    const short = path.join(dir, 'short.csv')
    fs.writeFileSync(short, lines.map((l) => l.split(',').slice(2).join(',')).join('\n'))
    const response = await lab.router.handle('predict.run', { model: runs['end-to-end'], data: short })
    expect(response).toEqual({
      ok: false,
      error: {
        code: 'user_error',
        message: 'short.csv: missing columns "age", "sex" that the model needs (the file has bmi, bp, s1, s2, s3, s4, s5, s6, …)'
      }
    })
  })
})
