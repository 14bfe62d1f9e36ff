/**
 * One candidate of `npm run bench -- csv` in its own process (so /usr/bin/time -v measures its peak memory alone):
 *   layerlab FILE     the whole import (dialect, parse, profile, column files, split, recipe) through the
 *                     DatasetService and its import worker, after a tiny warm-up import that starts the worker
 *   duckdb FILE       plain DuckDB: read_csv / read_parquet auto-detected, materialised in DuckDB's memory
 *   sheetjs FILE      SheetJS reading the workbook alone (what any workbook import pays first)
 * Prints {"ms", "rows"} as JSON.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { SqliteDb } from '../main/store/db'
import { DatasetStore } from '../main/store/datasets'
import { RunStore } from '../main/store/runs'
import { DatasetService } from '../main/data/service'
import { openDuck, sqlString } from '../main/data/duck'

async function main(): Promise<void> {
  const [what, file] = process.argv.slice(2) as [string, string]
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'layerlab-bench-home-'))
  try {
    let rows = 0
    let ms = 0
    if (what === 'layerlab') {
      const db = await SqliteDb.open(path.join(home, 'layerlab.sqlite'))
      const service = new DatasetService({ store: new DatasetStore(db), runs: new RunStore(db, home), home, emit: () => undefined })
      const warm = path.join(home, 'warm.csv')
      fs.writeFileSync(warm, 'a,b,label\n1,2,x\n3,4,y\n5,6,x\n')
      await service.import({ path: warm })
      const start = performance.now()
      rows = (await service.import({ path: file })).rows
      ms = performance.now() - start
      await service.close()
      await db.close()
    } else if (what === 'duckdb') {
      const start = performance.now()
      const duck = await openDuck()
      const reader = file.endsWith('.parquet') ? `read_parquet(${sqlString(file)})` : `read_csv(${sqlString(file)})`
      await duck.connection.run(`CREATE TABLE t AS SELECT * FROM ${reader}`)
      // CREATE TABLE AS reports no changed rows: count them.
      rows = Number((await duck.connection.runAndReadAll('SELECT count(*) FROM t')).getRowsJS()[0]![0])
      ms = performance.now() - start
      duck.close()
    } else if (what === 'sheetjs') {
      // Loaded here only: the other candidates' peak memory must not carry SheetJS (~30 MiB).
      const XLSX = (await import('@e965/xlsx')) as typeof import('@e965/xlsx')
      const start = performance.now()
      const book = XLSX.read(fs.readFileSync(file), { type: 'buffer', cellDates: true, dense: true })
      rows = XLSX.utils.sheet_to_json(book.Sheets[book.SheetNames[0]!]!, { header: 1 }).length - 1
      ms = performance.now() - start
    } else throw new Error(`unknown candidate ${what}`)
    console.log(JSON.stringify({ ms, rows }))
  } finally {
    fs.rmSync(home, { recursive: true, force: true })
  }
  process.exit(0)
}

void main()
