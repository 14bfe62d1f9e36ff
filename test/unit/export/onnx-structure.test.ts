/** The structural rules of the exported file, metadata, the input affine bake, prefix export and refusals. */
import { describe, expect, it } from 'vitest'
import * as tf from '@tensorflow/tfjs'
import * as ort from 'onnxruntime-node'
import { onnx } from 'onnx-proto'
import { exportToOnnx, readOnnxMetadata, samePads } from '../../../main/export/onnx'
import { checkParity } from '../../../main/export/parity'
import { LabError } from '../../../main/shared/errors'
import { digitsBatch, readDigitsPixels } from '../../fixtures/digits'
import { randomizeWeights } from './helpers'

function smallCnn(): tf.Sequential {
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [8, 8, 1], filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same', activation: 'relu' }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 10, activation: 'softmax' })
    ]
  })
  randomizeWeights(model, 7)
  return model
}

function mlp(): tf.Sequential {
  const model = tf.sequential({
    layers: [tf.layers.dense({ inputShape: [64], units: 32, activation: 'relu' }), tf.layers.dense({ units: 10, activation: 'softmax' })]
  })
  randomizeWeights(model, 3)
  return model
}

describe('structure', () => {
  const proto = onnx.ModelProto.decode(exportToOnnx(smallCnn(), { opset: 15, graphName: 'digits-cnn', producerVersion: '0.1.0' }))
  const graph = proto.graph as onnx.GraphProto

  it('is IR 8 with the asked opset and a named graph', () => {
    expect(Number(proto.irVersion)).toBe(8)
    expect(proto.opsetImport.map((o) => [o.domain, Number(o.version)])).toEqual([['', 15]])
    expect(graph.name).toBe('digits-cnn')
    expect(proto.producerName).toBe('LayerLab')
    expect(proto.producerVersion).toBe('0.1.0')
  })

  it('keeps initializers out of graph.input, as little-endian rawData', () => {
    expect(graph.input.map((i) => i.name)).toEqual(['input'])
    expect(graph.initializer.length).toBeGreaterThan(0)
    for (const init of graph.initializer) {
      expect(init.rawData!.length).toBe(4 * (init.dims as number[]).reduce((a, b) => a * Number(b), 1))
      expect(init.floatData ?? []).toHaveLength(0)
    }
    // The first conv bias, read back little-endian, is the tfjs bias.
    const conv = graph.node.find((n) => n.opType === 'Conv')!
    const bias = graph.initializer.find((i) => i.name === conv.input![2])!
    const view = new DataView(bias.rawData!.buffer, bias.rawData!.byteOffset, bias.rawData!.byteLength)
    const tfBias = smallCnn().layers[0]!.getWeights()[1]!.dataSync()
    expect(Array.from({ length: 4 }, (_, i) => view.getFloat32(i * 4, true))).toEqual(Array.from(tfBias))
  })

  it('has a dynamic batch dimension and NHWC input', () => {
    const dims = graph.input[0]!.type!.tensorType!.shape!.dim!
    expect(dims[0]!.dimParam).toBe('batch')
    expect(dims.slice(1).map((d) => Number(d.dimValue))).toEqual([8, 8, 1])
    const out = graph.output[0]!.type!.tensorType!.shape!.dim!
    expect(out[0]!.dimParam).toBe('batch')
    expect(Number(out[1]!.dimValue)).toBe(10)
  })

  it('sorts nodes topologically', () => {
    const known = new Set<string>([...graph.input.map((i) => i.name!), ...graph.initializer.map((i) => i.name!)])
    for (const node of graph.node) {
      for (const input of node.input!) expect(known.has(input), `${node.opType} reads ${input} before it exists`).toBe(true)
      // Single assignment: no tensor is written twice.
      node.output!.forEach((o) => {
        expect(known.has(o), `${o} written twice`).toBe(false)
        known.add(o)
      })
    }
    expect(new Set(graph.node.map((n) => n.name)).size).toBe(graph.node.length)
    expect(graph.node.find((n) => n.opType === 'Conv')!.name).toMatch(/^conv2d_\w+\/Conv_\d+$/)
    expect(known.has('output')).toBe(true)
  })

  it('transposes only where the layout changes, and writes the ONNX attributes explicitly', () => {
    const ops = graph.node.map((n) => n.opType)
    // conv → pool → conv stay NCHW: one Transpose in, one out before Flatten.
    expect(ops.filter((o) => o === 'Transpose')).toHaveLength(2)
    expect(ops).toEqual(['Transpose', 'Conv', 'Relu', 'MaxPool', 'Conv', 'Relu', 'Transpose', 'Flatten', 'Gemm', 'Softmax', 'Identity'])
    const softmax = graph.node.find((n) => n.opType === 'Softmax')!
    expect(softmax.attribute!.find((a) => a.name === 'axis')).toBeDefined()
    const gemm = graph.node.find((n) => n.opType === 'Gemm')!
    expect(Number(gemm.attribute!.find((a) => a.name === 'transB')!.i)).toBe(0)
  })

  it('sets LeakyReLU alpha and BatchNormalization epsilon explicitly', () => {
    const model = tf.sequential({
      layers: [tf.layers.dense({ inputShape: [64], units: 8 }), tf.layers.leakyReLU(), tf.layers.batchNormalization({})]
    })
    const g = onnx.ModelProto.decode(exportToOnnx(model)).graph as onnx.GraphProto
    const leaky = g.node.find((n) => n.opType === 'LeakyRelu')!
    expect(leaky.attribute![0]!.f).toBeCloseTo(0.3, 6)
    const bn = g.node.find((n) => n.opType === 'BatchNormalization')!
    expect(bn.attribute!.find((a) => a.name === 'epsilon')!.f).toBeCloseTo(1e-3, 8)
    expect(bn.output).toHaveLength(1)
  })
})

describe('same padding', () => {
  it('puts the extra pixel at the end, as TensorFlow does', () => {
    expect(samePads([8, 8], [3, 3], [2, 2])).toEqual([0, 0, 1, 1])
    expect(samePads([8, 8], [2, 2], [1, 1])).toEqual([0, 0, 1, 1])
    expect(samePads([7, 8], [3, 3], [1, 1])).toEqual([1, 1, 1, 1])
    expect(samePads([8, 8], [4, 4], [1, 1])).toEqual([1, 1, 2, 2])
  })
})

describe('metadata', () => {
  it('round-trips metadata_props', () => {
    const metadata = {
      labels: JSON.stringify(['0', '1', 'a,"b"']),
      recipe: JSON.stringify({ kind: 'table', inputShape: [64] }),
      run_id: 'run-12345678',
      dataset_hash: 'abc'
    }
    const bytes = exportToOnnx(mlp(), { metadata })
    const proto = onnx.ModelProto.decode(bytes)
    const props = Object.fromEntries(proto.metadataProps.map((p) => [p.key, p.value]))
    expect(props).toEqual(metadata)
    expect(readOnnxMetadata(bytes)).toEqual(metadata)
    expect(JSON.parse(props.labels!)).toEqual(['0', '1', 'a,"b"'])
  })
})

describe('input affine bake', () => {
  const { pixels, n } = readDigitsPixels()
  // Per-pixel standardisation fitted on the whole digits set; constant pixels get scale 1.
  const offset = Array.from({ length: 64 }, (_, j) => {
    let s = 0
    for (let i = 0; i < n; i++) s += pixels[i * 64 + j]!
    return s / n
  })
  const scale = offset.map((m, j) => {
    let s = 0
    for (let i = 0; i < n; i++) s += (pixels[i * 64 + j]! - m) ** 2
    const std = Math.sqrt(s / n)
    return std > 0 ? 1 / std : 1
  })
  const raw = pixels.slice(0, 64 * 64)

  it('feeds raw rows to ONNX and standardised rows to tfjs, and they agree', async () => {
    const model = mlp()
    const bytes = exportToOnnx(model, { inputAffine: { offset, scale } })
    const ops = (onnx.ModelProto.decode(bytes).graph as onnx.GraphProto).node.map((nd) => nd.opType)
    expect(ops.slice(0, 2)).toEqual(['Sub', 'Mul'])
    const parity = await checkParity(model, bytes, raw, [64], { inputAffine: { offset, scale } })
    expect(parity.samples).toBe(64)
    expect(parity.pass).toBe(true)
  })

  it('fails the parity check when tfjs is not told about the baked step (the check can fail)', async () => {
    const model = mlp()
    const bytes = exportToOnnx(model, { inputAffine: { offset, scale } })
    const parity = await checkParity(model, bytes, raw, [64])
    expect(parity.maxAbsDiff).toBeGreaterThan(1e-2)
    expect(parity.pass).toBe(false)
  })

  it('refuses an affine of the wrong length', () => {
    expect(() => exportToOnnx(mlp(), { inputAffine: { offset: [0, 1], scale: [1, 1] } })).toThrow(/2 offsets and 2 scales for 64 input features/)
  })
})

describe('prefix export (feature extractor)', () => {
  it('exports the first k layers with their NHWC output and matches those layers in tfjs', async () => {
    const model = smallCnn()
    const bytes = exportToOnnx(model, { upToLayer: 3 })
    const out = (onnx.ModelProto.decode(bytes).graph as onnx.GraphProto).output[0]!.type!.tensorType!.shape!.dim!
    expect(out[0]!.dimParam).toBe('batch')
    expect(out.slice(1).map((d) => Number(d.dimValue))).toEqual([4, 4, 6])
    const x = digitsBatch(16)
    const parity = await checkParity(model, bytes, x, [8, 8, 1], { upToLayer: 3, featureExtractor: true })
    expect(parity.maxAbsDiff).toBeLessThanOrEqual(1e-4)
    expect(parity.pass).toBe(true)
    // And the output really is the NHWC feature map: ORT's value at (0, h, w, c) is tfjs's.
    const session = await ort.InferenceSession.create(bytes)
    const result = await session.run({ input: new ort.Tensor('float32', x.slice(0, 64), [1, 8, 8, 1]) })
    expect(result.output!.dims).toEqual([1, 4, 4, 6])
    await session.release()
  })

  it('refuses k out of range', () => {
    expect(() => exportToOnnx(smallCnn(), { upToLayer: 9 })).toThrow(/first 9 layers of a model with 5/)
  })
})

describe('refusals', () => {
  it('names an unsupported layer by index and class', () => {
    const model = tf.sequential({
      layers: [tf.layers.dense({ inputShape: [64], units: 16 }), tf.layers.reshape({ targetShape: [4, 4] }), tf.layers.simpleRNN({ units: 3 })]
    })
    let error: unknown
    try {
      exportToOnnx(model)
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(LabError)
    expect((error as Error).message).toMatch(/^layer 2 \(Reshape reshape_\w+\): layer type Reshape is not supported/)
  })

  it('names an LSTM layer', () => {
    const model = tf.sequential({ layers: [tf.layers.lstm({ inputShape: [8, 8], units: 4 })] })
    expect(() => exportToOnnx(model)).toThrow(/^layer 1 \(LSTM lstm_\w+\): layer type LSTM is not supported/)
  })

  it('names an activation it cannot map', () => {
    const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [4], units: 2, activation: 'gelu' })] })
    expect(() => exportToOnnx(model)).toThrow(/^layer 1 \(Dense dense_\w+\): activation "gelu" is not supported/)
  })

  it('refuses an opset outside 13..17', () => {
    expect(() => exportToOnnx(mlp(), { opset: 12 })).toThrow(/opset 12 is not supported/)
    expect(() => exportToOnnx(mlp(), { opset: 18 })).toThrow(/opset 18 is not supported/)
  })
})
