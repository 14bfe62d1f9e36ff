/**
 * Default models and partitions. The defaults are tuned so the digits MLP reaches the project's accuracy floors
 * (≥ 97 % end-to-end, ≥ 96 % layer-wise) without the user touching a setting.
 */
import type { Block, DatasetSummary, LayerSpec, ModelPreset, ModelSpec, Partition, Task } from '../shared/contract'
import { blockColor, defaultBlockSettings } from '../shared/blocks'
import { LabError } from '../shared/errors'
import { isImageShape } from './spec'

export interface ModelSource {
  inputShape: number[]
  classes: number
  kind?: 'table' | 'images'
  /** Default: classification. Regression models end in dense(1, linear): the predicted (standardised) number. */
  task?: Task
}

export function sourceFromSummary(summary: DatasetSummary): ModelSource {
  const classes = summary.classes.length
  if (summary.kind === 'images') {
    if (!summary.image) throw new LabError(`dataset ${summary.name}: an image data set without an image size`)
    return { inputShape: [summary.image.height, summary.image.width, summary.image.channels], classes, kind: 'images' }
  }
  return { inputShape: [summary.featureCount], classes, kind: 'table', task: summary.task }
}

/**
 * mlp: dense(h, relu)… → dense(C, softmax), one block per hidden layer, the output layer in the last block;
 * regression ends in dense(1, linear) instead.
 * small-cnn: two conv stages (conv + max pool) → flatten → dense(64, relu) → dense(C, softmax), one block per
 * conv stage and one for the dense head.
 * cnn-medium: sized for RGB images of 64×64 and up, where a GPU pays; accepted from 32×32 (cnnMedium below).
 */
export function defaultModel(
  source: DatasetSummary | ModelSource,
  options: { preset?: ModelPreset; hidden?: number[] } = {}
): { spec: ModelSpec; partition: Partition } {
  const model = 'datasetId' in source ? sourceFromSummary(source) : source
  const regression = model.task === 'regression'
  if (!regression && model.classes < 2) throw new LabError(`data set: needs at least 2 classes to train a classifier, found ${model.classes}`)
  const output: LayerSpec = regression
    ? { type: 'dense', units: 1, activation: 'linear' }
    : { type: 'dense', units: model.classes, activation: 'softmax' }
  const { inputShape } = model
  const isImage = isImageShape(inputShape)
  const preset = options.preset ?? (isImage ? 'small-cnn' : 'mlp')
  const layers: LayerSpec[] = []
  const ranges: Array<[number, number]> = []
  if (preset === 'cnn-medium') {
    if (!isImage) throw new LabError(`preset cnn-medium: needs image input [height,width,channels], the data has [${inputShape}]: use mlp`)
    const [h, w] = inputShape
    if (h < CNN_MEDIUM_MIN_SIDE || w < CNN_MEDIUM_MIN_SIDE)
      throw new LabError(
        `preset cnn-medium: needs images of at least ${CNN_MEDIUM_MIN_SIDE}×${CNN_MEDIUM_MIN_SIDE}, these are ${w}×${h}: use small-cnn`
      )
    return cnnMedium(inputShape, model.classes)
  }
  if (preset === 'small-cnn') {
    if (!isImage) throw new LabError(`preset small-cnn: needs image input [height,width,channels], the data has [${inputShape}]: use mlp`)
    const [h, w] = inputShape
    const pool2 = h >= 4 && w >= 4
    layers.push({ type: 'conv2d', filters: 16, kernelSize: 3, strides: 1, padding: 'same', activation: 'relu' })
    layers.push({ type: 'maxPooling2d', poolSize: 2, padding: 'same' })
    ranges.push([0, 2])
    layers.push({ type: 'conv2d', filters: 32, kernelSize: 3, strides: 1, padding: 'same', activation: 'relu' })
    // Tiny images (under 4 px) would pool down to nothing: the second stage then keeps its size.
    layers.push({ type: 'maxPooling2d', poolSize: pool2 ? 2 : 1, padding: 'same' })
    ranges.push([2, 4])
    layers.push({ type: 'flatten' })
    layers.push({ type: 'dense', units: 64, activation: 'relu' })
    layers.push(output)
    ranges.push([4, 7])
  } else {
    const hidden = options.hidden ?? [100, 100]
    if (isImage || inputShape.length !== 1) layers.push({ type: 'flatten' })
    for (const units of hidden) {
      const start = layers.length === 1 && layers[0]?.type === 'flatten' ? 0 : layers.length
      layers.push({ type: 'dense', units, activation: 'relu' })
      ranges.push([start, layers.length])
    }
    layers.push(output)
    const lastRange = ranges.at(-1)
    if (lastRange) lastRange[1] = layers.length
    else ranges.push([0, layers.length])
  }
  const spec: ModelSpec = { version: 1, inputShape: [...inputShape], layers }
  return { spec, partition: partitionFromRanges(ranges) }
}

export function partitionFromRanges(ranges: Array<[number, number]>): Partition {
  const blocks: Block[] = ranges.map(([start, end], index) => ({
    name: `Block ${index + 1}`,
    color: blockColor(index),
    start,
    end,
    settings: defaultBlockSettings()
  }))
  return { blocks }
}

/** Below this side, three 2× pools leave a 4×4 map or less and small-cnn is the better fit. */
const CNN_MEDIUM_MIN_SIDE = 32

/**
 * Three conv stages of two 3×3 convs (32, 64, 128 filters; the first with batch norm) and a 2× max pool, then a
 * global average pool (so the head does not grow with the image), dropout 0.3, dense(128, relu), dense(C,
 * softmax): one block per stage and one for the head. About 0.3 M weights at any image size; 9.9 GFLOP forward
 * per batch of 32 at 64×64×3, some 140 times the small CNN at 28×28 — minutes per epoch on wasm, a GPU's size.
 */
function cnnMedium(inputShape: number[], classes: number): { spec: ModelSpec; partition: Partition } {
  const layers: LayerSpec[] = []
  const ranges: Array<[number, number]> = []
  for (const filters of [32, 64, 128]) {
    const start = layers.length
    layers.push({ type: 'conv2d', filters, kernelSize: 3, strides: 1, padding: 'same', activation: 'linear' })
    layers.push({ type: 'batchNormalization', momentum: 0.99, epsilon: 1e-3 })
    layers.push({ type: 'activation', activation: 'relu' })
    layers.push({ type: 'conv2d', filters, kernelSize: 3, strides: 1, padding: 'same', activation: 'relu' })
    layers.push({ type: 'maxPooling2d', poolSize: 2, padding: 'same' })
    ranges.push([start, layers.length])
  }
  const head = layers.length
  layers.push({ type: 'globalAveragePooling2d' })
  layers.push({ type: 'dropout', rate: 0.3 })
  layers.push({ type: 'dense', units: 128, activation: 'relu' })
  layers.push({ type: 'dense', units: classes, activation: 'softmax' })
  ranges.push([head, layers.length])
  return { spec: { version: 1, inputShape: [...inputShape], layers }, partition: partitionFromRanges(ranges) }
}
