/**
 * The plain CSV reader (plainCsv.ts) against DuckDB's reading of the same files: byte-identical column files and the
 * same import result where the file is plain, and a clean hand-over to DuckDB (no file left behind) where it is not.
 */
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { importCsv } from '../../../main/data/importCsv'
import { plainCsvSettings, scanPlainCsv } from '../../../main/data/plainCsv'
import { importHelper } from '../../../main/data/importHelper'
import { finishColumns } from '../../../main/data/scan'
import { VOCAB_CAP } from '../../../main/data/profile'
import { generateLargeCsv } from '../../fixtures/generate'
import { seededRandom } from '../../../main/core/random'
import { duckAndFolder } from './helpers'

const tables = duckAndFolder('layerlab-plain-')

let files = 0
function write(text: string | Buffer): string {
  const file = path.join(tables.root, `t${++files}.csv`)
  fs.writeFileSync(file, text)
  return file
}

/** Every file of a dataset folder with its sha256 (names and bytes). */
function folderDigest(dir: string): Record<string, string> {
  return Object.fromEntries(
    fs
      .readdirSync(dir)
      .sort()
      .map((name) => [
        name,
        crypto
          .createHash('sha256')
          .update(fs.readFileSync(path.join(dir, name)))
          .digest('hex')
      ])
  )
}

/** The file imported by both readers; `expectPlain`: the plain reader must read it to the end. */
async function importBoth(file: string, expectPlain = true) {
  const dialect = await tables.dialectOf(file)
  const read = async (plainReader: boolean) => {
    const dir = fs.mkdtempSync(path.join(tables.root, plainReader ? 'plain-' : 'duck-'))
    const result = await importCsv(file, dir, dialect, tables.connection, { plainReader })
    const { parser, ...rest } = result
    expect(parser).toBe(plainReader && expectPlain ? 'plain' : 'duckdb')
    return { result: rest, files: folderDigest(dir) }
  }
  return { dialect, plain: await read(true), duckdb: await read(false) }
}

/**
 * Whether the plain reader takes the whole file (null: it hands the file to DuckDB), and what it leaves in its
 * folder; read with the dialect of `like` (the damage is what the reader must find, not what the sample shows).
 */
async function plainTakes(file: string, like = file): Promise<{ taken: boolean; left: string[] }> {
  const dialect = await tables.dialectOf(like)
  expect(plainCsvSettings(dialect.settings)).toBe(true)
  const dir = fs.mkdtempSync(path.join(tables.root, 'try-'))
  const specs = dialect.fileNames.map((name, i) => ({ name, kind: i === 0 ? ('numeric' as const) : ('text' as const), expr: '' }))
  const scan = await scanPlainCsv(file, dialect.settings, specs, dir, { label: 'file', size: fs.statSync(file).size })
  if (scan) await finishColumns(scan)
  return { taken: scan !== null, left: fs.readdirSync(dir) }
}

describe('plain CSV reader', () => {
  it('reads the benchmark table as DuckDB does, byte for byte, every other segment on the helper thread', async () => {
    const file = path.join(tables.root, 'big.csv')
    // 14 MB: four segments, two of them the helper's.
    await generateLargeCsv(file, 100_000, 20, 3)
    const before = importHelper()!.parsed
    const { plain, duckdb } = await importBoth(file)
    expect(importHelper()!.parsed - before).toBe(2)
    expect(plain.result.rows).toBe(100_000)
    // The hash of a file this size is taken on the helper thread too.
    expect(plain.result.contentHash).toBe(crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex'))
    expect(plain.files).toEqual(duckdb.files)
    expect(plain.result).toEqual(duckdb.result)
  })

  it('reads numbers in every spelling, missing markers, CRLF, a BOM, blank lines and no final line end alike', async () => {
    const numbers = ['-0', '5.', '.5', '-.5', '1e5', '1E-3', '2.5e+2', '12345678901234567', '0.1', '1e400', '007', '-0.0000', '']
    const markers = ['', 'NA', 'NaN', 'null', '?', 'N/A']
    const random = seededRandom(5)
    const lines = ['x,n,word,flag,when,label']
    for (let i = 0; i < 3000; i++) {
      const x = i % 7 === 0 ? numbers[i % numbers.length]! : (random() * 200 - 100).toFixed(i % 5)
      const n = i % 11 === 0 ? markers[i % markers.length]! : String(i % 13)
      const word = ['café', '中文', 'plain', 'NA', ''][i % 5]
      const flag = i % 2 ? 'yes' : 'no'
      const when = `2024-0${1 + (i % 9)}-1${i % 10}`
      lines.push(`${x},${n},${word},${flag},${when},${i % 3 ? 'a' : 'b'}`)
      if (i % 500 === 7) lines.push('')
    }
    const file = write(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(lines.join('\r\n') + '\r\n\r\n' + '1,2,x,yes,2024-01-01,a')]))
    expect((await plainTakes(file)).taken).toBe(true)
    const { plain, duckdb } = await importBoth(file)
    expect(plain.result.rows).toBe(3001)
    expect(plain.files).toEqual(duckdb.files)
    expect(plain.result).toEqual(duckdb.result)
  })

  it('reads a text column past the vocabulary, a semicolon file and a preamble alike', async () => {
    const lines = ['exported by a tool', '', 'id;value;label']
    for (let i = 0; i < VOCAB_CAP + 2000; i++) lines.push(`row-${i};${(i * 0.37).toFixed(3)};${i % 4}`)
    const file = write(lines.join('\n') + '\n')
    const { plain, duckdb, dialect } = await importBoth(file)
    expect(dialect.settings.skippedLines).toBeGreaterThan(0)
    expect(plain.result.columns[0]!.distinctCapped).toBe(true)
    expect(plain.files).toEqual(duckdb.files)
    expect(plain.result).toEqual(duckdb.result)
  })

  it('hands a file that is not plain to DuckDB and leaves no file behind', async () => {
    const good = 'n,label\n1,a\n2,b\n'
    const cases: [string, string | Buffer][] = [
      ['a quote in a field', good + '3,"b"\n'],
      ['a field too many', good + '3,b,c\n'],
      ['a field too few', good + '3\n'],
      ['a bare carriage return', good + '3,b\r4,a\n'],
      ['text in a numeric column', good + 'three,b\n'],
      ['a space around a number', good + ' 3,b\n'],
      ['bytes that are not UTF-8', Buffer.concat([Buffer.from(good + '3,'), Buffer.from([0xff, 0xfe]), Buffer.from('\n')])],
      ['a header without data', 'n,label\n']
    ]
    const like = write(good)
    for (const [what, text] of cases) {
      const outcome = await plainTakes(write(text), like)
      expect({ what, ...outcome }).toEqual({ what, taken: false, left: [] })
    }
    expect((await plainTakes(like)).taken).toBe(true)
  })

  it('gives the same import as DuckDB when it hands over (a set-aside row)', async () => {
    const lines = ['a,b,label']
    for (let i = 0; i < 500; i++) lines.push(`${i},${i * 2},${i % 2 ? 'x' : 'y'}`)
    lines.splice(200, 0, '1,2,x,extra')
    const { plain, duckdb } = await importBoth(write(lines.join('\n') + '\n'), false)
    expect(plain.result.source.setAside?.total).toBe(1)
    expect(plain.files).toEqual(duckdb.files)
    expect(plain.result).toEqual(duckdb.result)
  })
})
