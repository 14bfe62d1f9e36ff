/**
 * The small CNN's time per epoch against PyTorch in the same run (issue 20: at most 0.7× PyTorch's), and the conv
 * kernels' share of it: LayerLab with the taped step's wasm kernels (convs as im2col + gemm, dense gradients by the
 * gemm, the optimizer update in SIMD: fast/kernels/convTrain.wat, the default) and with the tfjs ops they replaced
 * (LAYERLAB_TAPE_KERNELS=0: XNNPACK convs and matMuls, the JavaScript update loop), and PyTorch 1.13 (Debian, its
 * own threads). Each repetition times the default variant and PyTorch back to back (which goes first alternates),
 * then the other two variants (in alternating order), then PyTorch without validation (printed beside the table).
 *
 * The job: the small-cnn preset on 1,024 synthetic 28×28×1 images (256 more for validation), adam lr 1e-3, L2
 * 5e-4, batch 32, end-to-end, EPOCHS epochs per run; both sides' ms/epoch include scoring the 256 validation images
 * after each epoch and keeping the best weights (bench/torch_bench.py "validation"). The figures: medians over the
 * repetitions, their spread (min–max), the paired ratio (the geometric mean of the per-repetition ratios with its
 * 95 % interval: bench/stats.ts pairedRatio) and the spread of those ratios, and the load average before and after
 * (the machine may be shared: a 2-thread reference suffers most from it).
 *
 * endMs: the end of a run in this warm process (issue 20: under 150 ms), from the last batch's progress event to
 * train()'s return — the last epoch's validation, restoring the best weights, scoring the test and train parts.
 */
import * as tf from '@tensorflow/tfjs'
import { trainConfig, type Partition } from '../main/shared/contract'
import { activateBackend, planBackend } from '../main/core/backend'
import { defaultModel } from '../main/model/presets'
import { train } from '../main/train/engine'
import { kernelThreadReady, setKernelThreads } from '../main/train/fast/kernels'
import type { PreparedData } from '../main/data/types'
import { type TorchCase, TorchReference } from './torch'
import { loadAverage, median, pairedRatio, pairedRepetition, ratioText, spreadOf } from './stats'
import { synthetic } from './train'

const REPETITIONS = Number(process.env.LAYERLAB_BENCH_REPS ?? 10)
const EPOCHS = 3
const ROWS = 1024
const VALIDATION = 256
/** PyTorch's run of the same job (bench/torch_bench.py), without validation; with it, `validation: VALIDATION`. */
const TORCH_CASE: TorchCase = { model: 'small-cnn', batch: 32, epochs: EPOCHS, rows: ROWS }

export interface CnnBenchRow {
  variant: string
  msPerEpoch: number
  spread: string
  /**
   * ms/epoch over PyTorch's: the geometric mean of the per-repetition ratios and its 95 % interval, "0.78
   * (0.71–0.86)"; then the spread of those ratios.
   */
  ratio: string
  ratioSpread: string
  /** The end of a run: median (min–max) over the repetitions, ms. */
  endMs: number | string
  endSpread: string
  /** ms/epoch of each repetition, in order (PyTorch's row: its own): the machine's state shows in them. */
  perRepetition: number[]
}

interface Timed {
  msPerEpoch: number
  endMs: number
}

const VARIANTS = [
  { name: 'LayerLab, wasm kernels (convs as im2col + gemm), 2 threads', gemm: true, threads: 2 },
  { name: 'LayerLab, wasm kernels (convs as im2col + gemm), 1 thread', gemm: true, threads: 1 },
  { name: 'LayerLab, tfjs ops (LAYERLAB_TAPE_KERNELS=0)', gemm: false, threads: 2 }
]

async function runLayerLab(data: PreparedData, gemm: boolean, epochs = EPOCHS, threads = 2): Promise<Timed> {
  // The kernels' thread count (fast/kernels/threads.ts; XNNPACK keeps its own): the same numbers either way.
  setKernelThreads(threads)
  const { spec, partition } = defaultModel({ inputShape: data.inputShape, classes: 10 }, { preset: 'small-cnn' })
  const blocks: Partition = { blocks: partition.blocks.map((block) => ({ ...block, settings: { ...block.settings, epochs, patience: 0 } })) }
  const previous = process.env.LAYERLAB_TAPE_KERNELS
  process.env.LAYERLAB_TAPE_KERNELS = gemm ? '1' : '0'
  try {
    let lastBatch = 0
    const outcome = await train(
      { spec, partition: blocks, config: trainConfig.parse({ epochs, batchSize: 32, patience: 0 }), data },
      { onProgress: () => (lastBatch = performance.now()) }
    )
    const endMs = performance.now() - lastBatch
    outcome.model.dispose()
    return { msPerEpoch: outcome.timing.msPerEpoch, endMs }
  } finally {
    if (previous === undefined) delete process.env.LAYERLAB_TAPE_KERNELS
    else process.env.LAYERLAB_TAPE_KERNELS = previous
  }
}

export async function benchCnn(): Promise<CnnBenchRow[]> {
  const { reason } = await activateBackend(tf, planBackend({ prefer: 'wasm' }))
  const data = synthetic(ROWS, [28, 28, 1], 10, 2)
  const torch = await TorchReference.start()
  console.log(
    `  backend ${reason}; ${'skipped' in torch ? torch.skipped : `PyTorch ${torch.version} (${torch.threads} threads)`}; ` +
      `small CNN, ${ROWS} images 28×28×1, batch 32, ${EPOCHS} epochs a run, ${REPETITIONS} interleaved repetitions; load average ${loadAverage()}`
  )
  const times = new Map<string, Timed[]>()
  const reference: number[] = []
  // PyTorch without validation, last in each repetition: the stricter comparison, printed beside the table.
  const bare: number[] = []
  const [paired, ...others] = VARIANTS
  const timeVariant = async (variant: (typeof VARIANTS)[number]) =>
    times.set(variant.name, [...(times.get(variant.name) ?? []), await runLayerLab(data, variant.gemm, EPOCHS, variant.threads)])
  const timeTorch = async () => {
    if (!('skipped' in torch)) reference.push((await torch.run({ ...TORCH_CASE, validation: VALIDATION })).msPerEpoch)
  }
  try {
    await kernelThreadReady()
    for (const variant of VARIANTS) await runLayerLab(data, variant.gemm, 1, variant.threads)
    for (let rep = 0; rep < REPETITIONS; rep++) {
      // The default variant and PyTorch back to back, so each pair shares the machine's state of the moment.
      await pairedRepetition(
        rep,
        () => timeVariant(paired!),
        timeTorch,
        others.map((variant) => () => timeVariant(variant))
      )
      if (!('skipped' in torch)) bare.push((await torch.run(TORCH_CASE)).msPerEpoch)
    }
    console.log(`  load average after: ${loadAverage()}`)
  } finally {
    setKernelThreads(undefined)
    if (!('skipped' in torch)) torch.close()
  }
  const rows: CnnBenchRow[] = VARIANTS.map((variant) => {
    const runs = times.get(variant.name)!
    const ms = runs.map((run) => run.msPerEpoch)
    const ends = runs.map((run) => run.endMs)
    return {
      variant: variant.name,
      msPerEpoch: median(ms),
      spread: spreadOf(ms),
      ratio: reference.length ? ratioText(pairedRatio(ms, reference)) : 'no reference',
      ratioSpread: reference.length
        ? spreadOf(
            ms.map((value, rep) => value / reference[rep]!),
            2
          )
        : '',
      endMs: median(ends),
      endSpread: spreadOf(ends),
      perRepetition: ms.map((value) => Math.round(value))
    }
  })
  if (bare.length) {
    const ours = times.get(paired!.name)!.map((run) => run.msPerEpoch)
    console.log(
      `  ${paired!.name} over PyTorch without validation (median ${Math.round(median(bare))} ms/epoch, a run later in each repetition): ` +
        ratioText(pairedRatio(ours, bare))
    )
  }
  if (reference.length)
    rows.push({
      variant: 'PyTorch (validation included)',
      msPerEpoch: median(reference),
      spread: spreadOf(reference),
      ratio: '1',
      ratioSpread: '',
      endMs: '',
      endSpread: '',
      perRepetition: reference.map((value) => Math.round(value))
    })
  return rows
}

if (require.main === module) {
  void benchCnn().then((rows) => {
    console.table(rows)
    process.exit(0)
  })
}
