/**
 * ModelSpec → tf.LayersModel. Every initialiser is seeded (from the run seed and the layer index), so the same
 * seed builds the same weights. Layers are named `layer<i>_<type>` after their spec index: saved weights, the
 * ONNX exporter and the builder all refer to a layer by that index.
 */
import * as tf from '@tensorflow/tfjs'
import type { LayerActivation, LayerSpec, ModelSpec } from '../shared/contract'
import { LabError } from '../shared/errors'
import { validateSpec } from './spec'

/** The activations tfjs-layers takes by name: ours without leakyRelu (its own layer), all spelled as tfjs spells them. */
type ActivationId = LayerActivation

/** A distinct, reproducible seed for each initialiser of each layer. */
export const layerSeed = (seed: number, index: number, salt = 0): number => (seed * 7919 + index * 104729 + salt * 15485863) % 2147483647

export const layerName = (index: number, layer: LayerSpec): string => `layer${index}_${layer.type}`

export function createLayer(layer: LayerSpec, options: { index: number; seed: number; name?: string; inputShape?: number[] }): tf.layers.Layer {
  const name = options.name ?? layerName(options.index, layer)
  const base = { name, ...(options.inputShape ? { inputShape: options.inputShape } : {}) }
  const kernelInitializer = tf.initializers.glorotUniform({ seed: layerSeed(options.seed, options.index) })
  switch (layer.type) {
    case 'dense':
      return tf.layers.dense({
        ...base,
        units: layer.units,
        activation: layer.activation as ActivationId,
        kernelInitializer,
        biasInitializer: 'zeros'
      })
    case 'conv2d':
      return tf.layers.conv2d({
        ...base,
        filters: layer.filters,
        kernelSize: layer.kernelSize,
        strides: layer.strides,
        padding: layer.padding,
        activation: layer.activation as ActivationId,
        kernelInitializer,
        biasInitializer: 'zeros'
      })
    case 'maxPooling2d':
      return tf.layers.maxPooling2d({ ...base, poolSize: layer.poolSize, strides: layer.strides ?? layer.poolSize, padding: layer.padding })
    case 'averagePooling2d':
      return tf.layers.averagePooling2d({ ...base, poolSize: layer.poolSize, strides: layer.strides ?? layer.poolSize, padding: layer.padding })
    case 'globalAveragePooling2d':
      return tf.layers.globalAveragePooling2d(base)
    case 'flatten':
      return tf.layers.flatten(base)
    case 'dropout':
      // Training applies its own seeded mask per batch (see train/forward.ts); this layer only serves inference.
      return tf.layers.dropout({ ...base, rate: layer.rate, seed: layerSeed(options.seed, options.index, 1) })
    case 'batchNormalization':
      return tf.layers.batchNormalization({ ...base, momentum: layer.momentum, epsilon: layer.epsilon })
    case 'activation':
      if (layer.activation === 'leakyRelu') return tf.layers.leakyReLU({ ...base, alpha: layer.alpha ?? 0.3 })
      if (layer.activation === 'elu' && layer.alpha !== undefined) return tf.layers.elu({ ...base, alpha: layer.alpha })
      return tf.layers.activation({ ...base, activation: layer.activation as ActivationId })
  }
}

/** Builds the spec as a tf.sequential; throws a LabError naming the first invalid layer. */
export function buildModel(spec: ModelSpec, options: { seed: number }): tf.Sequential {
  const [problem] = validateSpec(spec)
  if (problem) throw new LabError(`model spec: ${problem.message}`)
  const model = tf.sequential({ name: 'layerlab_model' })
  spec.layers.forEach((layer, index) => {
    model.add(createLayer(layer, { index, seed: options.seed, inputShape: index === 0 ? spec.inputShape : undefined }))
  })
  return model
}
