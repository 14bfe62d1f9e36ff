/** Auxiliary heads: what a block trains against in a layer-wise stage, in place of the layers above it. */
import * as tf from '@tensorflow/tfjs'
import type { LayerSpec } from '../shared/contract'
import { createLayer } from '../model/build'
import { isImageShape } from '../model/spec'
import type { Chain } from './forward'

/**
 * The auxiliary head of a layer-wise stage, on the block's output shape: flat outputs get dense(C) (linear) or
 * dense(h, relu) → dense(C) (mlp); image outputs are first pooled to at most 2×2 and flattened.
 */
export function buildHead(outputShape: number[], classes: number, kind: 'linear' | 'mlp', seed: number, block: number): Chain {
  const layers: tf.layers.Layer[] = []
  const name = (part: string) => `head${block}_${part}`
  if (isImageShape(outputShape)) {
    const [h, w] = outputShape
    const pool: [number, number] = [Math.max(1, Math.ceil(h / 2)), Math.max(1, Math.ceil(w / 2))]
    layers.push(tf.layers.averagePooling2d({ name: name('pool'), poolSize: pool, strides: pool, padding: 'same' }))
    layers.push(tf.layers.flatten({ name: name('flatten') }))
  } else if (outputShape.length !== 1) {
    layers.push(tf.layers.flatten({ name: name('flatten') }))
  }
  const specs: Array<LayerSpec | null> = layers.map(() => null)
  const dense = (spec: LayerSpec & { type: 'dense' }, index: number, part: string) => {
    layers.push(createLayer(spec, { index, seed, name: name(part) }))
    // The spec lets training take the fast dense path (see fast/dense.ts).
    specs.push(spec)
  }
  if (kind === 'mlp') dense({ type: 'dense', units: 64, activation: 'relu' }, 1000 + block * 10, 'hidden')
  dense({ type: 'dense', units: classes, activation: 'linear' }, 1001 + block * 10, 'out')
  return { layers, specs }
}
