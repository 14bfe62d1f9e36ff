import { spawnSync } from 'node:child_process'
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

describe('CLI', () => {
  it('--help lists every command', async () => {
    const io = capture()
    expect(await runCli(argv('--help'), io)).toBe(0)
    for (const command of ['serve', 'import', 'datasets', 'train', 'runs', 'show', 'rm', 'export', 'predict']) expect(io.stdout).toContain(command)
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
