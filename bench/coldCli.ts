/**
 * The fixed cost of a cold CLI run (issue 20), whole processes of the built CLI (bin/layerlab.cjs → out/main/cli.js,
 * so `npm run build` first), against the same job as one scikit-learn script, REPETITIONS interleaved rounds:
 *
 *   layerlab --version                 Node's start and the CLI's modules
 *   layerlab runs --json               the same and the lab opened (the SQLite history)
 *   layerlab train --data ID           the article's job on digits imported before: the training worker's start
 *                                      (tfjs, the wasm backend), the dataset read, 20 epochs, the run stored
 *   layerlab train --data digits.csv   the same in a new data home: the import first ("import to result")
 *   python3 bench/sklearn_cold.py      read the CSV, split, scale, fit MLPClassifier(100, 100) sgd lr 0.1 batch
 *                                      200 for 20 epochs, score the test rows
 *
 * "training" is the run's own totalMs (train() in the worker: every epoch with its validation, the test scoring);
 * "outside training" is the rest of the process.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { spawnSync } from 'node:child_process'
import { median, spreadOf } from './stats'

const REPETITIONS = Number(process.env.LAYERLAB_BENCH_REPS ?? 5)
const ROOT = path.join(__dirname, '..')
const BIN = path.join(ROOT, 'bin', 'layerlab.cjs')
const DIGITS = path.join(ROOT, 'resources', 'examples', 'digits.csv')
const PYTHON = '/usr/bin/python3'
/**
 * The article's settings through the CLI's flags; its L2 stays LayerLab's default (5e-4 · w on each gradient, against
 * scikit-learn's alpha 1e-4 / batch 200 = 5e-7): it changes what is learnt, not what an epoch costs.
 */
const ARTICLE = ['--epochs', '20', '--batch-size', '200', '--optimizer', 'momentum', '--lr', '0.1', '--momentum', '0.9']

export interface ColdCliRow {
  command: string
  wallMs: number
  spread: string
  trainingMs: number | string
  outsideTrainingMs: number | string
  testAccuracy: string
}

interface Sample {
  wallMs: number
  trainingMs?: number
  accuracy?: string
}

function timed(command: string, args: string[]): { wallMs: number; stdout: string } {
  const start = performance.now()
  const result = spawnSync(command, args, { encoding: 'utf8', cwd: ROOT, maxBuffer: 1 << 26 })
  const wallMs = performance.now() - start
  if (result.status !== 0) throw new Error(`${path.basename(command)} ${args.slice(0, 2).join(' ')} failed: ${result.stderr.slice(-800)}`)
  return { wallMs, stdout: result.stdout }
}

function layerlab(args: string[]): Sample {
  const { wallMs, stdout } = timed(process.execPath, [BIN, ...args])
  if (!args.includes('train')) return { wallMs }
  const run = JSON.parse(stdout) as { timing: { totalMs: number } | null; metrics: { testAccuracy?: number; testRows?: number } | null }
  const accuracy = run.metrics?.testAccuracy !== undefined ? `${(run.metrics.testAccuracy * 100).toFixed(1)} % of ${run.metrics.testRows} rows` : ''
  return { wallMs, trainingMs: run.timing?.totalMs, accuracy }
}

export async function benchColdCli(): Promise<ColdCliRow[]> {
  if (!fs.existsSync(path.join(ROOT, 'out', 'main', 'cli.js'))) throw new Error('the CLI is not built: run `npm run build` first')
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'layerlab-bench-cold-'))
  try {
    const imported = JSON.parse(layerlabOut(['import', DIGITS, '--home', home, '--json'])) as { datasetId: string }
    const commands: { name: string; run: () => Sample }[] = [
      { name: 'layerlab --version', run: () => layerlab(['--version']) },
      { name: 'layerlab runs --json', run: () => layerlab(['runs', '--home', home, '--json']) },
      {
        name: 'layerlab train --data ID (article job)',
        run: () => layerlab(['train', '--data', imported.datasetId, '--home', home, ...ARTICLE, '--json'])
      },
      {
        name: 'layerlab train --data digits.csv, new home',
        run: () => {
          const fresh = fs.mkdtempSync(path.join(os.tmpdir(), 'layerlab-bench-cold-'))
          try {
            return layerlab(['train', '--data', DIGITS, '--home', fresh, ...ARTICLE, '--json'])
          } finally {
            fs.rmSync(fresh, { recursive: true, force: true })
          }
        }
      },
      ...(fs.existsSync(PYTHON) && spawnSync(PYTHON, ['-c', 'import sklearn']).status === 0
        ? [
            {
              name: 'scikit-learn script (read, split, fit, score)',
              run: (): Sample => {
                const { wallMs, stdout } = timed(PYTHON, [path.join(__dirname, 'sklearn_cold.py'), DIGITS])
                const out = JSON.parse(stdout) as { fitMs: number; testAccuracy: number; testRows: number }
                return { wallMs, trainingMs: out.fitMs, accuracy: `${(out.testAccuracy * 100).toFixed(1)} % of ${out.testRows} rows` }
              }
            }
          ]
        : [])
    ]
    // One untimed round: the page cache holds Node's, the CLI's and Python's files for every timed one.
    for (const command of commands) command.run()
    const samples = new Map<string, Sample[]>()
    for (let rep = 0; rep < REPETITIONS; rep++)
      for (const [i] of commands.entries()) {
        const command = commands[(i + rep) % commands.length]!
        samples.set(command.name, [...(samples.get(command.name) ?? []), command.run()])
      }
    return commands.map(({ name }) => {
      const runs = samples.get(name)!
      const wall = runs.map((s) => s.wallMs)
      const training = runs.map((s) => s.trainingMs).filter((ms): ms is number => ms !== undefined)
      const outside = runs.filter((s) => s.trainingMs !== undefined).map((s) => s.wallMs - s.trainingMs!)
      return {
        command: name,
        wallMs: Math.round(median(wall)),
        spread: spreadOf(wall),
        trainingMs: training.length ? Math.round(median(training)) : '',
        outsideTrainingMs: outside.length ? Math.round(median(outside)) : '',
        testAccuracy: runs[0]!.accuracy ?? ''
      }
    })
  } finally {
    fs.rmSync(home, { recursive: true, force: true })
  }
}

function layerlabOut(args: string[]): string {
  return timed(process.execPath, [BIN, ...args]).stdout
}
