/**
 * Image folders: each subfolder of the root is a class. Every image is decoded with sharp, flattened on white,
 * resized (fill) to one size and stored as uint8 pixels; files that cannot be used are skipped with a reason.
 */
import fs from 'node:fs'
import path from 'node:path'
import { createHash } from 'node:crypto'
import { createRequire } from 'node:module'
import type Sharp from 'sharp'
import type { SkippedFile } from '../shared/contract'
import { LabError } from '../shared/errors'
import type { ImageRecipe, NewData } from './recipe'
import { BufferedWriter } from './storage'
import { HISTOGRAM_BINS } from './columnPasses'
import { errorLine } from '../shared/format'
import { INPUT_LIMITS, describeNode, readInputFile } from '../core/inputFile'

const localRequire = createRequire(__filename)
let loaded: typeof Sharp | null = null
/** sharp (libvips), loaded by the first image: ~13 MiB that a table import never needs. */
const sharp = (...args: Parameters<typeof Sharp>): ReturnType<typeof Sharp> => (loaded ??= localRequire('sharp') as typeof Sharp)(...args)

export const MAX_DEFAULT_SIDE = 64
/** Channel differences up to this count as gray: JPEG stores gray pictures as RGB with a little chroma noise. */
const GRAY_TOLERANCE = 3

export interface ImageFile {
  /** Absolute path (the resolved target for symlinks inside the root). */
  file: string
  /** Path relative to the root, with forward slashes. */
  rel: string
  /** Class: the first folder under the root; null for files at the root. */
  label: string | null
}

/** A file left out of an image import, and why. */
export type Skipped = SkippedFile

const toPosix = (rel: string): string => rel.split(path.sep).join('/')

/** Lists every file under `root` (symlinks followed only when they stay inside the root). */
export async function listImageFiles(root: string): Promise<{ files: ImageFile[]; skipped: Skipped[] }> {
  const realRoot = await fs.promises.realpath(root)
  const files: ImageFile[] = []
  const skipped: Skipped[] = []
  const inside = (real: string) => real === realRoot || real.startsWith(realRoot + path.sep)
  const walk = async (dir: string, depth: number): Promise<void> => {
    let entries: fs.Dirent[]
    try {
      entries = await fs.promises.readdir(dir, { withFileTypes: true })
    } catch (error) {
      if (depth === 0) throw new LabError(`${root}: cannot read the folder (${(error as NodeJS.ErrnoException).code ?? String(error)})`)
      skipped.push({
        path: toPosix(path.relative(root, dir)),
        reason: `cannot read the folder (${(error as NodeJS.ErrnoException).code ?? 'error'})`
      })
      return
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    for (const entry of entries) {
      if (entry.name.startsWith('.')) continue
      const full = path.join(dir, entry.name)
      const rel = toPosix(path.relative(root, full))
      let target = full
      if (entry.isSymbolicLink()) {
        const real = await fs.promises.realpath(full).catch(() => null)
        if (!real) {
          skipped.push({ path: rel, reason: 'broken symlink' })
          continue
        }
        if (!inside(real)) {
          skipped.push({ path: rel, reason: 'symlink points outside the folder' })
          continue
        }
        const stats = await fs.promises.stat(real)
        // A link back into the tree would walk forever: follow only links to files.
        if (stats.isDirectory()) {
          skipped.push({ path: rel, reason: 'symlink to a folder is not followed' })
          continue
        }
        // Reading a pipe or a device would wait forever or never end.
        if (!stats.isFile()) {
          skipped.push({ path: rel, reason: `symlink to ${describeNode(stats)}, not an image file` })
          continue
        }
        target = real
      } else if (entry.isDirectory()) {
        await walk(full, depth + 1)
        continue
      } else if (!entry.isFile()) {
        skipped.push({ path: rel, reason: `${describeNode(await fs.promises.lstat(full))}, not an image file` })
        continue
      }
      files.push({ file: target, rel, label: depth === 0 ? null : rel.split('/')[0]! })
    }
  }
  await walk(root, 0)
  return { files, skipped }
}

/** Decodes one image to RGB uint8 at width × height: alpha flattened on white, resized ignoring the aspect ratio. */
export async function decodeRgb(input: string | Buffer, width: number, height: number): Promise<Buffer> {
  const { data, info } = await sharp(input, { failOn: 'error' })
    .flatten({ background: '#ffffff' })
    .resize(width, height, { fit: 'fill' })
    .toColourspace('srgb')
    .raw()
    .toBuffer({ resolveWithObject: true })
  if (info.channels === 3) return data
  const rgb = Buffer.alloc(width * height * 3)
  for (let p = 0; p < width * height; p++) {
    for (let c = 0; c < 3; c++) rgb[p * 3 + c] = data[p * info.channels + (info.channels < 3 ? 0 : c)]!
  }
  return rgb
}

export function isGray(rgb: Buffer): boolean {
  for (let i = 0; i < rgb.length; i += 3) {
    if (Math.abs(rgb[i]! - rgb[i + 1]!) > GRAY_TOLERANCE || Math.abs(rgb[i + 1]! - rgb[i + 2]!) > GRAY_TOLERANCE) return false
  }
  return true
}

/** RGB to the stored channels: 1 (luma, ITU-R BT.601) or 3. */
export function toChannels(rgb: Buffer, channels: 1 | 3): Buffer {
  if (channels === 3) return rgb
  const gray = Buffer.alloc(rgb.length / 3)
  for (let p = 0; p < gray.length; p++) gray[p] = Math.round(0.299 * rgb[p * 3]! + 0.587 * rgb[p * 3 + 1]! + 0.114 * rgb[p * 3 + 2]!)
  return gray
}

/** The default size: the most common one, scaled down (keeping its aspect) to fit MAX_DEFAULT_SIDE. */
export function defaultSize(sizes: { width: number; height: number }[]): { width: number; height: number } {
  const counts = new Map<string, number>()
  let best = ''
  for (const size of sizes) {
    const key = `${size.width}x${size.height}`
    const count = (counts.get(key) ?? 0) + 1
    counts.set(key, count)
    if (count > (counts.get(best) ?? 0)) best = key
  }
  const [width, height] = best.split('x').map(Number)
  if (width === undefined || height === undefined) throw new Error('defaultSize needs at least one size')
  const factor = Math.min(1, MAX_DEFAULT_SIDE / width, MAX_DEFAULT_SIDE / height)
  return { width: Math.max(1, Math.round(width * factor)), height: Math.max(1, Math.round(height * factor)) }
}

export interface ImageRow {
  path: string
  label: string
}

export interface ImageImport {
  rows: ImageRow[]
  classes: string[]
  skipped: Skipped[]
  width: number
  height: number
  channels: 1 | 3
  colorMode: 'grayscale' | 'rgb'
  contentHash: string
  /** Per channel: stats over all stored pixel values (0–255). */
  channelStats: { name: string; distinct: number; min: number; max: number; mean: number; std: number; histogram: number[] }[]
}

const reasonOf = errorLine

/**
 * One image's bytes, read the safe way (a regular file within the image limit, never waiting on a pipe), or the
 * reason it cannot be used, without the file's name (the skip list shows that beside it).
 */
async function readImageFile(file: ImageFile): Promise<Buffer | Error> {
  try {
    return await readInputFile(file.file, { label: file.rel, maxBytes: INPUT_LIMITS.image, what: 'an image' })
  } catch (error) {
    const message = errorLine(error)
    return new Error(message.startsWith(`${file.rel}: `) ? message.slice(file.rel.length + 2) : `unreadable: ${message}`)
  }
}

/**
 * Imports a folder of class subfolders into `dir` (pixels.u8, [n, h, w, c]). Unusable files are skipped with a reason;
 * fewer than two classes with images is a LabError.
 */
export async function importImages(
  root: string,
  options: { imageSize?: { width: number; height: number }; colorMode?: 'auto' | 'grayscale' | 'rgb' },
  dir: string,
  onProgress?: (rows: number, bytes: number, totalBytes: number) => void
): Promise<ImageImport> {
  const { files, skipped } = await listImageFiles(root)
  const classFiles: ImageFile[] = []
  for (const file of files) {
    if (file.label === null) skipped.push({ path: file.rel, reason: 'not inside a class folder' })
    else classFiles.push(file)
  }
  if (classFiles.length === 0) throw new LabError(`${root}: no class subfolders with images (expected <folder>/<class>/<image>)`)

  // Pass 1: which files are images, their sizes, and the content hash.
  const usable: (ImageFile & { bytes: number })[] = []
  const sizes: { width: number; height: number }[] = []
  const hash = createHash('sha256')
  let totalBytes = 0
  for (const file of classFiles) {
    const data = await readImageFile(file)
    if (data instanceof Error) {
      skipped.push({ path: file.rel, reason: data.message })
      continue
    }
    hash.update(file.rel).update('\0').update(createHash('sha256').update(data).digest())
    if (data.length === 0) {
      skipped.push({ path: file.rel, reason: 'empty file' })
      continue
    }
    try {
      const meta = await sharp(data).metadata()
      if (!meta.width || !meta.height) throw new Error('no size')
      sizes.push({ width: meta.width, height: meta.height })
      usable.push({ ...file, bytes: data.length })
      totalBytes += data.length
    } catch (error) {
      skipped.push({ path: file.rel, reason: `not a readable image: ${reasonOf(error)}` })
    }
  }
  const size = options.imageSize ?? (sizes.length ? defaultSize(sizes) : { width: 1, height: 1 })

  // Pass 2: decode to RGB at the chosen size (kept in a temporary file), noting whether every image is gray.
  const rgbFile = path.join(dir, 'pixels.rgb.tmp')
  const writer = new BufferedWriter(rgbFile)
  const rows: ImageRow[] = []
  let allGray = true
  let bytes = 0
  let lastProgress = 0
  try {
    for (const file of usable) {
      let rgb: Buffer
      try {
        const data = await readImageFile(file)
        if (data instanceof Error) throw data
        rgb = await decodeRgb(data, size.width, size.height)
      } catch (error) {
        skipped.push({ path: file.rel, reason: `cannot decode: ${reasonOf(error)}` })
        continue
      }
      if (allGray && !isGray(rgb)) allGray = false
      writer.bytes(rgb)
      rows.push({ path: file.rel, label: file.label! })
      bytes += file.bytes
      if (onProgress && Date.now() - lastProgress > 200) {
        lastProgress = Date.now()
        onProgress(rows.length, bytes, totalBytes)
      }
    }
  } finally {
    writer.close()
  }
  const classes = [...new Set(rows.map((row) => row.label))].sort()
  if (classes.length < 2)
    throw new LabError(`${root}: images in ${classes.length === 0 ? 'no' : 'only one'} class folder; at least two classes are needed`)

  const mode = options.colorMode ?? 'auto'
  const channels: 1 | 3 = mode === 'grayscale' || (mode === 'auto' && allGray) ? 1 : 3
  const pixelsPerImage = size.width * size.height * 3
  const out = new BufferedWriter(path.join(dir, 'pixels.u8'))
  const fd = fs.openSync(rgbFile, 'r')
  const rgb = Buffer.alloc(pixelsPerImage)
  try {
    for (let i = 0; i < rows.length; i++) {
      fs.readSync(fd, rgb, 0, pixelsPerImage, i * pixelsPerImage)
      out.bytes(toChannels(rgb, channels))
    }
  } finally {
    fs.closeSync(fd)
    out.close()
  }
  fs.rmSync(rgbFile)
  onProgress?.(rows.length, bytes, totalBytes)
  return {
    rows,
    classes,
    skipped,
    width: size.width,
    height: size.height,
    channels,
    colorMode: channels === 1 ? 'grayscale' : 'rgb',
    contentHash: hash.digest('hex'),
    channelStats: channelStats(path.join(dir, 'pixels.u8'), channels)
  }
}

/** Min, max, mean, std and a 20-bin histogram per channel, streamed over the pixel file. */
function channelStats(file: string, channels: 1 | 3): ImageImport['channelStats'] {
  const names = channels === 1 ? ['gray'] : ['r', 'g', 'b']
  const counts = names.map(() => new Float64Array(256))
  const fd = fs.openSync(file, 'r')
  const chunk = Buffer.alloc(channels * 65536)
  let position = 0
  try {
    for (;;) {
      const read = fs.readSync(fd, chunk, 0, chunk.length, position)
      if (read <= 0) break
      for (let i = 0; i < read; i++) counts[i % channels]![chunk[i]!]!++
      position += read
    }
  } finally {
    fs.closeSync(fd)
  }
  return names.map((name, c) => {
    const histogramOf = counts[c]!
    let n = 0
    let distinct = 0
    let sum = 0
    let min = 255
    let max = 0
    for (let v = 0; v < 256; v++) {
      if (!histogramOf[v]) continue
      n += histogramOf[v]!
      distinct++
      sum += v * histogramOf[v]!
      min = Math.min(min, v)
      max = Math.max(max, v)
    }
    const mean = n ? sum / n : 0
    let squares = 0
    const histogram = new Array<number>(HISTOGRAM_BINS).fill(0)
    for (let v = 0; v < 256; v++) {
      if (!histogramOf[v]) continue
      squares += histogramOf[v]! * (v - mean) ** 2
      const bin = max > min ? Math.min(HISTOGRAM_BINS - 1, Math.floor(((v - min) / (max - min)) * HISTOGRAM_BINS)) : 0
      histogram[bin]! += histogramOf[v]!
    }
    return { name, distinct, min: n ? min : 0, max, mean, std: n ? Math.sqrt(squares / n) : 0, histogram }
  })
}

/** Reads a folder of new images (flat, or class subfolders whose names are the truth) with an image recipe; pixels in [0, 1]. */
export async function encodeImageFolder(recipe: ImageRecipe, root: string): Promise<NewData> {
  const { files } = await listImageFiles(root)
  const per = recipe.width * recipe.height * recipe.channels
  const images: Buffer[] = []
  const keys: string[] = []
  const truth: (string | null)[] = []
  for (const file of files) {
    try {
      const data = await readImageFile(file)
      if (data instanceof Error) throw data
      const rgb = await decodeRgb(data, recipe.width, recipe.height)
      images.push(toChannels(rgb, recipe.channels))
      keys.push(file.rel)
      truth.push(file.label)
    } catch {
      // Not an image (a README, a truncated file): predictions are only for what decodes.
    }
  }
  if (images.length === 0) throw new LabError(`${root}: no readable images`)
  const x = new Float32Array(images.length * per)
  images.forEach((image, i) => {
    for (let j = 0; j < per; j++) x[i * per + j] = image[j]! * recipe.pixelScale
  })
  return { x, n: images.length, inputShape: recipe.inputShape, keys, truth, truthValues: null }
}

/** Rows of a stored pixel file as uint8 (for thumbnails) or scaled floats. */
export function readPixels(file: string, perImage: number, rows: ArrayLike<number>, scale: number): Float32Array {
  const x = new Float32Array(rows.length * perImage)
  const fd = fs.openSync(file, 'r')
  const buffer = Buffer.alloc(perImage)
  try {
    for (let i = 0; i < rows.length; i++) {
      fs.readSync(fd, buffer, 0, perImage, rows[i]! * perImage)
      for (let j = 0; j < perImage; j++) x[i * perImage + j] = buffer[j]! * scale
    }
  } finally {
    fs.closeSync(fd)
  }
  return x
}

/** One stored image as a PNG data URL, upscaled (nearest neighbour) so its longer side is at least 64 px. */
export async function thumbnail(file: string, row: number, width: number, height: number, channels: 1 | 3): Promise<string> {
  const per = width * height * channels
  const buffer = Buffer.alloc(per)
  const fd = fs.openSync(file, 'r')
  try {
    fs.readSync(fd, buffer, 0, per, row * per)
  } finally {
    fs.closeSync(fd)
  }
  const factor = Math.max(1, Math.ceil(64 / Math.max(width, height)))
  const png = await sharp(buffer, { raw: { width, height, channels } })
    .resize(width * factor, height * factor, { kernel: 'nearest' })
    .png()
    .toBuffer()
  return `data:image/png;base64,${png.toString('base64')}`
}
