/**
 * Every layer type and activation the app builds, exported with random weights and run through
 * onnxruntime-node on real digits at batch 1 and batch 8: the outputs must match tfjs to 1e-4.
 */
import { describe, expect, it } from 'vitest'
import * as tf from '@tensorflow/tfjs'
import { exportToOnnx } from '../../../main/export/onnx'
import { checkParity } from '../../../main/export/parity'
import { digitsBatch } from '../../fixtures/digits'
import { randomizeWeights } from './helpers'

const IMAGE: [number, number, number] = [8, 8, 1]
const TABLE = [64]

interface Case {
  name: string
  inputShape: number[]
  layers: () => tf.layers.Layer[]
}

const dense = (units: number, activation?: string) => tf.layers.dense({ units, activation: activation as never })

const activations = ['relu', 'sigmoid', 'tanh', 'softmax', 'elu', 'relu6', 'linear', 'selu', 'softplus', 'softsign', 'hardSigmoid', 'swish', 'mish']

const cases: Case[] = [
  ...activations.map((a) => ({ name: `dense activation ${a}`, inputShape: TABLE, layers: () => [dense(16, a), dense(10, a)] })),
  ...activations.map((a) => ({
    name: `Activation layer ${a}`,
    inputShape: TABLE,
    layers: () => [dense(12), tf.layers.activation({ activation: a as never })]
  })),
  { name: 'LeakyReLU layer, tfjs default alpha 0.3', inputShape: TABLE, layers: () => [dense(12), tf.layers.leakyReLU()] },
  { name: 'LeakyReLU layer, alpha 0.1', inputShape: TABLE, layers: () => [dense(12), tf.layers.leakyReLU({ alpha: 0.1 })] },
  { name: 'ELU layer (tfjs supports only alpha 1)', inputShape: TABLE, layers: () => [dense(12), tf.layers.elu()] },
  { name: 'ReLU layer with maxValue 6 (relu6)', inputShape: TABLE, layers: () => [dense(12), tf.layers.reLU({ maxValue: 6 })] },
  { name: 'ReLU layer', inputShape: TABLE, layers: () => [dense(12), tf.layers.reLU()] },
  { name: 'Softmax layer', inputShape: TABLE, layers: () => [dense(10), tf.layers.softmax()] },
  { name: 'dense without bias', inputShape: TABLE, layers: () => [tf.layers.dense({ units: 10, useBias: false, activation: 'tanh' })] },
  { name: 'dropout', inputShape: TABLE, layers: () => [dense(20, 'relu'), tf.layers.dropout({ rate: 0.5 }), dense(10, 'softmax')] },
  {
    name: 'batch norm on a table',
    inputShape: TABLE,
    layers: () => [dense(16), tf.layers.batchNormalization({ epsilon: 0.01 }), tf.layers.activation({ activation: 'relu' }), dense(10)]
  },
  {
    name: 'conv2d same stride 1',
    inputShape: IMAGE,
    layers: () => [tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' })]
  },
  {
    name: 'conv2d same stride 2 (extra pad pixel at the end)',
    inputShape: IMAGE,
    layers: () => [tf.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same' })]
  },
  {
    name: 'conv2d same even kernel',
    inputShape: IMAGE,
    layers: () => [tf.layers.conv2d({ filters: 3, kernelSize: 2, padding: 'same', activation: 'tanh' })]
  },
  {
    name: 'conv2d valid stride 1',
    inputShape: IMAGE,
    layers: () => [tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'valid', activation: 'elu' })]
  },
  {
    name: 'conv2d valid stride 3 kernel 4',
    inputShape: IMAGE,
    layers: () => [tf.layers.conv2d({ filters: 5, kernelSize: 4, strides: 3, padding: 'valid' })]
  },
  {
    name: 'two convs, multi-channel',
    inputShape: IMAGE,
    layers: () => [
      tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }),
      tf.layers.conv2d({ filters: 6, kernelSize: 3, strides: 2, padding: 'same', activation: 'sigmoid' })
    ]
  },
  {
    name: 'maxPooling2d valid',
    inputShape: IMAGE,
    layers: () => [tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same' }), tf.layers.maxPooling2d({ poolSize: 2 })]
  },
  {
    name: 'maxPooling2d same 3/2',
    inputShape: IMAGE,
    layers: () => [
      tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same' }),
      tf.layers.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' })
    ]
  },
  {
    name: 'averagePooling2d valid 3/2',
    inputShape: IMAGE,
    layers: () => [
      tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same' }),
      tf.layers.averagePooling2d({ poolSize: 3, strides: 2, padding: 'valid' })
    ]
  },
  {
    name: 'averagePooling2d same (padding not counted)',
    inputShape: IMAGE,
    layers: () => [
      tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same' }),
      tf.layers.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same' })
    ]
  },
  {
    name: 'globalAveragePooling2d',
    inputShape: IMAGE,
    layers: () => [
      tf.layers.conv2d({ filters: 6, kernelSize: 3, padding: 'same', activation: 'relu' }),
      tf.layers.globalAveragePooling2d({}),
      dense(10, 'softmax')
    ]
  },
  {
    name: 'flatten after conv ((h, w, c) order)',
    inputShape: IMAGE,
    layers: () => [
      tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      dense(10, 'softmax')
    ]
  },
  { name: 'flatten on the raw image', inputShape: IMAGE, layers: () => [tf.layers.flatten(), dense(10)] },
  {
    name: 'batch norm after conv (NCHW) with moving stats',
    inputShape: IMAGE,
    layers: () => [
      tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same' }),
      tf.layers.batchNormalization({}),
      tf.layers.reLU(),
      tf.layers.flatten(),
      dense(10, 'softmax')
    ]
  },
  {
    name: 'batch norm straight on the image input',
    inputShape: IMAGE,
    layers: () => [tf.layers.batchNormalization({ epsilon: 0.1 }), tf.layers.flatten(), dense(5)]
  },
  {
    name: 'softmax on a conv output (channel axis)',
    inputShape: IMAGE,
    layers: () => [tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'softmax' })]
  },
  {
    name: 'dense on a 4-D tensor (last axis)',
    inputShape: IMAGE,
    layers: () => [tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: 'same' }), dense(5, 'relu')]
  },
  {
    name: 'dropout between convs',
    inputShape: IMAGE,
    layers: () => [
      tf.layers.conv2d({ filters: 3, kernelSize: 3 }),
      tf.layers.dropout({ rate: 0.3 }),
      tf.layers.conv2d({ filters: 3, kernelSize: 3, activation: 'relu6' })
    ]
  }
]

function build(c: Case, seed: number): tf.LayersModel {
  const layers = c.layers()
  const model = tf.sequential()
  layers.forEach((layer, i) => {
    if (i === 0) model.add(tf.layers.inputLayer({ inputShape: c.inputShape }))
    model.add(layer)
  })
  randomizeWeights(model, seed)
  return model
}

describe.each([13, 17])('opset %i', (opset) => {
  it.each(cases.map((c, i) => [c.name, c, i] as const))('%s matches tfjs at batch 1 and 8', async (_name, c, i) => {
    const model = build(c, 100 + i)
    const bytes = exportToOnnx(model, { opset, graphName: 'case' })
    const x = digitsBatch(8, 10 * i)
    const parity = await checkParity(model, bytes, x, c.inputShape, { singleSamples: 8, batchSize: 8 })
    expect(parity.samples).toBe(8)
    expect(parity.maxAbsDiffBatch1).toBeLessThanOrEqual(1e-4)
    expect(parity.maxAbsDiffBatchN).toBeLessThanOrEqual(1e-4)
    expect(parity.argmaxAgreement).toBe(1)
    expect(parity.pass).toBe(true)
    model.dispose()
  })
})
