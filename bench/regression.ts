/**
 * Regression defaults against scikit-learn: LayerLab's default model (MLP 100-100, adam, the defaults of Train) on
 * real tables, end-to-end and layer-wise, three seeds each, against MLPRegressor(100, 100) with its defaults and a
 * standardised target (bench/sklearn_regression.py through Debian's /usr/bin/python3), fitted on the same train rows
 * (and once more on train + validation, the rows LayerLab also sees, for early stopping) and scored on the same test
 * rows. Figures: test R², mean and spread over the seeds.
 */
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { trainConfig } from '../main/shared/contract'
import { defaultModel } from '../main/model/presets'
import { train } from '../main/train/engine'
import { diabetesCsv, friedmanCsv, wineAlcoholCsv } from '../test/fixtures/regression'
import { openTestServices } from '../test/fixtures/home'
import { activateBackend, planBackend } from '../main/core/backend'
import * as tf from '@tensorflow/tfjs'

const SEEDS = [0, 1, 2]
const PYTHON = '/usr/bin/python3'

interface Table {
  name: string
  csv: () => string
  target: string
}

const TABLES: Table[] = [
  { name: 'diabetes (442 rows)', csv: diabetesCsv, target: 'progression' },
  { name: 'wine alcohol (178 rows)', csv: wineAlcoholCsv, target: 'alcohol' },
  { name: 'friedman #1 (2,000 rows, generated)', csv: () => friedmanCsv(2000), target: 'y' }
]

const mean = (values: number[]) => Number((values.reduce((a, b) => a + b, 0) / values.length).toFixed(3))
const spread = (values: number[]) => `${Math.min(...values).toFixed(3)}–${Math.max(...values).toFixed(3)}`

type Fits = { train: number[]; 'train+val': number[] }

function sklearnReference(csv: string, target: string, fits: Fits, testRows: Int32Array): { version: string; r2: Fits } {
  const job = JSON.stringify({ csv, target, fits, test: Array.from(testRows), seeds: SEEDS })
  const result = spawnSync(PYTHON, [path.join(__dirname, 'sklearn_regression.py')], { input: job, encoding: 'utf8' })
  if (result.status !== 0) throw new Error(`scikit-learn reference failed: ${result.stderr.trim().split('\n').pop()}`)
  const answer = JSON.parse(result.stdout) as { sklearn: string; r2: Fits }
  return { version: answer.sklearn, r2: answer.r2 }
}

export async function benchRegression(): Promise<unknown[]> {
  await activateBackend(tf, planBackend({}))
  const services = await openTestServices('layerlab-bench-regression-')
  const rows: unknown[] = []
  try {
    for (const table of TABLES) {
      const file = services.write(`${table.target}.csv`, table.csv())
      const summary = await services.datasets.import({ path: file, target: table.target })
      const data = await services.datasets.loadPrepared(summary.datasetId)
      const fits = { train: Array.from(data.train.rows), 'train+val': [...data.train.rows, ...data.val.rows] }
      const reference = sklearnReference(file, table.target, fits, data.test.rows)
      const { spec, partition } = defaultModel(summary)
      const ours: Record<string, number[]> = { 'end-to-end': [], 'layer-wise': [] }
      for (const seed of SEEDS)
        for (const mode of ['end-to-end', 'layer-wise'] as const) {
          const outcome = await train({ spec, partition, config: trainConfig.parse({ mode, seed }), data, cacheDir: null })
          const metrics = outcome.metrics as { testR2: number }
          ours[mode]!.push(metrics.testR2)
          outcome.model.dispose()
        }
      rows.push({
        table: table.name,
        'rows train/val/test': `${data.train.n}/${data.val.n}/${data.test.n}`,
        'LayerLab e2e R²': mean(ours['end-to-end']!),
        'e2e spread': spread(ours['end-to-end']!),
        'LayerLab layer-wise R²': mean(ours['layer-wise']!),
        'lw spread': spread(ours['layer-wise']!),
        [`sklearn ${reference.version} R² (train)`]: mean(reference.r2.train),
        'sklearn spread': spread(reference.r2.train),
        'sklearn R² (train+val)': mean(reference.r2['train+val']),
        'sklearn train+val spread': spread(reference.r2['train+val']),
        'e2e − sklearn (train)': Number((mean(ours['end-to-end']!) - mean(reference.r2.train)).toFixed(3))
      })
    }
  } finally {
    await services.close()
  }
  return rows
}
