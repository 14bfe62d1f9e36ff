/**
 * `npm run bench -- train-layerwise` (also run by `-- train`; issue 18): what layer-wise training costs and gives
 * on three models (layerwiseCases.ts) against end-to-end, at equal epoch budgets: end-to-end and decoupled train
 * K · e + f epochs, greedy layer-wise e epochs per block and an f-epoch fine-tune (patience 0: every epoch runs).
 * Modes: end-to-end, greedy layer-wise with linear heads and with the default (auto) heads, decoupled (auto).
 *
 * The seeds of one model and mode run in their own process (layerwiseChild.ts), so its peak RSS is theirs alone
 * (the process's peak over its seeds, which train the same shapes); the modes of a model run one after another, so
 * load from other processes falls on them alike. Per row: test accuracy (mean, min–max over the seeds, on the
 * stated test rows), wall time per run (median, min–max), the app's own step memory (the heaviest training step's
 * tensor bytes, and the block stages' alone) and the process's peak RSS.
 */
import { spawnSync } from 'node:child_process'
import os from 'node:os'
import path from 'node:path'
import { LAYERWISE_MODELS, LAYERWISE_MODES, layerwiseCase } from './layerwiseCases'
import { median } from './stats'

const SEEDS = (process.env.LAYERLAB_BENCH_SEEDS ?? '1,2,3').split(',').map(Number)

interface ChildResult {
  testAccuracy: number
  testRows: number
  trainRows: number
  epochs: number
  wallMs: number
  stepPeakBytes: number
  blockStagePeakBytes: number
  peakRssBytes: number
  examples: number
}

export interface LayerwiseBenchRow {
  model: string
  data: string
  mode: string
  epochs: number
  seeds: number
  testAccuracy: string
  testRows: number
  wallS: string
  stepPeakKiB: number
  blockStagePeakKiB: number
  peakRssMiB: number
}

function runChild(model: string, mode: string, seeds: number[]): ChildResult[] {
  const child = path.join(__dirname, 'layerwiseChild.ts')
  const result = spawnSync(process.execPath, ['--require', 'tsx/cjs', child, model, mode, seeds.join(',')], {
    encoding: 'utf8',
    cwd: path.join(__dirname, '..'),
    timeout: 900_000
  })
  const lines = result.stdout
    .trim()
    .split('\n')
    .filter((line) => line.startsWith('{'))
  if (result.status !== 0 || lines.length !== seeds.length)
    throw new Error(`${model}, ${mode}: ${result.stderr.trim().split('\n').at(-1) ?? 'failed'}`)
  return lines.map((line) => JSON.parse(line) as ChildResult)
}

const spread = (values: number[], digits: number, scale = 1) =>
  values.length > 1 ? ` (${(Math.min(...values) * scale).toFixed(digits)}–${(Math.max(...values) * scale).toFixed(digits)})` : ''

export async function benchLayerwise(): Promise<LayerwiseBenchRow[]> {
  const sources = new Map<string, string>()
  for (const model of LAYERWISE_MODELS) sources.set(model, (await layerwiseCase(model)).source)
  const results = new Map<string, ChildResult[]>()
  const load = [os.loadavg()[0]!]
  for (const model of LAYERWISE_MODELS)
    for (const mode of LAYERWISE_MODES) {
      results.set(`${model}|${mode.name}`, runChild(model, mode.name, SEEDS))
      load.push(os.loadavg()[0]!)
    }
  console.log(`  load average (1 min) during the runs: ${Math.min(...load).toFixed(1)}–${Math.max(...load).toFixed(1)}`)
  return LAYERWISE_MODELS.flatMap((model) =>
    LAYERWISE_MODES.map((mode) => {
      const runs = results.get(`${model}|${mode.name}`)!
      const accuracy = runs.map((r) => r.testAccuracy)
      const wall = runs.map((r) => r.wallMs / 1000)
      const rss = Math.max(...runs.map((r) => r.peakRssBytes)) / 2 ** 20
      return {
        model,
        data: sources.get(model)!,
        mode: mode.name,
        epochs: runs[0]!.epochs,
        seeds: runs.length,
        testAccuracy: `${((100 * accuracy.reduce((a, b) => a + b, 0)) / accuracy.length).toFixed(1)} %${spread(accuracy, 1, 100)}`,
        testRows: runs[0]!.testRows,
        wallS: `${median(wall).toFixed(1)}${spread(wall, 1)}`,
        // Tensor bytes do not depend on the seed or the load: one figure.
        stepPeakKiB: Math.round(Math.max(...runs.map((r) => r.stepPeakBytes)) / 1024),
        blockStagePeakKiB: Math.round(Math.max(...runs.map((r) => r.blockStagePeakBytes)) / 1024),
        peakRssMiB: Math.round(rss)
      }
    })
  )
}

if (require.main === module) {
  void benchLayerwise().then((rows) => console.table(rows))
}
