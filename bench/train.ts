/**
 * Training speed per backend present (wasm, cpu) against PyTorch on the same machine, in the same run (issue 7).
 *
 * Models: the digits MLP(100,100) on the digits train part (1,259 rows), a 64-256-256-10 MLP on 4,096 synthetic
 * rows at batch 32 and 128, the small-cnn preset on 1,024 synthetic 28×28×1 images; adam, lr 1e-3, L2 5e-4 (the
 * default blocks) on both sides. Each repetition runs LayerLab end-to-end, LayerLab layer-wise and PyTorch for one
 * case before the next case, so load from other processes hits all three alike; the table gives the median over
 * repetitions and the spread (min–max).
 *
 * Same epochs in both modes: layer-wise trains each of the K blocks one epoch and fine-tunes one epoch, end-to-end
 * trains K + 1 epochs. ms/epoch is LayerLab's own per-epoch training time (its epochs also score the validation
 * part, which the PyTorch loop does not); wallMs is the whole run (build, prefix caching, final scoring).
 * Memory is tensor memory, from a separate one-epoch-per-stage run under tf.profile: the most tensor bytes in use
 * at any kernel of a training step (weights, optimizer tensors and the batch's activations and gradients), and
 * the size of the layer-wise cache of frozen-prefix features, which lives in files (main/train/featureFile.ts:
 * the process reads one batch of it at a time).
 * Process RSS is not used: the wasm heap never shrinks, so a second run in one process inherits the first's peak.
 */
import fs from 'node:fs'
import { createRequire } from 'node:module'
import os from 'node:os'
import path from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { trainConfig, type ModelSpec, type Partition, type TrainConfig } from '../main/shared/contract'
import type { PreparedData } from '../main/data/types'
import { defaultModel } from '../main/model/presets'
import { seededRandom } from '../main/core/random'
import { train } from '../main/train/engine'
import type { TrainHooks } from '../main/train/hooks'
import { loadDigits } from '../test/fixtures/digits'
import { TorchReference, type TorchCase } from './torch'
import { activateBackend, type BackendName } from '../main/core/backend'

export interface TrainBenchRow {
  backend: string
  model: string
  batch: number
  mode: TrainConfig['mode']
  epochs: number
  msPerEpoch: number
  spread: string
  samplesPerSec: number
  wallMs: number
  /** Peak tensor memory while training steps run (KiB: MiB rounds the MLPs' to 0). */
  stepPeakKiB: number
  /** The same without the layer-wise fine-tune (end-to-end: the same figure). */
  blockStepPeakKiB: number
  /** Layer-wise: the largest cache of frozen-prefix features (train + validation parts), in files, KiB. */
  cacheFileKiB: number
  /** Rows the epochs were timed on: the cpu backend times a subset of the bigger sets and scales to the full part. */
  timedRows: number
  torchMsPerEpoch: number | string
  torchSpread: string
  ratio: number | string
}

const REPETITIONS = Number(process.env.LAYERLAB_BENCH_REPS ?? 3)
/** Train rows the pure-JS cpu backend times per case (seconds per epoch on the full sets would blow the budget). */
const CPU_ROWS = { table: 512, images: 128 }

/** The case with its train part cut to the first `rows` rows (the same per-row work, fewer rows). */
function subset(item: BenchCase, rows: number): BenchCase {
  if (item.data.train.n <= rows) return item
  const size = item.data.inputShape.reduce((a, b) => a * b, 1)
  const train = item.data.train
  return {
    ...item,
    data: { ...item.data, train: { x: train.x.subarray(0, rows * size), y: train.y.subarray(0, rows), n: rows, rows: train.rows.subarray(0, rows) } }
  }
}
const forBackend = (item: BenchCase, backend: string) =>
  backend === 'cpu' && item.name !== 'digits MLP(100,100)' ? subset(item, CPU_ROWS[item.data.kind === 'images' ? 'images' : 'table']) : item

function backendsPresent(): string[] {
  const present = ['cpu']
  try {
    createRequire(__filename).resolve('@tensorflow/tfjs-backend-wasm')
    present.unshift('wasm')
  } catch {
    // wasm not installed: cpu only.
  }
  return present
}

/** Synthetic rows (uniform in [-1, 1]) with random labels: timings do not depend on the values. */
function synthetic(train: number, shape: number[], classes: number, seed: number): PreparedData {
  const random = seededRandom(seed)
  const size = shape.reduce((a, b) => a * b, 1)
  const n = train + 512
  const x = new Float32Array(n * size)
  for (let i = 0; i < x.length; i++) x[i] = random() * 2 - 1
  const y = new Int32Array(n)
  for (let i = 0; i < n; i++) y[i] = Math.floor(random() * classes)
  const part = (from: number, count: number) => ({
    x: x.slice(from * size, (from + count) * size),
    y: y.slice(from, from + count),
    n: count,
    rows: Int32Array.from({ length: count }, (_, i) => from + i)
  })
  return {
    datasetId: `synthetic-${shape.join('x')}`,
    kind: shape.length === 3 ? 'images' : 'table',
    task: 'classification',
    targetScale: null,
    inputShape: shape,
    labels: Array.from({ length: classes }, (_, i) => String(i)),
    featureNames: [],
    train: part(0, train),
    val: part(train, 256),
    test: part(train + 256, 256)
  }
}

interface BenchCase {
  name: string
  data: PreparedData
  spec: ModelSpec
  partition: Partition
  batch: number
  torch: TorchCase
}

async function cases(): Promise<BenchCase[]> {
  const digits = await loadDigits()
  const digitsModel = defaultModel({ inputShape: digits.inputShape, classes: 10 })
  const rows = synthetic(4096, [64], 10, 1)
  const wide = defaultModel({ inputShape: [64], classes: 10 }, { hidden: [256, 256] })
  const images = synthetic(1024, [28, 28, 1], 10, 2)
  const cnn = defaultModel({ inputShape: [28, 28, 1], classes: 10 }, { preset: 'small-cnn' })
  return [
    { name: 'digits MLP(100,100)', data: digits, ...digitsModel, batch: 32, torch: { model: 'digits-mlp', batch: 32, epochs: 1 } },
    { name: 'MLP 64-256-256-10', data: rows, ...wide, batch: 32, torch: { model: 'mlp-64-256-256-10', batch: 32, epochs: 1, rows: 4096 } },
    { name: 'MLP 64-256-256-10', data: rows, ...wide, batch: 128, torch: { model: 'mlp-64-256-256-10', batch: 128, epochs: 1, rows: 4096 } },
    { name: 'small CNN 28×28', data: images, ...cnn, batch: 32, torch: { model: 'small-cnn', batch: 32, epochs: 1, rows: 1024 } }
  ]
}

function jobFor(item: BenchCase, mode: TrainConfig['mode'], epochsPerStage: number) {
  const blocks = item.partition.blocks.length
  const partition: Partition = {
    blocks: item.partition.blocks.map((block) => ({ ...block, settings: { ...block.settings, epochs: epochsPerStage, patience: 0 } }))
  }
  const config = trainConfig.parse({
    mode,
    // The same number of epochs in both modes: K block stages + the fine-tune.
    epochs: (blocks + 1) * epochsPerStage,
    batchSize: item.batch,
    patience: 0,
    fineTune: { enabled: true, epochs: epochsPerStage, learningRateFactor: 0.1 }
  })
  return { spec: item.spec, partition, config, data: item.data }
}

async function timeRun(item: BenchCase, mode: TrainConfig['mode']): Promise<{ msPerEpoch: number; wallMs: number; epochs: number }> {
  const outcome = await train(jobFor(item, mode, 1))
  outcome.model.dispose()
  return { msPerEpoch: outcome.timing.msPerEpoch, wallMs: outcome.timing.totalMs, epochs: outcome.epochsRun }
}

/**
 * Peak tensor bytes while training steps run (scoring and prefix caching excluded: they run in inference chunks
 * in both modes) and the largest layer-wise feature cache, from one run under tf.profile.
 */
async function memoryRun(
  item: BenchCase,
  mode: TrainConfig['mode']
): Promise<{ stepPeakBytes: number; blockStepPeakBytes: number; cacheFileBytes: number }> {
  // tf.profile records, per kernel, the tensor bytes in use after it ran (totalBytesSnapshot). The hooks take the
  // largest snapshot of each batch's kernels and drop the records of everything else (scoring, prefix caching).
  const state = (tf.engine() as unknown as { state: { activeProfile: { kernels: Array<{ totalBytesSnapshot: number }> } } }).state
  let stepPeak = 0
  let blockStepPeak = 0
  let cacheFileBytes = 0
  const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'layerlab-bench-cache-'))
  const drop = () => (state.activeProfile.kernels.length = 0)
  const hooks: TrainHooks = {
    onStageStart: () => {
      // The stage's cached prefix outputs are on disk now (the process holds one batch of them at a time).
      const bytes = fs.readdirSync(cacheDir).reduce((sum, file) => sum + fs.statSync(path.join(cacheDir, file)).size, 0)
      cacheFileBytes = Math.max(cacheFileBytes, bytes)
      drop()
    },
    onProgress: (progress) => {
      for (const kernel of state.activeProfile.kernels) {
        stepPeak = Math.max(stepPeak, kernel.totalBytesSnapshot)
        // The fine-tune trains the whole model, as end-to-end does: the block stages are where layer-wise saves.
        if (progress.phase !== 'finetune') blockStepPeak = Math.max(blockStepPeak, kernel.totalBytesSnapshot)
      }
      drop()
    },
    onEpoch: drop,
    onPrefixComputed: drop
  }
  await tf.profile(async () => {
    const outcome = await train({ ...jobFor(item, mode, 1), cacheDir }, hooks)
    outcome.model.dispose()
  })
  fs.rmSync(cacheDir, { recursive: true, force: true })
  return { stepPeakBytes: stepPeak, blockStepPeakBytes: blockStepPeak, cacheFileBytes }
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}
const spreadOf = (values: number[]) => (values.length > 1 ? `${Math.min(...values).toFixed(0)}–${Math.max(...values).toFixed(0)}` : '')

/** The app's own activation (wasm gets its XNNPACK threads); returns how the backend is labelled in the table. */
async function activate(backend: string): Promise<string> {
  const { reason } = await activateBackend(tf, { name: backend as BackendName, reason: backend })
  return reason.replace(/^(\w+), (\d+ threads?)$/, '$1 ($2)')
}

export async function benchTraining(): Promise<TrainBenchRow[]> {
  const all = await cases()
  const backends = backendsPresent()
  const torch = await TorchReference.start()
  if ('skipped' in torch) console.log(`  ${torch.skipped}`)
  else
    console.log(
      `  PyTorch ${torch.version} (${torch.threads} threads) from ${'/usr/bin/python3'}, interleaved with LayerLab, ${REPETITIONS} repetitions`
    )
  const modes = ['end-to-end', 'layer-wise'] as const
  type Key = string
  const times = new Map<Key, { ms: number[]; wall: number[]; epochs: number }>()
  const torchTimes = new Map<number, number[]>()
  const record = (key: Key, run: { msPerEpoch: number; wallMs: number; epochs: number }) => {
    const entry = times.get(key) ?? { ms: [], wall: [], epochs: run.epochs }
    entry.ms.push(run.msPerEpoch)
    entry.wall.push(run.wallMs)
    times.set(key, entry)
  }
  try {
    for (const backend of backends) {
      await activate(backend)
      // Warm-up (kernel set-up, JIT): the first epochs on a fresh backend are slower than the steady state.
      for (const item of all) await timeRun(forBackend(item, backend), 'end-to-end')
    }
    for (let rep = 0; rep < REPETITIONS; rep++) {
      for (const [index, item] of all.entries()) {
        for (const backend of backends) {
          // The pure-JS cpu backend is slow: one repetition shows where it stands.
          if (backend === 'cpu' && rep > 0) continue
          await activate(backend)
          for (const mode of modes) record(`${backend}|${index}|${mode}`, await timeRun(forBackend(item, backend), mode))
        }
        if (!('skipped' in torch)) torchTimes.set(index, [...(torchTimes.get(index) ?? []), (await torch.run(item.torch)).msPerEpoch])
      }
    }
    const rows: TrainBenchRow[] = []
    for (const backend of backends) {
      const label = await activate(backend)
      for (const [index, item] of all.entries()) {
        const torchMs = torchTimes.get(index)
        for (const mode of modes) {
          const entry = times.get(`${backend}|${index}|${mode}`)!
          const timed = forBackend(item, backend)
          const memory = await memoryRun(timed, mode)
          // Per-epoch work is proportional to the rows: a subset's time scales to the full train part.
          const scale = item.data.train.n / timed.data.train.n
          const ms = median(entry.ms) * scale
          rows.push({
            backend: label,
            model: item.name,
            batch: item.batch,
            mode,
            epochs: entry.epochs,
            msPerEpoch: ms,
            spread: spreadOf(entry.ms.map((value) => value * scale)),
            samplesPerSec: Math.round(item.data.train.n / (ms / 1000)),
            wallMs: median(entry.wall) * scale,
            stepPeakKiB: Math.round(memory.stepPeakBytes / 1024),
            blockStepPeakKiB: Math.round(memory.blockStepPeakBytes / 1024),
            cacheFileKiB: Math.round(memory.cacheFileBytes / 1024),
            timedRows: timed.data.train.n,
            torchMsPerEpoch: torchMs ? median(torchMs) : 'skipped',
            torchSpread: torchMs ? spreadOf(torchMs) : '',
            ratio: torchMs ? ms / median(torchMs) : ''
          })
        }
      }
    }
    return rows
  } finally {
    if (!('skipped' in torch)) torch.close()
  }
}

if (require.main === module) {
  void benchTraining().then((rows) => console.table(rows))
}
