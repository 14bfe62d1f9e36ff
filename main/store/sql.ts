/**
 * What the stores (datasets, runs, studies) see of the database: statements with `?` parameters, multi-statement
 * `exec`, and transactions. Two implementations: SQLite (db.ts, the default, a file in the data home) and
 * PostgreSQL (postgres.ts, a shared history). The stores write portable SQL only; where the two disagree (types in
 * migrations, the run lock) the difference lives in the implementation, not in the stores.
 */
export type SqlValue = string | number | null | Buffer
export type Row = Record<string, unknown>

export interface Tx {
  /**
   * `changes`: rows inserted, updated or deleted. `lastID`: SQLite's rowid of the last insert; always 0 on
   * PostgreSQL, which has no rowids (every table here has its own text key, so nothing reads it).
   */
  run(sql: string, params?: SqlValue[]): Promise<{ changes: number; lastID: number }>
  get<T = Row>(sql: string, params?: SqlValue[]): Promise<T | undefined>
  all<T = Row>(sql: string, params?: SqlValue[]): Promise<T[]>
  /** Several statements, no parameters (migrations). */
  exec(sql: string): Promise<void>
}

/** The lock a training process holds for each of its unfinished runs, released by the system when it dies. */
export interface HeldLock {
  release(): Promise<void>
}

export interface RunLocks {
  /**
   * True when the lock answers for owners on every machine (PostgreSQL's advisory locks live in the server); false
   * when it only sees this machine (a lock file), so a run owned by another host must be taken as alive.
   */
  readonly spansHosts: boolean
  hold(runId: string): Promise<HeldLock>
  /** 'unknown': the lock could not be asked (the caller falls back on the PID). */
  owner(runId: string): Promise<'alive' | 'dead' | 'unknown'>
}

export type Dialect = 'sqlite' | 'postgres'

export interface Db extends Tx {
  readonly dialect: Dialect
  /** Where the history is, safe to print: the SQLite file, or the PostgreSQL URL without its password. */
  readonly location: string
  /** Runs `work` in one transaction: all of it or none of it. */
  transaction<T>(work: (tx: Tx) => Promise<T>): Promise<T>
  /** The schema version the store is at after open. */
  version(): Promise<number>
  /** The run locks of this store; `lockFile` is where a run's lock file goes where the lock is a file. */
  runLocks(lockFile: (runId: string) => string): RunLocks
  close(): Promise<void>
}
