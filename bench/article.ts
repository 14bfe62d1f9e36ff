/**
 * The article's job and LayerLab's defaults on the digits MLP(100,100), against scikit-learn and PyTorch in the
 * same run (issue 20), and the fixed cost of a run.
 *
 * - article: scikit-learn's MLPClassifier(100, 100), solver 'sgd', learning_rate_init 0.1, batch 200 (its
 *   defaults: Nesterov momentum 0.9, alpha 1e-4, no validation), 20 epochs; LayerLab: momentum 0.9, lr 0.1, L2
 *   1e-4, batch 200, 20 epochs end-to-end, validation scored after every epoch (in its figure).
 * - defaults: LayerLab's default blocks (adam, lr 1e-3, L2 5e-4), batch 32, 5 epochs, validation included;
 *   PyTorch 1.13 the same model and optimiser, without validation (bench/torch_bench.py).
 *
 * LayerLab runs twice per case: the fused wasm dense kernel (fast/fusedDense.ts, the default) and the tape-free
 * tfjs step it replaced (fast/denseChain.ts, `fusedDense: false`). Each repetition runs every variant of a case
 * before the next repetition, the default one (fused, 2 threads) and the reference back to back (which goes first
 * alternates), so each pair shares the machine's state of the moment; the table gives medians over the
 * repetitions and their spread (min–max), and the paired ratio (the geometric mean of the per-repetition ratios
 * and its 95 % interval: bench/stats.ts pairedRatio) with the spread of those ratios.
 *
 * Fixed cost per run, inside this warm process (no process or wasm start): from train()'s call to the first
 * batch's progress event ("start"), and from the last batch's progress event to train()'s return ("end": the last
 * validation, restoring the best weights, scoring the test part).
 */
import * as tf from '@tensorflow/tfjs'
import { trainConfig, type Partition } from '../main/shared/contract'
import { activateBackend, planBackend } from '../main/core/backend'
import { defaultModel } from '../main/model/presets'
import { train } from '../main/train/engine'
import { kernelThreadReady, setKernelThreads } from '../main/train/fast/kernels'
import type { PreparedData } from '../main/data/types'
import { loadDigits } from '../test/fixtures/digits'
import { SklearnReference } from './sklearn'
import { TorchReference } from './torch'
import { loadAverage, median, pairedRatio, pairedRepetition, ratioText, spreadOf } from './stats'

const REPETITIONS = Number(process.env.LAYERLAB_BENCH_REPS ?? 10)

export interface ArticleBenchRow {
  job: string
  variant: string
  msPerEpoch: number
  spread: string
  /**
   * This variant's ms/epoch over the reference's (scikit-learn for the article's job, PyTorch for the defaults):
   * the paired ratio and its 95 % interval, "0.46 (0.42–0.51)".
   */
  ratio: string
  ratioSpread: string
  startMs: number | string
  endMs: number | string
  testAccuracy: number | string
}

interface Job {
  name: string
  batch: number
  epochs: number
  settings: { optimizer: 'momentum' | 'adam'; learningRate: number; weightDecay: number; momentum?: number }
}

const JOBS: Job[] = [
  {
    name: 'article: sgd+momentum, lr 0.1, batch 200',
    batch: 200,
    epochs: 20,
    settings: { optimizer: 'momentum', learningRate: 0.1, weightDecay: 1e-4, momentum: 0.9 }
  },
  { name: 'defaults: adam, lr 1e-3, batch 32', batch: 32, epochs: 5, settings: { optimizer: 'adam', learningRate: 1e-3, weightDecay: 5e-4 } }
]

interface Timed {
  msPerEpoch: number
  startMs: number
  endMs: number
  testAccuracy: number
}

async function runLayerLab(data: PreparedData, job: Job, fusedDense: boolean, threads = 2): Promise<Timed> {
  // The kernels' thread count (fast/kernels/threads.ts): the same numbers either way, only the time differs.
  setKernelThreads(threads)
  const { spec, partition } = defaultModel({ inputShape: data.inputShape, classes: data.labels.length })
  const blocks: Partition = {
    blocks: partition.blocks.map((block) => ({ ...block, settings: { ...block.settings, ...job.settings } }))
  }
  const config = trainConfig.parse({ epochs: job.epochs, batchSize: job.batch, patience: 0 })
  const called = performance.now()
  let firstBatch = 0
  let lastBatch = 0
  const outcome = await train(
    { spec, partition: blocks, config, data, fusedDense },
    {
      onProgress: () => {
        lastBatch = performance.now()
        if (!firstBatch) firstBatch = lastBatch
      }
    }
  )
  const returned = performance.now()
  outcome.model.dispose()
  const metrics = outcome.metrics as { testAccuracy?: number } | null
  return {
    msPerEpoch: outcome.timing.msPerEpoch,
    startMs: firstBatch - called,
    endMs: returned - lastBatch,
    testAccuracy: metrics?.testAccuracy ?? NaN
  }
}

export async function benchArticle(): Promise<ArticleBenchRow[]> {
  const { reason } = await activateBackend(tf, planBackend({}))
  const data = await loadDigits()
  const sklearn = await SklearnReference.start(data.train, data.inputShape[0]!)
  const torch = await TorchReference.start()
  console.log(
    `  backend ${reason}; ${'skipped' in sklearn ? sklearn.skipped : `scikit-learn ${sklearn.version}`}; ` +
      `${'skipped' in torch ? torch.skipped : `PyTorch ${torch.version} (${torch.threads} threads)`}; ${REPETITIONS} interleaved repetitions; ` +
      `digits train part ${data.train.n} rows; load average ${loadAverage()}`
  )
  await kernelThreadReady()
  const variants = [
    { name: 'LayerLab, fused wasm dense kernel, 2 threads', fused: true, threads: 2 },
    { name: 'LayerLab, fused wasm dense kernel, 1 thread', fused: true, threads: 1 },
    { name: 'LayerLab, tape-free tfjs step', fused: false, threads: 2 }
  ]
  const layerlab = new Map<string, Timed[]>()
  const reference = new Map<string, number[]>()
  try {
    // Warm-up: JIT, backend kernels, the wasm module's compilation.
    for (const job of JOBS) for (const variant of variants) await runLayerLab(data, { ...job, epochs: 2 }, variant.fused, variant.threads)
    for (let rep = 0; rep < REPETITIONS; rep++) {
      for (const [j, job] of JOBS.entries()) {
        const timeVariant = async (variant: (typeof variants)[number]) => {
          const key = `${j}|${variant.name}`
          layerlab.set(key, [...(layerlab.get(key) ?? []), await runLayerLab(data, job, variant.fused, variant.threads)])
        }
        const timeReference = async () => {
          let ms: number | null = null
          if (j === 0 && !('skipped' in sklearn)) ms = (await sklearn.run({ epochs: job.epochs, batch: job.batch, seed: rep })).msPerEpoch
          if (j === 1 && !('skipped' in torch)) ms = (await torch.run({ model: 'digits-mlp', batch: job.batch, epochs: job.epochs })).msPerEpoch
          if (ms !== null) reference.set(String(j), [...(reference.get(String(j)) ?? []), ms])
        }
        // The default variant and the reference back to back, the order alternating; then the other two.
        const [paired, ...others] = variants
        await pairedRepetition(
          rep,
          () => timeVariant(paired!),
          timeReference,
          others.map((variant) => () => timeVariant(variant))
        )
      }
    }
    console.log(`  load average after: ${loadAverage()}`)
  } finally {
    setKernelThreads(undefined)
    if (!('skipped' in sklearn)) sklearn.close()
    if (!('skipped' in torch)) torch.close()
  }
  const rows: ArticleBenchRow[] = []
  for (const [j, job] of JOBS.entries()) {
    const ref = reference.get(String(j))
    for (const variant of variants) {
      const runs = layerlab.get(`${j}|${variant.name}`)!
      const ms = runs.map((run) => run.msPerEpoch)
      // Per repetition: this variant over the reference measured right beside it.
      const ratios = ref ? ms.map((value, rep) => value / ref[rep]!) : []
      rows.push({
        job: job.name,
        variant: variant.name,
        msPerEpoch: median(ms),
        spread: spreadOf(ms, 1),
        ratio: ref ? ratioText(pairedRatio(ms, ref)) : 'no reference',
        ratioSpread: spreadOf(ratios, 2),
        startMs: median(runs.map((run) => run.startMs)),
        endMs: median(runs.map((run) => run.endMs)),
        testAccuracy: median(runs.map((run) => run.testAccuracy))
      })
    }
    if (ref)
      rows.push({
        job: job.name,
        variant: j === 0 ? 'scikit-learn MLPClassifier(100, 100)' : 'PyTorch (no validation)',
        msPerEpoch: median(ref),
        spread: spreadOf(ref, 1),
        ratio: '1',
        ratioSpread: '',
        startMs: '',
        endMs: '',
        testAccuracy: ''
      })
  }
  return rows
}

if (require.main === module) {
  void benchArticle().then((rows) => {
    console.table(rows)
    process.exit(0)
  })
}
