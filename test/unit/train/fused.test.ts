/**
 * The fused dense path (main/train/fast/fusedDense.ts, kernels/denseTrain.wat) against tfjs's own gradients and
 * the paths it replaces: one step's gradients for every activation it takes and every loss, odd sizes (the
 * kernels' partial tiles), each optimizer over several steps, a partly trained chain, the validation scores, the
 * restored best weights; and seeded runs that train to the same result either way. Both kernel builds (fused
 * multiply-add where the runtime has relaxed SIMD, and plain SIMD) are checked.
 */
import * as tf from '@tensorflow/tfjs'
import { beforeAll, describe, expect, it } from 'vitest'
import { blockSettings, trainConfig, type BlockSettings, type EpochRow, type LayerSpec, type TrainConfig } from '../../../main/shared/contract'
import { activateBackend, planBackend } from '../../../main/core/backend'
import { createLayer } from '../../../main/model/build'
import { defaultModel } from '../../../main/model/presets'
import { train } from '../../../main/train/engine'
import { seededRandom } from '../../../main/core/random'
import { assess } from '../../../main/train/evaluate'
import { evaluatePredictions } from '../../../main/train/metrics'
import type { Features } from '../../../main/train/features'
import { denseChainOf, denseChainStep } from '../../../main/train/fast/denseChain'
import { FusedDenseChain, type FusedStage } from '../../../main/train/fast/fusedDense'
import { denseTrainKernel, type DenseTrainVariant } from '../../../main/train/fast/kernels'
import { type Objective, balancedWeights, classificationObjective, tfjsTensorLoss } from '../../../main/train/objective'
import { BlockOptimizer } from '../../../main/train/optimizer'
import { loadDigits } from '../../fixtures/digits'
import { classified } from '../../fixtures/figures'

const digits = await loadDigits()
const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((worst, value, i) => Math.max(worst, Math.abs(value - b[i]!)), 0)
const values = (variable: tf.Variable) => Float32Array.from(variable.dataSync() as Float32Array)

beforeAll(async () => {
  await activateBackend(tf, planBackend({}))
})

/** The builds this runtime can run: plain SIMD always (where wasm SIMD is), the fused one where relaxed SIMD validates. */
const variants = (): DenseTrainVariant[] => (['fused', 'plain'] as const).filter((variant) => denseTrainKernel(variant) !== null)

const regression = (loss: TrainConfig['loss']): Objective => ({
  task: 'regression',
  outputs: 1,
  classWeights: null,
  regressionLoss: loss,
  lossScale: 1
})

/** The layers of `specs`, built on `inputs` features (their weights exist). */
function builtLayers(specs: LayerSpec[], inputs: number, seed: number) {
  const layers = specs.map((spec, index) => createLayer(spec, { index, seed }))
  layers.reduce((h: tf.Tensor, layer) => layer.apply(h) as tf.Tensor, tf.zeros([1, inputs]))
  return layers
}

/** A chain of dense layers on `inputs` features with built weights (biases non-zero, so a bias mix-up shows). */
function chainOf(specs: LayerSpec[], inputs: number, seed: number) {
  const layers = builtLayers(specs, inputs, seed)
  for (const [i, layer] of layers.entries()) layer.weights[1]!.write(tf.randomNormal(layer.weights[1]!.shape as number[], 0, 0.3, 'float32', 40 + i))
  const variables = layers.flatMap((layer) => layer.weights.map((w) => w.read() as tf.Variable))
  return { chain: { layers, specs }, variables }
}

/** `rows` rows of `inputs` features in [-2, 2] with targets for the objective. */
function part(rows: number, inputs: number, objective: Objective, seed: number): Features {
  const random = seededRandom(seed)
  const x = Float32Array.from({ length: rows * inputs }, () => random() * 4 - 2)
  const y =
    objective.task === 'regression'
      ? Float32Array.from({ length: rows }, () => random() * 6 - 3)
      : Int32Array.from({ length: rows }, () => Math.floor(random() * objective.outputs))
  return { x, y, n: rows, shape: [inputs] }
}

/** tfjs's own loss and gradients of every variable (tape and all) for the rows `order[0..count)` of `features`. */
function tfjsGradients(
  layers: tf.layers.Layer[],
  variables: tf.Variable[],
  features: Features,
  order: Int32Array,
  count: number,
  objective: Objective
) {
  const inputs = features.shape[0]!
  const x = new Float32Array(count * inputs)
  const targets = objective.task === 'regression' ? new Float32Array(count) : new Int32Array(count)
  for (let k = 0; k < count; k++) {
    x.set((features.x as Float32Array).subarray(order[k]! * inputs, (order[k]! + 1) * inputs), k * inputs)
    targets[k] = features.y[order[k]!]!
  }
  return tf.tidy(() => {
    const { value, grads } = tf.variableGrads(() => {
      let out: tf.Tensor = tf.tensor2d(x, [count, inputs])
      layers.forEach((layer, i) => {
        // The last layer's logits: tfjs's loss applies the softmax itself.
        if (i === layers.length - 1) out = tf.add(tf.matMul(out as tf.Tensor2D, layer.weights[0]!.read() as tf.Tensor2D), layer.weights[1]!.read())
        else out = layer.apply(out) as tf.Tensor
      })
      const tensors = targets instanceof Int32Array ? tf.tensor1d(targets, 'int32') : tf.tensor1d(targets)
      return tfjsTensorLoss(objective, out, tensors).loss
    }, variables)
    return { loss: value.dataSync()[0]!, grads: variables.map((variable) => Float32Array.from(grads[variable.name]!.dataSync() as Float32Array)) }
  })
}

function stageOf(
  chain: FusedStage['chain'],
  variables: tf.Variable[],
  train: Features,
  objective: Objective,
  settings: Partial<BlockSettings>,
  batchSize: number,
  trained: tf.Variable[] = variables
): { stage: FusedStage; optimizer: BlockOptimizer } {
  const optimizer = new BlockOptimizer(blockSettings.parse(settings), 1, { inProcess: true })
  const val = part(37, train.shape[0]!, objective, 99)
  return { stage: { chain, train, val, batchSize, objective, groups: [{ optimizer, variables: trained }], restorable: variables }, optimizer }
}

describe('fused dense step: gradients against tfjs', () => {
  // Units and rows chosen off the kernel's tiles (7, 13, 1, 10 columns; 23 rows), inputs not a multiple of 4.
  const specs: LayerSpec[] = [
    { type: 'dense', units: 13, activation: 'relu' },
    { type: 'dense', units: 7, activation: 'sigmoid' },
    { type: 'dense', units: 9, activation: 'relu6' },
    { type: 'dense', units: 11, activation: 'linear' },
    { type: 'dense', units: 10, activation: 'softmax' }
  ]
  const cases: Array<{ name: string; objective: Objective }> = [
    { name: 'softmax cross-entropy', objective: classificationObjective(10) },
    {
      name: 'balanced cross-entropy',
      objective: { ...classificationObjective(10), classWeights: balancedWeights(part(60, 21, classificationObjective(10), 7).y as Int32Array, 10) }
    },
    { name: 'MSE', objective: regression('mse') },
    { name: 'Huber', objective: regression('huber') }
  ]
  for (const variant of variants())
    for (const { name, objective } of cases)
      it(`${variant} build, ${name}: one sgd step at rate 1 moves each weight by tfjs's gradient (to 1e-5)`, () => {
        const layerSpecs =
          objective.task === 'regression' ? [...specs.slice(0, -1), { type: 'dense', units: 1, activation: 'linear' } as LayerSpec] : specs
        const { chain, variables } = chainOf(layerSpecs, 21, 3)
        // Scaled so the relu6 and sigmoid layers see both of their flat regions.
        const features = part(60, 21, objective, 7)
        const order = Int32Array.from({ length: 60 }, (_, i) => (i * 17) % 60)
        const count = 23
        const theirs = tfjsGradients(chain.layers, variables, features, order, count, objective)
        const before = variables.map(values)
        const { stage, optimizer } = stageOf(chain, variables, features, objective, { optimizer: 'sgd', learningRate: 1, weightDecay: 0 }, 32)
        const fused = FusedDenseChain.open(stage, variant)!
        expect(fused).not.toBeNull()
        const [loss] = fused.step(order, 0, count, stage.groups)
        fused.writeBack(null)
        expect(Math.abs(loss - theirs.loss)).toBeLessThan(1e-5)
        variables.forEach((variable, i) => {
          const moved = before[i]!.map((value, j) => value - values(variable)[j]!)
          expect(Math.max(...theirs.grads[i]!.map(Math.abs))).toBeGreaterThan(1e-4)
          expect(maxDiff(moved, theirs.grads[i]!)).toBeLessThan(1e-5)
        })
        optimizer.dispose()
      })
})

describe('fused dense step: optimizers and partial chains against the tfjs dense step', () => {
  const specs: LayerSpec[] = [
    { type: 'dense', units: 40, activation: 'relu' },
    { type: 'dense', units: 24, activation: 'relu' },
    { type: 'dense', units: 10, activation: 'softmax' }
  ]
  const settingsCases: Array<Partial<BlockSettings>> = [
    { optimizer: 'sgd', learningRate: 0.1 },
    { optimizer: 'momentum', learningRate: 0.05, weightDecay: 1e-3 },
    { optimizer: 'adam', learningRate: 0.01, weightDecay: 5e-4 },
    // (Adam at LARS's usual large rates amplifies float rounding chaotically: a relu that flips in one path and not
    // the other moves a weight by the whole rate. Adam + LARS at an Adam rate checks the same arithmetic.)
    { optimizer: 'adam', learningRate: 0.01, weightDecay: 1e-4, lars: true },
    { optimizer: 'momentum', learningRate: 2, weightDecay: 1e-4, lars: true }
  ]
  const objective = classificationObjective(10)
  const features = part(90, 61, objective, 12)
  const order = Int32Array.from({ length: 90 }, (_, i) => (i * 31) % 90)

  /** Six steps of 15 rows (the last chain's top two layers only where `top`), by either path; the weights after. */
  const trainSix = (settings: Partial<BlockSettings>, top: boolean, path: 'fused' | 'tfjs', variant?: DenseTrainVariant) => {
    const { chain, variables } = chainOf(specs, 61, 8)
    const trained = top ? variables.slice(2) : variables
    const { stage, optimizer } = stageOf(chain, variables, features, objective, settings, 15, trained)
    if (path === 'fused') {
      const fused = FusedDenseChain.open(stage, variant)!
      for (let b = 0; b < 6; b++) fused.step(order, b * 15, 15, stage.groups)
      fused.writeBack(null)
    } else {
      const dense = denseChainOf(chain.layers, specs, [61])!
      for (let b = 0; b < 6; b++)
        tf.tidy(() => {
          const rows = order.subarray(b * 15, b * 15 + 15)
          const x = new Float32Array(15 * 61)
          rows.forEach((row, k) => x.set((features.x as Float32Array).subarray(row * 61, row * 61 + 61), k * 61))
          denseChainStep(
            dense,
            tf.tensor2d(x, [15, 61]),
            Int32Array.from(rows, (row) => features.y[row]!),
            objective,
            stage.groups
          )
        })
    }
    optimizer.dispose()
    return { start: chainOf(specs, 61, 8).variables.map(values), after: variables.map(values) }
  }

  for (const variant of variants())
    for (const settings of settingsCases)
      it(`${variant} build, ${settings.optimizer}${settings.weightDecay ? ' + L2' : ''}${settings.lars ? ' + LARS' : ''}: the same weights after six steps`, () => {
        const fused = trainSix(settings, false, 'fused', variant)
        const tfjs = trainSix(settings, false, 'tfjs')
        fused.after.forEach((weights, i) => {
          expect(maxDiff(weights, fused.start[i]!)).toBeGreaterThan(1e-3)
          expect(maxDiff(weights, tfjs.after[i]!)).toBeLessThan(2e-5)
        })
      })

  it('trains only the layers of the active group: the others keep their values, the trained ones move as the tfjs step moves them', () => {
    const fused = trainSix({ optimizer: 'adam', learningRate: 0.01 }, true, 'fused')
    const tfjs = trainSix({ optimizer: 'adam', learningRate: 0.01 }, true, 'tfjs')
    fused.after.forEach((weights, i) => {
      if (i < 2) expect(maxDiff(weights, fused.start[i]!)).toBe(0)
      else expect(maxDiff(weights, fused.start[i]!)).toBeGreaterThan(1e-3)
      expect(maxDiff(weights, tfjs.after[i]!)).toBeLessThan(2e-5)
    })
  })
})

describe('fused dense path: validation scores and the kept weights', () => {
  it('scores a part as evaluate.ts does (loss, accuracy, predictions; regression R²), in chunks of any size', async () => {
    for (const objective of [classificationObjective(10), regression('mse'), regression('huber')]) {
      const specs: LayerSpec[] = [
        { type: 'dense', units: 30, activation: 'relu' },
        { type: 'dense', units: objective.outputs, activation: objective.task === 'regression' ? 'linear' : 'softmax' }
      ]
      const { chain, variables } = chainOf(specs, 61, 4)
      const train = part(20, 61, objective, 1)
      const { stage, optimizer } = stageOf(chain, variables, train, objective, { optimizer: 'sgd' }, 8)
      // 600 rows: more than one validation chunk, the last one partial; the stage's own val part and another one.
      const other = part(600, 61, objective, 2)
      const fused = FusedDenseChain.open({ ...stage, val: other })!
      for (const features of [other, stage.val]) {
        const ours = fused.assess(features)
        const theirs = await assess(chain, features, objective, false)
        expect(Math.abs(ours.loss - theirs.loss)).toBeLessThan(1e-5)
        expect(Math.abs(ours.score - theirs.score)).toBeLessThan(1e-5)
        expect(Math.abs(ours.balancedScore - theirs.balancedScore)).toBeLessThan(1e-5)
        if (objective.task === 'regression') expect(maxDiff(ours.predicted as Float32Array, theirs.predicted as Float32Array)).toBeLessThan(1e-5)
        else expect(Array.from(ours.predicted)).toEqual(Array.from(theirs.predicted))
      }
      fused.writeBack(null)
      optimizer.dispose()
    }
  })

  it('scores a whole model ending in its softmax as evaluate.ts does with probabilities (loss, accuracy, predictions, confidence; regression)', async () => {
    for (const objective of [classificationObjective(10), regression('mse'), regression('huber')]) {
      const specs: LayerSpec[] = [
        { type: 'dense', units: 30, activation: 'relu' },
        { type: 'dense', units: 17, activation: 'sigmoid' },
        { type: 'dense', units: objective.outputs, activation: objective.task === 'regression' ? 'linear' : 'softmax' }
      ]
      const { chain } = chainOf(specs, 61, 9)
      const scorer = FusedDenseChain.scorer(chain, objective, [61])!
      // 600 rows: three chunks of the scorer's 256, the last one partial; and a part smaller than one chunk.
      for (const features of [part(600, 61, objective, 4), part(7, 61, objective, 5)]) {
        const ours = scorer.assess(features, true)
        const theirs = await assess(chain, features, objective, true)
        expect(Math.abs(ours.loss - theirs.loss) / Math.max(1, theirs.loss)).toBeLessThan(1e-6)
        // Accuracy exactly; R² from float32 predictions that differ in their last bits (the gemm's order of sums).
        const scoreNoise = objective.task === 'regression' ? 1e-6 : 0
        expect(Math.abs(ours.score - theirs.score)).toBeLessThanOrEqual(scoreNoise)
        expect(Math.abs(ours.balancedScore - theirs.balancedScore)).toBeLessThanOrEqual(scoreNoise)
        if (objective.task === 'regression') {
          expect(maxDiff(ours.predicted as Float32Array, theirs.predicted as Float32Array)).toBeLessThan(1e-5)
          expect(ours.confidence).toBeUndefined()
        } else {
          expect(Array.from(ours.predicted)).toEqual(Array.from(theirs.predicted))
          expect(maxDiff(ours.confidence!, theirs.confidence!)).toBeLessThan(1e-6)
        }
      }
    }
    // Not a dense-only chain: no scorer (engine.ts then scores through tfjs).
    const dropout: LayerSpec[] = [
      { type: 'dense', units: 8, activation: 'relu' },
      { type: 'dropout', rate: 0.5 },
      { type: 'dense', units: 3, activation: 'softmax' }
    ]
    const layers = builtLayers(dropout, 6, 1)
    expect(FusedDenseChain.scorer({ layers, specs: dropout }, classificationObjective(3), [6])).toBeNull()
  })

  it('a trained run’s stored test, validation and train figures equal evaluate.ts’s scores of the model it returns', async () => {
    const { spec, partition } = defaultModel({ inputShape: digits.inputShape, classes: 10 })
    const config = trainConfig.parse({ epochs: 3, batchSize: 200, patience: 0 })
    const outcome = await train({ spec, partition, config, data: digits })
    const chain = { layers: outcome.model.layers, specs: spec.layers }
    const objective = classificationObjective(10)
    const [test, val, trainPart] = [digits.test, digits.val, digits.train].map((p) => ({ x: p.x, y: p.y, n: p.n, shape: digits.inputShape }))
    const theirs = { test: await assess(chain, test!, objective, true), val: await assess(chain, val!, objective, true) }
    const trainScore = await assess(chain, trainPart!, objective, true)
    const metrics = classified(outcome.metrics)
    expect(metrics.testAccuracy).toBe(theirs.test.score)
    expect(Math.abs(metrics.testLoss - theirs.test.loss)).toBeLessThan(1e-6)
    expect(metrics.valAccuracy).toBe(theirs.val.score)
    expect(metrics.trainAccuracy).toBe(trainScore.score)
    // The evaluation shown (confusion, per class, misclassified rows with their confidence to 4 decimals).
    const shown = evaluatePredictions(
      digits.labels,
      digits.test.y as Int32Array,
      theirs.test.predicted as Int32Array,
      digits.test.rows,
      theirs.test.confidence
    )
    expect(outcome.evaluation).toEqual(shown)
    outcome.model.dispose()
  })

  it('trains the same model whether or not a hook holds it (the weights written back after each epoch or at the end only)', async () => {
    const { spec, partition } = defaultModel({ inputShape: digits.inputShape, classes: 10 })
    const config = trainConfig.parse({ epochs: 4, batchSize: 64, patience: 0 })
    let held: tf.LayersModel | null = null
    const perEpoch: Float32Array[] = []
    const watched = await train(
      { spec, partition, config, data: digits },
      { onStageStart: (_, model) => (held = model), onEpoch: () => perEpoch.push(Float32Array.from(held!.layers[0]!.getWeights()[0]!.dataSync())) }
    )
    const unwatched = await train({ spec, partition, config, data: digits }, { onEpoch: () => undefined })
    // The held model moved after every epoch (the hook saw each epoch's weights, not the stage's start).
    for (let e = 1; e < perEpoch.length; e++) expect(maxDiff(perEpoch[e]!, perEpoch[e - 1]!)).toBeGreaterThan(0)
    const weights = (model: tf.LayersModel) => model.getWeights().map((w) => Float32Array.from(w.dataSync()))
    weights(watched.model).forEach((w, i) => expect(maxDiff(w, weights(unwatched.model)[i]!)).toBe(0))
    expect(unwatched.metrics).toEqual(watched.metrics)
    watched.model.dispose()
    unwatched.model.dispose()
  })

  it('writes back the snapshot it was given, else the weights it ended with', () => {
    const specs: LayerSpec[] = [
      { type: 'dense', units: 12, activation: 'relu' },
      { type: 'dense', units: 3, activation: 'softmax' }
    ]
    const objective = classificationObjective(3)
    const { chain, variables } = chainOf(specs, 61, 5)
    const features = part(40, 61, objective, 3)
    const order = Int32Array.from({ length: 40 }, (_, i) => i)
    const { stage, optimizer } = stageOf(chain, variables, features, objective, { optimizer: 'sgd', learningRate: 0.5 }, 20)
    const fused = FusedDenseChain.open(stage)!
    fused.step(order, 0, 20, stage.groups)
    const kept = fused.snapshot()
    fused.step(order, 20, 20, stage.groups)
    const last = fused.snapshot()
    fused.writeBack(kept)
    variables.forEach((variable, i) => expect(Array.from(values(variable))).toEqual(Array.from(kept[i]!)))
    expect(maxDiff(last[0]!, kept[0]!)).toBeGreaterThan(1e-4)
    fused.writeBack(null)
    variables.forEach((variable, i) => expect(Array.from(values(variable))).toEqual(Array.from(last[i]!)))
    optimizer.dispose()
  })

  it('declines what it does not take (another layer type, a group over variables that are not the chain’s)', () => {
    const dropout: LayerSpec[] = [
      { type: 'dense', units: 8, activation: 'relu' },
      { type: 'dropout', rate: 0.2 },
      { type: 'dense', units: 3, activation: 'softmax' }
    ]
    const layers = builtLayers(dropout, 6, 1)
    const objective = classificationObjective(3)
    const variables = layers.flatMap((layer) => layer.weights.map((w) => w.read() as tf.Variable))
    const withDropout = stageOf({ layers, specs: dropout }, variables, part(10, 6, objective, 1), objective, {}, 5)
    expect(FusedDenseChain.open(withDropout.stage)).toBeNull()
    const dense = chainOf(
      dropout.filter((spec) => spec.type === 'dense'),
      6,
      1
    )
    const stray = tf.variable(tf.zeros([3]))
    const strayGroup = stageOf(dense.chain, dense.variables, part(10, 6, objective, 1), objective, {}, 5, [...dense.variables, stray])
    expect(FusedDenseChain.open(strayGroup.stage)).toBeNull()
  })
})

describe('same training with the fused kernel as with the tfjs dense step', () => {
  const once = async (config: Partial<TrainConfig>, fusedDense: boolean, settings: Partial<BlockSettings> = {}) => {
    const { spec, partition } = defaultModel({ inputShape: digits.inputShape, classes: 10 })
    const blocks = { blocks: partition.blocks.map((block) => ({ ...block, settings: { ...block.settings, ...settings } })) }
    const rows: EpochRow[] = []
    const outcome = await train(
      { spec, partition: blocks, config: trainConfig.parse({ patience: 0, ...config }), data: digits, fusedDense },
      { onEpoch: (row) => rows.push(row) }
    )
    outcome.model.dispose()
    return { rows, accuracy: classified(outcome.metrics).testAccuracy }
  }

  it('end-to-end, the article’s settings (momentum, lr 0.1, batch 200): the same losses epoch by epoch and the same test accuracy', async () => {
    const settings = { optimizer: 'momentum' as const, learningRate: 0.1, weightDecay: 1e-4 }
    const fused = await once({ epochs: 15, batchSize: 200 }, true, settings)
    const tfjs = await once({ epochs: 15, batchSize: 200 }, false, settings)
    expect(Math.abs(fused.rows[0]!.loss - tfjs.rows[0]!.loss) / tfjs.rows[0]!.loss).toBeLessThan(1e-4)
    expect(Math.abs(fused.rows[14]!.valLoss! - tfjs.rows[14]!.valLoss!)).toBeLessThan(0.02)
    expect(fused.accuracy).toBeGreaterThanOrEqual(0.95)
    expect(Math.abs(fused.accuracy - tfjs.accuracy)).toBeLessThanOrEqual(0.01)
  })

  it('layer-wise (stages on cached prefix features in files, the fine-tune): the same first losses and test accuracy', async () => {
    const fused = await once({ mode: 'layer-wise', batchSize: 32 }, true, { epochs: 4 })
    const tfjs = await once({ mode: 'layer-wise', batchSize: 32 }, false, { epochs: 4 })
    expect(fused.rows.length).toBe(tfjs.rows.length)
    for (const phaseStart of fused.rows.map((row, i) => (i === 0 || row.block !== fused.rows[i - 1]!.block ? i : -1)).filter((i) => i >= 0))
      expect(Math.abs(fused.rows[phaseStart]!.loss - tfjs.rows[phaseStart]!.loss) / tfjs.rows[phaseStart]!.loss).toBeLessThan(1e-3)
    expect(fused.accuracy).toBeGreaterThanOrEqual(0.93)
    expect(Math.abs(fused.accuracy - tfjs.accuracy)).toBeLessThanOrEqual(0.015)
  })
})
