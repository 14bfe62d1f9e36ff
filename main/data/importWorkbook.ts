/**
 * Workbooks (.xlsx, .xlsm, .xls, .ods) with SheetJS CE 0.20.3 (npm: @e965/xlsx, a republish of SheetJS's own build;
 * the `xlsx` package on npm is frozen at 0.18.5 with CVE-2023-30533 and CVE-2024-22363, both on the read path). The
 * chosen sheet's cells are typed per column, appended to a DuckDB temp table and stored through the same column
 * builders as every other format (scan.ts).
 *  - sheet: the one asked for, else the first sheet with cells; every sheet is listed (the view's sheet chooser);
 *  - header: the first row after title rows (rows with a single filled cell above a wider table); a merged header
 *    cell names every column it covers;
 *  - dates: date cells (cellDates) are stored as ISO text and listed as date columns;
 *  - refused in one line: a password-protected workbook, an empty one, a damaged or cut one, a file that is not one.
 */
import fs from 'node:fs'
import path from 'node:path'
import { createRequire } from 'node:module'
import type * as SheetJS from '@e965/xlsx'
import { DOUBLE, VARCHAR, DuckDBDataChunk, type DuckDBConnection } from '@duckdb/node-api'
import type { TableSource } from '../shared/contract'
import { LabError } from '../shared/errors'
import { INPUT_LIMITS, readInputFile } from '../core/inputFile'
import { columnNames } from './csv'
import { sqlIdent } from './duck'
import { type HashJob, type ImportOptions, type TableImport, withHash } from './importResult'
import { type ColumnSpec, finishColumns, scanToColumns } from './scan'

const localRequire = createRequire(__filename)
let loaded: typeof SheetJS | null = null
/** SheetJS, loaded by the first workbook: ~30 MiB of code in every isolate that has it, which a CSV never needs. */
const sheetjs = (): typeof SheetJS => (loaded ??= localRequire('@e965/xlsx') as typeof SheetJS)

const ZIP = Buffer.from([0x50, 0x4b, 0x03, 0x04])
const CFB = Buffer.from([0xd0, 0xcf, 0x11, 0xe0, 0xa1, 0xb1, 0x1a, 0xe1])

/** A workbook by its name or its first bytes (a ZIP archive, or an OLE container for .xls). */
export function isWorkbook(file: string, head: Buffer): boolean {
  return (
    /\.(xlsx|xlsm|xls|ods)$/i.test(file) || head.subarray(0, 8).equals(CFB) || (head.subarray(0, 4).equals(ZIP) && !/\.(csv|tsv|txt)$/i.test(file))
  )
}

/** Opens the workbook or throws a one-line LabError saying why not. */
async function readWorkbook(file: string, label: string): Promise<SheetJS.WorkBook> {
  const XLSX = sheetjs()
  // SheetJS reads the whole file into memory, and its sheets grow to several times that: a limit before reading.
  const bytes = await readInputFile(file, { label, maxBytes: INPUT_LIMITS.workbook, what: 'a workbook' })
  const head = bytes.subarray(0, 8)
  if (head.equals(CFB)) {
    // An OLE container: a legacy .xls, or an encrypted OOXML workbook (EncryptionInfo + EncryptedPackage streams).
    let container: ReturnType<typeof XLSX.CFB.read> | null = null
    try {
      container = XLSX.CFB.read(bytes, { type: 'buffer' })
    } catch {
      // not a readable container: XLSX.read below says what is wrong
    }
    if (container && (XLSX.CFB.find(container, 'EncryptionInfo') || XLSX.CFB.find(container, 'EncryptedPackage')))
      throw new LabError(
        `${label}: the workbook is password-protected; open it in your spreadsheet program, remove the password, save, and import again`
      )
  } else if (!head.subarray(0, 4).equals(ZIP)) {
    throw new LabError(`${label}: not a workbook (an .xlsx or .ods file is a ZIP archive, an .xls file an OLE container; this one is neither)`)
  }
  try {
    return XLSX.read(bytes, { type: 'buffer', cellDates: true, dense: true })
  } catch (error) {
    const message = (error as Error).message
    if (/password|encrypt/i.test(message)) throw new LabError(`${label}: the workbook is password-protected; remove the password and import again`)
    if (/zip|central directory|end of data|corrupt|compressed size|Unsupported ZIP|invalid/i.test(message))
      throw new LabError(`${label}: the workbook is damaged or cut short (${message})`)
    throw new LabError(`${label}: cannot read this workbook: ${message}`)
  }
}

type Cell = string | number | boolean | Date | null

/** A cell as text: dates in ISO form (the date alone at midnight), booleans as true/false. */
function cellText(cell: Exclude<Cell, null>): string {
  if (cell instanceof Date) {
    const iso = cell.toISOString()
    return iso.endsWith('T00:00:00.000Z') ? iso.slice(0, 10) : iso.replace('.000Z', '')
  }
  return String(cell)
}

const filled = (row: Cell[] | undefined): number => (row ?? []).filter((cell) => cell !== null && cell !== '').length

let tables = 0

export function importWorkbook(
  file: string,
  dir: string,
  connection: DuckDBConnection,
  options: ImportOptions & { sheet?: string } = {}
): Promise<TableImport> {
  return withHash(file, (hash) => readSheet(file, dir, connection, options, hash))
}

async function readSheet(
  file: string,
  dir: string,
  connection: DuckDBConnection,
  options: ImportOptions & { sheet?: string },
  hash: HashJob
): Promise<TableImport> {
  const label = path.basename(file)
  const size = (await fs.promises.stat(file)).size
  options.onProgress?.(0, 0)
  const workbook = await readWorkbook(file, label)
  const XLSX = sheetjs()
  const sheets = workbook.SheetNames.map((name) => {
    const ref = workbook.Sheets[name]?.['!ref']
    if (!ref) return { name, rows: 0, columns: 0 }
    const range = XLSX.utils.decode_range(ref)
    return { name, rows: range.e.r - range.s.r + 1, columns: range.e.c - range.s.c + 1 }
  })
  const gridOf = (name: string): Cell[][] =>
    XLSX.utils.sheet_to_json<Cell[]>(workbook.Sheets[name]!, { header: 1, raw: true, blankrows: true, defval: null })
  const widthOf = (rows: Cell[][]): number => rows.reduce((most, row) => Math.max(most, filled(row)), 0)
  let sheetName: string | undefined
  let grid: Cell[][] = []
  if (options.sheet !== undefined) {
    const wanted = options.sheet
    sheetName = workbook.SheetNames.find((name) => name === wanted) ?? workbook.SheetNames.find((name) => name.toLowerCase() === wanted.toLowerCase())
    if (!sheetName) throw new LabError(`${label}: no sheet "${wanted}"; sheets are ${workbook.SheetNames.join(', ')}`)
    grid = gridOf(sheetName)
  } else {
    // The first sheet with a filled cell (an empty sheet may still have a used range of one cell).
    for (const name of workbook.SheetNames) {
      grid = gridOf(name)
      if (widthOf(grid) > 0) {
        sheetName = name
        break
      }
    }
    if (!sheetName) throw new LabError(`${label}: the workbook is empty (no sheet has any cells)`)
  }
  const sheet = workbook.Sheets[sheetName]!
  const width = widthOf(grid)
  if (width === 0) throw new LabError(`${label}: sheet "${sheetName}" is empty`)

  // Title rows: above the header, rows with a single filled cell (often merged across the table).
  const titleRows: number[] = []
  let headerIndex = 0
  for (; headerIndex < grid.length; headerIndex++) {
    const count = filled(grid[headerIndex])
    if (count === 0) continue
    if (count === 1 && width > 1) {
      titleRows.push(headerIndex + 1)
      continue
    }
    break
  }
  const headerCells = [...(grid[headerIndex] ?? [])]
  for (const merge of sheet['!merges'] ?? []) {
    if (merge.s.r !== headerIndex) continue
    for (let c = merge.s.c + 1; c <= merge.e.c; c++)
      if (headerCells[c] === null || headerCells[c] === '') headerCells[c] = headerCells[merge.s.c] ?? null
  }
  const body = grid.slice(headerIndex + 1).filter((row) => filled(row) > 0)
  const columnCount = body.reduce((most, row) => Math.max(most, row.length), headerCells.length)
  const names = columnNames(
    headerCells.map((cell) => (cell === null ? '' : cellText(cell))),
    columnCount
  )
  if (body.length === 0) throw new LabError(`${label}: sheet "${sheetName}" has a header but no data rows`)

  // Per column: numeric when every filled cell is a number; dates and everything else become text.
  const numeric = names.map((_, c) => body.every((row) => row[c] === null || row[c] === undefined || row[c] === '' || typeof row[c] === 'number'))
  const dateColumns = names.filter(
    (_, c) => body.some((row) => row[c] instanceof Date) && body.every((row) => row[c] === null || row[c] === undefined || row[c] instanceof Date)
  )
  const table = `workbook_${++tables}`
  try {
    await connection.run(`CREATE TABLE ${table} (${names.map((name, c) => `${sqlIdent(name)} ${numeric[c] ? 'DOUBLE' : 'VARCHAR'}`).join(', ')})`)
    const appender = await connection.createAppender(table)
    const types = numeric.map((isNumber) => (isNumber ? DOUBLE : VARCHAR))
    for (let start = 0; start < body.length; start += 2048) {
      const rows = body.slice(start, start + 2048)
      const chunk = DuckDBDataChunk.create(types, rows.length)
      chunk.setColumns(
        names.map((_, c) =>
          rows.map((row) => {
            const cell = row[c] ?? null
            if (cell === null || cell === '') return null
            return numeric[c] ? (cell as number) : cellText(cell)
          })
        )
      )
      appender.appendDataChunk(chunk)
    }
    appender.closeSync()
    const specs: ColumnSpec[] = names.map((name, c) => ({ name, kind: numeric[c] ? 'numeric' : 'text', expr: sqlIdent(name) }))
    const scan = await scanToColumns(connection, table, specs, dir, { label, signal: options.signal })
    const columns = await finishColumns(scan)
    options.onProgress?.(scan.rows, size)
    const source: TableSource = {
      format: 'workbook',
      sheet: sheetName,
      sheets,
      headerRow: headerIndex + 1,
      ...(titleRows.length ? { titleRows } : {}),
      ...(dateColumns.length ? { dateColumns } : {})
    }
    return { source, rows: scan.rows, bytes: size, contentHash: await hash.result, columns }
  } finally {
    await connection.run(`DROP TABLE IF EXISTS ${table}`)
  }
}
