import fs from 'node:fs'
import path from 'node:path'
import sharp from 'sharp'

type SharpImage = ReturnType<typeof sharp>
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { openTestServices, type TestServices } from '../../fixtures/home'
import { encodeNewData } from '../../../main/data/newData'
import { imageDatasetName } from '../../../main/data/service'
import { LabError } from '../../../main/shared/errors'
import { datasetSummary } from '../../../main/shared/contract'

let lab: TestServices
beforeEach(async () => {
  lab = await openTestServices()
})
afterEach(async () => {
  await lab.close()
})

/** A w×h image whose pixel (x, y) is `pixel(x, y)` (channels values each), encoded with `format`. */
async function image(
  w: number,
  h: number,
  channels: 1 | 3 | 4,
  pixel: (x: number, y: number) => number[],
  format: (s: SharpImage) => SharpImage
): Promise<Buffer> {
  const raw = Buffer.alloc(w * h * channels)
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) raw.set(pixel(x, y), (y * w + x) * channels)
  return format(sharp(raw, { raw: { width: w, height: h, channels } })).toBuffer()
}

const png = (s: SharpImage) => s.png()
const gradient = (x: number, y: number) => [(x * 16 + y * 4) % 256]

describe('image folders', () => {
  it('imports mixed formats and modes, skipping what cannot be used', async () => {
    const root = path.join(lab.tmp, 'pets')
    lab.write('pets/cat/gray.png', await image(16, 16, 1, gradient, png))
    lab.write('pets/cat/rgb.png', await image(16, 16, 3, (x, y) => [x * 10, y * 10, 200], png))
    lab.write(
      'pets/cat/palette.png',
      await image(
        16,
        16,
        3,
        (x) => [x * 8, x * 8, x * 8],
        (s) => s.png({ palette: true })
      )
    )
    lab.write('pets/dog/rgba.png', await image(20, 12, 4, (x) => [255, 0, 0, x < 10 ? 0 : 255], png))
    lab.write(
      'pets/dog/photo.jpg',
      await image(
        16,
        16,
        3,
        (x, y) => [x * 15, 100, y * 15],
        (s) => s.jpeg()
      )
    )
    lab.write(
      'pets/dog/small.webp',
      await image(
        8,
        8,
        3,
        () => [10, 200, 30],
        (s) => s.webp({ lossless: true })
      )
    )
    lab.write(
      'pets/cat/anim.gif',
      await image(
        16,
        16,
        3,
        (x) => [x * 16, 0, 0],
        (s) => s.gif()
      )
    )
    lab.write(
      'pets/dog/scan.tiff',
      await image(
        16,
        16,
        3,
        (x, y) => [x, y, x + y],
        (s) => s.tiff()
      )
    )
    lab.write('pets/dog/empty.png', Buffer.alloc(0))
    const whole = await image(16, 16, 3, (x, y) => [x, y, 7], png)
    lab.write('pets/dog/truncated.png', whole.subarray(0, Math.floor(whole.length / 2)))
    lab.write('pets/dog/notes.png', 'this is not an image\n')
    const jpeg = await image(
      32,
      32,
      3,
      (x, y) => [x * 8, y * 8, 90],
      (s) => s.jpeg()
    )
    lab.write('pets/cat/cut.jpg', jpeg.subarray(0, Math.floor(jpeg.length * 0.6)))
    const outside = lab.write('elsewhere/secret.png', await image(16, 16, 1, gradient, png))
    fs.symlinkSync(outside, path.join(root, 'cat', 'link.png'))
    lab.write('pets/stray.png', await image(16, 16, 1, gradient, png))

    const summary = await lab.datasets.import({ path: root })
    expect(summary.kind).toBe('images')
    expect(datasetSummary.strict().parse(summary)).toEqual(summary)
    expect(summary.rows).toBe(8)
    expect(summary.classes).toEqual([
      { label: 'cat', count: 4 },
      { label: 'dog', count: 4 }
    ])
    const reasons = Object.fromEntries(summary.skipped.map((s) => [s.path, s.reason]))
    expect(Object.keys(reasons).sort()).toEqual(['cat/cut.jpg', 'cat/link.png', 'dog/empty.png', 'dog/notes.png', 'dog/truncated.png', 'stray.png'])
    expect(reasons['cat/link.png']).toBe('symlink points outside the folder')
    expect(reasons['dog/empty.png']).toBe('empty file')
    expect(reasons['dog/notes.png']).toMatch(/^not a readable image/)
    expect(reasons['dog/truncated.png']).toMatch(/^(cannot decode|not a readable image)/)
    expect(reasons['stray.png']).toBe('not inside a class folder')
    // Colour images present: RGB; most common size 16×16.
    expect(summary.image).toEqual({ width: 16, height: 16, channels: 3 })
    expect(summary.columns.map((c) => c.name)).toEqual(['r', 'g', 'b'])
    expect(summary.split.train + summary.split.val + summary.split.test).toBe(8)

    const preview = await lab.datasets.preview({ datasetId: summary.datasetId, offset: 0, limit: 10 })
    expect(preview.columns).toEqual(['path', 'label'])
    expect(preview.rows).toContainEqual(['dog/rgba.png', 'dog'])

    const prepared = await lab.datasets.loadPrepared(summary.datasetId)
    expect(prepared.inputShape).toEqual([16, 16, 3])
    expect(prepared.train.x.length).toBe(prepared.train.n * 16 * 16 * 3)
    expect(prepared.train.x.every((v) => v >= 0 && v <= 1)).toBe(true)

    // Alpha is flattened on white: the transparent left half of the red image is white.
    const all = [prepared.train, prepared.val, prepared.test]
    const rgbaRow = preview.rows.findIndex((r) => r[0] === 'dog/rgba.png')
    const part = all.find((p) => p.rows.includes(rgbaRow))!
    const at = part.rows.indexOf(rgbaRow) * 16 * 16 * 3
    expect(Array.from(part.x.subarray(at, at + 3))).toEqual([1, 1, 1])
    const right = at + 15 * 3
    expect(Array.from(part.x.subarray(right, right + 3))).toEqual([1, 0, 0])

    const thumbs = await lab.datasets.thumbnails({ datasetId: summary.datasetId, perClass: 2 })
    expect(thumbs.map((t) => [t.label, t.images.length])).toEqual([
      ['cat', 2],
      ['dog', 2]
    ])
    const thumb = Buffer.from(thumbs[0]!.images[0]!.dataUrl.replace('data:image/png;base64,', ''), 'base64')
    expect((await sharp(thumb).metadata()).width).toBe(64)
    // Chosen rows (a run's misclassified images): the same pictures, in the order asked.
    const dogRow = thumbs[1]!.images[0]!.row
    const catRow = thumbs[0]!.images[0]!.row
    const chosen = await lab.datasets.rowThumbnails({ datasetId: summary.datasetId, rows: [dogRow, catRow] })
    expect(chosen).toEqual([thumbs[1]!.images[0], thumbs[0]!.images[0]])
    await expect(lab.datasets.rowThumbnails({ datasetId: summary.datasetId, rows: [8] })).rejects.toThrow(/has 8 images, no row 8/)

    // New images with the recipe give the same pixels as the stored ones.
    const recipe = await lab.datasets.getRecipe(summary.datasetId)
    const encoded = await encodeNewData(recipe, root, { scale: true })
    const k = encoded.keys.indexOf('dog/rgba.png')
    expect(encoded.truth[k]).toBe('dog')
    expect(Array.from(encoded.x.subarray(k * 768, (k + 1) * 768))).toEqual(Array.from(part.x.subarray(at, at + 768)))
  })

  it('stores gray images (including palette and RGB-encoded gray) as one channel', async () => {
    const root = path.join(lab.tmp, 'gray')
    for (const label of ['a', 'b']) {
      lab.write(`gray/${label}/one.png`, await image(12, 10, 1, gradient, png))
      lab.write(
        `gray/${label}/palette.png`,
        await image(
          12,
          10,
          3,
          (x) => [x * 20, x * 20, x * 20],
          (s) => s.png({ palette: true })
        )
      )
      lab.write(`gray/${label}/rgb.png`, await image(12, 10, 3, (x, y) => [x + y, x + y, x + y], png))
    }
    const summary = await lab.datasets.import({ path: root })
    expect(summary.image).toEqual({ width: 12, height: 10, channels: 1 })
    expect(summary.columns.map((c) => c.name)).toEqual(['gray'])
    const recipe = await lab.datasets.getRecipe(summary.datasetId)
    expect(recipe).toMatchObject({ kind: 'images', colorMode: 'grayscale', inputShape: [10, 12, 1], affine: null })

    const forced = await lab.datasets.import({ path: root, colorMode: 'rgb', imageSize: { width: 8, height: 8 } })
    expect(forced.image).toEqual({ width: 8, height: 8, channels: 3 })
    const prepared = await lab.datasets.loadPrepared(forced.datasetId)
    expect(prepared.inputShape).toEqual([8, 8, 3])

    // New images may come as a flat folder: no truth, keys are the file names.
    lab.write('new/x.png', await image(30, 30, 1, gradient, png))
    lab.write(
      'new/y.jpg',
      await image(
        12,
        10,
        3,
        (x) => [x * 20, x * 20, x * 20],
        (s) => s.jpeg()
      )
    )
    lab.write('new/readme.txt', 'not an image')
    const encoded = await encodeNewData(recipe, path.join(lab.tmp, 'new'), { scale: true })
    expect(encoded).toMatchObject({ n: 2, keys: ['x.png', 'y.jpg'], truth: [null, null], inputShape: [10, 12, 1] })
    expect(encoded.x.length).toBe(2 * 10 * 12)
  })

  it('refuses folders without two classes of images', async () => {
    lab.write('flat/one.png', await image(8, 8, 1, gradient, png))
    const flat = await lab.datasets.import({ path: path.join(lab.tmp, 'flat') }).catch((e: unknown) => e)
    expect(flat).toBeInstanceOf(LabError)
    expect((flat as Error).message).toMatch(/flat: no class subfolders with images/)
    lab.write('single/only/one.png', await image(8, 8, 1, gradient, png))
    lab.write('single/empty/readme.txt', 'nothing here')
    await expect(lab.datasets.import({ path: path.join(lab.tmp, 'single') })).rejects.toThrow(
      /only one class folder; at least two classes are needed/
    )
    expect(await lab.datasets.list()).toEqual([])
    expect(fs.readdirSync(path.join(lab.tmp, 'home', 'datasets'))).toEqual([])
  })

  it('refuses thumbnails of a table', async () => {
    const table = lab.write('t.csv', ['a,label', ...Array.from({ length: 10 }, (_, i) => `${i},${i % 2}`)].join('\n'))
    const summary = await lab.datasets.import({ path: table })
    await expect(lab.datasets.thumbnails({ datasetId: summary.datasetId, perClass: 2 })).rejects.toThrow(/thumbnails are for image datasets/)
    await expect(lab.datasets.rowThumbnails({ datasetId: summary.datasetId, rows: [0] })).rejects.toThrow(/thumbnails are for image datasets/)
  })

  it('names an image dataset after its folder, or — for a generic folder like "train" — its parent or its classes', () => {
    const uploads = path.join('/home/x', 'uploads')
    expect(imageDatasetName('/data/shapes', ['a', 'b'], uploads)).toBe('shapes')
    expect(imageDatasetName('/data/fashion-mnist/train', ['a', 'b'], uploads)).toBe('fashion-mnist train')
    expect(imageDatasetName('/data/images/test', ['cat', 'dog'], uploads)).toBe('test: 2 classes, cat, dog')
    expect(imageDatasetName(path.join(uploads, 'batch1', 'train'), ['ankle boot', 'bag', 'coat', 'dress'], uploads)).toBe(
      'train: 4 classes, ankle boot, bag, coat…'
    )
  })
})
