/**
 * A date column from import to prediction through the lab's router: a m/d/y CSV whose target follows the day of
 * the week and the month, trained in the training worker, exported to ONNX (normalisation baked in), and predicted
 * on new CSVs with dates in the same format: the rows the app evaluated give the app's predictions, and dates the
 * training never saw (a later year, a missing one) still read.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openLab, type Lab } from '../../../main/lab'
import type { ApiResponse, RequestResult } from '../../../main/shared/contract'

let lab: Lab
let dir: string
let runId: string
let datasetId: string

async function call<T>(name: string, args: unknown): Promise<T> {
  const response = (await lab.router.handle(name, args)) as ApiResponse<T>
  if (!response.ok) throw new Error(`${name}: ${response.error.code}: ${response.error.message}`)
  return response.result
}

const mdy = (ms: number) => {
  const d = new Date(ms)
  return `${d.getUTCMonth() + 1}/${d.getUTCDate()}/${d.getUTCFullYear()}`
}
/** Sales: 8 more on weekends, a summer bump, and a little from the amount column. */
function salesCsv(first: number, rows: number, every = 2): string {
  const lines = ['sold_on,amount,sales']
  for (let i = 0; i < rows; i++) {
    const ms = first + i * every * 86_400_000
    const d = new Date(ms)
    const weekend = d.getUTCDay() === 0 || d.getUTCDay() === 6 ? 8 : 0
    const summer = [5, 6, 7].includes(d.getUTCMonth()) ? 4 : 0
    const amount = (i * 37) % 50
    lines.push(`${mdy(ms)},${amount},${(20 + weekend + summer + amount / 10).toFixed(2)}`)
  }
  return lines.join('\n') + '\n'
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'layerlab-dates-export-'))
  lab = await openLab({ home: path.join(dir, 'home') })
  const csv = path.join(dir, 'sales.csv')
  fs.writeFileSync(csv, salesCsv(Date.UTC(2022, 0, 3), 400))
  const dataset = await call<RequestResult<'datasets.import'>>('datasets.import', { path: csv })
  expect(dataset.task).toBe('regression')
  expect(dataset.columns[0]).toMatchObject({ name: 'sold_on', type: 'date', role: 'feature', date: { order: 'mdy', ambiguous: false } })
  datasetId = dataset.datasetId
  const { spec, partition } = await call<RequestResult<'models.default'>>('models.default', { datasetId, preset: 'mlp', hidden: [32] })
  const started = await call<{ runId: string }>('train.start', { datasetId, spec, partition, config: { mode: 'end-to-end', epochs: 60, seed: 3 } })
  runId = started.runId
  const summary = await call<RequestResult<'runs.wait'>>('runs.wait', { runId })
  if (summary.status !== 'completed') throw new Error(`training ended ${summary.status}: ${summary.error}`)
}, 300_000)

afterAll(async () => {
  await lab?.close()
  if (dir) fs.rmSync(dir, { recursive: true, force: true })
})

describe('a date column through training, ONNX export and predict', () => {
  it('learns from the day of the week and the month', async () => {
    const run = await call<RequestResult<'runs.get'>>('runs.get', { runId })
    const metrics = run.metrics as { testR2: number }
    // Without the date parts the weekend and summer effects (most of the variance) are out of reach.
    expect(metrics.testR2).toBeGreaterThan(0.6)
  })

  it('predicts a new CSV of the same dates with the app’s own predictions, through the exported model', async () => {
    const exported = await call<RequestResult<'export.onnx'>>('export.onnx', { runId })
    expect(exported.parity.pass).toBe(true)
    // The same rows in a new file, without the target, in the training file's m/d/y spelling.
    const newCsv = path.join(dir, 'new.csv')
    const lines = salesCsv(Date.UTC(2022, 0, 3), 400)
      .trim()
      .split('\n')
    fs.writeFileSync(newCsv, lines.map((l) => l.split(',').slice(0, 2).join(',')).join('\n') + '\n')
    const result = await call<RequestResult<'predict.run'>>('predict.run', { model: exported.path, data: newCsv })
    expect(result.rows).toHaveLength(400)
    const run = await call<RequestResult<'runs.get'>>('runs.get', { runId })
    const points = (run.evaluation as { points: Array<{ row: number; predicted: number }> }).points
    expect(points.length).toBe(60)
    for (const point of points) expect(result.rows[point.row]!.prediction as number).toBeCloseTo(point.predicted, 3)
  })

  it('predicts dates the training never saw, and a missing one, in the same format', async () => {
    const later = path.join(dir, 'later.csv')
    // A Saturday and a Wednesday in the summer of a later year, the Wednesday again without a date.
    fs.writeFileSync(later, 'sold_on,amount\n7/13/2024,20\n7/17/2024,20\n,20\n')
    const result = await call<RequestResult<'predict.run'>>('predict.run', { model: runId, data: later })
    const [saturday, wednesday, missing] = result.rows.map((r) => r.prediction as number)
    expect(saturday! - wednesday!).toBeGreaterThan(4)
    expect(Number.isFinite(missing)).toBe(true)
  })

  it('trains without the column when the user excludes it (the import never drops it by itself)', async () => {
    const excluded = await call<RequestResult<'datasets.update'>>('datasets.update', { datasetId, columns: [{ name: 'sold_on', dateParts: [] }] })
    expect(excluded.featureCount).toBe(1)
    const restored = await call<RequestResult<'datasets.update'>>('datasets.update', {
      datasetId,
      columns: [{ name: 'sold_on', dateParts: ['year', 'month', 'weekday'] }]
    })
    expect(restored.featureCount).toBe(21)
  })
})
