/**
 * The CLI on a PostgreSQL store: two labs with their own data homes and one store URL (and one shared artifacts
 * folder) see each other's datasets and runs; one of them reaches that folder by another path, as a worker on
 * another machine would at its own mount point. A store that cannot be reached, or refuses the password, is one
 * line naming host:port, exit 1, and no password anywhere.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { runCli } from '../../../main/hosts/cli'
import type { CliIo } from '../../../main/hosts/cliText'
import { freshPostgresDatabase, postgresPassword, postgresUrl } from '../../fixtures/postgres'
import { DIGITS_CSV } from '../../fixtures/digits'

function capture(): CliIo & { stdout: string; stderr: string } {
  const io = { stdout: '', stderr: '', isTty: false, out: (t: string) => void (io.stdout += t), err: (t: string) => void (io.stderr += t) }
  return io
}
const dir = (prefix: string) => fs.mkdtempSync(path.join(os.tmpdir(), prefix))
const argv = (...args: string[]) => ['node', 'layerlab', ...args]

describe('CLI --store', () => {
  it('an unreachable store: one line naming host:port, exit 1, the password nowhere', async () => {
    const io = capture()
    const url = 'postgres://analyst:hunter2-in-url@127.0.0.1:1/lab'
    expect(await runCli(argv('--home', dir('layerlab-cli-store-'), '--store', url, 'runs'), io)).toBe(1)
    expect(io.stderr).toMatch(/^error: PostgreSQL store at 127\.0\.0\.1:1: unreachable: connection refused .*\(ECONNREFUSED\)\n$/)
    expect(io.stdout + io.stderr).not.toContain('hunter2')
    // From the environment, the same; --debug prints no stack for it (and no password).
    const env = capture()
    process.env.LAYERLAB_STORE = url
    try {
      expect(await runCli(argv('--home', dir('layerlab-cli-store-'), '--debug', 'runs'), env)).toBe(1)
    } finally {
      delete process.env.LAYERLAB_STORE
    }
    expect(env.stderr.trim().split('\n')).toHaveLength(1)
    expect(env.stderr).toContain('127.0.0.1:1')
    expect(env.stderr).not.toContain('hunter2')
  })

  it('a store URL that is not PostgreSQL is refused without echoing it', async () => {
    const io = capture()
    expect(await runCli(argv('--home', dir('layerlab-cli-store-'), '--store', 'mysql://root:pw-xyz@db/lab', 'runs'), io)).toBe(1)
    expect(io.stderr).toBe('error: --store: mysql stores are not supported (expected postgres://user:password@host:port/database)\n')
  })

  describe.skipIf(!postgresUrl())('on the test cluster', () => {
    it('a wrong password: one line naming host:port, the given password nowhere', async () => {
      const url = new URL(await freshPostgresDatabase())
      url.password = 'not-the-password-42'
      const io = capture()
      expect(await runCli(argv('--home', dir('layerlab-cli-store-'), '--store', url.toString(), 'runs'), io)).toBe(1)
      expect(io.stderr).toMatch(new RegExp(`^error: PostgreSQL store at 127\\.0\\.0\\.1:${url.port}: .*password authentication failed.*\\n$`))
      expect(io.stderr).not.toContain('not-the-password-42')
    })

    it('a study on PostgreSQL: every member lands in the store, its statistics over exactly its runs', async () => {
      const common = ['--home', dir('layerlab-cli-store-study-'), '--store', await freshPostgresDatabase(), '--json']
      const io = capture()
      const args = ['--seeds', '2', '--epochs', '2', '--hidden', '8', '--workers', '2']
      expect(await runCli(argv(...common, 'study', '--data', DIGITS_CSV, ...args), io)).toBe(0)
      const result = JSON.parse(io.stdout) as { studyId: string; status: string; configs: { runs: string[] }[] }
      expect(result.status).toBe('completed')
      expect(result.configs.map((c) => c.runs.length)).toEqual([2, 2])
      const listed = capture()
      expect(await runCli(argv(...common, 'runs'), listed)).toBe(0)
      const runs = JSON.parse(listed.stdout) as { runId: string; status: string }[]
      expect(runs.map((r) => r.runId).sort()).toEqual(result.configs.flatMap((c) => c.runs).sort())
      expect(runs.every((r) => r.status === 'completed')).toBe(true)
    })

    it('two labs on one store and one artifacts folder (reached by two paths) share datasets and runs', async () => {
      const store = await freshPostgresDatabase()
      const artifacts = dir('layerlab-shared-')
      // The second lab reaches the shared folder at another path, as another machine's mount point would be.
      const mountedElsewhere = path.join(dir('layerlab-mount-'), 'shared')
      fs.symlinkSync(artifacts, mountedElsewhere)
      const first = ['--home', dir('layerlab-cli-store-a-'), '--store', store, '--artifacts', artifacts, '--json']
      const second = ['--home', dir('layerlab-cli-store-b-'), '--store', store, '--artifacts', mountedElsewhere, '--json']

      const imported = capture()
      expect(await runCli(argv(...first, 'import', DIGITS_CSV), imported)).toBe(0)
      const { datasetId } = JSON.parse(imported.stdout) as { datasetId: string }
      const trained = capture()
      expect(await runCli(argv(...first, 'train', '--data', datasetId, '--epochs', '2', '--hidden', '8'), trained)).toBe(0)
      const firstRun = JSON.parse(trained.stdout) as { runId: string }

      // The other lab: only the store URL and the folder. It lists the dataset and run, and trains on the dataset.
      const datasets = capture()
      expect(await runCli(argv(...second, 'datasets'), datasets)).toBe(0)
      expect((JSON.parse(datasets.stdout) as { datasetId: string }[]).map((d) => d.datasetId)).toEqual([datasetId])
      const again = capture()
      expect(await runCli(argv(...second, 'train', '--data', datasetId, '--epochs', '2', '--hidden', '8'), again)).toBe(0)
      const secondRun = JSON.parse(again.stdout) as { runId: string }
      const listed = capture()
      expect(await runCli(argv(...first, 'runs'), listed)).toBe(0)
      const runs = JSON.parse(listed.stdout) as { runId: string; status: string }[]
      expect(runs.map((r) => r.runId).sort()).toEqual([firstRun.runId, secondRun.runId].sort())
      expect(runs.every((r) => r.status === 'completed')).toBe(true)
      // Each lab finds the other's weights through its own path to the folder (stored relative to it).
      const shown = capture()
      expect(await runCli(argv(...second, 'show', firstRun.runId), shown)).toBe(0)
      const weights = (JSON.parse(shown.stdout) as { artifacts: { kind: string; path: string }[] }).artifacts.find((a) => a.kind === 'weights')!
      expect(weights.path.startsWith(mountedElsewhere)).toBe(true)
      expect(fs.existsSync(weights.path)).toBe(true)
      // No password in anything printed.
      expect(imported.stdout + trained.stdout + again.stdout + listed.stdout + shown.stdout).not.toContain(postgresPassword())
    })
  })
})
