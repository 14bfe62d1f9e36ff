/**
 * The training engine: end-to-end, greedy layer-wise and decoupled training of a spec over prepared data, with a hand-written
 * loop (seeded shuffling, batches copied out of contiguous Float32Arrays, one optimizer per block). It runs inside
 * the training worker; tests also call it in-process to look inside (stage hooks, prefix counter).
 *
 * The pieces: forward.ts applies chains of layers, stage.ts trains one stage, heads.ts builds a block's auxiliary
 * head, evaluate.ts scores a chain and computes the frozen prefix's output, features.ts holds the rows.
 */
import os from 'node:os'
import path from 'node:path'
import * as tf from '@tensorflow/tfjs'
import type { BlockResult, Evaluation, ModelSpec, Partition, RunMetrics, RunResources, TrainConfig } from '../shared/contract'
import type { PreparedData } from '../data/types'
import { buildModel, layerSeed } from '../model/build'
import { assertTrainable, localLossRefusal } from '../model/spec'
import { LabError } from '../shared/errors'
import { DEFAULT_AUGMENT, type AugmentOptions } from './augment'
import { BlockOptimizer } from './optimizer'
import type { Chain } from './forward'
import { type Features, partFeatures } from './features'
import { FeatureFile } from './featureFile'
import { type Assessment, assess, chainOutput } from './evaluate'
import { objectiveFor } from './objective'
import { Trainer, type Group } from './stage'
import { buildHead, disposeHead, materializeHead } from './heads'
import { type LocalLoss, buildLocalLoss, disposeLocalLoss, localLossVariables } from './localLoss'
import { evaluatePredictions, evaluateRegression, toTargetUnit } from './metrics'
import { regressionFigures } from '../shared/task'
import { WHOLE_MODEL_BLOCK, type TrainHooks } from './hooks'
import { ResourceMeter } from './meter'
import { annealed, freezeOutPlan } from './freezeOut'
import { type DecoupledResult, trainDecoupled } from './decoupled'
import { FusedDenseChain } from './fast/fusedDense'
import { tensorsInProcess } from './fast/inProcess'
import { trainDecoupledPipeline } from './pipeline'

export interface TrainJob {
  spec: ModelSpec
  partition: Partition
  config: TrainConfig
  data: PreparedData
  /**
   * Layer-wise: the folder for the cached frozen-prefix outputs (featureFile.ts; the files are deleted when the
   * run ends); undefined: a folder under the system's temp folder; null: keep them in memory.
   */
  cacheDir?: string | null
  /**
   * Where tensors live in this process (wasm, cpu): dense-only chains train with the hand-written step of
   * fast/denseChain.ts, and max pools take their gradient on the host (a conv followed by a max pool pools before
   * its bias and activation). False keeps tfjs's own ops for these (tests compare the two); default true.
   */
  fastPath?: boolean
  /**
   * With the fast path, dense-only chains train inside one wasm instance (fast/fusedDense.ts). False keeps the
   * tape-free tfjs step of fast/denseChain.ts instead (tests and the bench compare the two); default true.
   */
  fusedDense?: boolean
}

export interface TrainOutcome {
  status: 'completed' | 'cancelled'
  model: tf.Sequential
  metrics: RunMetrics | null
  evaluation: Evaluation | null
  blocks: BlockResult[]
  timing: { totalMs: number; msPerEpoch: number }
  epochsRun: number
  /** Layer-wise: how many times a frozen prefix's output was computed (once per block after the first). */
  prefixForwards: number
  /** What the run cost: step tensor peaks per stage, peak RSS, wall time, examples seen. */
  resources: RunResources
}

const variablesOf = (layers: tf.layers.Layer[], which: 'trainable' | 'all'): tf.Variable[] =>
  layers.flatMap((layer) => (which === 'trainable' ? layer.trainableWeights : layer.weights).map((w) => w.read() as tf.Variable))

/** Checks the job before any work: the spec, the partition, and that the data fits the model. */
export function checkJob(job: TrainJob): void {
  const refusal = localLossRefusal(job.partition, job.data.task, job.config.mode)
  if (refusal) throw new LabError(refusal)
  assertTrainable(job.spec, job.partition, { inputShape: job.data.inputShape, classes: job.data.labels.length, task: job.data.task })
  if (job.data.train.n === 0) throw new LabError(`dataset ${job.data.datasetId}: the training part is empty`)
}

export async function train(job: TrainJob, hooks: TrainHooks = {}): Promise<TrainOutcome> {
  checkJob(job)
  const { spec, partition, config, data } = job
  const started = performance.now()
  const model = buildModel(spec, { seed: config.seed })
  const layers = model.layers
  const blockCount = partition.blocks.length
  const trainer = new Trainer(hooks)
  const meter = new ResourceMeter()
  const objective = objectiveFor(data, config)
  const blockResults: BlockResult[] = []
  const trainPart = partFeatures(data.train, data.inputShape)
  const valPart = partFeatures(data.val, data.inputShape)
  const fullChain: Chain = { layers, specs: spec.layers }
  const blockAt = (index: number) => {
    const block = partition.blocks[index]
    if (!block) throw new Error(`The partition has no block ${index}`)
    return block
  }
  const blockLayers = (index: number) => layers.slice(blockAt(index).start, blockAt(index).end)
  const blockSpecs = (index: number) => spec.layers.slice(blockAt(index).start, blockAt(index).end)
  const layerIndices = (index: number) => {
    const { start, end } = blockAt(index)
    return Array.from({ length: end - start }, (_, i) => start + i)
  }
  const cacheDir = job.cacheDir === undefined ? path.join(os.tmpdir(), 'layerlab-cache') : job.cacheDir
  let prefixForwards = 0
  let cancelled = false
  /** Decoupled runs train outside the Trainer: their epochs and time, and the pipeline's figures. */
  let decoupled: DecoupledResult | null = null
  const augmentImages: AugmentOptions | null =
    config.augment && data.inputShape.length === 3 ? { ...DEFAULT_AUGMENT, flip: config.augmentFlip } : null
  /** What the two whole-model stages (end-to-end, and the fine-tune after layer-wise) share. */
  const wholeModel = () => ({
    block: WHOLE_MODEL_BLOCK,
    blockCount,
    patience: config.patience,
    chain: fullChain,
    train: trainPart,
    val: valPart,
    restorable: variablesOf(layers, 'all'),
    batchSize: config.batchSize,
    objective,
    augment: augmentImages,
    fastPath: job.fastPath ?? true,
    fusedDense: job.fusedDense ?? true,
    wholeModel: true
  })
  /** The run's validation accuracy as its last whole-model stage scored it for the weights it kept (stage.ts). */
  let valScored: number | null = null

  if (config.mode === 'end-to-end') {
    const freezing = freezeOutPlan(config, blockCount)
    const groups: Group[] = partition.blocks.map((block, index) => ({
      optimizer: new BlockOptimizer(freezing ? annealed(block.settings) : block.settings),
      variables: variablesOf(blockLayers(index), 'trainable'),
      activeFrom: config.gradualUnfreeze ? blockCount - 1 - index : 0,
      activeUntil: freezing?.[index],
      firstLayer: block.start
    }))
    hooks.onStageStart?.(WHOLE_MODEL_BLOCK, model)
    const stageMeter = meter.stage({ name: 'All blocks', phase: 'end-to-end', block: WHOLE_MODEL_BLOCK, blocks: blockCount })
    const result = await trainer.runStage({
      ...wholeModel(),
      phase: 'end-to-end',
      blockName: 'All blocks',
      epochs: config.epochs,
      groups,
      seed: config.seed,
      meter: stageMeter
    })
    meter.end(stageMeter, result.ms)
    groups.forEach((group) => group.optimizer.dispose())
    hooks.onStageEnd?.(WHOLE_MODEL_BLOCK, model)
    cancelled = result.cancelled
    valScored = result.bestValScored
    partition.blocks.forEach((block, index) =>
      blockResults.push({ name: block.name, layers: layerIndices(index), epochs: result.epochs, headValAccuracy: null, ms: result.ms })
    )
  } else if (config.mode === 'decoupled') {
    const run = config.decoupled.pipeline ? trainDecoupledPipeline : trainDecoupled
    const result = await run({
      model,
      spec,
      partition,
      config,
      objective,
      train: trainPart,
      val: valPart,
      hooks,
      meter,
      augment: augmentImages,
      fastPath: job.fastPath ?? true,
      cacheDir,
      backend: tf.getBackend()
    })
    decoupled = result
    cancelled = result.cancelled
    blockResults.push(...result.blocks)
  } else {
    let trainFeatures = trainPart
    let valFeatures = valPart
    const dropCache = (features: Features) => {
      if (features.x instanceof FeatureFile) features.x.dispose()
    }
    try {
      for (let j = 0; j < blockCount && !cancelled; j++) {
        const block = blockAt(j)
        if (j > 0) {
          // The frozen prefix's output does not change during this stage: computed once, from the previous
          // stage's cached input through the previous block only; the older cache is then dropped.
          const previous: Chain = { layers: blockLayers(j - 1), specs: blockSpecs(j - 1) }
          const [oldTrain, oldVal] = [trainFeatures, valFeatures]
          trainFeatures = await chainOutput(previous, trainFeatures, cacheDir)
          valFeatures = await chainOutput(previous, valFeatures, cacheDir)
          dropCache(oldTrain)
          dropCache(oldVal)
          prefixForwards++
          hooks.onPrefixComputed?.(j)
        }
        const isLast = j === blockCount - 1
        const own: Chain = { layers: blockLayers(j), specs: blockSpecs(j) }
        let head: Chain | null = null
        let local: LocalLoss | null = null
        if (!isLast) {
          const top = own.layers.at(-1)
          if (!top) throw new Error(`Block ${j} has no layers`)
          const outShape = (top.outputShape as number[]).slice(1)
          head = buildHead(outShape, objective.outputs, block.settings.head, config.seed, j)
          // Build the head's weights (seeded) before collecting the variables to train.
          materializeHead(head, outShape)
          if (objective.task === 'classification') local = buildLocalLoss(block.settings, outShape, objective.outputs, config.seed, j)
        }
        const chain: Chain = head ? { layers: [...own.layers, ...head.layers], specs: [...own.specs, ...head.specs] } : own
        hooks.onStageStart?.(j, model)
        const optimizer = new BlockOptimizer(block.settings)
        const stageMeter = meter.stage({ name: block.name, phase: 'block', block: j, blocks: 1 })
        const result = await trainer.runStage({
          phase: 'block',
          block: j,
          blockName: block.name,
          blockCount,
          epochs: block.settings.epochs,
          patience: block.settings.patience,
          chain,
          train: trainFeatures,
          val: valFeatures,
          groups: [{ optimizer, variables: [...variablesOf(chain.layers, 'trainable'), ...localLossVariables(local)], activeFrom: 0 }],
          restorable: [...variablesOf(chain.layers, 'all'), ...localLossVariables(local)],
          local: local ? { loss: local, blockLayers: own.layers.length } : null,
          batchSize: config.batchSize,
          objective,
          seed: layerSeed(config.seed, j, 2),
          // Later stages train on cached features, which a shift of the images would invalidate.
          augment: j === 0 ? augmentImages : null,
          fastPath: job.fastPath ?? true,
          meter: stageMeter,
          fusedDense: job.fusedDense ?? true
        })
        meter.end(stageMeter, result.ms)
        optimizer.dispose()
        hooks.onStageEnd?.(j, model)
        disposeHead(head)
        disposeLocalLoss(local)
        cancelled = result.cancelled
        blockResults.push({
          name: block.name,
          layers: layerIndices(j),
          epochs: result.epochs,
          headValAccuracy: result.bestValScore,
          ms: result.ms
        })
      }
    } finally {
      dropCache(trainFeatures)
      dropCache(valFeatures)
    }
    const tuned = partition.blocks.map((block, index) => ({ block, index })).filter(({ block }) => !block.settings.freezeAfter)
    if (!cancelled && config.fineTune.enabled && tuned.length > 0) {
      const groups: Group[] = tuned.map(({ block, index }) => ({
        optimizer: new BlockOptimizer(block.settings, config.fineTune.learningRateFactor),
        variables: variablesOf(blockLayers(index), 'trainable'),
        activeFrom: 0,
        // Blocks frozen after their stage sit the fine-tune out; below the lowest tuned block, forward only.
        firstLayer: block.start
      }))
      const stageMeter = meter.stage({ name: 'Fine-tune', phase: 'finetune', block: WHOLE_MODEL_BLOCK, blocks: tuned.length })
      const result = await trainer.runStage({
        ...wholeModel(),
        phase: 'finetune',
        blockName: 'Fine-tune',
        epochs: config.fineTune.epochs,
        groups,
        seed: layerSeed(config.seed, blockCount, 3),
        meter: stageMeter
      })
      meter.end(stageMeter, result.ms)
      groups.forEach((group) => group.optimizer.dispose())
      cancelled = result.cancelled
      valScored = result.bestValScored
    }
  }

  let metrics: RunMetrics | null = null
  let evaluation: Evaluation | null = null
  if (!cancelled) {
    const testPart = partFeatures(data.test, data.inputShape)
    // A dense-only model is scored in the fused kernel wherever the fused path may run (the same figures to float
    // noise: fused.test.ts); other models, and fusedDense: false, through tfjs's layers.
    const scorer =
      (job.fastPath ?? true) && (job.fusedDense ?? true) && tensorsInProcess() ? FusedDenseChain.scorer(fullChain, objective, data.inputShape) : null
    const score = (part: Features) => (scorer ? scorer.assess(part, true) : assess(fullChain, part, objective, true))
    const test = await score(testPart)
    // Through tfjs's layers the validation part was scored with these weights at the epoch they come from
    // (classification only, where just its accuracy is wanted here); the fused scorer's bits are its own.
    const val = valScored === null || scorer ? await score(valPart) : null
    const trainAssessment = await score(trainPart)
    if (objective.task === 'regression') {
      const scale = data.targetScale ?? { mean: 0, std: 1 }
      const figures = (part: PreparedData['test'], predicted: Assessment['predicted']) =>
        regressionFigures(toTargetUnit(part.y, scale), toTargetUnit(predicted, scale))
      const [testFigures, valFigures, trainFigures] = [
        figures(data.test, test.predicted),
        figures(data.val, val!.predicted),
        figures(data.train, trainAssessment.predicted)
      ]
      metrics = {
        testR2: testFigures.r2,
        testRmse: testFigures.rmse,
        testMae: testFigures.mae,
        testMape: testFigures.mape,
        valR2: valFigures.r2,
        valRmse: valFigures.rmse,
        trainR2: trainFigures.r2,
        testLoss: test.loss * objective.lossScale,
        testRows: data.test.n,
        valRows: data.val.n,
        trainRows: data.train.n
      }
      evaluation = evaluateRegression(
        data.targetName ?? 'target',
        toTargetUnit(data.test.y, scale),
        toTargetUnit(test.predicted, scale),
        data.test.rows
      )
    } else {
      metrics = {
        testAccuracy: test.score,
        testLoss: test.loss,
        valAccuracy: val ? val.score : valScored!,
        trainAccuracy: trainAssessment.score,
        testRows: testPart.n,
        valRows: valPart.n
      }
      evaluation = evaluatePredictions(data.labels, data.test.y as Int32Array, test.predicted as Int32Array, data.test.rows, test.confidence)
    }
  }
  const totalMs = performance.now() - started
  const epochsRun = trainer.epochsRun + (decoupled?.epochs ?? 0)
  const trainingMs = trainer.trainingMs + (decoupled?.trainingMs ?? 0)
  return {
    status: cancelled ? 'cancelled' : 'completed',
    model,
    metrics,
    evaluation,
    blocks: blockResults,
    timing: { totalMs, msPerEpoch: epochsRun ? trainingMs / epochsRun : 0 },
    epochsRun,
    prefixForwards,
    resources: meter.result({ concurrentStages: Boolean(decoupled?.pipeline), sharedRows: decoupled !== null, pipeline: decoupled?.pipeline ?? null })
  }
}
