import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import sqlite3 from 'sqlite3'
import pg from 'pg'
import { describe, expect, it } from 'vitest'
import { SqliteDb } from '../../../main/store/db'
import { PostgresDb, toNumberedParams } from '../../../main/store/postgres'
import { migrations } from '../../../main/store/migrations'
import { parsePostgresUrl } from '../../../main/store/location'
import { freshPostgresDatabase, postgresUrl, storeKinds, testStore } from '../../fixtures/postgres'

const tmpHome = () => fs.mkdtempSync(path.join(os.tmpdir(), 'layerlab-db-'))
const tmp = () => path.join(tmpHome(), 'layerlab.sqlite')

const DATASET = (
  id: string
) => `INSERT INTO datasets (id, name, kind, source_path, content_hash, rows, parse_json, profile_json, recipe_json, split_json, data_dir, created_at)
  VALUES ('${id}', 'a', 'table', '/x', 'h', 1, '{}', '{}', '{}', '{}', '/d', 'now')`

describe.each(storeKinds())('%s store', (kind) => {
  it('opens with every migration applied', async () => {
    const db = await (await testStore(kind)).open(tmpHome())
    expect(db.dialect).toBe(kind)
    expect(await db.version()).toBe(migrations.at(-1)!.version)
    await db.close()
  })

  it('rolls a failed transaction back whole', async () => {
    const db = await (await testStore(kind)).open(tmpHome())
    await expect(
      db.transaction(async (tx) => {
        await tx.run(DATASET('ds-1'))
        throw new Error('half way')
      })
    ).rejects.toThrow('half way')
    expect(await db.all('SELECT id FROM datasets')).toEqual([])
    await db.close()
  })

  it('gives back numbers as numbers (counts, 64-bit integers, doubles), text as text, and `changes`', async () => {
    const db = await (await testStore(kind)).open(tmpHome())
    await db.run(DATASET('ds-1'))
    await db.run(
      `INSERT INTO runs (id, name, dataset_id, mode, status, backend, seed, spec_json, partition_json, config_json, peak_rss, created_at)
       VALUES (?, ?, ?, 'end-to-end', 'completed', 'cpu', ?, '{}', '{}', '{}', ?, 'now')`,
      ['run-1', 'what?', 'ds-1', 4_294_967_297, 6_000_000_000]
    )
    await db.run(`INSERT INTO epochs VALUES ('run-1', 0, -1, 'end-to-end', 1, ?, 0.8, NULL, NULL, 0.001, 900)`, [1 / 3])
    expect(await db.get('SELECT seed, peak_rss, name FROM runs')).toEqual({ seed: 4_294_967_297, peak_rss: 6_000_000_000, name: 'what?' })
    expect(await db.get('SELECT COUNT(*) AS n, SUM(epoch) AS s, MAX(seq) AS m FROM epochs')).toEqual({ n: 1, s: 1, m: 0 })
    expect((await db.get<{ loss: number }>('SELECT loss FROM epochs'))!.loss).toBe(1 / 3)
    // A question mark inside a literal is not a parameter.
    expect(await db.get(`SELECT COUNT(*) AS n FROM runs WHERE name = 'what?' AND id = ?`, ['run-1'])).toEqual({ n: 1 })
    expect((await db.run('UPDATE runs SET notes = ? WHERE id = ?', ['x', 'run-1'])).changes).toBe(1)
    expect(
      (
        await db.run(`INSERT INTO datasets (id, name, kind, source_path, content_hash, rows, parse_json, profile_json, recipe_json, split_json, data_dir, created_at)
      VALUES ('ds-1', 'a', 'table', '/x', 'h', 1, '{}', '{}', '{}', '{}', '/d', 'now') ON CONFLICT DO NOTHING`)
      ).changes
    ).toBe(0)
    await db.close()
  })

  it('a writer waits for another connection’s transaction instead of failing', async () => {
    const store = await testStore(kind)
    const home = tmpHome()
    const a = await store.open(home)
    const b = await store.open(home)
    let release!: () => void
    const held = new Promise<void>((resolve) => (release = resolve))
    const first = a.transaction(async (tx) => {
      await tx.run(DATASET('ds-a'))
      await held
    })
    await new Promise((r) => setTimeout(r, 50))
    const second = b.transaction((tx) => tx.run(DATASET('ds-b')))
    setTimeout(release, 300)
    await Promise.all([first, second])
    expect((await a.all('SELECT id FROM datasets ORDER BY id')).map((r) => r.id)).toEqual(['ds-a', 'ds-b'])
    await a.close()
    await b.close()
  })
})

describe('SQLite store', () => {
  it('opens with WAL, foreign keys and an intact file', async () => {
    const db = await SqliteDb.open(tmp())
    expect(await db.get('PRAGMA journal_mode')).toEqual({ journal_mode: 'wal' })
    expect(await db.get('PRAGMA foreign_keys')).toEqual({ foreign_keys: 1 })
    expect(await db.integrityCheck()).toBe('ok')
    await db.close()
  })

  it('upgrades a version-1 file without losing rows', async () => {
    const file = tmp()
    const raw = new sqlite3.Database(file)
    await new Promise<void>((resolve, reject) =>
      raw.exec(
        `${migrations[0]!.sql}
         INSERT INTO datasets (id, name, kind, source_path, content_hash, rows, parse_json, profile_json, recipe_json, split_json, data_dir, created_at)
           VALUES ('ds-old', 'old', 'table', '/x.csv', 'h', 10, '{}', '{}', '{}', '{}', '/d', '2026-01-01');
         INSERT INTO runs (id, name, dataset_id, mode, status, backend, seed, spec_json, partition_json, config_json, created_at)
           VALUES ('run-old', 'old run', 'ds-old', 'end-to-end', 'completed', 'cpu', 1, '{}', '{}', '{}', '2026-01-01');
         PRAGMA user_version = 1;`,
        (error) => (error ? reject(error) : resolve())
      )
    )
    await new Promise<void>((resolve) => raw.close(() => resolve()))
    const db = await SqliteDb.open(file)
    expect(await db.version()).toBe(migrations.at(-1)!.version)
    expect(await db.get('SELECT id, name, tags_json, notes FROM runs')).toEqual({ id: 'run-old', name: 'old run', tags_json: '[]', notes: '' })
    expect(await db.get('SELECT id FROM datasets')).toEqual({ id: 'ds-old' })
    expect(await db.integrityCheck()).toBe('ok')
    await db.close()
  })
})

describe.skipIf(!postgresUrl())('PostgreSQL store', () => {
  it('numbers `?` parameters outside quotes and comments', () => {
    expect(toNumberedParams(`SELECT ? , '?', "a?" -- what?\n, ?`)).toBe(`SELECT $1 , '?', "a?" -- what?\n, $2`)
  })

  it('migrates a fresh database, records each version, and opens an already-migrated one without redoing any', async () => {
    const url = await freshPostgresDatabase()
    const [a, b] = await Promise.all([PostgresDb.open(parsePostgresUrl(url)), PostgresDb.open(parsePostgresUrl(url))])
    expect(await a.version()).toBe(migrations.at(-1)!.version)
    const versions = await a.all<{ version: number }>('SELECT version FROM schema_version ORDER BY version')
    expect(versions.map((v) => v.version)).toEqual(migrations.map((m) => m.version))
    await a.run(DATASET('ds-kept'))
    await a.close()
    await b.close()
    const again = await PostgresDb.open(parsePostgresUrl(url))
    expect(await again.all('SELECT version FROM schema_version')).toHaveLength(migrations.length)
    expect(await again.get('SELECT id FROM datasets')).toEqual({ id: 'ds-kept' })
    // Columns that hold 64-bit values or doubles in SQLite have those types here too.
    const types = await again.all<{ column_name: string; data_type: string }>(
      `SELECT column_name, data_type FROM information_schema.columns WHERE table_name = 'epochs' AND column_name IN ('loss', 'seq') ORDER BY column_name`
    )
    expect(types).toEqual([
      { column_name: 'loss', data_type: 'double precision' },
      { column_name: 'seq', data_type: 'bigint' }
    ])
    await again.close()
  })

  it('upgrades a database at version 1 without losing rows', async () => {
    const url = await freshPostgresDatabase()
    const raw = new pg.Client({ connectionString: url })
    await raw.connect()
    await raw.query(migrations[0]!.postgres!)
    await raw.query(`CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL); INSERT INTO schema_version VALUES (1, 'then');
      INSERT INTO datasets (id, name, kind, source_path, content_hash, rows, parse_json, profile_json, recipe_json, split_json, data_dir, created_at)
        VALUES ('ds-old', 'old', 'table', '/x.csv', 'h', 10, '{}', '{}', '{}', '{}', '/d', '2026-01-01');
      INSERT INTO runs (id, name, dataset_id, mode, status, backend, seed, spec_json, partition_json, config_json, created_at)
        VALUES ('run-old', 'old run', 'ds-old', 'end-to-end', 'completed', 'cpu', 1, '{}', '{}', '{}', '2026-01-01')`)
    await raw.end()
    const db = await PostgresDb.open(parsePostgresUrl(url))
    expect(await db.version()).toBe(migrations.at(-1)!.version)
    expect(await db.get('SELECT id, name, tags_json, notes, task FROM runs')).toEqual({
      id: 'run-old',
      name: 'old run',
      tags_json: '[]',
      notes: '',
      task: 'classification'
    })
    await db.close()
  })
})
