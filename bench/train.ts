/**
 * Training speed per backend present (wasm, cpu, webgpu where Dawn finds an adapter) against PyTorch on the same
 * machine, in the same run (issues 7, 17).
 *
 * Models: the digits MLP(100,100) on the digits train part (1,259 rows), a 64-256-256-10 MLP on 4,096 synthetic
 * rows at batch 32 and 128, the small-cnn preset on 1,024 synthetic 28×28×1 images, the cnn-medium preset on 64
 * synthetic 64×64×3 images (32 for validation; one repetition: minutes per epoch on a CPU); adam, lr 1e-3, L2 5e-4 (the default blocks) on both sides.
 * webgpu runs the digits MLP, the small CNN and cnn-medium. On a software adapter (SwiftShader, a CPU pretending to
 * be a GPU: the only kind on a machine without a GPU) its rows say "software" and time small subsets, once: they
 * show that the path runs, never what a GPU does. Each repetition runs LayerLab end-to-end, LayerLab layer-wise and PyTorch for one
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
import { median, spreadOf } from './stats'
import { activateBackend, closeBackend, planBackend, probeGpu, type BackendName } from '../main/core/backend'
import type { GpuProbe } from '../main/core/webgpu'

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
  /** Peak tensor memory while training steps run (KiB: MiB rounds the MLPs' to 0); '' where not measured. */
  stepPeakKiB: number | ''
  /** The same without the layer-wise fine-tune (end-to-end: the same figure). */
  blockStepPeakKiB: number | ''
  /** Layer-wise: the largest cache of frozen-prefix features (train + validation parts), in files, KiB. */
  cacheFileKiB: number | ''
  /**
   * Rows the epochs were timed on: cpu and a software GPU time a subset of the bigger sets (a software GPU also of
   * the validation part) and scale to the full train part.
   */
  timedRows: number
  torchMsPerEpoch: number | string
  torchSpread: string
  ratio: number | string
}

const REPETITIONS = Number(process.env.LAYERLAB_BENCH_REPS ?? 3)
/** Train rows the pure-JS cpu backend times per case (seconds per epoch on the full sets would blow the budget). */
const CPU_ROWS = { table: 512, images: 128 }
/**
 * Train and validation rows a software GPU adapter times per case: SwiftShader takes seconds per small CNN batch
 * and minutes per cnn-medium batch on a 2-core machine.
 */
const SOFTWARE_GPU_ROWS: Record<string, number> = { 'digits MLP(100,100)': 256, 'small CNN 28×28': 32, 'cnn-medium 64×64×3': 4 }
/** What each backend trains: cpu leaves cnn-medium out (hours); webgpu the three models. */
const CASES_OF: Record<string, (name: string) => boolean> = {
  cpu: (name) => !name.startsWith('cnn-medium'),
  webgpu: (name) => name in SOFTWARE_GPU_ROWS
}

/** The case with its train part (and validation part, when given) cut to the first rows (the same per-row work). */
function subset(item: BenchCase, rows: number, valRows?: number): BenchCase {
  const size = item.data.inputShape.reduce((a, b) => a * b, 1)
  const cut = (part: PreparedData['train'], n: number) =>
    part.n <= n ? part : { x: part.x.subarray(0, n * size), y: part.y.subarray(0, n), n, rows: part.rows.subarray(0, n) }
  return { ...item, data: { ...item.data, train: cut(item.data.train, rows), val: valRows ? cut(item.data.val, valRows) : item.data.val } }
}

let gpu: GpuProbe | null = null
const softwareGpu = () => Boolean(gpu?.ok && gpu.adapter.software)

function forBackend(item: BenchCase, backend: string): BenchCase {
  if (backend === 'cpu' && item.name !== 'digits MLP(100,100)') return subset(item, CPU_ROWS[item.data.kind === 'images' ? 'images' : 'table'])
  if (backend === 'webgpu' && softwareGpu()) {
    const rows = SOFTWARE_GPU_ROWS[item.name] ?? item.data.train.n
    return subset(item, rows, rows)
  }
  return item
}
/**
 * cnn-medium on a software GPU: five minutes for one epoch of 4 images here, so it times one end-to-end epoch and
 * no layer-wise run.
 */
const oneEpochOnly = (backend: string, item: BenchCase) => backend === 'webgpu' && softwareGpu() && item.name.startsWith('cnn-medium')
const MODES = ['end-to-end', 'layer-wise'] as const
const modesOf = (backend: string, item: BenchCase) => (oneEpochOnly(backend, item) ? (['end-to-end'] as const) : MODES)

/** The slow ones (pure JS, software GPU, cnn-medium on a CPU) run one repetition: it shows where they stand. */
const repetitionsOf = (backend: string, item: BenchCase) =>
  backend === 'cpu' || (backend === 'webgpu' && softwareGpu()) ? 1 : (item.repetitions ?? REPETITIONS)

async function backendsPresent(): Promise<string[]> {
  const present = ['cpu']
  try {
    createRequire(__filename).resolve('@tensorflow/tfjs-backend-wasm')
    present.unshift('wasm')
  } catch {
    // wasm not installed: cpu only.
  }
  gpu = await probeGpu()
  if (gpu.ok) present.push('webgpu')
  else console.log(`  webgpu skipped: ${gpu.reason}`)
  return present
}

/** Synthetic rows (uniform in [-1, 1]) with random labels: timings do not depend on the values. */
export function synthetic(train: number, shape: number[], classes: number, seed: number, held = 256): PreparedData {
  const random = seededRandom(seed)
  const size = shape.reduce((a, b) => a * b, 1)
  const n = train + 2 * held
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
    val: part(train, held),
    test: part(train + held, held)
  }
}

interface BenchCase {
  name: string
  data: PreparedData
  spec: ModelSpec
  partition: Partition
  batch: number
  torch: TorchCase
  /** Fewer repetitions than REPETITIONS for a case that takes minutes per epoch. */
  repetitions?: number
}

async function cases(): Promise<BenchCase[]> {
  const digits = await loadDigits()
  const digitsModel = defaultModel({ inputShape: digits.inputShape, classes: 10 })
  const rows = synthetic(4096, [64], 10, 1)
  const wide = defaultModel({ inputShape: [64], classes: 10 }, { hidden: [256, 256] })
  const images = synthetic(1024, [28, 28, 1], 10, 2)
  const cnn = defaultModel({ inputShape: [28, 28, 1], classes: 10 }, { preset: 'small-cnn' })
  // 64 images: cnn-medium takes over 10 s per batch of 32 on a 2-core CPU (wasm and PyTorch alike).
  const photos = synthetic(64, [64, 64, 3], 10, 3, 32)
  const medium = defaultModel({ inputShape: [64, 64, 3], classes: 10 }, { preset: 'cnn-medium' })
  return [
    { name: 'digits MLP(100,100)', data: digits, ...digitsModel, batch: 32, torch: { model: 'digits-mlp', batch: 32, epochs: 1 } },
    { name: 'MLP 64-256-256-10', data: rows, ...wide, batch: 32, torch: { model: 'mlp-64-256-256-10', batch: 32, epochs: 1, rows: 4096 } },
    { name: 'MLP 64-256-256-10', data: rows, ...wide, batch: 128, torch: { model: 'mlp-64-256-256-10', batch: 128, epochs: 1, rows: 4096 } },
    { name: 'small CNN 28×28', data: images, ...cnn, batch: 32, torch: { model: 'small-cnn', batch: 32, epochs: 1, rows: 1024 } },
    { name: 'cnn-medium 64×64×3', data: photos, ...medium, batch: 32, torch: { model: 'cnn-medium', batch: 32, epochs: 1, rows: 64 }, repetitions: 1 }
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

async function timeRun(item: BenchCase, mode: TrainConfig['mode'], epochs?: number): Promise<{ msPerEpoch: number; wallMs: number; epochs: number }> {
  const job = jobFor(item, mode, 1)
  const outcome = await train(epochs ? { ...job, config: { ...job.config, epochs } } : job)
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

/**
 * The app's own activation (wasm gets its XNNPACK threads, webgpu its adapter); returns how the backend is labelled
 * in the table. Dawn is opened once and then switched to: tfjs keeps every backend it started.
 */
async function activate(backend: string): Promise<string> {
  if (backend === 'webgpu') {
    if (!tf.findBackend('webgpu')) {
      const active = await activateBackend(tf, planBackend({ prefer: 'webgpu', gpu: gpu ?? undefined }))
      if (active.name !== 'webgpu') throw new Error(active.reason)
    } else await tf.setBackend('webgpu')
    return gpu?.ok ? gpu.label : 'webgpu'
  }
  const { reason } = await activateBackend(tf, { name: backend as BackendName, reason: backend })
  return reason.replace(/^(\w+), (\d+ threads?)$/, '$1 ($2)')
}

export async function benchTraining(): Promise<TrainBenchRow[]> {
  const all = await cases()
  const backends = await backendsPresent()
  const trains = (backend: string, item: BenchCase) => CASES_OF[backend]?.(item.name) ?? true
  const torch = await TorchReference.start()
  if ('skipped' in torch) console.log(`  ${torch.skipped}`)
  else
    console.log(
      `  PyTorch ${torch.version} (${torch.threads} threads) from ${'/usr/bin/python3'}, interleaved with LayerLab, ${REPETITIONS} repetitions`
    )
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
      // Warm-up (kernel set-up, JIT): the first epochs on a fresh backend are slower than the steady state. Not on
      // a software GPU: its one timed run would take as long again, and its figures only show that it runs.
      if (backend === 'webgpu' && softwareGpu()) continue
      for (const item of all) if (trains(backend, item)) await timeRun(forBackend(item, backend), 'end-to-end')
    }
    for (let rep = 0; rep < REPETITIONS; rep++) {
      for (const [index, item] of all.entries()) {
        for (const backend of backends) {
          if (rep >= repetitionsOf(backend, item) || !trains(backend, item)) continue
          await activate(backend)
          for (const mode of modesOf(backend, item))
            record(`${backend}|${index}|${mode}`, await timeRun(forBackend(item, backend), mode, oneEpochOnly(backend, item) ? 1 : undefined))
        }
        if (!('skipped' in torch) && rep < (item.repetitions ?? REPETITIONS))
          torchTimes.set(index, [...(torchTimes.get(index) ?? []), (await torch.run(item.torch)).msPerEpoch])
      }
    }
    const rows: TrainBenchRow[] = []
    for (const backend of backends) {
      const label = await activate(backend)
      for (const [index, item] of all.entries()) {
        if (!trains(backend, item)) continue
        const torchMs = torchTimes.get(index)
        for (const mode of modesOf(backend, item)) {
          const entry = times.get(`${backend}|${index}|${mode}`)!
          const timed = forBackend(item, backend)
          // A software GPU would need a second slow run for this; its memory says nothing about a GPU anyway.
          const memory = backend === 'webgpu' && softwareGpu() ? null : await memoryRun(timed, mode)
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
            stepPeakKiB: memory ? Math.round(memory.stepPeakBytes / 1024) : '',
            blockStepPeakKiB: memory ? Math.round(memory.blockStepPeakBytes / 1024) : '',
            cacheFileKiB: memory ? Math.round(memory.cacheFileBytes / 1024) : '',
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
    // The process exits right after the bench: Dawn must not be inside a call then (core/webgpu.ts).
    await closeBackend(tf)
  }
}

if (require.main === module) {
  void benchTraining().then((rows) => console.table(rows))
}
