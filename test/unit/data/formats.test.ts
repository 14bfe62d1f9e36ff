/**
 * Table formats besides CSV, in files the test writes with the real tools (SheetJS for workbooks, DuckDB for
 * Parquet, zlib for gzip), and the parsed table out again (CSV and Parquet) read back equal.
 */
import fs from 'node:fs'
import path from 'node:path'
import zlib from 'node:zlib'
import { execFileSync } from 'node:child_process'
import * as XLSX from '@e965/xlsx'
import { DuckDBInstance } from '@duckdb/node-api'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openTestServices, type TestServices } from '../../fixtures/home'
import { threeClassRows } from './helpers'
import { LabError } from '../../../main/shared/errors'

let lab: TestServices
beforeAll(async () => {
  lab = await openTestServices()
})
afterAll(async () => {
  await lab.close()
})

async function duckRun(sql: string): Promise<unknown[][]> {
  const instance = await DuckDBInstance.create(':memory:', { autoinstall_known_extensions: 'false', autoload_known_extensions: 'false' })
  const connection = await instance.connect()
  try {
    return (await connection.runAndReadAll(sql)).getRowsJS()
  } finally {
    connection.closeSync()
    instance.closeSync()
  }
}

const expectRefusal = async (file: string, message: string | RegExp) => {
  const before = (await lab.datasets.list()).length
  const error = await lab.datasets.import({ path: file }).catch((e: unknown) => e)
  expect(error).toBeInstanceOf(LabError)
  expect((error as Error).message).toMatch(message)
  expect((error as Error).message).not.toContain('\n')
  expect((await lab.datasets.list()).length).toBe(before)
  expect(fs.readdirSync(path.join(lab.home, 'datasets')).filter((name) => name.startsWith('.'))).toEqual([])
}

describe('workbooks', () => {
  const rows = threeClassRows(40)
  function workbook(name: string, bookType: XLSX.BookType): string {
    const book = XLSX.utils.book_new()
    const data: unknown[][] = [
      ['Quarterly figures', null, null, null],
      ['a', 'b', 'day', 'label'],
      ...rows.map((r, i) => [r.a, r.b, new Date(Date.UTC(2024, 0, 1 + i)), r.label])
    ]
    const sheet = XLSX.utils.aoa_to_sheet(data, { cellDates: true })
    sheet['!merges'] = [{ s: { r: 0, c: 0 }, e: { r: 0, c: 3 } }]
    XLSX.utils.book_append_sheet(book, XLSX.utils.aoa_to_sheet([]), 'Empty')
    XLSX.utils.book_append_sheet(book, sheet, 'Data')
    XLSX.utils.book_append_sheet(book, XLSX.utils.aoa_to_sheet([['note'], ['written by the test']]), 'Notes')
    return lab.write(name, XLSX.write(book, { type: 'buffer', bookType }) as Buffer)
  }

  it.each([
    ['book.xlsx', 'xlsx'],
    ['book.ods', 'ods'],
    ['book.xls', 'xls']
  ] as const)('reads %s: the first sheet with data, title row skipped, dates as dates', async (name, type) => {
    const summary = await lab.datasets.import({ path: workbook(name, type) })
    expect(summary.rows).toBe(40)
    expect(summary.columns.map((c) => [c.name, c.type])).toEqual([
      ['a', 'integer'],
      ['b', 'number'],
      ['day', 'date'],
      ['label', 'category']
    ])
    // A date column is a feature by default (year, month, day of week), never dropped.
    expect(summary.columns.find((c) => c.name === 'day')).toMatchObject({
      role: 'feature',
      date: { order: 'ymd', first: '2024-01-01', last: '2024-02-09', parts: ['year', 'month', 'weekday'] }
    })
    expect(summary.parse.table).toMatchObject({ format: 'workbook', sheet: 'Data', headerRow: 2, titleRows: [1], dateColumns: ['day'] })
    expect(summary.parse.table?.sheets?.map((s) => s.name)).toEqual(['Empty', 'Data', 'Notes'])
    const preview = await lab.datasets.preview({ datasetId: summary.datasetId, offset: 3, limit: 1 })
    expect(preview.rows[0]).toEqual([rows[3]!.a, rows[3]!.b, '2024-01-04', rows[3]!.label])
  })

  it('reads Excel serial dates (numbers with a date format) as a date column', async () => {
    const sheet = XLSX.utils.aoa_to_sheet([['when', 'x', 'label'], ...rows.map((r, i) => [45352 + i, r.a, r.label])])
    for (let i = 0; i < rows.length; i++) sheet[XLSX.utils.encode_cell({ r: i + 1, c: 0 })]!.z = 'dd/mm/yyyy'
    const book = XLSX.utils.book_new()
    XLSX.utils.book_append_sheet(book, sheet, 'Serial')
    const summary = await lab.datasets.import({ path: lab.write('serial.xlsx', XLSX.write(book, { type: 'buffer', bookType: 'xlsx' }) as Buffer) })
    // 45352 is 2024-03-01 in Excel's 1900 date system.
    expect(summary.columns[0]).toMatchObject({ name: 'when', type: 'date', role: 'feature', date: { first: '2024-03-01', last: '2024-04-09' } })
  })

  it('reads the sheet asked for, and names the sheets when it is not there', async () => {
    const file = workbook('sheets.xlsx', 'xlsx')
    await expect(lab.datasets.import({ path: file, sheet: 'Notes' })).rejects.toThrow(
      'sheets.xlsx: the table has one column (note); it needs at least one feature column besides the target'
    )
    await expect(lab.datasets.import({ path: file, sheet: 'Empty' })).rejects.toThrow('sheets.xlsx: sheet "Empty" is empty')
    await expect(lab.datasets.import({ path: file, sheet: 'Nope' })).rejects.toThrow('sheets.xlsx: no sheet "Nope"; sheets are Empty, Data, Notes')
    const summary = await lab.datasets.import({ path: file, sheet: 'data' })
    expect(summary.parse.table?.sheet).toBe('Data')
  })

  it('refuses an empty workbook, a damaged one and one that is not a workbook', async () => {
    const empty = XLSX.utils.book_new()
    XLSX.utils.book_append_sheet(empty, XLSX.utils.aoa_to_sheet([]), 'Sheet1')
    await expectRefusal(
      lab.write('empty.xlsx', XLSX.write(empty, { type: 'buffer', bookType: 'xlsx' }) as Buffer),
      /^empty\.xlsx: the workbook is empty \(no sheet has any cells\)$/
    )
    const whole = fs.readFileSync(workbook('cut.xlsx', 'xlsx'))
    await expectRefusal(lab.write('cut.xlsx', whole.subarray(0, Math.floor(whole.length * 0.6))), /^cut\.xlsx: the workbook is damaged or cut short/)
    await expectRefusal(lab.write('text.xlsx', 'a,b\n1,2\n'), /^text\.xlsx: not a workbook/)
  })

  it('refuses a password-protected workbook', async () => {
    // An encrypted OOXML file is an OLE container holding EncryptionInfo and EncryptedPackage streams.
    const container = XLSX.CFB.utils.cfb_new()
    XLSX.CFB.utils.cfb_add(container, '/EncryptionInfo', Buffer.from([4, 0, 4, 0, 0x40, 0, 0, 0]))
    XLSX.CFB.utils.cfb_add(container, '/EncryptedPackage', Buffer.alloc(64, 7))
    const file = lab.write('secret.xlsx', Buffer.from(XLSX.CFB.write(container, { type: 'buffer' }) as Uint8Array))
    await expectRefusal(file, /^secret\.xlsx: the workbook is password-protected/)
  })
})

describe('Parquet', () => {
  it('reads numbers, decimals, booleans, dates and text', async () => {
    const file = path.join(lab.tmp, 'flat.parquet')
    await duckRun(
      `COPY (SELECT i::BIGINT AS id, (i % 7)::INTEGER AS small, (i / 4.0)::DECIMAL(10,2) AS price, i % 2 = 0 AS even,
        DATE '2024-01-01' + i::INTEGER AS day, TIMESTAMP '2024-03-01 08:30:00' + to_hours(i::BIGINT) AS seen, CASE WHEN i % 3 = 0 THEN NULL ELSE (i * 1.5)::DOUBLE END AS x,
        ['low', 'mid', 'high'][i % 3 + 1] AS label FROM range(300) t(i)) TO '${file}' (FORMAT parquet)`
    )
    const summary = await lab.datasets.import({ path: file })
    expect(summary.rows).toBe(300)
    expect(summary.parse.table).toMatchObject({ format: 'parquet', dateColumns: ['day', 'seen'] })
    expect(Object.fromEntries(summary.columns.map((c) => [c.name, c.type]))).toEqual({
      id: 'integer',
      small: 'integer',
      price: 'number',
      even: 'boolean',
      day: 'date',
      seen: 'date',
      x: 'number',
      label: 'category'
    })
    expect(summary.columns.find((c) => c.name === 'x')?.missing).toBe(100)
    expect(summary.target).toBe('label')
    const preview = await lab.datasets.preview({ datasetId: summary.datasetId, offset: 5, limit: 1 })
    expect(preview.rows[0]).toEqual([5, 5, 1.25, 'false', '2024-01-06', '2024-03-01T13:30:00', 7.5, 'high'])
    expect(summary.columns.find((c) => c.name === 'seen')?.date).toMatchObject({ first: '2024-03-01T08:30:00', last: '2024-03-13T19:30:00' })
  })

  it('refuses nested columns, a truncated file and a file that is not Parquet', async () => {
    const nested = path.join(lab.tmp, 'nested.parquet')
    await duckRun(`COPY (SELECT i AS a, {'x': i} AS s, [i, i] AS l, i % 2 AS label FROM range(10) t(i)) TO '${nested}' (FORMAT parquet)`)
    await expectRefusal(
      nested,
      /^nested\.parquet: nested columns are not supported: s \(STRUCT\("x" BIGINT\)\), l \(BIGINT\[\]\); flatten them first/
    )
    const whole = path.join(lab.tmp, 'whole.parquet')
    await duckRun(`COPY (SELECT i AS a, i % 2 AS label FROM range(1000) t(i)) TO '${whole}' (FORMAT parquet)`)
    const bytes = fs.readFileSync(whole)
    await expectRefusal(lab.write('cut.parquet', bytes.subarray(0, Math.floor(bytes.length * 0.6))), /^cut\.parquet: not a complete Parquet file/)
    await expectRefusal(lab.write('not.parquet', 'a,b\n1,2\n'), /^not\.parquet: not a Parquet file/)
  })
})

describe('tasks on tables read by DuckDB', () => {
  it('suggests regression for a number target in Parquet, JSON Lines and a workbook, and prepares it standardised', async () => {
    const parquet = path.join(lab.tmp, 'price.parquet')
    await duckRun(
      `COPY (SELECT i::DOUBLE AS size, (i % 5)::INTEGER AS rooms, (1000 + i * 12.5 + (i % 7) * 3.25)::DOUBLE AS price FROM range(200) t(i)) TO '${parquet}' (FORMAT parquet)`
    )
    const lines = Array.from({ length: 200 }, (_, i) => JSON.stringify({ size: i, rooms: i % 5, price: 1000 + i * 12.5 + (i % 7) * 3.25 }))
    const book = XLSX.utils.book_new()
    XLSX.utils.book_append_sheet(book, XLSX.utils.json_to_sheet(lines.map((l) => JSON.parse(l) as Record<string, number>)), 'Prices')
    const files = [
      parquet,
      lab.write('price.jsonl', lines.join('\n') + '\n'),
      lab.write('price.xlsx', XLSX.write(book, { type: 'buffer', bookType: 'xlsx' }) as Buffer)
    ]
    for (const file of files) {
      const summary = await lab.datasets.import({ path: file })
      expect(summary, path.basename(file)).toMatchObject({ task: 'regression', target: 'price', classes: [], rows: 200 })
      const data = await lab.datasets.loadPrepared(summary.datasetId)
      expect(data.task).toBe('regression')
      expect(data.targetScale!.mean).toBeGreaterThan(1000)
      expect(data.train.rows.length + data.val.rows.length + data.test.rows.length).toBe(200)
    }
    // The same table asked for as classes by its rooms column: classification, five classes.
    const rooms = await lab.datasets.import({ path: parquet, target: 'rooms' })
    expect(rooms).toMatchObject({ task: 'classification', target: 'rooms' })
    expect(rooms.classes.map((c) => c.label)).toEqual(['0', '1', '2', '3', '4'])
  })

  it('refuses a named pipe that is called .parquet, .xlsx or .csv without waiting on it', async () => {
    for (const name of ['pipe.parquet', 'pipe.xlsx', 'pipe.csv']) {
      const fifo = path.join(lab.tmp, name)
      execFileSync('mkfifo', [fifo])
      await expectRefusal(fifo, new RegExp(`${name.replace('.', '\\.')}: is a named pipe \\(FIFO\\), not a regular file or a folder`))
    }
  })
})

describe('JSON Lines and gzip', () => {
  it('reads JSON Lines objects, nested values as their JSON text', async () => {
    const lines = threeClassRows(30).map((r, i) => JSON.stringify({ a: r.a, b: r.b, tags: { n: i % 2 }, label: r.label }))
    const summary = await lab.datasets.import({ path: lab.write('rows.jsonl', lines.join('\n') + '\n') })
    expect(summary.rows).toBe(30)
    expect(summary.parse.table?.format).toBe('jsonl')
    expect(summary.columns.map((c) => c.name)).toEqual(['a', 'b', 'tags', 'label'])
    const preview = await lab.datasets.preview({ datasetId: summary.datasetId, offset: 1, limit: 1 })
    expect(preview.rows[0]).toEqual([7, 13 / 4, '{"n":1}', 'low'])
  })

  it('names the line that is not a JSON object, or not JSON', async () => {
    await expectRefusal(
      lab.write('array.jsonl', '{"a":1,"label":"x"}\n[1,2]\n{"a":2,"label":"y"}\n'),
      /^array\.jsonl: line 2 is not a JSON object \(\[1,2\]\)/
    )
    await expectRefusal(lab.write('broken.ndjson', '{"a":1,"label":"x"}\nnot json at all\n'), /^broken\.ndjson: line 2 is not valid JSON/)
  })

  it('reads a .csv.gz as its CSV, and refuses one that is not gzip or is cut short', async () => {
    const text = ['a;b;label', ...threeClassRows(3000).map((r) => `${r.a};${String(r.b).replace('.', ',')};${r.label}`)].join('\n')
    const summary = await lab.datasets.import({ path: lab.write('table.csv.gz', zlib.gzipSync(text)) })
    expect(summary.rows).toBe(3000)
    expect(summary.name).toBe('table')
    expect(summary.parse.csv).toMatchObject({ compression: 'gzip', delimiter: ';', decimalComma: true })
    await expectRefusal(lab.write('plain.csv.gz', text), /^plain\.csv\.gz: not a gzip file/)
    const gz = zlib.gzipSync(text)
    await expectRefusal(lab.write('cut.csv.gz', gz.subarray(0, Math.floor(gz.length / 2))), /^cut\.csv\.gz: the gzip data is damaged or cut short/)
  })
})

describe('the parsed table out again', () => {
  it('writes CSV and Parquet that read back to the same values and names', async () => {
    const lines = [
      'id,x,name,when,label',
      ...threeClassRows(50).map((r, i) => `${i + 1},${i % 5 === 0 ? '' : r.b},"n, ${i}",2024-02-${String((i % 28) + 1).padStart(2, '0')},${r.label}`)
    ]
    const summary = await lab.datasets.import({ path: lab.write('out.csv', lines.join('\n')) })
    const original = await lab.datasets.preview({ datasetId: summary.datasetId, offset: 0, limit: 50 })
    for (const format of ['csv', 'parquet'] as const) {
      const out = path.join(lab.tmp, `exported.${format}`)
      const result = await lab.datasets.export({ datasetId: summary.datasetId, out })
      expect(result).toMatchObject({ path: out, rows: 50, columns: 5, format })
      expect(result.bytes).toBe(fs.statSync(out).size)
      const back = await lab.datasets.import({ path: out, name: `back-${format}` })
      expect(back.columns.map((c) => c.name)).toEqual(['id', 'x', 'name', 'when', 'label'])
      const preview = await lab.datasets.preview({ datasetId: back.datasetId, offset: 0, limit: 50 })
      expect(preview.rows).toEqual(original.rows)
    }
    const rows = await duckRun(
      `SELECT typeof(id), typeof(x), count(*) FILTER (WHERE x IS NULL) FROM '${path.join(lab.tmp, 'exported.parquet')}' GROUP BY ALL`
    )
    expect(rows).toEqual([['BIGINT', 'DOUBLE', 10n]])
  })

  it('refuses to write into the data home, and replaces an existing file only when asked', async () => {
    const summary = (await lab.datasets.list())[0]!
    const database = path.join(lab.home, 'layerlab.sqlite')
    const before = fs.statSync(database).size
    await expect(lab.datasets.export({ datasetId: summary.datasetId, out: database, overwrite: true })).rejects.toThrow(
      /would overwrite the data home's database \(layerlab\.sqlite\)/
    )
    expect(fs.statSync(database).size).toBe(before)
    const existing = path.join(lab.tmp, 'already-there.csv')
    fs.writeFileSync(existing, 'keep me\n')
    await expect(lab.datasets.export({ datasetId: summary.datasetId, out: existing })).rejects.toThrow(/already exists; pass --force/)
    expect(fs.readFileSync(existing, 'utf8')).toBe('keep me\n')
    await lab.datasets.export({ datasetId: summary.datasetId, out: existing, overwrite: true })
    expect(fs.readFileSync(existing, 'utf8')).not.toBe('keep me\n')
  })
})
