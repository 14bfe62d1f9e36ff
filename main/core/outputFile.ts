/**
 * Where LayerLab may write a file that a person named (an export's --out, predict's --out).
 *
 * Why: `export RUN --out <home>/layerlab.sqlite` once replaced the database with an ONNX file, and every command
 * after it failed. So an output path is checked before any work is done: never one of the data home's own files
 * (the database and its WAL/SHM/journal, the datasets/, runs/ and uploads/ folders, except the places the caller
 * names as its own), never a folder, a pipe or a device, and an existing file only when the person asked to replace
 * it. Symlinks are resolved first, so a link that points into the data home is refused like the path itself.
 */
import fs from 'node:fs'
import path from 'node:path'
import { LabError } from '../shared/errors'
import { describeNode } from './inputFile'

/** The data home's own files and folders, relative to it. */
export const HOME_DATABASE = 'layerlab.sqlite'
const HOME_FILES = [HOME_DATABASE, `${HOME_DATABASE}-wal`, `${HOME_DATABASE}-shm`, `${HOME_DATABASE}-journal`]
const HOME_FOLDERS = ['datasets', 'runs', 'uploads']

export interface OutputOptions {
  /** The data home whose own files are off limits. */
  home: string
  /** Replace an existing file (the CLI's --force, a confirmation in the app). */
  overwrite: boolean
  /** Paths inside the data home that this writer owns (an export's default place under runs/<id>/). */
  allowed?: string[]
}

/** The path with every symlink in it resolved, as far as the path exists (a file to be created keeps its name). */
function resolveReal(file: string): string {
  let existing = file
  const rest: string[] = []
  for (;;) {
    try {
      return path.join(fs.realpathSync(existing), ...rest)
    } catch {
      const parent = path.dirname(existing)
      if (parent === existing) return file
      rest.unshift(path.basename(existing))
      existing = parent
    }
  }
}

const inside = (file: string, folder: string): boolean => file === folder || file.startsWith(folder + path.sep)

/** What in the data home a path would overwrite, or null when it is none of its own files. */
function homePart(file: string, home: string): string | null {
  for (const name of HOME_FILES) if (file === path.join(home, name)) return `the data home's database (${name})`
  for (const name of HOME_FOLDERS) if (inside(file, path.join(home, name))) return `the data home's ${name}/ folder`
  return null
}

/**
 * Checks an output path before the work that produces it; returns the absolute path to write. The write itself goes
 * through core/atomicWrite.ts (temp file + rename, or a no-clobber link when `overwrite` is false).
 */
export function checkOutputPath(file: string, options: OutputOptions): string {
  const target = path.resolve(file)
  const real = resolveReal(target)
  const homes = [path.resolve(options.home), resolveReal(path.resolve(options.home))]
  const allowed = (options.allowed ?? []).flatMap((p) => [path.resolve(p), resolveReal(path.resolve(p))])
  const own = allowed.includes(target) || allowed.includes(real)
  if (!own) {
    for (const home of homes) {
      for (const candidate of [target, real]) {
        const part = homePart(candidate, home)
        if (part) throw new LabError(`${file}: would overwrite ${part}: write it outside ${home}`)
      }
    }
  }
  let stats: fs.Stats | null = null
  try {
    stats = fs.statSync(target)
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code !== 'ENOENT') throw new LabError(`${file}: cannot write there (${code ?? String(error)})`)
  }
  if (stats) {
    if (!stats.isFile()) throw new LabError(`${file}: is ${describeNode(stats)}; give a file name to write`)
    // The writer's own place (an export's default file) is its to replace.
    if (!options.overwrite && !own) throw new LabError(`${file}: already exists; pass --force to replace it`, 'conflict')
  }
  const parent = path.dirname(target)
  const parentStats = fs.statSync(parent, { throwIfNoEntry: false })
  if (parentStats && !parentStats.isDirectory()) throw new LabError(`${file}: ${parent} is not a folder`)
  return target
}
