/**
 * The one way LayerLab writes a file that someone may read meanwhile (weights, ONNX models, predictions, a dataset's
 * meta.json and split): into a temp file beside the target, then a rename over it. A reader sees the old file or
 * the new one, never half of one; a failed write removes its temp file and leaves the target as it was.
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

export function writeFileAtomic(file: string, data: Uint8Array | string): void {
  const temp = tempName(file)
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true })
    fs.writeFileSync(temp, data)
    fs.renameSync(temp, file)
  } catch (error) {
    removeTemp(() => fs.rmSync(temp, { force: true }))
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
