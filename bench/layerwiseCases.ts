/**
 * The three models of `npm run bench -- train-layerwise` (issue 18) and the data they train on: the digits MLP on
 * the bundled digits CSV; the small CNN on 28×28 Fashion-MNIST (Debian's dataset-fashion-mnist: its first 800
 * training images, the next 200 for validation, 1,000 test images from its t10k set; generated 28×28 shapes where it is not
 * installed); a 4-stage CNN on 32×32 RGB shapes generated here (6 classes, random colours, sizes, positions and a
 * noisy background: learnable, but not by a linear model on the pixels).
 */
import fs from 'node:fs'
import path from 'node:path'
import zlib from 'node:zlib'
import type { BlockHead, LayerSpec, ModelSpec, Partition, TrainMode } from '../main/shared/contract'
import type { PreparedData, PreparedPart } from '../main/data/types'
import { defaultModel, partitionFromRanges } from '../main/model/presets'
import { seededRandom } from '../main/core/random'
import { loadDigits } from '../test/fixtures/digits'

export interface LayerwiseCase {
  name: string
  data: PreparedData
  spec: ModelSpec
  partition: Partition
  /** Epochs per block stage and of the fine-tune; end-to-end and decoupled train K · blockEpochs + fineTune. */
  budget: { blockEpochs: number; fineTune: number }
  /** Where the data comes from, in a few words. */
  source: string
}

/** The modes compared: end-to-end, greedy layer-wise with linear and with the default heads, decoupled. */
export const LAYERWISE_MODES: ReadonlyArray<{ name: string; mode: TrainMode; head?: BlockHead }> = [
  { name: 'end-to-end', mode: 'end-to-end' },
  { name: 'layer-wise, linear heads', mode: 'layer-wise', head: 'linear' },
  { name: 'layer-wise, default heads', mode: 'layer-wise', head: 'auto' },
  { name: 'decoupled, default heads', mode: 'decoupled', head: 'auto' }
]

export const LAYERWISE_MODELS = ['digits MLP(100,100)', 'small CNN 28×28', '4-stage CNN 32×32×3'] as const

const FASHION = '/usr/share/datasets/fashion-mnist'

const part = (x: Float32Array, y: Int32Array, size: number, from: number, n: number): PreparedPart => ({
  x: x.slice(from * size, (from + n) * size),
  y: y.slice(from, from + n),
  n,
  rows: Int32Array.from({ length: n }, (_, i) => from + i)
})

function prepared(id: string, shape: number[], classes: number, train: PreparedPart, val: PreparedPart, test: PreparedPart): PreparedData {
  return {
    datasetId: id,
    kind: 'images',
    task: 'classification',
    targetScale: null,
    inputShape: shape,
    labels: Array.from({ length: classes }, (_, i) => String(i)),
    featureNames: [],
    train,
    val,
    test
  }
}

function idx(file: string): { shape: number[]; data: Buffer } {
  const bytes = zlib.gunzipSync(fs.readFileSync(path.join(FASHION, file)))
  const dims = bytes[3]!
  const shape = Array.from({ length: dims }, (_, i) => bytes.readUInt32BE(4 + 4 * i))
  return { shape, data: bytes.subarray(4 + 4 * dims) }
}

/** The first rows of Fashion-MNIST's train and t10k files, pixels scaled to [0, 1]. */
function fashion(train: number, val: number, test: number): PreparedData {
  const read = (prefix: string, from: number, n: number) => {
    const images = idx(`${prefix}-images-idx3-ubyte.gz`).data
    const labels = idx(`${prefix}-labels-idx1-ubyte.gz`).data
    const x = new Float32Array(n * 784)
    for (let i = 0; i < x.length; i++) x[i] = images[from * 784 + i]! / 255
    return part(x, Int32Array.from(labels.subarray(from, from + n)), 784, 0, n)
  }
  return prepared('fashion-mnist', [28, 28, 1], 10, read('train', 0, train), read('train', train, val), read('t10k', 0, test))
}

/** n images of side×side×channels: one of 6 shapes per class, random colour, size and place, on noise. */
export function shapes(n: number, side: number, channels: number, seed: number): { x: Float32Array; y: Int32Array } {
  const random = seededRandom(seed)
  const size = side * side * channels
  const x = new Float32Array(n * size)
  const y = new Int32Array(n)
  for (let k = 0; k < n; k++) {
    const label = k % 6
    y[k] = label
    const colour = Array.from({ length: channels }, () => 0.4 + 0.6 * random())
    const ground = Array.from({ length: channels }, () => 0.3 * random())
    const r = side * (0.18 + 0.12 * random())
    const cx = r + (side - 2 * r) * random()
    const cy = r + (side - 2 * r) * random()
    for (let i = 0; i < side; i++)
      for (let j = 0; j < side; j++) {
        const [dx, dy] = [(j + 0.5 - cx) / r, (i + 0.5 - cy) / r]
        const inside = [
          Math.abs(dx) < 0.8 && Math.abs(dy) < 0.8, // square
          dx * dx + dy * dy < 0.8, // disc
          dy > -0.9 && dy < 0.9 && Math.abs(dx) < (dy + 0.9) / 2, // triangle
          Math.abs(dy) < 0.3 && Math.abs(dx) < 1, // horizontal bar
          Math.abs(dx) < 0.3 && Math.abs(dy) < 1, // vertical bar
          dx * dx + dy * dy < 1 && dx * dx + dy * dy > 0.45 // ring
        ][label]
        for (let c = 0; c < channels; c++) x[k * size + (i * side + j) * channels + c] = (inside ? colour[c]! : ground[c]!) + 0.15 * (random() - 0.5)
      }
  }
  return { x, y }
}

function shapesData(id: string, side: number, channels: number, train: number, val: number, test: number): PreparedData {
  const { x, y } = shapes(train + val + test, side, channels, 7)
  const size = side * side * channels
  return prepared(id, [side, side, channels], 6, part(x, y, size, 0, train), part(x, y, size, train, val), part(x, y, size, train + val, test))
}

/** conv 8 → 16 → 32 → 32 (3×3, relu), each with a 2× max pool, then dense(C): one block per stage, the last with the classifier. */
function fourStageCnn(shape: number[], classes: number): { spec: ModelSpec; partition: Partition } {
  const layers: LayerSpec[] = []
  const ranges: Array<[number, number]> = []
  for (const filters of [8, 16, 32, 32]) {
    const start = layers.length
    layers.push({ type: 'conv2d', filters, kernelSize: 3, strides: 1, padding: 'same', activation: 'relu' })
    layers.push({ type: 'maxPooling2d', poolSize: 2, padding: 'same' })
    ranges.push([start, layers.length])
  }
  layers.push({ type: 'flatten' })
  layers.push({ type: 'dense', units: classes, activation: 'softmax' })
  ranges[ranges.length - 1]![1] = layers.length
  return { spec: { version: 1, inputShape: shape, layers }, partition: partitionFromRanges(ranges) }
}

export async function layerwiseCase(name: string): Promise<LayerwiseCase> {
  if (name === 'digits MLP(100,100)') {
    const data = await loadDigits()
    return {
      name,
      data,
      ...defaultModel({ inputShape: data.inputShape, classes: 10 }),
      budget: { blockEpochs: 3, fineTune: 2 },
      source: 'digits CSV'
    }
  }
  if (name === 'small CNN 28×28') {
    const real = fs.existsSync(path.join(FASHION, 't10k-images-idx3-ubyte.gz'))
    const data = real ? fashion(800, 200, 1000) : shapesData('shapes-28', 28, 1, 800, 200, 1000)
    return {
      name,
      data,
      ...defaultModel({ inputShape: [28, 28, 1], classes: data.labels.length }, { preset: 'small-cnn' }),
      budget: { blockEpochs: 2, fineTune: 2 },
      source: real ? 'Fashion-MNIST' : 'generated shapes (dataset-fashion-mnist not installed)'
    }
  }
  if (name === '4-stage CNN 32×32×3') {
    const data = shapesData('shapes-32-rgb', 32, 3, 500, 200, 500)
    return { name, data, ...fourStageCnn([32, 32, 3], 6), budget: { blockEpochs: 4, fineTune: 2 }, source: 'generated RGB shapes' }
  }
  throw new Error(`unknown model ${name}`)
}
