/**
 * The one way LayerLab writes a file that someone may read meanwhile (weights, ONNX models, predictions, a dataset's
 * meta.json and split): into a temp file beside the target, then a rename over it. A reader sees the old file or
 * the new one, never half of one; a failed write removes its temp file and leaves the target as it was. A write
 * that must not replace a file (overwrite: false) lands as a hard link instead, which the kernel refuses when the
 * target exists, so a file created meanwhile is never lost either.
 */
import fs from 'node:fs'
import path from 'node:path'
import { randomBytes } from 'node:crypto'
import { LabError } from '../shared/errors'
import { errorLine } from '../shared/format'

const tempName = (file: string): string => `${file}.${process.pid}-${randomBytes(3).toString('hex')}.tmp`

const cannotWrite = (file: string, error: unknown): LabError => new LabError(`${file}: cannot write (${errorLine(error)})`)

/** Where the folder itself could not be made there is no temp file to remove, and the rm fails too: ignore that. */
function removeTemp(remove: () => void): void {
  try {
    remove()
  } catch {
    // the original error is the one to report
  }
}

export interface AtomicWriteOptions {
  /** false: never replace a file that exists by the time the write lands (a no-clobber link instead of a rename). */
  overwrite?: boolean
}

const exists = (file: string): LabError => new LabError(`${file}: already exists; pass --force to replace it`, 'conflict')

/** Moves the finished temp file into place: a rename, or (overwrite false) a hard link, which fails if the target exists. */
export function placeTempFile(temp: string, file: string, overwrite: boolean): void {
  if (overwrite) return fs.renameSync(temp, file)
  try {
    fs.linkSync(temp, file)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'EEXIST') throw exists(file)
    // A file system without hard links (FAT, some network shares): check, then rename.
    if (code !== 'EPERM' && code !== 'ENOTSUP' && code !== 'EOPNOTSUPP' && code !== 'EXDEV') throw error
    if (fs.existsSync(file)) throw exists(file)
    fs.renameSync(temp, file)
    return
  }
  fs.rmSync(temp, { force: true })
}

export function writeFileAtomic(file: string, data: Uint8Array | string, options: AtomicWriteOptions = {}): void {
  const temp = tempName(file)
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true })
    fs.writeFileSync(temp, data)
    placeTempFile(temp, file, options.overwrite ?? true)
  } catch (error) {
    removeTemp(() => fs.rmSync(temp, { force: true }))
    if (error instanceof LabError) throw error
    throw cannotWrite(file, error)
  }
}

export async function writeFileAtomicAsync(file: string, data: Uint8Array | string): Promise<void> {
  const temp = tempName(file)
  try {
    await fs.promises.mkdir(path.dirname(file), { recursive: true })
    await fs.promises.writeFile(temp, data)
    await fs.promises.rename(temp, file)
  } catch (error) {
    await fs.promises.rm(temp, { force: true }).catch(() => undefined)
    throw cannotWrite(file, error)
  }
}
