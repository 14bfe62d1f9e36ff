/**
 * A plain CSV read in JavaScript instead of DuckDB: UTF-8 without compression, '.' decimals, one ASCII delimiter,
 * one line end kind, and — found while reading — no quote character in a field, every line as wide as the header,
 * and in a numeric column nothing but numbers and the missing markers DuckDB is given. Most tables an analyst
 * exports are such files, and on them this reader needs about half of DuckDB's CPU time (no DataChunk round trips;
 * measured in the README). Anything else ends the attempt (`null`), its files are removed, and the caller reads the
 * file with DuckDB, which sets aside bad rows and handles every dialect: the two readers give the same column files
 * for a file both read (test/unit/data/plainCsv.test.ts compares them byte for byte).
 *
 * The file is read in segments of whole lines; a file of several segments has every other one parsed by a helper
 * thread (importHelper.ts) while this thread parses the one before and hands the rows to the column builders in
 * file order (the builders' codes and sums depend on it).
 */
import fs from 'node:fs'
import { LabError } from '../shared/errors'
import type { CsvSettings } from './csv'
import { type ColumnSink, NumericColumn, TextColumn, type TextValues } from './columns'
import { type ColumnSpec, type ScanOptions, type ScanResult, abortColumns, columnSinks } from './scan'
import { NEWLINE, NotPlain, type PlainLayout, RowBlock, parseLines } from './plainParse'
import { HELPED_SIZE, importHelper } from './importHelper'

/** Rows this thread parses and hands to the builders at a time (DuckDB's DataChunk size). */
const ROWS = 2048
/** Bytes per segment; a line longer than LINE_LIMIT ends the attempt (DuckDB reports it). */
const SEGMENT = 4 << 20
const LINE_LIMIT = 64 << 20

/** A delimiter that cannot be part of a number or a missing marker. */
const plainDelimiter = (delimiter: string): boolean =>
  delimiter.length === 1 && delimiter.charCodeAt(0) < 128 && !/[0-9A-Za-z.+\-?\r\n]/.test(delimiter)

/** Whether a file with these settings may be tried with this reader (the rest of its conditions are found reading). */
export function plainCsvSettings(settings: CsvSettings): boolean {
  return (
    settings.encoding === 'utf8' &&
    settings.compression === 'none' &&
    !settings.decimalComma &&
    !settings.mixedLineEnds &&
    !settings.droppedTrailingColumn &&
    plainDelimiter(settings.delimiter) &&
    settings.quote.length <= 1 &&
    (settings.quote === '' || settings.quote.charCodeAt(0) < 128)
  )
}

/** A text column's fields of one block, for the text builder. */
class BlockTexts implements TextValues {
  constructor(
    private readonly block: RowBlock,
    private readonly column: number
  ) {}
  get(i: number): string {
    return this.block.text(this.column, i)
  }
}

/** Whole lines of the file: buffer[start, end), the preamble, the header and a BOM already passed over. */
interface Segment {
  buffer: Buffer
  start: number
  end: number
}

/** Reads the file's data lines in segments, each in memory of its own (a segment may move to the helper thread). */
class Segments {
  private carry = Buffer.alloc(0)
  /** Segment buffers whose rows were handed over, for the next segments (fewer big allocations, less GC). */
  private readonly free: Buffer[] = []
  private position = 0
  private ended = false
  private first = true
  /** Lines above the data still to pass. */
  private linesToSkip: number

  constructor(
    private readonly handle: fs.promises.FileHandle,
    settings: CsvSettings,
    /** The quote character's byte, -1 for none (the layout's). */
    private readonly quote: number
  ) {
    this.linesToSkip = settings.skippedLines + (settings.header ? 1 : 0)
  }

  /** Bytes of the file read so far. */
  get read(): number {
    return this.position
  }

  /** The next segment of data lines, or null at the end of the file. */
  async next(): Promise<Segment | null> {
    for (;;) {
      if (this.ended && this.carry.length === 0) return null
      let size = Math.max(SEGMENT, this.carry.length + (SEGMENT >> 2))
      let buffer: Buffer = size === SEGMENT && this.free.length > 0 ? this.free.pop()! : Buffer.allocUnsafeSlow(size)
      this.carry.copy(buffer)
      let filled = this.carry.length
      let end = 0
      for (;;) {
        if (!this.ended) {
          const { bytesRead } = await this.handle.read(buffer, filled, size - filled, this.position)
          this.position += bytesRead
          filled += bytesRead
          if (bytesRead === 0) this.ended = true
        }
        if (this.ended) {
          // The last line without its line end gets one.
          if (filled > 0 && buffer[filled - 1] !== NEWLINE) {
            if (filled === size) buffer = grown(buffer, (size += 1), filled)
            buffer[filled++] = NEWLINE
          }
          end = filled
          break
        }
        end = buffer.lastIndexOf(NEWLINE, filled - 1) + 1
        if (end > 0 && filled === size) break
        if (filled < size) continue
        // A line longer than the segment; past LINE_LIMIT (and its line end) DuckDB's reading names it.
        if (size > LINE_LIMIT) throw new NotPlain()
        buffer = grown(buffer, (size = Math.min(size * 2, LINE_LIMIT + 2)), filled)
      }
      this.carry = Buffer.from(buffer.subarray(end, filled))
      const start = this.skip(buffer, end)
      if (start < end) return { buffer, start, end }
    }
  }

  /** A segment's memory, free again (its rows handed over). */
  recycle(buffer: Buffer): void {
    const memory = buffer.buffer as ArrayBuffer
    if (memory.byteLength === SEGMENT && this.free.length < 4) this.free.push(Buffer.from(memory))
  }

  /** Passes over a BOM and the lines above the data; returns where the data starts in buffer[0, end). */
  private skip(buffer: Buffer, end: number): number {
    let i = 0
    if (this.first) {
      this.first = false
      if (buffer[0] === 0xef && buffer[1] === 0xbb && buffer[2] === 0xbf) i = 3
    }
    while (this.linesToSkip > 0 && i < end) {
      const next = buffer.indexOf(NEWLINE, i)
      // A quote above the data could hide a line end in DuckDB's reading of it.
      if (this.quote >= 0 && buffer.subarray(i, next).includes(this.quote)) throw new NotPlain()
      i = next + 1
      this.linesToSkip--
    }
    return i
  }
}

const grown = (buffer: Buffer, size: number, used: number): Buffer => {
  const bigger = Buffer.allocUnsafeSlow(size)
  buffer.copy(bigger, 0, 0, used)
  return bigger
}

/**
 * Reads `file` (whose every column is in `specs`, in file order) into column files in `dir`, as scanToColumns would
 * from DuckDB; null when the file turns out not to be plain (nothing left in `dir`).
 */
export async function scanPlainCsv(
  file: string,
  settings: CsvSettings,
  specs: ColumnSpec[],
  dir: string,
  options: ScanOptions & { size: number }
): Promise<ScanResult | null> {
  const { pool, sinks } = columnSinks(specs, dir, false)
  const layout: PlainLayout = {
    delimiter: settings.delimiter.charCodeAt(0),
    quote: settings.quote === '' ? -1 : settings.quote.charCodeAt(0),
    numeric: sinks.map((sink) => sink instanceof NumericColumn)
  }
  const helper = options.size >= HELPED_SIZE ? importHelper() : null
  const handle = await fs.promises.open(file, 'r')
  const segments = new Segments(handle, settings, layout.quote)
  let rows = 0
  const hand = (block: RowBlock) => {
    if (block.rows > 0) rows += handRows(sinks, block)
  }
  try {
    // Segment k is parsed here when k is even (or without a helper), by the helper when odd; read two ahead, so
    // the helper has its next segment while this thread hands rows over.
    const queued: (Segment | Promise<RowBlock> | null)[] = []
    // The helper's last block, handed over: its arrays go back with the next segment the helper gets.
    let spare: RowBlock | null = null
    let readAll = false
    const readAhead = async (count: number) => {
      while (!readAll && queued.length < count) {
        const segment = await segments.next()
        if (!segment) readAll = true
        else if (helper && segment.start === 0 && queued.length % 2 === 1) {
          queued.push(helper.parse(layout, segment.buffer, segment.end, spare))
          spare = null
        } else queued.push(segment)
      }
    }
    const block = new RowBlock(layout, ROWS)
    for (let k = 0; ; k++) {
      if (options.signal?.aborted) throw new LabError(`${options.label}: import cancelled`)
      await readAhead(k + 3)
      const next = queued[k]
      if (!next) break
      queued[k] = null
      if ('buffer' in next) {
        block.buffer = next.buffer
        for (let at = next.start; at < next.end;) {
          block.rows = 0
          at = parseLines(layout, next.buffer, at, next.end, block, hashesWanted(sinks))
          hand(block)
        }
        segments.recycle(next.buffer)
      } else {
        // A helper that fails (or dies) is no reason to fail the import: DuckDB reads the file instead.
        const parsed = await next.catch((error: unknown) => Promise.reject(error instanceof NotPlain ? error : new NotPlain()))
        hand(parsed)
        segments.recycle(parsed.buffer)
        spare = parsed
      }
      options.onProgress?.(rows, segments.read / Math.max(1, options.size))
    }
    // No data rows (a header alone, a preamble longer than the file): DuckDB's reading says what the file holds.
    if (rows === 0) throw new NotPlain()
    return { rows, sinks, pool }
  } catch (error) {
    abortColumns({ rows: 0, sinks, pool })
    if (error instanceof NotPlain) return null
    throw error
  } finally {
    pool.closeAll()
    await handle.close()
  }
}

/** Per column: whether its builder wants the text hashes (a text column while it has a vocabulary). */
const hashesWanted = (sinks: ColumnSink[]): boolean[] => sinks.map((sink) => sink instanceof TextColumn && sink.hashesWanted)

/** A block's rows to the column builders; returns their count. */
function handRows(sinks: ColumnSink[], block: RowBlock): number {
  const count = block.rows
  sinks.forEach((sink, column) => {
    if (sink instanceof NumericColumn) sink.addValues(block.values[column]!.subarray(0, count), null, count)
    else if (sink instanceof TextColumn) sink.addTexts(count, null, sink.hashesWanted ? block.hashes[column]! : null, new BlockTexts(block, column))
  })
  return count
}
