/**
 * vitest globalSetup: a throwaway PostgreSQL cluster for the run of the tests (initdb in a temp folder, a free
 * loopback port, password auth so that the tests see a real password to keep out of messages), stopped and removed
 * at the end. Debian's `postgresql` package gives the binaries (/usr/lib/postgresql/<version>/bin); initdb refuses
 * root, so as root (CI, this machine) the cluster is the `postgres` user's and runs through runuser.
 *
 * Tests get the admin URL with `inject('postgresUrl')` (null where PostgreSQL is missing: those tests skip and say
 * so, except where LAYERLAB_REQUIRE_POSTGRES=1, which .ci/run sets: there a missing server fails the run).
 * test/fixtures/postgres.ts makes a fresh database per test file from it.
 */
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { freePort } from '../fixtures/net'
import type { TestProject } from 'vitest/node'

declare module 'vitest' {
  export interface ProvidedContext {
    /** postgres://layerlab:…@127.0.0.1:PORT/postgres of the tests' cluster, or null where there is none. */
    postgresUrl: string | null
  }
}

const USER = 'layerlab'
/** A test cluster's password: random per run, so that a test can look for it in messages. */
const PASSWORD = `pw-${Math.random().toString(36).slice(2)}-secret`

function binDir(): string | null {
  // LAYERLAB_POSTGRES_BIN: binaries elsewhere (another distribution's layout).
  const given = process.env.LAYERLAB_POSTGRES_BIN
  if (given) return fs.existsSync(path.join(given, 'initdb')) ? given : null
  const root = '/usr/lib/postgresql'
  if (!fs.existsSync(root)) return null
  const versions = fs
    .readdirSync(root)
    .filter((v) => fs.existsSync(path.join(root, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a))
  return versions[0] ? path.join(root, versions[0], 'bin') : null
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const cluster = await startCluster()
  if ('missing' in cluster) {
    const { missing } = cluster
    if (process.env.LAYERLAB_REQUIRE_POSTGRES === '1') throw new Error(`PostgreSQL tests required (LAYERLAB_REQUIRE_POSTGRES=1) but ${missing}`)
    console.log(`skipped: PostgreSQL store tests (${missing})`)
    project.provide('postgresUrl', null)
    return async () => undefined
  }
  project.provide('postgresUrl', cluster.url)
  return cluster.stop
}

/** A throwaway cluster (also for `npm run bench -- store`): its admin URL and how to stop it, or why there is none. */
export async function startCluster(): Promise<{ url: string; stop: () => Promise<void> } | { missing: string }> {
  const bin = binDir()
  if (!bin)
    return { missing: `no PostgreSQL binaries (${process.env.LAYERLAB_POSTGRES_BIN || '/usr/lib/postgresql/*/bin'}: apt-get install postgresql)` }
  const asRoot = process.getuid?.() === 0
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'layerlab-pg-'))
  const data = path.join(dir, 'data')
  const pwfile = path.join(dir, 'pw')
  fs.writeFileSync(pwfile, PASSWORD + '\n')
  if (asRoot) execFileSync('chown', ['-R', 'postgres:postgres', dir])
  const as = (tool: string, args: string[]) =>
    asRoot
      ? execFileSync('runuser', ['-u', 'postgres', '--', path.join(bin, tool), ...args], { stdio: 'pipe' })
      : execFileSync(path.join(bin, tool), args, { stdio: 'pipe' })
  as('initdb', ['-D', data, '-U', USER, '--pwfile', pwfile, '--auth', 'scram-sha-256', '--encoding', 'UTF8', '--locale', 'C'])
  // TLS with a self-signed certificate (openssl comes with the package's ssl-cert dependency): sslmode=require
  // connects encrypted, a URL that also checks the certificate is refused.
  const cert = path.join(data, 'server.crt')
  const key = path.join(data, 'server.key')
  execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=localhost', '-keyout', key, '-out', cert], {
    stdio: 'pipe'
  })
  fs.chmodSync(key, 0o600)
  if (asRoot) execFileSync('chown', ['postgres:postgres', cert, key])
  const port = await freePort()
  // Durability off: a test cluster; the unix socket lives in the temp folder, not /run/postgresql.
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 -c ssl=on`
  as('pg_ctl', ['-D', data, '-o', options, '-l', path.join(dir, 'log'), '-w', '-t', '60', 'start'])
  return {
    url: `postgres://${USER}:${PASSWORD}@127.0.0.1:${port}/postgres`,
    stop: async () => {
      try {
        as('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop'])
      } finally {
        fs.rmSync(dir, { recursive: true, force: true })
      }
    }
  }
}
