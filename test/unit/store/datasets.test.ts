/** The datasets table on both stores: insert, read back, refit, newest first, and a dataset in use is kept. */
import { afterEach, describe, expect, it } from 'vitest'
import { DatasetStore, type StoredDataset } from '../../../main/store/datasets'
import { RunStore } from '../../../main/store/runs'
import type { Db } from '../../../main/store/sql'
import { tempHome } from '../../fixtures/home'
import { storeKinds, testStore } from '../../fixtures/postgres'
import { newRun } from './helpers'

const dataset = (id: string, createdAt: string): StoredDataset => ({
  id,
  name: `digits ${id}`,
  kind: 'table',
  sourcePath: '/data/digits.csv',
  contentHash: 'abc',
  rows: 1797,
  target: 'digit',
  parse: { delimiter: ',', encoding: 'utf-8', header: true, decimalComma: false } as unknown as StoredDataset['parse'],
  profile: { columns: [] } as unknown as StoredDataset['profile'],
  recipe: { version: 1, steps: ['scale'] },
  split: { train: 1257, validation: 270, test: 270, seed: 42 } as unknown as StoredDataset['split'],
  dataDir: `datasets/${id}`,
  createdAt
})

const open: Db[] = []
afterEach(async () => {
  while (open.length) await open.pop()!.close()
})

describe.each(storeKinds())('DatasetStore on %s', (kind) => {
  it('stores, lists newest first, refits and deletes; a dataset with runs cannot be deleted under them', async () => {
    const home = tempHome()
    const db = await (await testStore(kind)).open(home)
    open.push(db)
    const store = new DatasetStore(db)
    await store.insert(dataset('ds-a', '2026-12-01T10:00:00.000Z'))
    await store.insert(dataset('ds-b', '2026-12-01T11:00:00.000Z'))
    expect(await store.get('ds-a')).toEqual(dataset('ds-a', '2026-12-01T10:00:00.000Z'))
    expect((await store.list()).map((d) => d.id)).toEqual(['ds-b', 'ds-a'])
    await store.refit('ds-a', { ...dataset('ds-a', ''), target: 'other', recipe: { version: 2 } })
    expect(await store.get('ds-a')).toMatchObject({ target: 'other', recipe: { version: 2 }, rows: 1797 })
    expect(await store.get('ds-missing')).toBeUndefined()

    const runs = new RunStore(db, home)
    const runId = await runs.create(newRun('ds-b'))
    await runs.finish(runId, { status: 'completed' })
    expect(await runs.countForDataset('ds-b')).toBe(1)
    await expect(store.delete('ds-b')).rejects.toThrow(/foreign key/i)
    await store.delete('ds-a')
    expect((await store.list()).map((d) => d.id)).toEqual(['ds-b'])
  })
})
