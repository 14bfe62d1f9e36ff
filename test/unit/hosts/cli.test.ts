import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { runCli } from '../../../main/hosts/cli'
import type { CliIo } from '../../../main/hosts/cliText'

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
})
