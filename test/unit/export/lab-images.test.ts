/**
 * Images through the lab: a folder of digit PNGs (written here from the digits data with sharp), a small CNN
 * trained in the worker, exported (NHWC input, no affine step) and used to predict the folder.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import sharp from 'sharp'
import { parse } from 'csv-parse/sync'
import { onnx } from 'onnx-proto'
import { openLab, type Lab } from '../../../main/lab'
import type { ApiResponse, RequestResult } from '../../../main/shared/contract'
import { readDigitsPixels } from '../../fixtures/digits'

const PER_CLASS = 40

let lab: Lab
let runId: string
let folder: string

async function call<T>(name: string, args: unknown): Promise<T> {
  const response = (await lab.router.handle(name, args)) as ApiResponse<T>
  if (!response.ok) throw new Error(`${name}: ${response.error.code}: ${response.error.message}`)
  return response.result
}

beforeAll(async () => {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'layerlab-export-img-'))
  folder = path.join(home, 'digits-png')
  const { pixels, labels } = readDigitsPixels()
  const written = new Map<number, number>()
  for (const [i, label] of labels.entries()) {
    const count = written.get(label) ?? 0
    if (count >= PER_CLASS) continue
    written.set(label, count + 1)
    const gray = Buffer.from(Array.from(pixels.subarray(i * 64, (i + 1) * 64), (v) => Math.round((v * 255) / 16)))
    fs.mkdirSync(path.join(folder, String(label)), { recursive: true })
    await sharp(gray, { raw: { width: 8, height: 8, channels: 1 } })
      .png()
      .toFile(path.join(folder, String(label), `digit-${i}.png`))
  }
  lab = await openLab({ home })
  const dataset = await call<RequestResult<'datasets.import'>>('datasets.import', {
    path: folder,
    imageSize: { width: 8, height: 8 },
    colorMode: 'grayscale'
  })
  // A deliberately tiny CNN (pure-JS conv gradients are slow on a shared 2-core machine), with the layer types
  // the export must handle: conv (same), max pool, batch norm, flatten, dense.
  const spec = {
    version: 1,
    inputShape: [8, 8, 1],
    layers: [
      { type: 'conv2d', filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' },
      { type: 'maxPooling2d', poolSize: 2 },
      { type: 'batchNormalization' },
      { type: 'flatten' },
      { type: 'dense', units: 10, activation: 'softmax' }
    ]
  }
  const partition = { blocks: [{ name: 'all', color: '#4e79a7', start: 0, end: 5, settings: { learningRate: 0.02, epochs: 12 } }] }
  runId = (
    await call<{ runId: string }>('train.start', {
      datasetId: dataset.datasetId,
      spec,
      partition,
      config: { mode: 'end-to-end', epochs: 12, patience: 0 }
    })
  ).runId
  const summary = await call<RequestResult<'runs.wait'>>('runs.wait', { runId })
  if (summary.status !== 'completed') throw new Error(`training ended ${summary.status}: ${summary.error}`)
}, 300_000)

afterAll(async () => {
  await lab?.close()
  if (lab) fs.rmSync(lab.home, { recursive: true, force: true })
})

describe('image model export and predict', () => {
  it('exports the CNN with NHWC input, nothing baked, and a passing proof', async () => {
    const result = await call<RequestResult<'export.onnx'>>('export.onnx', { runId })
    expect(result.parity.pass).toBe(true)
    const proto = onnx.ModelProto.decode(fs.readFileSync(result.path))
    const dims = proto.graph!.input![0]!.type!.tensorType!.shape!.dim!
    expect(dims[0]!.dimParam).toBe('batch')
    expect(dims.slice(1).map((d) => Number(d.dimValue))).toEqual([8, 8, 1])
    const meta = Object.fromEntries(proto.metadataProps.map((p) => [p.key, p.value]))
    expect(JSON.parse(meta.recipe!)).toMatchObject({ kind: 'images', affineInModel: false })
    expect(meta.input_layout).toBe('NHWC')
  })

  it('predicts the image folder with file paths as keys and a `path` column', async () => {
    const out = path.join(lab.home, 'image-predictions.csv')
    const result = await call<RequestResult<'predict.run'>>('predict.run', { model: runId, data: folder, out })
    expect(result.rows).toHaveLength(10 * PER_CLASS)
    expect(result.rows.every((r) => r.key.endsWith('.png'))).toBe(true)
    // Ten classes: chance is 0.1; a CNN trained on these images does far better on them.
    expect(result.accuracy).toBeGreaterThan(0.5)
    const records = parse(fs.readFileSync(out, 'utf8')) as string[][]
    expect(records[0]).toEqual(['path', 'prediction', ...result.labels.map((l) => `p_${l}`)])
    expect(records.slice(1).map((r) => r[0])).toEqual(result.rows.map((r) => r.key))
  })
})
