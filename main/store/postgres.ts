/**
 * The PostgreSQL store: one history shared by every LayerLab and worker that is given its URL.
 *
 * The stores' SQL is written once with `?` parameters; here they become `$1, $2…`. Statements outside a
 * transaction take any client of the pool; a transaction holds one client from BEGIN to COMMIT. Numbers come back
 * as JS numbers (BIGINT and NUMERIC are parsed; the schema uses BIGINT where SQLite's INTEGER is 64-bit), BYTEA as
 * Buffers, as sqlite3 gives them.
 *
 * A run's lock is a session advisory lock held by one connection of the process that trains it: the server drops
 * it when that connection ends (the process exits, is killed, or its machine drops off the network, after TCP
 * keepalive notices), so readers on any machine see the run's owner is gone.
 *
 * Credentials: the URL's password goes to the driver only; `location` and every error this module raises name the
 * server as user@host:port/db.
 */
import { createHash } from 'node:crypto'
import pg from 'pg'
import { LabError } from '../shared/errors'
import { migrations } from './migrations'
import type { Db, HeldLock, Row, RunLocks, SqlValue, Tx } from './sql'
import { describeStoreError, type PostgresLocation } from './location'

/** Keys of advisory locks, one namespace per purpose (the first of the two 32-bit keys). */
const MIGRATE_LOCK = 0x4c4c0001
const RUN_LOCK = 0x4c4c0002

const INT8_OID = 20
const NUMERIC_OID = 1700

/** Parse BIGINT (COUNT, SUM, the schema's integer columns) and NUMERIC as numbers, as SQLite returns them. */
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8_OID || oid === NUMERIC_OID) return (value: string) => Number(value)
    return pg.types.getTypeParser(oid, format)
  }
} as pg.CustomTypesConfig

const numbered = new Map<string, string>()

/**
 * `?` → `$1, $2…` outside quotes and comments (the stores' SQL never has a `?` inside a literal, but a `'?'` must
 * stay a question mark). Cached: the stores send the same few statements again and again.
 */
export function toNumberedParams(sql: string): string {
  const cached = numbered.get(sql)
  if (cached !== undefined) return cached
  let out = ''
  let n = 0
  let quote: "'" | '"' | null = null
  for (let i = 0; i < sql.length; i++) {
    const c = sql[i]!
    if (quote) {
      out += c
      if (c === quote) quote = null
      continue
    }
    if (c === "'" || c === '"') quote = c
    else if (c === '-' && sql[i + 1] === '-') {
      const end = sql.indexOf('\n', i)
      const stop = end === -1 ? sql.length : end
      out += sql.slice(i, stop)
      i = stop - 1
      continue
    } else if (c === '?') {
      out += `$${++n}`
      continue
    }
    out += c
  }
  numbered.set(sql, out)
  return out
}

/** The two 32-bit keys of a run's advisory lock: a namespace and 31 bits of the run id's hash. */
function runKey(runId: string): [number, number] {
  return [RUN_LOCK, createHash('sha256').update(runId).digest().readUInt32BE(0) & 0x7fffffff]
}

type Queryable = Pick<pg.Pool, 'query'> | pg.PoolClient | pg.Client

function statements(client: Queryable): Tx {
  return {
    async run(sql, params = []) {
      const result = await client.query(toNumberedParams(sql), params)
      return { changes: result.rowCount ?? 0, lastID: 0 }
    },
    async get<T = Row>(sql: string, params: SqlValue[] = []) {
      const result = await client.query(toNumberedParams(sql), params)
      return result.rows[0] as T | undefined
    },
    async all<T = Row>(sql: string, params: SqlValue[] = []) {
      const result = await client.query(toNumberedParams(sql), params)
      return result.rows as T[]
    },
    async exec(sql) {
      await client.query(sql)
    }
  }
}

export class PostgresDb implements Db {
  readonly dialect = 'postgres' as const
  private readonly statements: Tx
  /** The connection that holds this process's run locks (opened on the first lock). */
  private lockClient: Promise<pg.Client> | null = null

  private constructor(
    private readonly pool: pg.Pool,
    private readonly where: PostgresLocation
  ) {
    this.statements = statements(pool)
  }

  get location(): string {
    return this.where.display
  }

  /** Connects, checks the server answers, and brings the schema up to date. */
  static async open(where: PostgresLocation): Promise<PostgresDb> {
    const pool = new pg.Pool({ ...where.config, types, max: 8, keepAlive: true, connectionTimeoutMillis: 10_000 })
    // An idle client whose server went away: the next statement reports it (with the location); never a crash.
    pool.on('error', () => undefined)
    const db = new PostgresDb(pool, where)
    try {
      await db.migrate()
    } catch (error) {
      await pool.end().catch(() => undefined)
      throw describeStoreError(where, error)
    }
    return db
  }

  private async migrate(): Promise<void> {
    await this.transaction(async (tx) => {
      // Two processes opening a fresh database at once: the second waits, then finds it migrated.
      await tx.get('SELECT pg_advisory_xact_lock(?, 0)', [MIGRATE_LOCK])
      await tx.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)')
      const row = await tx.get<{ version: number | null }>('SELECT MAX(version) AS version FROM schema_version')
      const current = row?.version ?? 0
      for (const migration of migrations) {
        if (migration.version <= current) continue
        await tx.exec(migration.postgres ?? migration.sql)
        await tx.run('INSERT INTO schema_version (version, applied_at) VALUES (?, ?)', [migration.version, new Date().toISOString()])
      }
    })
  }

  async version(): Promise<number> {
    const row = await this.get<{ version: number | null }>('SELECT MAX(version) AS version FROM schema_version')
    return row?.version ?? 0
  }

  private wrap<T>(work: Promise<T>): Promise<T> {
    return work.catch((error: unknown) => {
      throw describeStoreError(this.where, error)
    })
  }

  run(sql: string, params?: SqlValue[]) {
    return this.wrap(this.statements.run(sql, params))
  }
  get<T = Row>(sql: string, params?: SqlValue[]) {
    return this.wrap(this.statements.get<T>(sql, params))
  }
  all<T = Row>(sql: string, params?: SqlValue[]) {
    return this.wrap(this.statements.all<T>(sql, params))
  }
  exec(sql: string) {
    return this.wrap(this.statements.exec(sql))
  }

  /** One client from BEGIN to COMMIT; a failure rolls the whole transaction back. */
  transaction<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    return this.wrap(
      (async () => {
        const client = await this.pool.connect()
        let broken = false
        try {
          await client.query('BEGIN')
          try {
            const result = await work(statements(client))
            await client.query('COMMIT')
            return result
          } catch (error) {
            await client.query('ROLLBACK').catch(() => (broken = true))
            throw error
          }
        } finally {
          // A client whose ROLLBACK failed is in an unknown state: the pool drops it instead of handing it out again.
          client.release(broken)
        }
      })()
    )
  }

  private lockConnection(): Promise<pg.Client> {
    this.lockClient ??= (async () => {
      const client = new pg.Client({ ...this.where.config, types, keepAlive: true, connectionTimeoutMillis: 10_000 })
      client.on('error', () => undefined)
      await client.connect()
      return client
    })().catch((error: unknown) => {
      this.lockClient = null
      throw describeStoreError(this.where, error)
    })
    return this.lockClient
  }

  runLocks(): RunLocks {
    return {
      spansHosts: true,
      hold: async (runId): Promise<HeldLock> => {
        const client = await this.lockConnection()
        const [space, key] = runKey(runId)
        // Never waits: a run id is new, so a held key is another run whose id hashes the same (31 bits; refused, not hung).
        const taken = await this.wrap(client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock($1, $2) AS ok', [space, key]))
        if (!taken.rows[0]?.ok) throw new LabError(`run ${runId}: its lock in ${this.location} is held by another process`, 'conflict')
        return {
          release: async () => {
            await client.query('SELECT pg_advisory_unlock($1, $2)', [space, key]).catch(() => undefined)
          }
        }
      },
      owner: async (runId) => {
        const [space, key] = runKey(runId)
        try {
          // Any session of any machine holding it; pg_locks shows a two-key advisory lock with objsubid 2.
          const row = await this.statements.get<{ n: number }>(
            `SELECT COUNT(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND granted AND classid = ? AND objid = ? AND objsubid = 2
               AND database = (SELECT oid FROM pg_database WHERE datname = current_database())`,
            [space, key]
          )
          return (row?.n ?? 0) > 0 ? 'alive' : 'dead'
        } catch {
          return 'unknown'
        }
      }
    }
  }

  async close(): Promise<void> {
    const locks = this.lockClient
    this.lockClient = null
    if (locks) await (await locks.catch(() => null))?.end().catch(() => undefined)
    await this.pool.end()
  }
}
