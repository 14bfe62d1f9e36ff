/**
 * Where the history is: the SQLite file in the data home (the default), or a PostgreSQL server named by a URL
 * (`--store postgres://user:password@host:port/db`, else LAYERLAB_STORE). The password goes to the driver and
 * nowhere else: what is shown (`display`, every error raised here) is user@host:port/db.
 *
 * TLS, as the URL says: `sslmode=require` encrypts without checking the server's certificate (libpq's meaning);
 * `sslmode=verify-ca`, `sslmode=verify-full` or `ssl=true` also check it against the system's CAs or the file
 * in `sslrootcert`. `host=/run/postgresql` in the query reaches a server on a unix socket.
 */
import fs from 'node:fs'
import type pg from 'pg'
import { LabError } from '../shared/errors'
import { errorText } from '../shared/format'

export interface PostgresLocation {
  kind: 'postgres'
  /** For the driver only: it holds the password. */
  config: pg.ClientConfig
  /** Safe to print: postgres://user@host:port/db (no password), with " (TLS)" when the connection is encrypted. */
  display: string
  /** host:port (or the socket folder), for one-line messages. */
  server: string
  /** The password as given and as written in the URL, so that an error text that somehow quotes it can be cleaned. */
  secrets: string[]
}

export type StoreLocation = ({ kind: 'sqlite' } | PostgresLocation) & { source?: StoreSource }

/** Who chose the store: the --store option, LAYERLAB_STORE, the home's saved setting, or nobody (SQLite). */
export type StoreSource = 'option' | 'env' | 'settings' | 'default'

const USAGE = 'postgres://user:password@host:port/database'

/**
 * The store the options name: `explicit` (--store), else LAYERLAB_STORE, else the setting saved in the home
 * (the desktop app's), else SQLite. `sqlite` names the default explicitly.
 */
export function resolveStore(explicit?: string, env: NodeJS.ProcessEnv = process.env, saved?: string): StoreLocation {
  const [text, source, label] =
    explicit !== undefined && explicit.trim()
      ? [explicit, 'option' as const, '--store']
      : env.LAYERLAB_STORE?.trim()
        ? [env.LAYERLAB_STORE, 'env' as const, 'LAYERLAB_STORE']
        : saved?.trim()
          ? [saved, 'settings' as const, 'the saved store setting']
          : ['', 'default' as const, '']
  if (!text.trim() || text.trim() === 'sqlite') return { kind: 'sqlite', source: source === 'default' ? 'default' : source }
  return { ...parsePostgresUrl(text.trim(), label), source }
}

export function parsePostgresUrl(text: string, source = '--store'): PostgresLocation {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    // Never echo the text: it may hold a password.
    throw new LabError(`${source}: not a store URL (expected ${USAGE}, or leave it out for the SQLite file in the data home)`)
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:')
    throw new LabError(`${source}: ${url.protocol.replace(/:$/, '')} stores are not supported (expected ${USAGE})`)
  const query = url.searchParams
  const socketDir = query.get('host')
  const host = socketDir || decodeURIComponent(url.hostname) || 'localhost'
  const port = url.port ? Number(url.port) : Number(query.get('port') ?? 5432)
  const database = decodeURIComponent(url.pathname.replace(/^\//, '')) || undefined
  const user = url.username ? decodeURIComponent(url.username) : undefined
  const password = url.password ? decodeURIComponent(url.password) : undefined
  const sslmode = query.get('sslmode')
  const sslFlag = query.get('ssl')
  let ssl: pg.ClientConfig['ssl'] = false
  if (sslmode === 'require' || sslmode === 'prefer' || sslmode === 'allow') ssl = { rejectUnauthorized: false }
  if (sslmode === 'verify-ca' || sslmode === 'verify-full' || sslFlag === 'true' || sslFlag === '1') ssl = { rejectUnauthorized: true }
  if (ssl && query.get('sslrootcert')) ssl = { ...ssl, ca: fs.readFileSync(query.get('sslrootcert')!, 'utf8') }
  if (sslmode === 'disable') ssl = false
  const server = socketDir ? `${socketDir} port ${port}` : `${host.includes(':') ? `[${host}]` : host}:${port}`
  const display = `postgres://${user ? `${user}@` : ''}${socketDir ? `/${database ?? ''}?host=${socketDir}` : `${server}/${database ?? ''}`}${ssl ? ' (TLS)' : ''}`
  return {
    kind: 'postgres',
    config: { host, port, database, user, password, ssl, application_name: 'layerlab' },
    display,
    server,
    secrets: password ? [...new Set([password, url.password, encodeURIComponent(password)])].sort((a, b) => b.length - a.length) : []
  }
}

/** `text` with the password (as given, and as written in the URL) replaced by ***. */
export function redact(text: string, where: Pick<PostgresLocation, 'secrets'>): string {
  let out = text
  for (const secret of where.secrets) out = out.split(secret).join('***')
  return out
}

const NETWORK: Record<string, string> = {
  ECONNREFUSED: 'unreachable: connection refused (is PostgreSQL running and listening there?)',
  ENOTFOUND: 'unreachable: no such host',
  EAI_AGAIN: 'unreachable: the host name could not be looked up',
  ETIMEDOUT: 'unreachable: timed out',
  EHOSTUNREACH: 'unreachable: host unreachable',
  ENETUNREACH: 'unreachable: network unreachable',
  ECONNRESET: 'the connection was reset',
  EPIPE: 'the connection was closed',
  ENOENT: 'unreachable: no server socket there'
}

/**
 * A connection problem (unreachable, refused, wrong password or database, TLS) becomes one user-facing line naming
 * the server; any other error keeps its kind (a bug stays a bug) with the password taken out of its text.
 */
export function describeStoreError(where: PostgresLocation, error: unknown): Error {
  if (error instanceof LabError) return new LabError(redact(error.message, where), error.code)
  const e = error as { code?: string; message?: string }
  const message = redact(errorText(error), where)
  const sqlState = typeof e.code === 'string' && /^[0-9A-Z]{5}$/.test(e.code) ? e.code : null
  let problem: string | null = null
  if (e.code && NETWORK[e.code]) problem = `${NETWORK[e.code]} (${e.code})`
  else if (sqlState && (sqlState.startsWith('08') || sqlState.startsWith('28') || sqlState === '3D000' || sqlState.startsWith('57P')))
    problem = message
  else if (/connection (terminated|timeout)|timeout expired|ssl|tls|certificate|self.signed/i.test(message)) problem = `cannot connect: ${message}`
  if (problem) return new LabError(`PostgreSQL store at ${where.server}: ${problem}`, 'user_error')
  if (error instanceof Error) {
    error.message = message
    if (error.stack) error.stack = redact(error.stack, where)
    return error
  }
  return new Error(message)
}
