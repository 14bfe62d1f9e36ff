/** Opens the history where the location says: the SQLite file in the data home, or a PostgreSQL server. */
import path from 'node:path'
import { SqliteDb } from './db'
import { parsePostgresUrl, type StoreLocation } from './location'
import type { Db } from './sql'

/** The SQLite file's name inside the data home. */
export const SQLITE_FILE = 'layerlab.sqlite'

// The PostgreSQL client (pg, ~30 ms to load) only where the store is PostgreSQL.
const postgres = async () => (await import('./postgres')).PostgresDb

export async function openDb(location: StoreLocation, home: string): Promise<Db> {
  return location.kind === 'postgres' ? (await postgres()).open(location) : SqliteDb.open(path.join(home, SQLITE_FILE))
}

/** Connects to a PostgreSQL URL and brings its schema up to date, then lets go; returns where it is, safe to show. */
export async function checkStore(url: string): Promise<string> {
  const location = parsePostgresUrl(url.trim(), 'the store URL')
  const db = await (await postgres()).open(location)
  await db.close()
  return location.display
}
