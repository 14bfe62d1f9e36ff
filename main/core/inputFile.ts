/**
 * The one way LayerLab opens a path that a person (or a web page) handed it: a model, a table, an image, a spec.
 *
 * Why: a path can name something that is not a file. Reading a named pipe (FIFO) waits until someone writes to it,
 * which froze the whole web shell when it happened on the event loop; /dev/zero never ends and filled the memory;
 * a symlink in an image folder can point at either. So a path is checked before it is read: it must be a regular
 * file (or a folder where a folder is expected), no larger than the limit for what it is; it is opened with
 * O_NONBLOCK (opening a FIFO that replaced the file meanwhile cannot wait), checked again on the open descriptor
 * (the same file, still regular, still within the limit), and read asynchronously, never more than the limit.
 */
import fs from 'node:fs'
import { LabError } from '../shared/errors'
import { formatBytes } from '../shared/format'

const MiB = 1024 * 1024

/** The most LayerLab reads of each kind of input. A regular file over its limit is refused before it is read. */
export const INPUT_LIMITS = {
  /** An ONNX model is read whole (onnxruntime and the metadata reader need the bytes); protobuf stops at 2 GiB. */
  onnxModel: 1024 * MiB,
  /** One image of an image folder (decoded by sharp, which also limits the pixel count). */
  image: 128 * MiB,
  /** A CSV predicted on: its rows are held in memory as numbers, and every row comes back in the answer. */
  predictTable: 512 * MiB,
  /** A workbook (.xlsx/.xls/.ods): SheetJS holds the whole file and its cells in memory (CSV and Parquet stream). */
  workbook: 256 * MiB,
  /** A model spec (JSON) given to `layerlab train --model`. */
  modelSpec: 16 * MiB,
  /** A sweep spec (JSON) given to `layerlab study --sweep`: a few settings' values. */
  sweepSpec: 1 * MiB
} as const

export type InputKind = 'file' | 'directory' | 'file-or-directory'

/** What a path is, in the words an error uses. */
export function describeNode(stats: fs.Stats): string {
  if (stats.isFile()) return 'a file'
  if (stats.isDirectory()) return 'a folder'
  if (stats.isFIFO()) return 'a named pipe (FIFO)'
  if (stats.isCharacterDevice()) return 'a character device'
  if (stats.isBlockDevice()) return 'a block device'
  if (stats.isSocket()) return 'a socket'
  return 'not a regular file'
}

function openError(label: string, error: unknown): LabError {
  const code = (error as NodeJS.ErrnoException).code
  if (code === 'ENOENT' || code === 'ENOTDIR') return new LabError(`${label}: not found`, 'not_found')
  if (code === 'EACCES' || code === 'EPERM') return new LabError(`${label}: permission denied`)
  if (code === 'ELOOP') return new LabError(`${label}: a loop of symbolic links`)
  if (code === 'ENAMETOOLONG') return new LabError(`${label}: the path is too long`)
  return new LabError(`${label}: cannot open (${code ?? String(error)})`)
}

function refuseKind(label: string, stats: fs.Stats, kind: InputKind): void {
  const ok = kind === 'file' ? stats.isFile() : kind === 'directory' ? stats.isDirectory() : stats.isFile() || stats.isDirectory()
  if (ok) return
  const wanted = kind === 'file' ? 'a regular file' : kind === 'directory' ? 'a folder' : 'a regular file or a folder'
  throw new LabError(`${label}: is ${describeNode(stats)}, not ${wanted}`)
}

function refuseSize(label: string, size: number, maxBytes: number | undefined, what: string | undefined): void {
  if (maxBytes !== undefined && size > maxBytes)
    throw new LabError(`${label}: is ${formatBytes(size)}, more than the ${formatBytes(maxBytes)} LayerLab reads for ${what ?? 'this input'}`)
}

export interface InputOptions {
  /** How errors name the path (default: the path itself). */
  label?: string
  /** Refuse a regular file larger than this. */
  maxBytes?: number
  /** What the limit is for, in errors: "an ONNX model". */
  what?: string
}

/**
 * Checks a path before anything reads it: it exists, is what is expected (symlinks followed), and a regular file
 * is within the limit. Never opens the path, so it cannot block.
 */
export async function inspectInput(file: string, kind: InputKind, options: InputOptions = {}): Promise<fs.Stats> {
  const label = options.label ?? file
  let stats: fs.Stats
  try {
    stats = await fs.promises.stat(file)
  } catch (error) {
    throw openError(label, error)
  }
  refuseKind(label, stats, kind)
  if (stats.isFile()) refuseSize(label, stats.size, options.maxBytes, options.what)
  return stats
}

/**
 * Opens a regular file for reading without ever waiting on it: checked first, opened non-blocking, checked again
 * on the descriptor (a path swapped for a pipe in between is refused). The caller closes the handle.
 */
export async function openInputFile(file: string, options: InputOptions = {}): Promise<{ handle: fs.promises.FileHandle; size: number }> {
  const label = options.label ?? file
  const before = await inspectInput(file, 'file', options)
  let handle: fs.promises.FileHandle
  try {
    handle = await fs.promises.open(file, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY)
  } catch (error) {
    throw openError(label, error)
  }
  try {
    const stats = await handle.stat()
    refuseKind(label, stats, 'file')
    if (stats.ino !== before.ino || stats.dev !== before.dev) throw new LabError(`${label}: changed while it was being opened`)
    refuseSize(label, stats.size, options.maxBytes, options.what)
    return { handle, size: stats.size }
  } catch (error) {
    await handle.close()
    throw error
  }
}

/** Reads a whole regular file, asynchronously and never past the limit (a file that grows while read is cut off). */
export async function readInputFile(file: string, options: InputOptions = {}): Promise<Buffer> {
  const label = options.label ?? file
  const { handle, size } = await openInputFile(file, options)
  try {
    // Read one byte past the size seen (which is within the limit): a file that grows meanwhile is noticed, not read on.
    const buffer = Buffer.alloc(size + 1)
    let filled = 0
    while (filled < buffer.length) {
      const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, filled)
      if (bytesRead === 0) break
      filled += bytesRead
    }
    if (filled > size) throw new LabError(`${label}: grew while it was being read`)
    return buffer.subarray(0, filled)
  } catch (error) {
    if (error instanceof LabError) throw error
    throw new LabError(`${label}: cannot read (${(error as NodeJS.ErrnoException).code ?? String(error)})`)
  } finally {
    await handle.close()
  }
}
