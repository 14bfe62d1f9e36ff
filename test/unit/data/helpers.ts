/** Test inputs of the data tests. */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll } from 'vitest'
import { type Duck, openDuck } from '../../../main/data/duck'
import { readSample } from '../../../main/data/csv'
import { type Dialect, detectDialect } from '../../../main/data/dialect'
/** Rows of a small three-class table: numbers a, b and a label that a threshold on a decides. */
export function threeClassRows(n: number): { a: number; b: number; label: string }[] {
  return Array.from({ length: n }, (_, i) => {
    const a = (i * 7) % 23
    return { a, b: ((i * 13) % 17) / 4, label: a < 8 ? 'low' : a < 16 ? 'mid' : 'high' }
  })
}

/**
 * A DuckDB connection and a temp folder for one test file's direct importCsv calls: opened before its tests, closed
 * and removed after them.
 */
export function duckAndFolder(prefix: string): {
  readonly connection: Duck['connection']
  readonly root: string
  dialectOf(file: string): Promise<Dialect>
} {
  let duck: Duck | null = null
  let root = ''
  beforeAll(async () => {
    duck = await openDuck()
    root = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  })
  afterAll(() => {
    duck?.close()
    fs.rmSync(root, { recursive: true, force: true })
  })
  return {
    get connection() {
      return duck!.connection
    },
    get root() {
      return root
    },
    /** The dialect an import detects for `file` (no overrides). */
    dialectOf: async (file) => detectDialect(await readSample(file, path.basename(file)), {}, path.basename(file))
  }
}
