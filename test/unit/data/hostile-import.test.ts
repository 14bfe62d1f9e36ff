/**
 * Hostile and unlucky table files (issue #12): wide tables under a low descriptor limit, a header longer than any
 * sample, duplicate and empty names, a 50 MB field, UTF-16 without a BOM, a one-column file. Each gets its correct
 * result or its one-line error, and afterwards the process is as healthy as before: no descriptor left open, the
 * next import works, earlier datasets intact.
 */
import fs from 'node:fs'
import path from 'node:path'
import { execFileSync } from 'node:child_process'
import iconv from 'iconv-lite'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openTestServices, type TestServices } from '../../fixtures/home'
import { threeClassRows } from './helpers'

let lab: TestServices
let first: string
beforeAll(async () => {
  lab = await openTestServices()
  // One import first, so the import worker (its thread, its DuckDB) is there before descriptors are counted.
  first = (await lab.datasets.import({ path: lab.write('first.csv', ['a,b,label', ...rows3(30)].join('\n')) })).datasetId
})
afterAll(async () => {
  await lab.close()
})

function rows3(n: number): string[] {
  return threeClassRows(n).map((r) => `${r.a},${r.b},${r.label}`)
}
const openFiles = (): number => fs.readdirSync('/proc/self/fd').length

/** A CSV of `columns` columns (the last one "label") and `rows` rows of small integers. */
function wideCsv(file: string, columns: number, rows: number, name = (i: number) => `f${i}`): string {
  const header = Array.from({ length: columns }, (_, i) => (i === columns - 1 ? 'label' : name(i))).join(',')
  const lines = [header]
  for (let r = 0; r < rows; r++)
    lines.push(Array.from({ length: columns }, (_, i) => (i === columns - 1 ? String(r % 3) : String((i * r) % 7))).join(','))
  fs.writeFileSync(file, lines.join('\n') + '\n')
  return file
}

/** After a hostile input: no descriptor left behind, the first dataset intact, a new import works. */
async function stillHealthy(openBefore: number): Promise<void> {
  expect(openFiles()).toBeLessThanOrEqual(openBefore)
  expect((await lab.datasets.get(first)).rows).toBe(30)
  const next = await lab.datasets.import({ path: lab.write('next.csv', ['x,y,label', ...rows3(12)].join('\n')) })
  expect(next.rows).toBe(12)
  await lab.datasets.delete(next.datasetId)
}

describe('wide tables', () => {
  it('imports a 785-column and a 100,001-column CSV under ulimit -n 1024, descriptors back where they were', () => {
    const mnist = wideCsv(path.join(lab.tmp, 'mnist.csv'), 785, 300)
    const widest = wideCsv(path.join(lab.tmp, 'widest.csv'), 100_001, 5)
    const script = path.join(__dirname, '../../fixtures/importUnderLimit.ts')
    const output = execFileSync('bash', ['-c', 'ulimit -n 1024 && exec node --require tsx/cjs "$0" "$@"', script, mnist, widest], {
      encoding: 'utf8',
      timeout: 900_000
    })
    const [m, w, counts] = output
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as Record<string, number | string>)
    expect(m).toMatchObject({ rows: 300, columns: 785 })
    expect(w).toMatchObject({ rows: 5, columns: 100_001 })
    expect(counts!.openAfter).toBeLessThanOrEqual(counts!.openBefore as number)
  }, 900_000)

  it('releases every descriptor when a wide import fails or is cancelled', async () => {
    const before = openFiles()
    // Most rows one field short: refused after the pass, every column's files open at some point.
    const lines = [Array.from({ length: 3000 }, (_, i) => `c${i}`).join(',')]
    for (let r = 0; r < 4; r++) lines.push(Array.from({ length: r === 0 ? 3000 : 2999 }, () => '1').join(','))
    await expect(lab.datasets.import({ path: lab.write('bad-wide.csv', lines.join('\n')) })).rejects.toThrow(/3 of 4 rows do not fit/)
    await stillHealthy(before)
    const big = wideCsv(path.join(lab.tmp, 'cancel.csv'), 10, 1_000_000)
    const importing = lab.datasets.import({ path: big, importId: 'cancel-me' })
    const reading = () =>
      lab.events.some((e) => {
        const p = e.payload as { importId?: string; phase?: string; rows: number }
        return e.event === 'dataset.progress' && p.importId === 'cancel-me' && p.phase === 'reading' && p.rows > 0
      })
    const started = Date.now()
    while (!reading() && Date.now() - started < 60_000) await new Promise((resolve) => setTimeout(resolve, 5))
    lab.datasets.cancelImport('cancel-me')
    await expect(importing).rejects.toThrow('cancel.csv: import cancelled')
    expect(fs.readdirSync(path.join(lab.home, 'datasets')).filter((name) => name.startsWith('.'))).toEqual([])
    await stillHealthy(before)
  })
})

describe('names and samples', () => {
  it('keeps every column of a header longer than the sniffing sample', async () => {
    const before = openFiles()
    // 2,000 columns of 50-character names: a 100 KB header line.
    const file = wideCsv(path.join(lab.tmp, 'long-header.csv'), 2000, 20, (i) => `feature_${String(i).padStart(5, '0')}_${'x'.repeat(35)}`)
    const summary = await lab.datasets.import({ path: file })
    expect(summary.columns).toHaveLength(2000)
    expect(summary.columns.at(-2)!.name).toBe(`feature_01998_${'x'.repeat(35)}`)
    expect(summary.target).toBe('label')
    await stillHealthy(before)
  })

  it('gives duplicate and empty names suffixes that never collide with real names', async () => {
    const file = lab.write('dups.csv', ['a,a,,a_2,label', ...threeClassRows(20).map((r, i) => `${r.a},${r.b},${i},${i % 4},${r.label}`)].join('\n'))
    const summary = await lab.datasets.import({ path: file, target: 'a_2' })
    expect(summary.columns.map((c) => c.name)).toEqual(['a', 'a_3', 'col_3', 'a_2', 'label'])
    expect(summary.columns.filter((c) => c.role === 'target').map((c) => c.name)).toEqual(['a_2'])
  })

  it('stores a 50 MB field cut short among the top values, and lists datasets without it', async () => {
    const huge = 'z'.repeat(50 * 1024 * 1024)
    const rows = threeClassRows(10).map((r, i) => `${r.a},${i === 3 ? huge : `note ${i % 2}`},${r.label}`)
    const summary = await lab.datasets.import({ path: lab.write('huge.csv', ['a,note,label', ...rows].join('\n')) })
    expect(summary.rows).toBe(10)
    const top = summary.columns.find((c) => c.name === 'note')!.top!
    expect(Math.max(...top.map((t) => t.value.length))).toBeLessThanOrEqual(201)
    expect(JSON.stringify(await lab.datasets.get(summary.datasetId)).length).toBeLessThan(50_000)
    expect(JSON.stringify(await lab.datasets.list()).length).toBeLessThan(2_000_000)
    await lab.datasets.delete(summary.datasetId)
  })

  it('refuses a line longer than 64 MB in one line that names it, where DuckDB would leave it out without a word', async () => {
    const before = (await lab.datasets.list()).length
    const huge = 'z'.repeat(65 * 1024 * 1024)
    const rows = threeClassRows(10).map((r, i) => `${r.a},${i === 6 ? huge : `note ${i % 2}`},${r.label}`)
    const file = lab.write('longline.csv', ['a,note,label', ...rows].join('\n'))
    await expect(lab.datasets.import({ path: file })).rejects.toThrow(/^longline\.csv: line 8 is 65\.0 MB long; LayerLab reads lines of up to 64 MB$/)
    expect((await lab.datasets.list()).length).toBe(before)
    // The import worker is as before: the next file imports.
    expect((await lab.datasets.import({ path: lab.write('after-longline.csv', ['a,b,label', ...rows3(12)].join('\n')) })).rows).toBe(12)
  })

  it('detects UTF-16 without a BOM', async () => {
    for (const encoding of ['utf16le', 'utf16be']) {
      const text = ['a,b,label', ...threeClassRows(20).map((r) => `${r.a},${r.b},ñ-${r.label}`)].join('\n')
      const summary = await lab.datasets.import({ path: lab.write(`nobom-${encoding}.csv`, iconv.encode(text, encoding)) })
      expect(summary.parse.csv).toMatchObject({ encoding, bom: false, delimiter: ',' })
      expect(summary.classes.map((c) => c.label)).toEqual(['ñ-high', 'ñ-low', 'ñ-mid'])
    }
  })

  it('refuses a one-column CSV in plain words', async () => {
    const file = lab.write('one.csv', ['label', ...threeClassRows(20).map((r) => r.label)].join('\n'))
    await expect(lab.datasets.import({ path: file })).rejects.toThrow(
      'one.csv: the table has one column (label); it needs at least one feature column besides the target (is the delimiter right?)'
    )
  })
})
