/**
 * Local losses that keep information (issue 18): an optional term a block trains on besides its head's loss, in
 * greedy layer-wise stages and in decoupled training. `predsim` is the similarity-matching loss of Nøkland &
 * Eidnes 2019 ("Training neural networks with local error signals"): a projection of the block's output (conv3×3
 * on image outputs, dense on flat ones, no activation), reduced per sample to a vector (image outputs: each
 * channel's standard deviation over the map, as their code does), and the batch's matrix of adjusted cosine
 * similarities between samples matched (mean squared error) to the same matrix of the labels' one-hot rows. Samples
 * of a class are pulled towards each other and away from the rest without a classifier squeezing the block's
 * output into C numbers, which is what is meant to keep information for the blocks above.
 *
 * The block's loss is then head loss + weight · similarity loss (Nøkland & Eidnes write (1 − β)·CE + β·sim with
 * β = 0.99; under Adam that is weight 99 up to the step size). Classification only: a regression target has no
 * classes to be similar by.
 *
 * Why it is off by default (README, "Local losses"; Fashion-MNIST, small-cnn, auto heads, 8 epochs per block + a
 * 2-epoch fine-tune, 3 seeds, 3,000 test images): greedy layer-wise 84.5 % without it, 83.7 % with w = 1, 83.9 %
 * with w = 10; decoupled (8 epochs, 2 seeds) 81.8 → 82.7 %. In both, the projection's conv at the block's
 * resolution doubles the first block's step memory (6.8 → 13.8 MiB), which is what layer-wise training saves.
 */
import * as tf from '@tensorflow/tfjs'
import type { BlockSettings, LayerSpec } from '../shared/contract'
import { createLayer } from '../model/build'
import { isImageShape } from '../model/spec'
import { type Chain, applyChain } from './forward'
import { materializeHead } from './heads'

/** What a stage adds to its head's loss: the projection it trains and the term's weight. */
export interface LocalLoss {
  kind: 'predsim'
  weight: number
  /** The projection of the block's output the similarity matrix is taken on (its weights train with the block). */
  projection: Chain
  classes: number
}

/**
 * Adjusted cosine similarity between the rows of x (rank 4: per-channel standard deviation over the map first,
 * where the map has more than one cell and more than 3 channels, as in Nøkland & Eidnes' code), clamped to [−1, 1].
 */
export function similarityMatrix(x: tf.Tensor): tf.Tensor2D {
  return tf.tidy(() => {
    const [n] = x.shape as [number]
    let rows: tf.Tensor2D
    if (x.rank === 4 && x.shape[3]! > 3 && x.shape[1]! * x.shape[2]! > 1) {
      const { variance } = tf.moments(x, [1, 2])
      rows = tf.sqrt(tf.add(variance, 1e-8)) as tf.Tensor2D
    } else rows = tf.reshape(x, [n, -1])
    const centred = tf.sub(rows, tf.mean(rows, 1, true))
    const normed = tf.div(centred, tf.add(tf.sqrt(tf.sum(tf.square(centred), 1, true)), 1e-8))
    return tf.clipByValue(tf.matMul(normed, normed, false, true), -1, 1) as tf.Tensor2D
  })
}

/** The similarity-matching loss of a batch of (projected) block outputs against its class indices. */
export function similarityLoss(projected: tf.Tensor, labels: tf.Tensor1D, classes: number): tf.Scalar {
  return tf.tidy(() => {
    const truth = similarityMatrix(tf.oneHot(labels, classes))
    return tf.losses.meanSquaredError(truth, similarityMatrix(projected), undefined, tf.Reduction.MEAN) as tf.Scalar
  })
}

/**
 * The local loss of a block whose output has this shape, or null when its setting is off. Seeds: indices 1008 +
 * 10·block (the heads use 1000–1007 + 10·block).
 */
export function buildLocalLoss(
  settings: Pick<BlockSettings, 'localLoss' | 'localLossWeight'>,
  outputShape: number[],
  classes: number,
  seed: number,
  block: number
): LocalLoss | null {
  if (settings.localLoss === 'none' || settings.localLossWeight === 0) return null
  const spec: LayerSpec = isImageShape(outputShape)
    ? { type: 'conv2d', filters: outputShape[2]!, kernelSize: 3, strides: 1, padding: 'same', activation: 'linear' }
    : { type: 'dense', units: outputShape.reduce((a, b) => a * b, 1), activation: 'linear' }
  const layers: tf.layers.Layer[] = []
  const specs: Array<LayerSpec | null> = []
  if (!isImageShape(outputShape) && outputShape.length !== 1) {
    layers.push(tf.layers.flatten({ name: `local${block}_flatten` }))
    specs.push(null)
  }
  layers.push(createLayer(spec, { index: 1008 + block * 10, seed, name: `local${block}_projection` }))
  specs.push(spec)
  const projection: Chain = { layers, specs }
  // Its weights exist (seeded) before the stage collects the variables to train.
  materializeHead(projection, outputShape)
  return { kind: 'predsim', weight: settings.localLossWeight, projection, classes }
}

/** The term a training step adds to its head's loss, on the block's output `h` (inside the gradient closure). */
export function localLossTerm(local: LocalLoss, h: tf.Tensor, labels: tf.Tensor1D, options: { fast?: boolean }): tf.Scalar {
  const projected = applyChain(local.projection, h, { training: true, logits: false, fast: options.fast, inputTrains: true })
  return tf.mul(similarityLoss(projected, labels, local.classes), local.weight) as tf.Scalar
}

/** The projection's weights, trained with the block (and restored with it at the best epoch). */
export const localLossVariables = (local: LocalLoss | null): tf.Variable[] =>
  local?.projection.layers.flatMap((layer) => layer.weights.map((w) => w.read() as tf.Variable)) ?? []

/** Frees the projection's weights (its layers are not part of any model). */
export function disposeLocalLoss(local: LocalLoss | null): void {
  local?.projection.layers.forEach((layer) => layer.weights.forEach((w) => w.dispose()))
}
