import { type SpawnSyncReturns, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { runCli } from '../../../main/hosts/cli'
import type { CliIo } from '../../../main/hosts/cliText'
import { diabetesCsv } from '../../fixtures/regression'

function capture(): CliIo & { stdout: string; stderr: string } {
  const io = { stdout: '', stderr: '', isTty: false, out: (t: string) => void (io.stdout += t), err: (t: string) => void (io.stderr += t) }
  return io
}
const home = () => fs.mkdtempSync(path.join(os.tmpdir(), 'layerlab-cli-'))
const argv = (...args: string[]) => ['node', 'layerlab', ...args]

/**
 * Runs the built CLI (out/main/cli.js) under a require hook (given to its worker threads too, which inherit the
 * process's flags) that appends every package request, with its thread, to a file: what a command loads, and where.
 */
function builtCliLoading(args: string[]): { result: SpawnSyncReturns<string>; loaded: { thread: number; request: string }[] } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'layerlab-cli-hook-'))
  const hook = path.join(dir, 'hook.cjs')
  const out = path.join(dir, 'loaded.txt')
  fs.writeFileSync(
    hook,
    `const Module = require('node:module'); const fs = require('node:fs'); const { threadId } = require('node:worker_threads')
     const load = Module._load
     Module._load = function (request, ...rest) {
       if (!request.startsWith('.') && !request.startsWith('/') && !request.startsWith('node:')) fs.appendFileSync(${JSON.stringify(out)}, threadId + ' ' + request + '\\n')
       return load.call(this, request, ...rest)
     }`
  )
  const bin = path.resolve(__dirname, '../../../bin/layerlab.cjs')
  const result = spawnSync(process.execPath, ['--require', hook, bin, ...args], { encoding: 'utf8' })
  const lines = fs.existsSync(out) ? fs.readFileSync(out, 'utf8').trim().split('\n') : []
  fs.rmSync(dir, { recursive: true, force: true })
  return { result, loaded: lines.map((line) => ({ thread: Number(line.split(' ')[0]), request: line.slice(line.indexOf(' ') + 1) })) }
}

describe('CLI', () => {
  it('--help lists every command', async () => {
    const io = capture()
    expect(await runCli(argv('--help'), io)).toBe(0)
    for (const command of ['serve', 'import', 'datasets', 'train', 'study', 'studies', 'runs', 'show', 'rm', 'export', 'predict'])
      expect(io.stdout).toContain(command)
  })

  it('--json prints one JSON value on stdout', async () => {
    const io = capture()
    expect(await runCli(argv('--home', home(), '--json', 'runs'), io)).toBe(0)
    expect(JSON.parse(io.stdout)).toEqual([])
  })

  it('a user error is one line on stderr and exit 1; a usage error exits 2', async () => {
    const io = capture()
    expect(await runCli(argv('--home', home(), 'show', 'run-missing'), io)).toBe(1)
    expect(io.stderr).toBe('error: run run-missing not found\n')
    const usage = capture()
    expect(await runCli(argv('--home', home(), 'train', '--data', 'x', '--epochs', 'many'), usage)).toBe(2)
    expect(usage.stderr).toContain('--epochs must be a positive integer')
    const unknown = capture()
    expect(await runCli(argv('frobnicate'), unknown)).toBe(2)
  })

  it('study --json prints the documented shape; show STUDY_ID prints the same; a protocol that cannot work exits 1', async () => {
    const dir = home()
    const io = capture()
    const digits = path.resolve(__dirname, '../../../resources/examples/digits.csv')
    const args = ['--seeds', '2', '--epochs', '2', '--hidden', '8', '--workers', '2']
    expect(await runCli(argv('--home', dir, '--json', 'study', '--data', digits, ...args), io)).toBe(0)
    const result = JSON.parse(io.stdout)
    expect(Object.keys(result)).toEqual(['studyId', 'metric', 'protocol', 'status', 'configs', 'comparison'])
    expect(result).toMatchObject({ metric: 'accuracy', protocol: { kind: 'seeds', seeds: 2 }, status: 'completed' })
    expect(result.configs.map((c: { name: string; mode: string; runs: string[] }) => [c.name, c.mode, c.runs.length])).toEqual([
      ['end-to-end', 'end-to-end', 2],
      ['layer-wise', 'layer-wise', 2]
    ])
    for (const c of result.configs) expect(c.ci95[0]).toBeLessThanOrEqual(c.mean)
    expect(Object.keys(result.comparison)).toEqual(['difference', 'test', 'pValue', 'verdict'])
    expect(Object.keys(result.comparison.difference)).toEqual(['mean', 'ci95'])
    expect(result.comparison.test).toBe('corrected resampled t-test (Nadeau–Bengio)')
    const shown = capture()
    expect(await runCli(argv('--home', dir, '--json', 'show', result.studyId), shown)).toBe(0)
    expect(JSON.parse(shown.stdout)).toEqual(result)
    const listed = capture()
    expect(await runCli(argv('--home', dir, 'studies'), listed)).toBe(0)
    expect(listed.stdout).toContain(result.studyId)
    const bad = capture()
    expect(await runCli(argv('--home', dir, 'study', '--data', digits, '--seeds', '1'), bad)).toBe(1)
    expect(bad.stderr).toBe(
      'error: a study needs at least 2 seeds to measure how much a score varies; 1 seed gives a single run (train it with layerlab train)\n'
    )
  })

  it('uses LAYERLAB_HOME when --home is absent', async () => {
    const dir = home()
    const saved = process.env.LAYERLAB_HOME
    process.env.LAYERLAB_HOME = dir
    try {
      expect(await runCli(argv('runs'), capture())).toBe(0)
      expect(fs.existsSync(path.join(dir, 'layerlab.sqlite'))).toBe(true)
    } finally {
      if (saved === undefined) delete process.env.LAYERLAB_HOME
      else process.env.LAYERLAB_HOME = saved
    }
  })

  it('the installed bin runs the built CLI', () => {
    const bin = path.resolve(__dirname, '../../../bin/layerlab.cjs')
    const result = spawnSync(process.execPath, [bin, '--version'], { encoding: 'utf8' })
    expect(result.status).toBe(0)
    expect(result.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/)
  })

  it('a command that neither trains, exports nor uses a queue or PostgreSQL loads none of their packages (its start stays short)', () => {
    const { result, loaded } = builtCliLoading(['--home', home(), '--json', 'runs'])
    expect(result.status).toBe(0)
    expect(JSON.parse(result.stdout)).toEqual([])
    const main = loaded.filter((l) => l.thread === 0).map((l) => l.request)
    // The hook sees what the command does need: the contract's schemas and the SQLite history.
    expect(main).toEqual(expect.arrayContaining(['zod', 'sqlite3']))
    for (const heavy of ['@tensorflow/tfjs', 'onnxruntime-node', 'onnx-proto', 'bullmq', 'ioredis', 'pg']) expect(main).not.toContain(heavy)
  })

  it("the import worker starts without the contract's schemas (zod) or tfjs", () => {
    const digits = path.resolve(__dirname, '../../../resources/examples/digits.csv')
    const { result, loaded } = builtCliLoading(['--home', home(), '--json', 'import', digits])
    expect(result.status, result.stderr).toBe(0)
    expect((JSON.parse(result.stdout) as { rows: number }).rows).toBe(1797)
    const worker = loaded.filter((l) => l.thread !== 0).map((l) => l.request)
    // The hook ran in the import worker: it loaded DuckDB there.
    expect(worker).toContain('@duckdb/node-api')
    expect(worker).not.toContain('zod')
    expect(worker).not.toContain('@tensorflow/tfjs')
  })

  it('--local-loss trains every block with it and stores it with the run; bad values are usage errors, a regression target is refused', async () => {
    const dir = home()
    const digits = path.resolve(__dirname, '../../../resources/examples/digits.csv')
    const trained = capture()
    const args = ['--home', dir, '--json', 'train', '--data', digits, '--mode', 'layer-wise', '--epochs', '1', '--local-loss', 'predsim']
    expect(await runCli(argv(...args, '--local-loss-weight', '0.5'), trained)).toBe(0)
    const run = JSON.parse(trained.stdout) as {
      runId: string
      partition: { blocks: Array<{ settings: { localLoss: string; localLossWeight: number } }> }
    }
    expect(run.partition.blocks.map((b) => [b.settings.localLoss, b.settings.localLossWeight])).toEqual([
      ['predsim', 0.5],
      ['predsim', 0.5]
    ])
    const bad = capture()
    expect(await runCli(argv('--home', dir, 'train', '--data', digits, '--local-loss', 'infopro'), bad)).toBe(2)
    expect(bad.stderr).toContain("'infopro' is invalid")
    const negative = capture()
    expect(await runCli(argv('--home', dir, 'train', '--data', digits, '--local-loss-weight', '-1'), negative)).toBe(2)
    expect(negative.stderr).toContain('--local-loss-weight must be a number in [0, 1000]')
    const csv = path.join(dir, 'diabetes.csv')
    fs.writeFileSync(csv, diabetesCsv())
    const refused = capture()
    expect(
      await runCli(argv('--home', dir, 'train', '--data', csv, '--mode', 'layer-wise', '--epochs', '1', '--local-loss', 'predsim'), refused)
    ).toBe(1)
    expect(refused.stderr).toBe('error: block "Block 1": the predsim local loss needs classes (this dataset\'s task is regression)\n')
  })

  it("--weight-decay sets every block's L2 (train and study), 0 included; a value outside [0, 1] is a usage error", async () => {
    const dir = home()
    const digits = path.resolve(__dirname, '../../../resources/examples/digits.csv')
    const decays = (stdout: string) =>
      (JSON.parse(stdout) as { partition: { blocks: Array<{ settings: { weightDecay: number } }> } }).partition.blocks.map(
        (b) => b.settings.weightDecay
      )
    const plain = capture()
    expect(await runCli(argv('--home', dir, '--json', 'train', '--data', digits, '--mode', 'layer-wise', '--epochs', '1'), plain)).toBe(0)
    expect(decays(plain.stdout)).toEqual([5e-4, 5e-4])
    const sklearnAlpha = capture()
    const args = ['--home', dir, '--json', 'train', '--data', digits, '--mode', 'layer-wise', '--epochs', '1', '--weight-decay', '1e-4']
    expect(await runCli(argv(...args), sklearnAlpha)).toBe(0)
    expect(decays(sklearnAlpha.stdout)).toEqual([1e-4, 1e-4])
    const none = capture()
    expect(await runCli(argv('--home', dir, '--json', 'train', '--data', digits, '--epochs', '1', '--weight-decay', '0'), none)).toBe(0)
    expect(decays(none.stdout)).toEqual([0, 0])
    const study = capture()
    const studyArgs = [
      '--home',
      dir,
      '--json',
      'study',
      '--data',
      digits,
      '--seeds',
      '2',
      '--epochs',
      '1',
      '--workers',
      '1',
      '--weight-decay',
      '0.001'
    ]
    expect(await runCli(argv(...studyArgs), study)).toBe(0)
    // The study's members are the runs these three trainings are not; each stores the study's L2.
    const trained = new Set([plain, sklearnAlpha, none].map((c) => (JSON.parse(c.stdout) as { runId: string }).runId))
    const listed = capture()
    expect(await runCli(argv('--home', dir, '--json', 'runs'), listed)).toBe(0)
    const members = (JSON.parse(listed.stdout) as Array<{ runId: string }>).filter((r) => !trained.has(r.runId))
    expect(members).toHaveLength(4)
    for (const member of members) {
      const shown = capture()
      expect(await runCli(argv('--home', dir, '--json', 'show', member.runId), shown)).toBe(0)
      expect(new Set(decays(shown.stdout))).toEqual(new Set([0.001]))
    }
    for (const value of ['2', '-0.1', 'x']) {
      const bad = capture()
      expect(await runCli(argv('--home', dir, 'train', '--data', digits, '--weight-decay', value), bad)).toBe(2)
      expect(bad.stderr).toContain('--weight-decay must be in [0, 1]')
    }
  })

  it('import says how to turn a guessed day/month order, and --dates COLUMN=dmy turns it', async () => {
    const dir = home()
    const csv = path.join(dir, 'guess.csv')
    const rows = Array.from(
      { length: 40 },
      (_, i) => `${String(1 + (i % 12)).padStart(2, '0')}/${String(1 + ((i * 5) % 12)).padStart(2, '0')}/2023,${i % 5},${['a', 'b'][i % 2]}`
    )
    fs.writeFileSync(csv, ['when,count,label', ...rows].join('\n') + '\n')
    const guessed = capture()
    expect(await runCli(argv('--home', dir, 'import', csv), guessed)).toBe(0)
    expect(guessed.stdout).toContain('date when: month/day/year (no value above 12 told day from month), 2023-01-01 to ')
    expect(guessed.stdout).toContain('(--dates when=dmy reads it as day/month/year)')
    const turned = capture()
    expect(await runCli(argv('--home', dir, 'import', csv, '--dates', 'when=dmy,year,month'), turned)).toBe(0)
    expect(turned.stdout).toContain('date when: day/month/year (no value above 12 told day from month), 2023-01-01 to ')
    expect(turned.stdout).toContain('features: year, month (--dates when=mdy reads it as month/day/year)')
    const two = capture()
    expect(await runCli(argv('--home', dir, 'import', csv, '--dates', 'when=dmy,mdy'), two)).toBe(2)
    expect(two.stderr).toContain('one day/month order per column, not dmy and mdy')
  })

  it('import and train take --dates COLUMN=PARTS (none excludes), print how a date column was read, refuse a bad part and keep nothing of it', async () => {
    const dir = home()
    const csv = path.join(dir, 'visits.csv')
    const rows = Array.from({ length: 60 }, (_, i) => {
      const d = new Date(Date.UTC(2024, 0, 2 + i * 5))
      return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}-${String(d.getUTCDate()).padStart(2, '0')},${i % 7},${['a', 'b'][i % 2]}`
    })
    fs.writeFileSync(csv, ['visited,count,label', ...rows].join('\n') + '\n')
    const imported = capture()
    expect(await runCli(argv('--home', dir, 'import', csv, '--dates', 'visited=weekday,days'), imported)).toBe(0)
    expect(imported.stdout).toContain('date visited: year-month-day, 2024-01-02 to 2024-10-23; features: day of week, days since first')
    const json = capture()
    expect(await runCli(argv('--home', dir, '--json', 'datasets'), json)).toBe(0)
    const [dataset] = JSON.parse(json.stdout) as Array<{ datasetId: string; featureCount: number }>
    expect(dataset!.featureCount).toBe(7 + 1 + 1)
    const trained = capture()
    expect(await runCli(argv('--home', dir, 'train', '--data', dataset!.datasetId, '--epochs', '1', '--dates', 'visited=none'), trained)).toBe(0)
    expect(trained.stderr).toContain('date visited gives excluded')
    const bad = capture()
    expect(await runCli(argv('--home', dir, 'import', csv, '--dates', 'visited=quarter'), bad)).toBe(2)
    expect(bad.stderr).toContain('"quarter" is not a date part')
    const notDate = capture()
    expect(await runCli(argv('--home', dir, 'import', csv, '--dates', 'count=year'), notDate)).toBe(1)
    expect(notDate.stderr).toBe('error: visits: column "count" is not a date column; date parts apply to dates only\n')
    // A refused --dates keeps nothing of its import (nor does train's import of a file): only the first dataset stays.
    const missing = capture()
    expect(await runCli(argv('--home', dir, 'import', csv, '--dates', 'nosuch=year'), missing)).toBe(1)
    expect(missing.stderr).toBe('error: visits: no column "nosuch"\n')
    const trainNotDate = capture()
    expect(await runCli(argv('--home', dir, 'train', '--data', csv, '--epochs', '1', '--dates', 'count=year'), trainNotDate)).toBe(1)
    expect(trainNotDate.stderr).toBe('error: visits: column "count" is not a date column; date parts apply to dates only\n')
    const after = capture()
    expect(await runCli(argv('--home', dir, '--json', 'datasets'), after)).toBe(0)
    expect((JSON.parse(after.stdout) as Array<{ datasetId: string }>).map((d) => d.datasetId)).toEqual([dataset!.datasetId])
    expect(fs.readdirSync(path.join(dir, 'datasets')).filter((entry) => !entry.startsWith('.'))).toEqual([dataset!.datasetId])
  })

  it('imports, trains and predicts a regression table with the JSON fields of the contract', async () => {
    const dir = home()
    const csv = path.join(dir, 'diabetes.csv')
    fs.writeFileSync(csv, diabetesCsv())
    const imported = capture()
    expect(await runCli(argv('--home', dir, '--json', 'import', csv), imported)).toBe(0)
    const dataset = JSON.parse(imported.stdout) as { datasetId: string; task: string }
    expect(dataset.task).toBe('regression')
    const trained = capture()
    expect(await runCli(argv('--home', dir, '--json', 'train', '--data', dataset.datasetId, '--epochs', '3', '--loss', 'huber'), trained)).toBe(0)
    const run = JSON.parse(trained.stdout) as { runId: string; task: string; config: { loss: string }; metrics: Record<string, number> }
    expect(run.task).toBe('regression')
    expect(run.config.loss).toBe('huber')
    for (const key of ['testR2', 'testRmse', 'testMae', 'valR2', 'valRmse', 'trainR2', 'testLoss']) expect(typeof run.metrics[key]).toBe('number')
    const predicted = capture()
    expect(await runCli(argv('--home', dir, '--json', 'predict', '--model', run.runId, '--data', csv), predicted)).toBe(0)
    const prediction = JSON.parse(predicted.stdout) as { task: string; rmse: number; mae: number; r2: number; rows: Array<{ prediction: unknown }> }
    expect(prediction.task).toBe('regression')
    for (const key of ['rmse', 'mae', 'r2'] as const) expect(typeof prediction[key]).toBe('number')
    expect(typeof prediction.rows[0]!.prediction).toBe('number')
    // Text for people: the task, R² and the rows it is computed on.
    const shown = capture()
    expect(await runCli(argv('--home', dir, 'show', run.runId), shown)).toBe(0)
    expect(shown.stdout).toMatch(/ regression {2}end-to-end {2}completed[^\n]*\n {2}test R² [-\d.]+ {2}test RMSE/)
    expect(shown.stdout).toContain('(test 66 rows, validation 66, train 310)')
    // --task stores a change of task with the dataset; a text column cannot become a number.
    const switched = capture()
    expect(
      await runCli(argv('--home', dir, '--json', 'train', '--data', dataset.datasetId, '--epochs', '1', '--task', 'classification'), switched)
    ).toBe(0)
    expect((JSON.parse(switched.stdout) as { task: string }).task).toBe('classification')
    const text = path.join(dir, 'text.csv')
    fs.writeFileSync(text, 'a,b,kind\n1,2,3\n2,3,apple\n3,4,pear\n')
    const refused = capture()
    expect(await runCli(argv('--home', dir, 'import', text, '--task', 'regression'), refused)).toBe(1)
    expect(refused.stderr).toBe(
      'error: text: the target "kind" holds text (for example "apple"), so it cannot be predicted as a number; predict it as classes or choose another target\n'
    )
  })
})
