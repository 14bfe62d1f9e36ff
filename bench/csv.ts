/**
 * Table import against the readers an analyst would otherwise use, measured in the same run: pandas (Debian's
 * python3-pandas through /usr/bin/python3, when present) and plain DuckDB, on generated 100k / 1M / 5M × 20 CSVs
 * (19 numbers, one text label; LayerLab also with DuckDB reading the CSV, `layerlab-duckdb`), plus a Parquet file and an .xlsx workbook of 100k rows. Every candidate runs in its
 * own process under /usr/bin/time -v (peak RSS), in a shuffled order per round (BENCH_ROUNDS, default 3); the table
 * gives the median with min–max. "ratio" is LayerLab / pandas (lower is faster). BENCH_SIZES=100000,1000000 limits
 * the sizes; BENCH_FORMATS=csv leaves out the Parquet and xlsx files.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { spawnSync } from 'node:child_process'
import * as XLSX from '@e965/xlsx'
import { generateLargeCsv } from '../test/fixtures/generate'
import { openDuck, sqlString } from '../main/data/duck'
import { median } from './stats'

export interface CsvBenchRow {
  file: string
  reader: string
  rows: number
  ms: string
  rowsPerSec: number
  peakRssMiB: string
  ratio: string
}

interface Sample {
  ms: number
  rows: number
  rssMiB: number
}

const PYTHON = '/usr/bin/python3'

function hasPandas(module = 'pandas'): boolean {
  return fs.existsSync(PYTHON) && spawnSync(PYTHON, ['-c', `import ${module}`]).status === 0
}

/** "layerlab-duckdb": LayerLab's import with DuckDB reading every CSV (the plain reader off), to compare the two. */
function runOne(reader: string, file: string): Sample {
  const command =
    reader === 'pandas'
      ? [PYTHON, path.join(__dirname, 'pandas_read.py'), file]
      : [process.execPath, '--require', 'tsx/cjs', path.join(__dirname, 'csvChild.ts'), reader.replace(/-duckdb$/, ''), file]
  const env = reader === 'layerlab-duckdb' ? { ...process.env, LAYERLAB_PLAIN_CSV: '0' } : process.env
  const result = spawnSync('/usr/bin/time', ['-v', ...command], { encoding: 'utf8', maxBuffer: 1 << 26, cwd: path.join(__dirname, '..'), env })
  if (result.status !== 0) throw new Error(`${reader} on ${path.basename(file)} failed: ${result.stderr.slice(-1500)}`)
  const inner = JSON.parse(result.stdout.trim().split('\n').pop()!) as { ms: number; rows: number }
  const rss = Number(/Maximum resident set size \(kbytes\): (\d+)/.exec(result.stderr)![1]) / 1024
  return { ms: inner.ms, rows: inner.rows, rssMiB: rss }
}

async function inputs(dir: string, sizes: number[]): Promise<{ name: string; file: string; readers: string[] }[]> {
  const out: { name: string; file: string; readers: string[] }[] = []
  const pandas = hasPandas()
  for (const rows of sizes) {
    const file = path.join(dir, `big-${rows}x20.csv`)
    if (!fs.existsSync(file)) await generateLargeCsv(file, rows, 20, 7)
    out.push({
      name: `CSV ${rows.toLocaleString('en')} × 20`,
      file,
      readers: [...(pandas ? ['pandas'] : []), 'duckdb', 'layerlab', 'layerlab-duckdb']
    })
  }
  // BENCH_FORMATS=csv: the CSV sizes only (the workbook alone takes minutes).
  if (process.env.BENCH_FORMATS === 'csv') return out
  const small = path.join(dir, 'big-100000x20.csv')
  if (!fs.existsSync(small)) await generateLargeCsv(small, 100_000, 20, 7)
  const parquet = path.join(dir, 'big-100000x20.parquet')
  if (!fs.existsSync(parquet)) {
    const duck = await openDuck()
    await duck.connection.run(`COPY (SELECT * FROM read_csv(${sqlString(small)})) TO ${sqlString(parquet)} (FORMAT parquet)`)
    duck.close()
  }
  out.push({ name: 'Parquet 100,000 × 20', file: parquet, readers: ['duckdb', 'layerlab'] })
  const xlsx = path.join(dir, 'big-100000x20.xlsx')
  if (!fs.existsSync(xlsx)) {
    const text = fs.readFileSync(small, 'utf8')
    const book = XLSX.read(text, { type: 'string', raw: false })
    fs.writeFileSync(xlsx, XLSX.write(book, { type: 'buffer', bookType: 'xlsx' }) as Buffer)
  }
  out.push({ name: 'xlsx 100,000 × 20', file: xlsx, readers: [...(hasPandas('openpyxl') ? ['pandas'] : []), 'sheetjs', 'layerlab'] })
  return out
}

export async function benchCsv(): Promise<CsvBenchRow[]> {
  const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
  const sizes = (process.env.BENCH_SIZES ?? '100000,1000000,5000000').split(',').map(Number)
  const dir = path.join(os.tmpdir(), 'layerlab-bench-tables')
  fs.mkdirSync(dir, { recursive: true })
  const files = await inputs(dir, sizes)
  const samples = new Map<string, Sample[]>()
  for (let round = 0; round < rounds; round++) {
    for (const input of files) {
      const order = [...input.readers].sort(() => Math.random() - 0.5)
      for (const reader of order) {
        const sample = runOne(reader, input.file)
        const key = `${input.name}\0${reader}`
        samples.set(key, [...(samples.get(key) ?? []), sample])
        console.error(`  round ${round + 1}/${rounds} ${input.name} ${reader}: ${sample.ms.toFixed(0)} ms, ${sample.rssMiB.toFixed(0)} MiB`)
      }
    }
  }
  const rows: CsvBenchRow[] = []
  for (const input of files) {
    const reference = samples.get(`${input.name}\0pandas`)
    const referenceMs = reference ? median(reference.map((s) => s.ms)) : null
    for (const reader of input.readers) {
      const mine = samples.get(`${input.name}\0${reader}`)!
      const ms = mine.map((s) => s.ms)
      const rss = mine.map((s) => s.rssMiB)
      rows.push({
        file: input.name,
        reader,
        rows: mine[0]!.rows,
        ms: `${median(ms).toFixed(0)} (${Math.min(...ms).toFixed(0)}–${Math.max(...ms).toFixed(0)})`,
        rowsPerSec: Math.round(mine[0]!.rows / (median(ms) / 1000)),
        peakRssMiB: `${median(rss).toFixed(0)} (${Math.min(...rss).toFixed(0)}–${Math.max(...rss).toFixed(0)})`,
        ratio: referenceMs ? (median(ms) / referenceMs).toFixed(2) : '–'
      })
    }
  }
  rows.push({
    file: `load average after: ${fs.readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ')}`,
    reader: '',
    rows: 0,
    ms: '',
    rowsPerSec: 0,
    peakRssMiB: '',
    ratio: ''
  })
  return rows
}
