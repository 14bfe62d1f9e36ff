/**
 * The history store: the same CLI commands (run in this process, each opening and closing its lab as a user's
 * command does) on SQLite and on PostgreSQL (a throwaway local cluster, loopback TCP, started here as the tests
 * start theirs): import digits, train one run (MLP 100-100, 20 epochs), list the runs (`runs`, 20 times, after the
 * rounds' runs are in). Interleaved rounds, so that a busy moment of the shared machine hits both.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { runCli } from '../main/hosts/cli'
import type { CliIo } from '../main/hosts/cliText'
import { DIGITS_CSV } from '../test/fixtures/digits'
import { startCluster } from '../test/setup/postgres'

const ROUNDS = 3
const LISTS = 20

function quiet(): CliIo & { stdout: string } {
  const io = { stdout: '', isTty: false, out: (t: string) => void (io.stdout += t), err: () => undefined }
  return io
}

async function cli(args: string[]): Promise<{ ms: number; out: string }> {
  const io = quiet()
  const start = performance.now()
  const code = await runCli(['node', 'layerlab', ...args], io)
  const ms = performance.now() - start
  if (code !== 0) throw new Error(`layerlab ${args.join(' ')} exited ${code}`)
  return { ms, out: io.stdout }
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!
const spread = (values: number[]): string => `${Math.min(...values).toFixed(0)}–${Math.max(...values).toFixed(0)}`

export async function benchStore(): Promise<unknown[]> {
  const cluster = await startCluster()
  if ('missing' in cluster) throw new Error(cluster.missing)
  try {
    const admin = new pg.Client({ connectionString: cluster.url })
    await admin.connect()
    await admin.query('CREATE DATABASE bench')
    await admin.end()
    const pgUrl = Object.assign(new URL(cluster.url), { pathname: '/bench' }).toString()
    const sqliteHome = fs.mkdtempSync(path.join(os.tmpdir(), 'layerlab-bench-store-sqlite-'))
    const pgHome = fs.mkdtempSync(path.join(os.tmpdir(), 'layerlab-bench-store-pg-'))
    const stores = [
      { name: 'SQLite', args: ['--home', sqliteHome, '--json'] },
      { name: 'PostgreSQL', args: ['--home', pgHome, '--store', pgUrl, '--json'] }
    ]
    const times: Record<string, { importMs: number[]; trainMs: number[]; listMs: number[] }> = {}
    for (const s of stores) times[s.name] = { importMs: [], trainMs: [], listMs: [] }
    for (let round = 0; round < ROUNDS; round++) {
      for (const s of round % 2 === 0 ? stores : [...stores].reverse()) {
        const t = times[s.name]!
        const imported = await cli([...s.args, 'import', DIGITS_CSV, '--name', `digits ${round}`])
        t.importMs.push(imported.ms)
        const { datasetId } = JSON.parse(imported.out) as { datasetId: string }
        t.trainMs.push(
          (await cli([...s.args, 'train', '--data', datasetId, '--epochs', '20', '--hidden', '100,100', '--seed', String(round + 1)])).ms
        )
      }
    }
    for (let i = 0; i < LISTS; i++)
      for (const s of i % 2 === 0 ? stores : [...stores].reverse()) times[s.name]!.listMs.push((await cli([...s.args, 'runs'])).ms)
    fs.rmSync(sqliteHome, { recursive: true, force: true })
    fs.rmSync(pgHome, { recursive: true, force: true })
    return stores.map((s) => {
      const t = times[s.name]!
      return {
        store: s.name,
        importMs: median(t.importMs),
        importRange: spread(t.importMs),
        trainMs: median(t.trainMs),
        trainRange: spread(t.trainMs),
        runsListMs: median(t.listMs),
        runsListRange: spread(t.listMs),
        rounds: `${ROUNDS} (list: ${LISTS}, ${ROUNDS} runs)`
      }
    })
  } finally {
    await cluster.stop()
  }
}
