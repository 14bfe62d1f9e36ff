/**
 * The exporter against the app's own model builder: every layer type and activation of the contract's layerSpec,
 * built by buildModel as the training code builds it, exported and run through onnxruntime-node.
 */
import { describe, expect, it } from 'vitest'
import type { ActivationName, LayerSpec, ModelSpec } from '../../../main/shared/contract'
import { activationName, modelSpec } from '../../../main/shared/contract'
import { buildModel } from '../../../main/model/build'
import { exportToOnnx } from '../../../main/export/onnx'
import { checkParity } from '../../../main/export/parity'
import { digitsBatch } from '../../fixtures/digits'
import { randomizeWeights } from './helpers'

const conv = (extra: Partial<Extract<LayerSpec, { type: 'conv2d' }>> = {}): LayerSpec => ({
  type: 'conv2d',
  filters: 4,
  kernelSize: 3,
  strides: 1,
  padding: 'same',
  activation: 'relu',
  ...extra
})
/** The builder wants a softmax output layer (a classifier). */
const out: LayerSpec = { type: 'dense', units: 10, activation: 'softmax' }
const head: LayerSpec[] = [{ type: 'flatten' }, out]

/** Activations a dense or conv layer takes directly (leakyRelu exists only as its own layer in tfjs). */
const inLayer = activationName.options.filter((a): a is Exclude<ActivationName, 'leakyRelu'> => a !== 'leakyRelu')

const specs: Array<[string, ModelSpec]> = [
  ...inLayer.map((a): [string, ModelSpec] => [
    `dense ${a}`,
    { version: 1, inputShape: [64], layers: [{ type: 'dense', units: 16, activation: a }, out] }
  ]),
  ...inLayer.map((a): [string, ModelSpec] => [`conv2d ${a}`, { version: 1, inputShape: [8, 8, 1], layers: [conv({ activation: a }), ...head] }]),
  ...activationName.options.map((a): [string, ModelSpec] => [
    `activation layer ${a}`,
    { version: 1, inputShape: [64], layers: [{ type: 'dense', units: 16, activation: 'linear' }, { type: 'activation', activation: a }, out] }
  ]),
  [
    'activation layer leakyRelu alpha 0.05',
    {
      version: 1,
      inputShape: [64],
      layers: [{ type: 'dense', units: 16, activation: 'linear' }, { type: 'activation', activation: 'leakyRelu', alpha: 0.05 }, out]
    }
  ],
  ['conv2d valid stride 2', { version: 1, inputShape: [8, 8, 1], layers: [conv({ padding: 'valid', strides: 2 }), ...head] }],
  ['conv2d same stride 2', { version: 1, inputShape: [8, 8, 1], layers: [conv({ strides: 2, kernelSize: 4 }), ...head] }],
  [
    'max pool same 3/2',
    { version: 1, inputShape: [8, 8, 1], layers: [conv(), { type: 'maxPooling2d', poolSize: 3, strides: 2, padding: 'same' }, ...head] }
  ],
  ['max pool valid', { version: 1, inputShape: [8, 8, 1], layers: [conv(), { type: 'maxPooling2d', poolSize: 2, padding: 'valid' }, ...head] }],
  [
    'average pool same 3/2',
    { version: 1, inputShape: [8, 8, 1], layers: [conv(), { type: 'averagePooling2d', poolSize: 3, strides: 2, padding: 'same' }, ...head] }
  ],
  [
    'average pool valid',
    { version: 1, inputShape: [8, 8, 1], layers: [conv(), { type: 'averagePooling2d', poolSize: 2, padding: 'valid' }, ...head] }
  ],
  [
    'global average pool',
    { version: 1, inputShape: [8, 8, 1], layers: [conv(), { type: 'globalAveragePooling2d' }, { type: 'dense', units: 10, activation: 'softmax' }] }
  ],
  [
    'small cnn with batch norm and dropout',
    {
      version: 1,
      inputShape: [8, 8, 1],
      layers: [
        conv(),
        { type: 'batchNormalization', momentum: 0.9, epsilon: 0.01 },
        { type: 'maxPooling2d', poolSize: 2, padding: 'valid' },
        { type: 'dropout', rate: 0.25 },
        conv({ filters: 6 }),
        ...head
      ]
    }
  ],
  [
    'mlp with batch norm and dropout',
    {
      version: 1,
      inputShape: [64],
      layers: [
        { type: 'dense', units: 32, activation: 'linear' },
        { type: 'batchNormalization', momentum: 0.99, epsilon: 0.001 },
        { type: 'activation', activation: 'relu' },
        { type: 'dropout', rate: 0.5 },
        { type: 'dense', units: 10, activation: 'softmax' }
      ]
    }
  ]
]

describe('every layerSpec through the app builder', () => {
  it.each(specs)('%s', async (_name, raw) => {
    const spec = modelSpec.parse(raw)
    const model = buildModel(spec, { seed: 5 })
    randomizeWeights(model, 11)
    const x = digitsBatch(8, 40)
    for (const opset of [13, 17]) {
      const parity = await checkParity(model, exportToOnnx(model, { opset }), x, spec.inputShape, { singleSamples: 8, batchSize: 8 })
      expect(parity.maxAbsDiffBatch1).toBeLessThanOrEqual(1e-4)
      expect(parity.maxAbsDiffBatchN).toBeLessThanOrEqual(1e-4)
      expect(parity.argmaxAgreement).toBe(1)
    }
    model.dispose()
  })
})
