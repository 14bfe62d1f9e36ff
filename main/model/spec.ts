/**
 * Model specs without tfjs: validation with messages a person can act on, shape inference and parameter counts.
 * Cheap and synchronous, so models.describe can answer on every keystroke of the builder.
 */
import os from 'node:os'
import { LAYER_ACTIVATIONS, trainConfig, type LayerSpec, type ModelSpec, type Partition, type Task, type TrainMode } from '../shared/contract'
import { LabError } from '../shared/errors'
import { formatBytes } from '../shared/format'

export interface SpecProblem {
  /** Index into spec.layers, or null for the model as a whole / the partition. */
  layer: number | null
  message: string
}

export interface LayerInfo {
  index: number
  type: LayerSpec['type']
  /** Without the batch dimension; null where it cannot be inferred (after an invalid layer). */
  outputShape: number[] | null
  params: number
  trainableParams: number
}

export interface SpecDescription {
  layers: LayerInfo[]
  totalParams: number
  errors: SpecProblem[]
}

const ACTIVATIONS_WITHOUT_ALPHA = new Set<string>(LAYER_ACTIVATIONS)

/**
 * The most values one tensor can hold: tfjs keeps each tensor in one JavaScript typed array, whose length stops at
 * 2^32 - 1 (a dense layer of 1e12 units ended its run with "Invalid typed array length" before this check).
 */
export const MAX_TENSOR_VALUES = 2 ** 32 - 1
/** Bytes per parameter while training: the weight, its gradient and two optimizer slots (Adam), float32 each. */
const TRAIN_BYTES_PER_PARAM = 16
/** Bytes per activation value of a batch while training: the value and its gradient, float32 each. */
const TRAIN_BYTES_PER_ACTIVATION = 8

const count = (n: number): string => n.toLocaleString('en')

const fmt = (shape: number[]) => `[${shape.join(',')}]`

/** A flat shape (without the batch dimension): [features]. */
export const isFlatShape = (shape: number[]): shape is [number] => shape.length === 1
/** An image shape (without the batch dimension): [height, width, channels]. */
export const isImageShape = (shape: number[]): shape is [number, number, number] => shape.length === 3

function pooledSize(size: number, pool: number, stride: number, padding: 'same' | 'valid'): number {
  return padding === 'same' ? Math.ceil(size / stride) : Math.floor((size - pool) / stride) + 1
}

/** Output shape and parameter count of one layer for a given input shape, or the problem. */
function inferLayer(layer: LayerSpec, input: number[]): { shape: number[]; params: number; trainable: number } | string {
  switch (layer.type) {
    case 'dense': {
      if (!isFlatShape(input)) return `needs a flat input, got ${fmt(input)}: add a flatten layer`
      if (!ACTIVATIONS_WITHOUT_ALPHA.has(layer.activation))
        return `activation ${layer.activation} exists only as its own layer: set linear here and add an activation layer after it`
      const params = input[0] * layer.units + layer.units
      return { shape: [layer.units], params, trainable: params }
    }
    case 'conv2d': {
      if (!isImageShape(input)) return `needs an image input [height,width,channels], got ${fmt(input)}`
      if (!ACTIVATIONS_WITHOUT_ALPHA.has(layer.activation))
        return `activation ${layer.activation} exists only as its own layer: set linear here and add an activation layer after it`
      const [h, w, c] = input
      const oh = pooledSize(h, layer.kernelSize, layer.strides, layer.padding)
      const ow = pooledSize(w, layer.kernelSize, layer.strides, layer.padding)
      if (oh < 1 || ow < 1)
        return `kernel ${layer.kernelSize} does not fit the ${h}×${w} input with padding valid: use padding same or a smaller kernel`
      const params = layer.kernelSize * layer.kernelSize * c * layer.filters + layer.filters
      return { shape: [oh, ow, layer.filters], params, trainable: params }
    }
    case 'maxPooling2d':
    case 'averagePooling2d': {
      if (!isImageShape(input)) return `needs an image input [height,width,channels], got ${fmt(input)}`
      const stride = layer.strides ?? layer.poolSize
      const oh = pooledSize(input[0], layer.poolSize, stride, layer.padding)
      const ow = pooledSize(input[1], layer.poolSize, stride, layer.padding)
      if (oh < 1 || ow < 1)
        return `pool ${layer.poolSize} does not fit the ${input[0]}×${input[1]} input: remove this pooling layer or use padding same`
      return { shape: [oh, ow, input[2]], params: 0, trainable: 0 }
    }
    case 'globalAveragePooling2d':
      if (!isImageShape(input)) return `needs an image input [height,width,channels], got ${fmt(input)}`
      return { shape: [input[2]], params: 0, trainable: 0 }
    case 'flatten':
      if (input.length < 2) return `the input is already flat (${fmt(input)}): remove this layer`
      return { shape: [input.reduce((a, b) => a * b, 1)], params: 0, trainable: 0 }
    case 'dropout':
      return { shape: input, params: 0, trainable: 0 }
    case 'batchNormalization': {
      // Every shape here has an axis: the input shape has at least one, and no layer outputs a scalar.
      const channels = input[input.length - 1]!
      // gamma and beta train; the moving mean and variance do not (Keras counts all four).
      return { shape: input, params: 4 * channels, trainable: 2 * channels }
    }
    case 'activation':
      if (layer.alpha !== undefined && layer.activation !== 'leakyRelu' && layer.activation !== 'elu')
        return `alpha applies only to leakyRelu and elu, not ${layer.activation}`
      return { shape: input, params: 0, trainable: 0 }
  }
}

/** True when the layer ends in a softmax: a classifier's output layer must, since training and metrics read probabilities. */
function endsInSoftmax(layer: LayerSpec): boolean {
  return (layer.type === 'dense' || layer.type === 'activation') && layer.activation === 'softmax'
}

/** True when the layer's output is the raw number a regression model predicts (no squashing activation). */
function endsLinear(layer: LayerSpec): boolean {
  return (layer.type === 'dense' || layer.type === 'activation') && layer.activation === 'linear'
}

/** What a spec is checked against: the task (unknown: either output kind passes) and, for classification, the classes. */
export interface SpecTarget {
  classes?: number
  task?: Task
}

/** The problem with a spec's output layer for the task, or null. */
function outputProblem(last: LayerSpec, width: number, options: SpecTarget): string | null {
  const regression = endsLinear(last) && width === 1
  if (options.task === 'regression') {
    if (!endsLinear(last)) return 'a regression model outputs a number: the output layer needs activation linear'
    if (width !== 1) return `outputs ${width} values; a regression model outputs 1 (the predicted number)`
    return null
  }
  if (!endsInSoftmax(last)) return options.task === undefined && regression ? null : 'the output layer needs activation softmax (class probabilities)'
  if (options.classes !== undefined && width !== options.classes) return `outputs ${width} values but the data set has ${options.classes} classes`
  return null
}

/**
 * Shapes, parameters and every problem of a spec. The task (and for classification the class count), when known,
 * checks the output layer. Problems carry the layer's 0-based index; their messages count layers from 1, as every
 * view shows them.
 */
export interface DescribeOptions extends SpecTarget {
  /** The batch size training would use (its activations count against memory); the default config's otherwise. */
  batchSize?: number
  /** The memory training may use; this machine's physical memory by default. */
  memoryBytes?: number
}

/** About how much memory training the model takes: parameters with their gradients and Adam's slots, one batch's activations. */
export function trainingBytes(layers: LayerInfo[], batchSize: number): number {
  let params = 0
  let activations = 0
  for (const layer of layers) {
    params += layer.params
    activations += layer.outputShape ? layer.outputShape.reduce((a, b) => a * b, 1) : 0
  }
  return params * TRAIN_BYTES_PER_PARAM + batchSize * activations * TRAIN_BYTES_PER_ACTIVATION
}

export function describeSpec(spec: ModelSpec, options: DescribeOptions = {}): SpecDescription {
  const layers: LayerInfo[] = []
  const errors: SpecProblem[] = []
  let shape: number[] | null = [...spec.inputShape]
  spec.layers.forEach((layer, index) => {
    let info: LayerInfo = { index, type: layer.type, outputShape: null, params: 0, trainableParams: 0 }
    if (shape) {
      const result = inferLayer(layer, shape)
      if (typeof result === 'string') {
        errors.push({ layer: index, message: `layer ${index + 1} (${layer.type}): ${result}` })
        shape = null
      } else if (result.params > MAX_TENSOR_VALUES || result.shape.reduce((a, b) => a * b, 1) > MAX_TENSOR_VALUES) {
        const what =
          result.params > MAX_TENSOR_VALUES
            ? `${count(result.params)} parameters`
            : `${count(result.shape.reduce((a, b) => a * b, 1))} outputs per row`
        errors.push({
          layer: index,
          message: `layer ${index + 1} (${layer.type}): has ${what}, more than one tensor can hold (${count(MAX_TENSOR_VALUES)}): make it smaller`
        })
        shape = null
      } else {
        shape = result.shape
        info = { ...info, outputShape: result.shape, params: result.params, trainableParams: result.trainable }
      }
    }
    layers.push(info)
  })
  const lastIndex = spec.layers.length - 1
  const last = spec.layers[lastIndex]
  if (shape && last) {
    if (shape.length !== 1) {
      errors.push({
        layer: lastIndex,
        message: `layer ${lastIndex + 1} (${last.type}): the model must end in a flat output, got ${fmt(shape)}: add flatten and dense layers`
      })
    } else {
      const problem = outputProblem(last, shape[0]!, options)
      if (problem) errors.push({ layer: lastIndex, message: `layer ${lastIndex + 1} (${last.type}): ${problem}` })
    }
  }
  const totalParams = layers.reduce((sum, layer) => sum + layer.params, 0)
  if (errors.length === 0) {
    const batchSize = options.batchSize ?? trainConfig.shape.batchSize.parse(undefined)
    const memory = options.memoryBytes ?? os.totalmem()
    const needed = trainingBytes(layers, batchSize)
    if (needed > memory)
      errors.push({
        layer: null,
        message: `the model needs about ${formatBytes(needed)} of memory to train (${count(totalParams)} parameters with their gradients and optimizer state, and the activations of a batch of ${batchSize}), more than this machine's ${formatBytes(memory)}: make it smaller`
      })
  }
  return { layers, totalParams, errors }
}

export function validateSpec(spec: ModelSpec, options: DescribeOptions = {}): SpecProblem[] {
  return describeSpec(spec, options).errors
}

/** Blocks must be contiguous, in order, non-empty, and cover every layer exactly once. */
export function validatePartition(partition: Partition, layerCount: number): SpecProblem[] {
  const errors: SpecProblem[] = []
  let expectedStart = 0
  const names = new Set<string>()
  partition.blocks.forEach((block, index) => {
    const label = `block ${index + 1} (${block.name})`
    if (names.has(block.name)) errors.push({ layer: null, message: `${label}: the name is used by another block` })
    names.add(block.name)
    if (block.start !== expectedStart)
      errors.push({
        layer: block.start,
        message: `${label}: starts at layer ${block.start + 1}, expected ${expectedStart + 1} (blocks must be contiguous and in order)`
      })
    if (block.end <= block.start) errors.push({ layer: block.start, message: `${label}: is empty (layers ${block.start + 1}..${block.end})` })
    expectedStart = Math.max(block.end, expectedStart)
  })
  if (expectedStart !== layerCount)
    errors.push({
      layer: null,
      message: `partition: the blocks cover layers 1..${expectedStart} but the model has ${layerCount} layers (1..${layerCount})`
    })
  return errors
}

/** True when training would need tfjs's own conv filter gradient (strided convs), which the wasm backend lacks. */
export function hasStridedConv(spec: ModelSpec): boolean {
  return spec.layers.some((layer) => layer.type === 'conv2d' && layer.strides !== 1)
}

/**
 * Floating-point operations of one sample's forward pass (a multiply-add counts 2): what the backend choice
 * weighs against a GPU's per-dispatch cost. Dense and conv layers only; the rest is small beside them. 0 for a
 * spec whose shapes do not infer.
 */
export function forwardFlops(spec: ModelSpec): number {
  let input: number[] = [...spec.inputShape]
  let flops = 0
  for (const layer of spec.layers) {
    const result = inferLayer(layer, input)
    if (typeof result === 'string') return 0
    if (layer.type === 'dense') flops += 2 * input[0]! * layer.units
    if (layer.type === 'conv2d') flops += 2 * result.shape[0]! * result.shape[1]! * layer.kernelSize * layer.kernelSize * input[2]! * layer.filters
    input = result.shape
  }
  return flops
}

/** What the data a job trains on must agree with. */
export interface TrainableData {
  inputShape: number[]
  classes: number
  /** The batch size of the job (its activations count against memory). */
  batchSize?: number
  /** Default: classification. */
  task?: Task
}

/**
 * Every reason a spec and partition cannot train on the data, with one set of messages: the service checks a
 * request with it before a run exists, and the engine checks its job with it again (a job may come from elsewhere).
 */
export function trainingProblems(spec: ModelSpec, partition: Partition, data: TrainableData): SpecProblem[] {
  const task = data.task ?? 'classification'
  const problems = [
    ...describeSpec(spec, { task, classes: task === 'classification' ? data.classes : undefined, batchSize: data.batchSize }).errors,
    ...validatePartition(partition, spec.layers.length)
  ]
  if (spec.inputShape.join(',') !== data.inputShape.join(','))
    problems.push({ layer: null, message: `input shape [${spec.inputShape}] does not match the data set's [${data.inputShape}]` })
  return problems.map((problem) => ({ ...problem, message: `model: ${problem.message}` }))
}

/** Why a run cannot train with its blocks' local losses (train/localLoss.ts) (one line naming the block), or null when it can. */
export function localLossRefusal(partition: Partition, task: Task, mode: TrainMode): string | null {
  if (mode === 'end-to-end' || task !== 'regression') return null
  const block = partition.blocks.find((b) => b.settings.localLoss !== 'none')
  return block ? `block "${block.name}": the ${block.settings.localLoss} local loss needs classes (this dataset's task is regression)` : null
}

/** Throws the first training problem as a LabError. */
export function assertTrainable(spec: ModelSpec, partition: Partition, data: TrainableData): void {
  const [first] = trainingProblems(spec, partition, data)
  if (first) throw new LabError(first.message)
}
