/**
 * The SQLite store (the default: one file in the data home, nothing to set up). sqlite3 is asynchronous and shares one connection across all callers, so every
 * statement goes through a single queue: a transaction can never interleave with another caller's statements.
 * WAL lets readers in other processes (CLI, web shell, desktop) go on while one writes; the busy timeout makes
 * a writer wait for another process's lock instead of failing the user's action.
 */
import sqlite3 from 'sqlite3'
import { migrations } from './migrations'
import { fileRunLocks } from './runLock'
import type { Db, Row, RunLocks, SqlValue, Tx } from './sql'

const BUSY_TIMEOUT_MS = 15_000

export class SqliteDb implements Db {
  readonly dialect = 'sqlite' as const
  private queue: Promise<unknown> = Promise.resolve()

  private constructor(
    private readonly raw: sqlite3.Database,
    readonly file: string
  ) {}

  get location(): string {
    return this.file
  }

  static async open(file: string): Promise<SqliteDb> {
    const raw = await new Promise<sqlite3.Database>((resolve, reject) => {
      const db = new sqlite3.Database(file, (error) => (error ? reject(error) : resolve(db)))
    })
    raw.configure('busyTimeout', BUSY_TIMEOUT_MS)
    const db = new SqliteDb(raw, file)
    await db.exec('PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON; PRAGMA synchronous = NORMAL;')
    await db.migrate()
    return db
  }

  /** The schema version the file is at after open. */
  async version(): Promise<number> {
    const row = await this.get<{ user_version: number }>('PRAGMA user_version')
    return row?.user_version ?? 0
  }

  private async migrate(): Promise<void> {
    await this.transaction(async (tx) => {
      const row = await tx.get<{ user_version: number }>('PRAGMA user_version')
      const current = row?.user_version ?? 0
      for (const migration of migrations) {
        if (migration.version <= current) continue
        await tx.exec(migration.sql)
        await tx.exec(`PRAGMA user_version = ${migration.version}`)
      }
    })
  }

  private enqueue<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work)
    this.queue = next.catch(() => undefined)
    return next
  }

  private rawRun(sql: string, params: SqlValue[] = []): Promise<{ changes: number; lastID: number }> {
    return new Promise((resolve, reject) => {
      this.raw.run(sql, params, function (error) {
        if (error) reject(error)
        else resolve({ changes: this.changes, lastID: this.lastID })
      })
    })
  }
  private rawGet<T>(sql: string, params: SqlValue[] = []): Promise<T | undefined> {
    return new Promise((resolve, reject) => this.raw.get(sql, params, (error, row) => (error ? reject(error) : resolve(row as T | undefined))))
  }
  private rawAll<T>(sql: string, params: SqlValue[] = []): Promise<T[]> {
    return new Promise((resolve, reject) => this.raw.all(sql, params, (error, rows) => (error ? reject(error) : resolve(rows as T[]))))
  }
  private rawExec(sql: string): Promise<void> {
    return new Promise((resolve, reject) => this.raw.exec(sql, (error) => (error ? reject(error) : resolve())))
  }

  run(sql: string, params?: SqlValue[]) {
    return this.enqueue(() => this.rawRun(sql, params))
  }
  get<T = Row>(sql: string, params?: SqlValue[]) {
    return this.enqueue(() => this.rawGet<T>(sql, params))
  }
  all<T = Row>(sql: string, params?: SqlValue[]) {
    return this.enqueue(() => this.rawAll<T>(sql, params))
  }
  exec(sql: string) {
    return this.enqueue(() => this.rawExec(sql))
  }

  /**
   * Runs `work` in one IMMEDIATE transaction: the write lock is taken at BEGIN (waiting up to the busy timeout
   * for other processes), so a transaction never fails half-way on a lock upgrade.
   */
  transaction<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    return this.enqueue(async () => {
      const tx: Tx = {
        run: (sql, params) => this.rawRun(sql, params),
        get: (sql, params) => this.rawGet(sql, params),
        all: (sql, params) => this.rawAll(sql, params),
        exec: (sql) => this.rawExec(sql)
      }
      await this.rawExec('BEGIN IMMEDIATE')
      try {
        const result = await work(tx)
        await this.rawExec('COMMIT')
        return result
      } catch (error) {
        await this.rawExec('ROLLBACK').catch(() => undefined)
        throw error
      }
    })
  }

  runLocks(lockFile: (runId: string) => string): RunLocks {
    return fileRunLocks(lockFile)
  }

  async integrityCheck(): Promise<string> {
    const rows = await this.all<{ integrity_check: string }>('PRAGMA integrity_check')
    return rows.map((row) => row.integrity_check).join('; ')
  }

  close(): Promise<void> {
    return this.enqueue(() => new Promise<void>((resolve, reject) => this.raw.close((error) => (error ? reject(error) : resolve()))))
  }
}
