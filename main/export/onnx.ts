/**
 * tfjs → ONNX, our own exporter (no JS library converts tfjs models). Sequential models only: the graph is a
 * chain, so nodes come out topologically sorted as they are emitted.
 *
 * Layout: graph input and output stay in the app's layout (NHWC for images, [batch, features] for tables).
 * ONNX spatial ops want channels first, so the builder tracks the current tensor's layout and inserts a
 * Transpose only where an op needs the other one (conv → pool → conv stays NCHW between them).
 */
import * as tf from '@tensorflow/tfjs'
import { onnx } from 'onnx-proto'
import { OPSETS } from '../shared/contract'
import { LabError } from '../shared/errors'

export interface InputAffine {
  offset: number[]
  scale: number[]
}

export interface OnnxExportOptions {
  /** ONNX opset, OPSETS.min..OPSETS.max (OPSETS.default when left out). */
  opset?: number
  /** metadata_props of the model, as key → value (values are strings: JSON where structured). */
  metadata?: Record<string, string>
  /** Baked at the input: x' = (x - offset) * scale, per feature (last axis). */
  inputAffine?: InputAffine
  /** Baked at the output (regression): y = out * scale + offset, so the graph gives the number in the target's unit. */
  outputAffine?: { scale: number; offset: number }
  /** Export only the first k layers (a feature extractor); all of them by default. */
  upToLayer?: number
  graphName?: string
  producerVersion?: string
  /** Name of the graph input / output. */
  inputName?: string
  outputName?: string
}

/** IR 8: newer IR versions are refused by older ONNX tooling. */
export const IR_VERSION = 8

type Layout = 'last' | 'first'
type Dims = (number | null)[]

interface Current {
  name: string
  /** Shape in the app's (channels-last) order, batch first (null). */
  shape: Dims
  /** Where the channel axis is in the tensor as it exists in the graph. */
  layout: Layout
}

const T = onnx.AttributeProto.AttributeType

function attrInt(name: string, i: number): onnx.IAttributeProto {
  return { name, type: T.INT, i }
}
function attrInts(name: string, ints: number[]): onnx.IAttributeProto {
  return { name, type: T.INTS, ints }
}
function attrFloat(name: string, f: number): onnx.IAttributeProto {
  return { name, type: T.FLOAT, f }
}

/** Little-endian float32 bytes, whatever the host's byte order. */
function floatBytes(values: ArrayLike<number>): Uint8Array {
  const bytes = new Uint8Array(values.length * 4)
  const view = new DataView(bytes.buffer)
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i]!, true)
  return bytes
}

function valueInfo(name: string, shape: Dims): onnx.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType: onnx.TensorProto.DataType.FLOAT,
        shape: { dim: shape.map((d) => (d == null ? { dimParam: 'batch' } : { dimValue: d })) }
      }
    }
  }
}

/** Permutation that moves the channel axis from last to 1 (to = 'first') or back. */
function channelPerm(rank: number, to: Layout): number[] {
  const spatial = Array.from({ length: rank - 2 }, (_, i) => i + 1)
  return to === 'first' ? [0, rank - 1, ...spatial] : [0, ...spatial.map((a) => a + 1), 1]
}

function pair(value: unknown, what: string): [number, number] {
  if (typeof value === 'number') return [value, value]
  if (Array.isArray(value) && value.length === 2) {
    const [first, second] = value
    if (typeof first === 'number' && typeof second === 'number') return [first, second]
  }
  throw new LabError(`${what}: expected a number or a pair, got ${JSON.stringify(value)}`)
}

/**
 * Explicit ONNX pads [top, left, bottom, right] reproducing tfjs `same`: the total padding is split with the
 * extra pixel at the end (bottom/right), as TensorFlow does; `valid` is no padding.
 */
export function samePads(
  input: [number, number],
  kernel: [number, number],
  strides: [number, number],
  dilation: [number, number] = [1, 1]
): number[] {
  /** [before, after] along one spatial axis. */
  const axis = (a: 0 | 1): [number, number] => {
    const effectiveKernel = (kernel[a] - 1) * dilation[a] + 1
    const out = Math.ceil(input[a] / strides[a])
    const total = Math.max((out - 1) * strides[a] + effectiveKernel - input[a], 0)
    return [Math.floor(total / 2), total - Math.floor(total / 2)]
  }
  const [top, bottom] = axis(0)
  const [left, right] = axis(1)
  return [top, left, bottom, right]
}

/** One weight tensor of a layer, read out of tfjs. */
interface LayerWeight {
  shape: number[]
  data: Float32Array
}

/** A Dense or Conv2D layer's kernel and, unless useBias is off, its bias, in tfjs's order. */
function kernelAndBias(config: Record<string, unknown>, weights: LayerWeight[], ctx: string): { kernel: LayerWeight; bias: LayerWeight | null } {
  const [kernel, bias] = weights
  if (!kernel) throw new LabError(`${ctx}: kernel weights not found`)
  if (config.useBias === false) return { kernel, bias: null }
  if (!bias) throw new LabError(`${ctx}: bias weights not found`)
  return { kernel, bias }
}

class GraphBuilder {
  readonly nodes: onnx.INodeProto[] = []
  readonly initializers: onnx.ITensorProto[] = []
  private counter = 0
  /** Prefix of node names: the tfjs layer being exported, so a viewer (Netron) shows where each node comes from. */
  scope = 'input'

  fresh(base: string): string {
    return `${base}_${this.counter++}`
  }

  constant(base: string, dims: number[], values: ArrayLike<number>): string {
    const name = this.fresh(base)
    this.initializers.push({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: floatBytes(values) })
    return name
  }

  node(opType: string, inputs: string[], attribute: onnx.IAttributeProto[] = [], base = opType.toLowerCase()): string {
    const output = this.fresh(base)
    this.nodes.push({ opType, input: inputs, output: [output], name: this.fresh(`${this.scope}/${opType}`), attribute, domain: '' })
    return output
  }
}

/** Per-layer context for error messages, counting from 1 as the views do: "layer 3 (Conv2D conv2d_1)". */
function where(index: number, layer: tf.layers.Layer): string {
  return `layer ${index + 1} (${layer.getClassName()} ${layer.name})`
}

class Exporter {
  readonly g: GraphBuilder
  cur: Current

  constructor(inputName: string, inputShape: Dims) {
    this.g = new GraphBuilder()
    this.cur = { name: inputName, shape: inputShape, layout: 'last' }
  }

  toLayout(layout: Layout): void {
    // Rank < 3 has no spatial axes: channels last and first are the same tensor.
    if (this.cur.shape.length < 3) {
      this.cur.layout = 'last'
      return
    }
    if (this.cur.layout === layout) return
    const name = this.g.node(
      'Transpose',
      [this.cur.name],
      [attrInts('perm', channelPerm(this.cur.shape.length, layout))],
      layout === 'first' ? 'nchw' : 'nhwc'
    )
    this.cur = { ...this.cur, name, layout }
  }

  /** Emits an op on the current tensor and makes its output current. */
  apply(op: string, extraInputs: string[] = [], attributes: onnx.IAttributeProto[] = [], shape: Dims = this.cur.shape, base?: string): void {
    const name = this.g.node(op, [this.cur.name, ...extraInputs], attributes, base)
    this.cur = { ...this.cur, name, shape }
  }

  /** An activation by its tfjs name (as a layer's `activation` config or an Activation layer). */
  activation(name: string, ctx: string, alpha?: number): void {
    switch (name) {
      case 'linear':
        return
      case 'relu':
        return this.apply('Relu')
      case 'sigmoid':
        return this.apply('Sigmoid')
      case 'tanh':
        return this.apply('Tanh')
      case 'softplus':
        return this.apply('Softplus')
      case 'softsign':
        return this.apply('Softsign')
      case 'selu':
        // tfjs uses the standard SELU constants; set them so no tool's default can differ.
        return this.apply('Selu', [], [attrFloat('alpha', 1.6732632423543772), attrFloat('gamma', 1.0507009873554805)])
      case 'elu':
        return this.apply('Elu', [], [attrFloat('alpha', alpha ?? 1)])
      case 'leakyRelu':
      case 'leakyrelu':
        // tfjs defaults to 0.3, ONNX to 0.01: always write it.
        return this.apply('LeakyRelu', [], [attrFloat('alpha', alpha ?? 0.3)])
      case 'relu6':
        return this.clip(0, 6)
      case 'hardSigmoid':
        // tfjs: clip(0.2x + 0.5, 0, 1), which is ONNX HardSigmoid with these (default) parameters.
        return this.apply('HardSigmoid', [], [attrFloat('alpha', 0.2), attrFloat('beta', 0.5)])
      case 'swish': {
        const x = this.cur.name
        this.apply('Sigmoid')
        const name = this.g.node('Mul', [x, this.cur.name])
        this.cur = { ...this.cur, name }
        return
      }
      case 'mish': {
        const x = this.cur.name
        this.apply('Softplus')
        this.apply('Tanh')
        const name = this.g.node('Mul', [x, this.cur.name])
        this.cur = { ...this.cur, name }
        return
      }
      case 'softmax':
      case 'logSoftmax':
        return this.softmax(name === 'softmax' ? 'Softmax' : 'LogSoftmax', -1, ctx)
      default:
        throw new LabError(`${ctx}: activation "${name}" is not supported by the ONNX export`)
    }
  }

  softmax(op: 'Softmax' | 'LogSoftmax', axis: number, ctx: string): void {
    const rank = this.cur.shape.length
    const normalized = axis < 0 ? axis + rank : axis
    if (normalized !== rank - 1) throw new LabError(`${ctx}: softmax over axis ${axis} is not supported (only the last axis)`)
    // The last app axis is the channel axis: in a channels-first tensor that is axis 1.
    this.apply(op, [], [attrInt('axis', this.cur.layout === 'first' ? 1 : -1)])
  }

  clip(min: number, max: number): void {
    // Clip takes min/max as inputs since opset 11.
    const lo = this.g.constant('clip_min', [], [min])
    const hi = this.g.constant('clip_max', [], [max])
    this.apply('Clip', [lo, hi])
  }

  inputAffine(affine: InputAffine): void {
    const features = this.cur.shape[this.cur.shape.length - 1]
    if (affine.offset.length !== features || affine.scale.length !== features) {
      throw new LabError(`input normalisation: ${affine.offset.length} offsets and ${affine.scale.length} scales for ${features} input features`)
    }
    const offset = this.g.constant('input_offset', [features], affine.offset)
    const scale = this.g.constant('input_scale', [features], affine.scale)
    this.apply('Sub', [offset], [], this.cur.shape, 'centered')
    this.apply('Mul', [scale], [], this.cur.shape, 'normalized')
  }

  /** y = x · scale + offset on every value: a standardised prediction back in the target's unit. */
  outputAffine(affine: { scale: number; offset: number }): void {
    const scale = this.g.constant('target_std', [], [affine.scale])
    const offset = this.g.constant('target_mean', [], [affine.offset])
    this.apply('Mul', [scale], [], this.cur.shape, 'scaled')
    this.apply('Add', [offset], [], this.cur.shape, 'prediction')
  }

  layer(index: number, layer: tf.layers.Layer, outShape: Dims): void {
    const ctx = where(index, layer)
    this.g.scope = layer.name
    const cls = layer.getClassName()
    const config = layer.getConfig() as Record<string, unknown>
    if (typeof config.dataFormat === 'string' && config.dataFormat !== 'channelsLast') {
      throw new LabError(`${ctx}: dataFormat ${config.dataFormat} is not supported (channelsLast only)`)
    }
    const weights = layer.getWeights().map((w) => ({ shape: w.shape, data: w.dataSync() as Float32Array }))
    switch (cls) {
      case 'Dense':
        this.dense(config, weights, outShape, ctx)
        break
      case 'Conv2D':
        this.conv2d(config, weights, outShape, ctx)
        break
      case 'MaxPooling2D':
      case 'AveragePooling2D':
        this.pool(cls === 'MaxPooling2D' ? 'MaxPool' : 'AveragePool', config, outShape, ctx)
        break
      case 'GlobalAveragePooling2D':
        this.toLayout('first')
        // [N, H, W, C] (app order) pools to [N, 1, 1, C]; null is an unknown size, as the batch's.
        this.apply('GlobalAveragePool', [], [], [this.cur.shape[0] ?? null, 1, 1, this.cur.shape[3] ?? null])
        // [N, C, 1, 1] → [N, C]: the same layout either way.
        this.apply('Flatten', [], [attrInt('axis', 1)], outShape)
        this.cur.layout = 'last'
        break
      case 'Flatten':
        // tfjs flattens in (h, w, c) order: flatten the channels-last tensor.
        this.toLayout('last')
        this.apply('Flatten', [], [attrInt('axis', 1)], outShape)
        break
      case 'Dropout':
      case 'SpatialDropout1D':
      case 'GaussianNoise':
      case 'GaussianDropout':
      case 'AlphaDropout':
        // Training-time only: the identity at inference.
        break
      case 'BatchNormalization':
        this.batchNorm(config, layer, weights, ctx)
        break
      case 'Activation':
        this.activation(String(config.activation), ctx)
        break
      case 'ReLU':
        if (config.maxValue != null) this.clip(0, Number(config.maxValue))
        else this.activation('relu', ctx)
        break
      case 'LeakyReLU':
        this.activation('leakyRelu', ctx, Number(config.alpha ?? 0.3))
        break
      case 'ELU':
        this.activation('elu', ctx, Number(config.alpha ?? 1))
        break
      case 'Softmax':
        this.softmax('Softmax', Number(config.axis ?? -1), ctx)
        break
      case 'InputLayer':
        break
      default:
        throw new LabError(`${ctx}: layer type ${cls} is not supported by the ONNX export`)
    }
    this.cur.shape = outShape
    if (outShape.length < 3) this.cur.layout = 'last'
  }

  dense(config: Record<string, unknown>, weights: { shape: number[]; data: Float32Array }[], outShape: Dims, ctx: string): void {
    const { kernel, bias } = kernelAndBias(config, weights, ctx)
    const kernelName = this.g.constant('dense_kernel', kernel.shape, kernel.data)
    const biasName = bias ? this.g.constant('dense_bias', bias.shape, bias.data) : null
    if (this.cur.shape.length === 2) {
      // Gemm with the tfjs kernel [in, out] as is (transB = 0).
      this.apply(
        'Gemm',
        biasName ? [kernelName, biasName] : [kernelName],
        [attrFloat('alpha', 1), attrFloat('beta', 1), attrInt('transA', 0), attrInt('transB', 0)],
        outShape
      )
    } else {
      // tfjs Dense on rank > 2 acts on the last axis: MatMul (+ Add) on the channels-last tensor.
      this.toLayout('last')
      this.apply('MatMul', [kernelName], [], outShape)
      if (biasName) this.apply('Add', [biasName], [], outShape)
    }
    this.activation(String(config.activation ?? 'linear'), ctx)
  }

  conv2d(config: Record<string, unknown>, weights: { shape: number[]; data: Float32Array }[], outShape: Dims, ctx: string): void {
    const { kernel, bias } = kernelAndBias(config, weights, ctx)
    const [kh, kw, cin, cout] = kernel.shape
    if (kh === undefined || kw === undefined || cin === undefined || cout === undefined)
      throw new LabError(`${ctx}: expected a 4-D kernel [kh, kw, in, out], got ${JSON.stringify(kernel.shape)}`)
    const strides = pair(config.strides ?? 1, `${ctx} strides`)
    const dilations = pair(config.dilationRate ?? 1, `${ctx} dilationRate`)
    const input = this.spatial(ctx)
    const pads = config.padding === 'same' ? samePads(input, [kh, kw], strides, dilations) : [0, 0, 0, 0]
    if (config.padding !== 'same' && config.padding !== 'valid') throw new LabError(`${ctx}: padding ${String(config.padding)} is not supported`)
    // tfjs kernel [kh, kw, in, out] → ONNX [out, in, kh, kw] (perm 3, 2, 0, 1).
    const onnxKernel = new Float32Array(kernel.data.length)
    for (let y = 0; y < kh; y++)
      for (let x = 0; x < kw; x++)
        for (let i = 0; i < cin; i++)
          for (let o = 0; o < cout; o++) onnxKernel[((o * cin + i) * kh + y) * kw + x] = kernel.data[((y * kw + x) * cin + i) * cout + o]!
    const kernelName = this.g.constant('conv_kernel', [cout, cin, kh, kw], onnxKernel)
    const inputs = [kernelName]
    if (bias) inputs.push(this.g.constant('conv_bias', [cout], bias.data))
    this.toLayout('first')
    this.apply(
      'Conv',
      inputs,
      [
        attrInts('kernel_shape', [kh, kw]),
        attrInts('strides', strides),
        attrInts('dilations', dilations),
        attrInts('pads', pads),
        attrInt('group', 1)
      ],
      outShape
    )
    this.activation(String(config.activation ?? 'linear'), ctx)
  }

  pool(op: 'MaxPool' | 'AveragePool', config: Record<string, unknown>, outShape: Dims, ctx: string): void {
    const kernel = pair(config.poolSize ?? 2, `${ctx} poolSize`)
    const strides = pair(config.strides ?? kernel, `${ctx} strides`)
    const input = this.spatial(ctx)
    if (config.padding !== 'same' && config.padding !== 'valid') throw new LabError(`${ctx}: padding ${String(config.padding)} is not supported`)
    const pads = config.padding === 'same' ? samePads(input, kernel, strides) : [0, 0, 0, 0]
    const attributes = [attrInts('kernel_shape', kernel), attrInts('strides', strides), attrInts('pads', pads)]
    // tfjs averages over the real pixels only, never the padding.
    if (op === 'AveragePool') attributes.push(attrInt('count_include_pad', 0))
    this.toLayout('first')
    this.apply(op, [], attributes, outShape)
  }

  batchNorm(config: Record<string, unknown>, layer: tf.layers.Layer, weights: { shape: number[]; data: Float32Array }[], ctx: string): void {
    const rank = this.cur.shape.length
    const axis = Array.isArray(config.axis) ? config.axis : [config.axis ?? -1]
    if (axis.length !== 1 || (Number(axis[0]) !== -1 && Number(axis[0]) !== rank - 1)) {
      throw new LabError(`${ctx}: batch normalisation over axis ${JSON.stringify(config.axis)} is not supported (only the channel axis)`)
    }
    const channels = Number(this.cur.shape[rank - 1])
    // Weights come in layer.weights order; name them by their variable names (gamma/beta are absent when scale/center are off).
    const byName: Record<string, Float32Array> = {}
    // weights is layer.getWeights(): one array per layer.weights entry, index for index.
    layer.weights.forEach((w, i) => {
      const short = w.originalName.split('/').pop() ?? w.originalName
      byName[short] = weights[i]!.data
    })
    const ones = new Float32Array(channels).fill(1)
    const zeros = new Float32Array(channels)
    const gamma = byName.gamma ?? ones
    const beta = byName.beta ?? zeros
    const mean = byName.moving_mean
    const variance = byName.moving_variance
    if (!mean || !variance) throw new LabError(`${ctx}: moving mean/variance weights not found`)
    const inputs = [
      this.g.constant('bn_scale', [channels], gamma),
      this.g.constant('bn_bias', [channels], beta),
      this.g.constant('bn_mean', [channels], mean),
      this.g.constant('bn_var', [channels], variance)
    ]
    // ONNX wants the channel at axis 1 ([N, C] is already so).
    if (rank > 2) this.toLayout('first')
    // tfjs default epsilon 1e-3, ONNX 1e-5: always write it. One output (inference mode).
    this.apply('BatchNormalization', inputs, [attrFloat('epsilon', Number(config.epsilon ?? 1e-3))])
  }

  /** [h, w] of the current 4-D tensor. */
  spatial(ctx: string): [number, number] {
    const s = this.cur.shape
    if (s.length !== 4 || s[1] == null || s[2] == null)
      throw new LabError(`${ctx}: needs a 4-D image input [batch, h, w, c], got ${JSON.stringify(s)}`)
    return [s[1], s[2]]
  }
}

/** Shape (batch first, null batch) of a layer output. */
function outputShapeOf(layer: tf.layers.Layer): Dims {
  const shape = layer.outputShape
  if (Array.isArray(shape[0])) throw new LabError(`layer ${layer.name}: has several outputs, which the ONNX export does not support`)
  return shape as Dims
}

/**
 * Exports a sequential tfjs model (or its first `upToLayer` layers) as an ONNX ModelProto, encoded.
 * Throws LabError naming the layer (index and class) when a layer or activation has no mapping.
 */
export function exportToOnnx(model: tf.LayersModel, options: OnnxExportOptions = {}): Uint8Array {
  return onnx.ModelProto.encode(buildOnnxModel(model, options)).finish()
}

/** The same as exportToOnnx, before encoding (tests read the structure). */
export function buildOnnxModel(model: tf.LayersModel, options: OnnxExportOptions = {}): onnx.IModelProto {
  const opset = options.opset ?? OPSETS.default
  if (!Number.isInteger(opset) || opset < OPSETS.min || opset > OPSETS.max)
    throw new LabError(`ONNX export: opset ${opset} is not supported (${OPSETS.min}–${OPSETS.max})`)
  const [input] = model.inputs
  if (!input || model.inputs.length !== 1 || model.outputs.length !== 1)
    throw new LabError('ONNX export: only models with one input and one output are supported')
  const layers = model.layers.filter((l) => l.getClassName() !== 'InputLayer')
  const count = options.upToLayer ?? layers.length
  if (!Number.isInteger(count) || count < 1 || count > layers.length)
    throw new LabError(`ONNX export: cannot export the first ${count} layers of a model with ${layers.length}`)
  const inputShape = input.shape as Dims
  const inputName = options.inputName ?? 'input'
  const outputName = options.outputName ?? 'output'
  const ex = new Exporter(inputName, [null, ...inputShape.slice(1)])
  if (options.inputAffine) ex.inputAffine(options.inputAffine)
  layers.slice(0, count).forEach((layer, i) => ex.layer(i, layer, [null, ...outputShapeOf(layer).slice(1)]))
  ex.g.scope = 'output'
  ex.toLayout('last')
  if (options.outputAffine) ex.outputAffine(options.outputAffine)
  // The graph output must carry its own name: an Identity keeps every earlier node's output name unique and internal.
  const g = ex.g
  g.nodes.push({ opType: 'Identity', input: [ex.cur.name], output: [outputName], name: g.fresh('Identity'), domain: '' })
  const metadata = Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value }))
  return onnx.ModelProto.create({
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: opset }],
    producerName: 'LayerLab',
    producerVersion: options.producerVersion ?? '',
    modelVersion: 1,
    docString: `${model.name}: ${count} of ${layers.length} layers`,
    graph: {
      name: options.graphName || model.name || 'layerlab',
      node: g.nodes,
      initializer: g.initializers,
      input: [valueInfo(inputName, [null, ...inputShape.slice(1)])],
      output: [valueInfo(outputName, ex.cur.shape)]
    },
    metadataProps: metadata
  })
}

/** Reads the metadata_props of an encoded ONNX model as key → value. */
export function readOnnxMetadata(bytes: Uint8Array): Record<string, string> {
  const proto = onnx.ModelProto.decode(bytes)
  const out: Record<string, string> = {}
  for (const entry of proto.metadataProps) if (entry.key) out[entry.key] = entry.value ?? ''
  return out
}
