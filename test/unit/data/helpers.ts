import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Db } from '../../../main/store/db'
import { DatasetService } from '../../../main/data/service'
import type { EventName, EventPayload } from '../../../main/api/contract'

export interface TestLab {
  tmp: string
  db: Db
  datasets: DatasetService
  events: { event: EventName; payload: unknown }[]
  write(name: string, content: string | Buffer): string
  close(): Promise<void>
}

/** A data home in a fresh temp folder with its own SQLite file; events are recorded. */
export async function openTestLab(): Promise<TestLab> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'layerlab-data-'))
  const home = path.join(tmp, 'home')
  fs.mkdirSync(home)
  const db = await Db.open(path.join(home, 'layerlab.sqlite'))
  const events: TestLab['events'] = []
  const emit = <E extends EventName>(event: E, payload: EventPayload<E>) => {
    events.push({ event, payload })
  }
  return {
    tmp,
    db,
    datasets: new DatasetService(db, home, emit),
    events,
    write(name, content) {
      const file = path.join(tmp, name)
      fs.mkdirSync(path.dirname(file), { recursive: true })
      fs.writeFileSync(file, content)
      return file
    },
    async close() {
      await db.close()
      fs.rmSync(tmp, { recursive: true, force: true })
    }
  }
}

export const DIGITS = path.resolve(__dirname, '../../../resources/examples/digits.csv')

/** Rows of a small three-class table: numbers a, b and a label that a threshold on a decides. */
export function threeClassRows(n: number): { a: number; b: number; label: string }[] {
  return Array.from({ length: n }, (_, i) => {
    const a = (i * 7) % 23
    return { a, b: ((i * 13) % 17) / 4, label: a < 8 ? 'low' : a < 16 ? 'mid' : 'high' }
  })
}
