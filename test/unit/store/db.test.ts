import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import sqlite3 from 'sqlite3'
import { describe, expect, it } from 'vitest'
import { Db } from '../../../main/store/db'
import { migrations } from '../../../main/store/migrations'

const tmp = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'layerlab-db-')), 'layerlab.sqlite')

describe('SQLite store', () => {
  it('opens with WAL, foreign keys and every migration applied', async () => {
    const db = await Db.open(tmp())
    expect(await db.get('PRAGMA journal_mode')).toEqual({ journal_mode: 'wal' })
    expect(await db.get('PRAGMA foreign_keys')).toEqual({ foreign_keys: 1 })
    expect(await db.version()).toBe(migrations.at(-1)!.version)
    expect(await db.integrityCheck()).toBe('ok')
    await db.close()
  })

  it('rolls a failed transaction back whole', async () => {
    const db = await Db.open(tmp())
    await expect(
      db.transaction(async (tx) => {
        await tx.run(`INSERT INTO datasets (id, name, kind, source_path, content_hash, rows, parse_json, profile_json, recipe_json, split_json, data_dir, created_at)
                      VALUES ('ds-1', 'a', 'table', '/x', 'h', 1, '{}', '{}', '{}', '{}', '/d', 'now')`)
        throw new Error('half way')
      })
    ).rejects.toThrow('half way')
    expect(await db.all('SELECT id FROM datasets')).toEqual([])
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
    const db = await Db.open(file)
    expect(await db.version()).toBe(migrations.at(-1)!.version)
    expect(await db.get('SELECT id, name, tags_json, notes FROM runs')).toEqual({ id: 'run-old', name: 'old run', tags_json: '[]', notes: '' })
    expect(await db.get('SELECT id FROM datasets')).toEqual({ id: 'ds-old' })
    expect(await db.integrityCheck()).toBe('ok')
    await db.close()
  })

  it('a writer waits for another connection’s lock instead of failing', async () => {
    const file = tmp()
    const a = await Db.open(file)
    const b = await Db.open(file)
    let release!: () => void
    const held = new Promise<void>((resolve) => (release = resolve))
    const first = a.transaction(async (tx) => {
      await tx.run(`INSERT INTO datasets (id, name, kind, source_path, content_hash, rows, parse_json, profile_json, recipe_json, split_json, data_dir, created_at)
                    VALUES ('ds-a', 'a', 'table', '/x', 'h', 1, '{}', '{}', '{}', '{}', '/d', 'now')`)
      await held
    })
    await new Promise((r) => setTimeout(r, 50))
    const second = b.transaction((tx) =>
      tx.run(`INSERT INTO datasets (id, name, kind, source_path, content_hash, rows, parse_json, profile_json, recipe_json, split_json, data_dir, created_at)
              VALUES ('ds-b', 'b', 'table', '/x', 'h', 1, '{}', '{}', '{}', '{}', '/d', 'now')`)
    )
    setTimeout(release, 300)
    await Promise.all([first, second])
    expect((await a.all('SELECT id FROM datasets ORDER BY id')).map((r) => r.id)).toEqual(['ds-a', 'ds-b'])
    await a.close()
    await b.close()
  })
})
