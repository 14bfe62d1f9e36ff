/**
 * Whether the process that trains a run is still alive, asked of the kernel rather than guessed from a PID.
 *
 * Why: a PID says too little. A process killed with kill -9 still answers kill(pid, 0) while it dies and as a
 * zombie, and after a reboot another process may have its PID, which kept dead runs `running` for ever. A lock
 * that the kernel drops when its owner dies says exactly what we need. Node has no flock(); SQLite has the same
 * kind of lock (POSIX fcntl byte-range locks, released by the kernel with the process), so the owner keeps a tiny
 * SQLite file per run open inside an EXCLUSIVE transaction for the run's whole life, and a reader asks for a
 * SHARED lock with no busy wait: SQLITE_BUSY means the owner is alive. Nothing is written while the lock is held,
 * so a dead owner leaves no hot journal behind, and any number of readers may look at once (SHARED locks do not
 * exclude each other). SQLite keeps the locks of connections in one process apart, so a reader in the owner's own
 * process sees the lock too.
 *
 * This is the SQLite store's lock: it sees processes of this machine only. The PostgreSQL store holds a session
 * advisory lock in the server instead (postgres.ts), which answers for every machine.
 */
import fs from 'node:fs'
import path from 'node:path'
import sqlite3 from 'sqlite3'
import type { RunLocks } from './sql'

/** The lock file of a run: inside its folder, so deleting the run removes it. */
export const LOCK_FILE = 'owner.lock'

function openDatabase(file: string, mode: number): Promise<sqlite3.Database> {
  return new Promise((resolve, reject) => {
    const db = new sqlite3.Database(file, mode, (error) => (error ? reject(error) : resolve(db)))
  })
}

const exec = (db: sqlite3.Database, sql: string): Promise<void> =>
  new Promise((resolve, reject) => db.exec(sql, (error) => (error ? reject(error) : resolve())))

const close = (db: sqlite3.Database): Promise<void> => new Promise((resolve) => db.close(() => resolve()))

/** The owner's side: held from before the run's row exists until after its end is recorded. */
export class RunLock {
  private constructor(
    private readonly db: sqlite3.Database,
    readonly file: string
  ) {}

  static async acquire(file: string): Promise<RunLock> {
    await fs.promises.mkdir(path.dirname(file), { recursive: true })
    const db = await openDatabase(file, sqlite3.OPEN_READWRITE | sqlite3.OPEN_CREATE)
    try {
      // A reader that looks at this very moment holds a SHARED lock for a moment: wait it out.
      db.configure('busyTimeout', 5000)
      // The pid is for people reading the file; the lock is what counts. Committed before the lock is taken, so
      // the held transaction writes nothing (no journal for a reader to roll back after a crash).
      await exec(
        db,
        `PRAGMA journal_mode = DELETE;
         CREATE TABLE IF NOT EXISTS owner (pid INTEGER NOT NULL, since TEXT NOT NULL);
         DELETE FROM owner; INSERT INTO owner VALUES (${process.pid}, '${new Date().toISOString()}');
         BEGIN EXCLUSIVE;`
      )
    } catch (error) {
      await close(db)
      throw error
    }
    return new RunLock(db, file)
  }

  /** Ends the lock and removes its file (the run's end is recorded by then). */
  async release(): Promise<void> {
    await exec(this.db, 'ROLLBACK').catch(() => undefined)
    await close(this.db)
    await fs.promises.rm(this.file, { force: true })
  }
}

/**
 * The reader's side. 'alive': a process holds the lock; 'dead': the file is missing (the owner never got that far,
 * or released it) or nobody holds it; 'unknown': the file could not be asked (the caller falls back on the PID).
 */
export async function lockOwner(file: string): Promise<'alive' | 'dead' | 'unknown'> {
  let db: sqlite3.Database
  try {
    // Read-write without create: a missing file stays missing, and a reader may roll back what a dead owner left.
    db = await openDatabase(file, sqlite3.OPEN_READWRITE)
  } catch (error) {
    return (error as { code?: string }).code === 'SQLITE_CANTOPEN' && !fs.existsSync(file) ? 'dead' : 'unknown'
  }
  try {
    db.configure('busyTimeout', 0)
    await new Promise<void>((resolve, reject) => db.get('SELECT pid FROM owner', (error) => (error ? reject(error) : resolve())))
    return 'dead'
  } catch (error) {
    return (error as { code?: string }).code === 'SQLITE_BUSY' ? 'alive' : 'unknown'
  } finally {
    await close(db)
  }
}

/** The SQLite store's run locks: one lock file per run, where `lockFile` says (inside the run's folder). */
export function fileRunLocks(lockFile: (runId: string) => string): RunLocks {
  return {
    spansHosts: false,
    hold: (runId) => RunLock.acquire(lockFile(runId)),
    owner: (runId) => lockOwner(lockFile(runId))
  }
}
