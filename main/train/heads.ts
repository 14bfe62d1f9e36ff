/**
 * Auxiliary heads: what a block trains against in a layer-wise (or decoupled) stage, in place of the layers above
 * it. The head setting of a block names a design; `auto` picks one by the block's output shape.
 *
 * Why `auto` is a linear head on a barely pooled map (issue 18, Fashion-MNIST class folders, small-cnn, 5 seeds,
 * test on 3,000 separate images): the 2×2 pool that `linear` puts in front of dense(C) throws away what an early
 * conv block learned (first head 54 % val, the run 1.1 points below end-to-end). Pooling only as far as 2,048
 * features (the budget of Nøkland & Eidnes 2019's local classifiers) lifts the first head to 79 % and the run to
 * 0.8 above end-to-end (84.6 vs 83.7 %), at the block stages' half of end-to-end's step memory. Conv heads
 * (Belilovsky et al. 2019) do no better there (83.7 %) for 1.5–2× the stage's arithmetic and end-to-end's step
 * memory; they stay an option. A local loss besides the head (predsim) is a separate, optional setting:
 * localLoss.ts.
 */
import * as tf from '@tensorflow/tfjs'
import type { BlockSettings, LayerSpec } from '../shared/contract'
import { createLayer } from '../model/build'
import { isImageShape } from '../model/spec'
import type { Chain } from './forward'

/**
 * What a head is made of. Image outputs: `convs` conv3×3 + relu layers of `width` × the block's channels, then an
 * average pool to the finest grid of at most `grid`×`grid` cells and at most `features` values once flattened,
 * then flatten. Then dense(h, relu) per entry of `hidden`, then dense(outputs).
 */
export interface HeadDesign {
  convs: number
  width: number
  grid: number
  features: number
  hidden: number[]
}

/** The feature budget of the `auto` head on image outputs. */
export const AUTO_HEAD_FEATURES = 2048

/** linear and mlp pool image outputs to 2×2, as they always did, so stored runs re-run the same. */
export const HEAD_DESIGNS = {
  linear: { convs: 0, width: 1, grid: 2, features: Infinity, hidden: [] },
  mlp: { convs: 0, width: 1, grid: 2, features: Infinity, hidden: [64] },
  conv: { convs: 1, width: 2, grid: 4, features: Infinity, hidden: [] },
  pooled: { convs: 0, width: 1, grid: Infinity, features: AUTO_HEAD_FEATURES, hidden: [] }
} as const satisfies Record<string, HeadDesign>

/** The design a block's head setting stands for on an output of this shape. */
export function headDesign(kind: BlockSettings['head'], outputShape: number[]): HeadDesign {
  if (kind === 'auto') return isImageShape(outputShape) ? HEAD_DESIGNS.pooled : HEAD_DESIGNS.linear
  return HEAD_DESIGNS[kind]
}

/**
 * The pool window [height, width] that brings an h×w×c map within the design's grid (per axis) and then, growing
 * both sides alike, within its feature budget (or down to 1×1 cells covering the whole map).
 */
export function headPool(h: number, w: number, c: number, design: Pick<HeadDesign, 'grid' | 'features'>): [number, number] {
  const fit = (side: number) => Math.max(1, Math.ceil(side / Math.min(side, design.grid)))
  const [minH, minW] = [fit(h), fit(w)]
  for (let k = 1; ; k++) {
    const [kh, kw] = [Math.max(minH, Math.min(k, h)), Math.max(minW, Math.min(k, w))]
    if (Math.ceil(h / kh) * Math.ceil(w / kw) * c <= design.features || (kh >= h && kw >= w)) return [kh, kw]
  }
}

/**
 * The auxiliary head of block `block` on its output shape, with `outputs` units out (logits). Layers that carry a
 * spec take applyChain's training paths (fast/conv.ts, fast/dense.ts); pools and flatten have none. Seeds: the
 * first hidden and the output layer keep the indices they always had (1000, 1001 + 10·block), convs 1002…, further
 * hidden layers 1007….
 */
export function buildHead(outputShape: number[], outputs: number, kind: BlockSettings['head'], seed: number, block: number): Chain {
  const design = headDesign(kind, outputShape)
  const layers: tf.layers.Layer[] = []
  const specs: Array<LayerSpec | null> = []
  const name = (part: string) => `head${block}_${part}`
  const add = (spec: LayerSpec | null, layer: tf.layers.Layer) => {
    layers.push(layer)
    specs.push(spec)
  }
  if (isImageShape(outputShape)) {
    const [h, w, channels] = outputShape as [number, number, number]
    const filters = Math.round(channels * design.width)
    for (let i = 0; i < design.convs; i++) {
      const spec: LayerSpec = { type: 'conv2d', filters, kernelSize: 3, strides: 1, padding: 'same', activation: 'relu' }
      add(spec, createLayer(spec, { index: 1002 + block * 10 + i, seed, name: name(`conv${i}`) }))
    }
    const pool = headPool(h, w, design.convs ? filters : channels, design)
    // "same" padding: a window hanging over the edge averages the pixels it covers.
    if (pool[0] > 1 || pool[1] > 1) add(null, tf.layers.averagePooling2d({ name: name('pool'), poolSize: pool, strides: pool, padding: 'same' }))
    add(null, tf.layers.flatten({ name: name('flatten') }))
  } else if (outputShape.length !== 1) {
    add(null, tf.layers.flatten({ name: name('flatten') }))
  }
  const dense = (units: number, activation: 'relu' | 'linear', index: number, part: string) => {
    const spec: LayerSpec = { type: 'dense', units, activation }
    add(spec, createLayer(spec, { index, seed, name: name(part) }))
  }
  design.hidden.forEach((units, i) => dense(units, 'relu', i === 0 ? 1000 + block * 10 : 1006 + block * 10 + i, i === 0 ? 'hidden' : `hidden${i}`))
  dense(outputs, 'linear', 1001 + block * 10, 'out')
  return { layers, specs }
}

/** Builds a head's weights (seeded) by running it once on zeros: its variables exist before anyone collects them. */
export function materializeHead(head: Chain, outputShape: number[]): void {
  // Nothing returned: tidy keeps what its function returns, and this output would outlive the run.
  tf.tidy(() => {
    let x: tf.Tensor = tf.zeros([1, ...outputShape])
    for (const layer of head.layers) x = layer.apply(x) as tf.Tensor
  })
}

/** Frees a head's weights (its layers are not part of any model). */
export function disposeHead(head: Chain | null): void {
  head?.layers.forEach((layer) => layer.weights.forEach((w) => w.dispose()))
}
