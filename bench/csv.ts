/**
 * CSV import throughput and peak memory on a generated 1,000,000 × 20 file, against a reference in the same run:
 * csv-parse alone over the same bytes (what any importer must pay at least).
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parse } from 'csv-parse'
import { Db } from '../main/store/db'
import { DatasetStore } from '../main/store/datasets'
import { RunStore } from '../main/store/runs'
import { DatasetService } from '../main/data/service'
import { generateLargeCsv } from '../test/fixtures/generate'
import { peakRss } from './memory'

export interface CsvBenchRow {
  what: string
  rows: number
  ms: number
  rowsPerSec: number
  peakRssBytes: number
}

export async function benchCsv(rows = 1_000_000, cols = 20): Promise<CsvBenchRow[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'layerlab-bench-csv-'))
  const file = path.join(dir, `big-${rows}x${cols}.csv`)
  await generateLargeCsv(file, rows, cols, 7)
  const results: CsvBenchRow[] = []

  const reference = await peakRss(async () => {
    let n = 0
    const parser = fs.createReadStream(file).pipe(parse({ columns: false }))
    for await (const _record of parser) n++
    return n - 1
  })
  results.push({
    what: 'reference: csv-parse only',
    rows: reference.value,
    ms: reference.ms,
    rowsPerSec: reference.value / (reference.ms / 1000),
    peakRssBytes: reference.peakRssBytes
  })

  const db = await Db.open(path.join(dir, 'layerlab.sqlite'))
  const service = new DatasetService({ store: new DatasetStore(db), runs: new RunStore(db, dir), home: dir, emit: () => undefined })
  const imported = await peakRss(() => service.import({ path: file }))
  results.push({
    what: 'LayerLab import (parse, profile, materialise)',
    rows: imported.value.rows,
    ms: imported.ms,
    rowsPerSec: imported.value.rows / (imported.ms / 1000),
    peakRssBytes: imported.peakRssBytes
  })
  await db.close()
  fs.rmSync(dir, { recursive: true, force: true })
  return results
}
