/**
 * `npm run bench -- kernel-threads`: the kernels' gemm and conv loops on one thread and on two
 * (main/train/fast/kernels/threads.ts) on the shapes the article's MLP and the small CNN train with, interleaved
 * (1, 2, 1, 2, … per shape), GFLOP/s at the best and the median call; and the cost of handing a job over: a
 * product too small to matter (10 × 8 × 1) through the worker against the same call on this thread.
 */
import * as tf from '@tensorflow/tfjs'
import { activateBackend, planBackend } from '../main/core/backend'
import { denseTrainKernel, kernelThreadReady, setKernelThreads, threadStats } from '../main/train/fast/kernels'
import { convForwardGemm, convInputGradGemm, convKernelGradGemm, type ConvGeometry } from '../main/train/fast/kernels/convTrain'
import { helperThread, JOB_GEMM } from '../main/train/fast/kernels/threads'
import { loadAverage } from './stats'

export interface KernelThreadsRow {
  shape: string
  gflopsOne: string
  gflopsTwo: string
  speedup: number
  /** ms the caller waited for the worker's parts, per job, median over the two-thread rounds. */
  waitPerJobMs: number
}

const ROUNDS = 6
const CALLS = 30

const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1]!
const values = (count: number, seed: number) => Float32Array.from({ length: count }, (_, i) => Math.sin(i * 0.37 + seed))

/**
 * Times `call` in ROUNDS rounds per thread count, alternating: best and median call per count. `prepare` runs
 * before each call, untimed.
 */
function compare(shape: string, flops: number, call: () => void, prepare?: () => void): KernelThreadsRow {
  const times: Record<1 | 2, number[]> = { 1: [], 2: [] }
  const waits: number[] = []
  for (let round = 0; round < ROUNDS; round++)
    for (const threads of [1, 2] as const) {
      setKernelThreads(threads)
      const jobs = threadStats.jobs
      const waited = threadStats.waitedMs
      for (let i = 0; i < CALLS; i++) {
        prepare?.()
        const begin = performance.now()
        call()
        times[threads].push(performance.now() - begin)
      }
      if (threads === 2) waits.push((threadStats.waitedMs - waited) / Math.max(1, threadStats.jobs - jobs))
    }
  setKernelThreads(undefined)
  const gflops = (ms: number) => (flops / ms / 1e6).toFixed(1)
  const best = (threads: 1 | 2) => Math.min(...times[threads])
  return {
    shape,
    gflopsOne: `${gflops(best(1))} (median ${gflops(median(times[1]))})`,
    gflopsTwo: `${gflops(best(2))} (median ${gflops(median(times[2]))})`,
    speedup: median(times[1]) / median(times[2]),
    waitPerJobMs: median(waits)
  }
}

export async function benchKernelThreads(): Promise<KernelThreadsRow[]> {
  // The conv loops read and write tensors where training keeps them: the wasm backend's heap.
  await activateBackend(tf, planBackend({ prefer: 'wasm' }))
  const ready = await kernelThreadReady()
  const opened = denseTrainKernel()
  if (!opened || !ready) {
    console.log('  no second kernel thread here (no wasm SIMD, no shared memory or no worker)')
    return []
  }
  console.log(`  ${opened.variant} gemm build; ${ROUNDS} rounds × ${CALLS} calls per thread count, interleaved; load average ${loadAverage()}`)
  const { kernel } = opened
  const rows: KernelThreadsRow[] = []
  // The article's MLP 64-100-100-10 at batch 200: forward, dW = xᵀ·dz (A transposed), dx = dz·wᵀ.
  kernel.memory.grow(64)
  const heap = new Float32Array(kernel.memory.buffer)
  heap.set(values(1 << 20, 1))
  const [a, b, c] = [0, 1 << 20, 2 << 20]
  // c = a·b, M×N over K; dW's a is stored transposed (xᵀ: K×M).
  const product = (M: number, N: number, K: number, transposed: boolean) => () =>
    transposed ? kernel.gemm(c, a, b, 0, M, N, K, 4, M * 4, N * 4, N * 4, 0, 0) : kernel.gemm(c, a, b, 0, M, N, K, K * 4, 4, N * 4, N * 4, 2, 1)
  for (const [name, M, N, K, transposed] of [
    ['forward 200×64 · 64×100', 200, 100, 64, false],
    ['forward 200×100 · 100×100', 200, 100, 100, false],
    ['forward 200×100 · 100×10', 200, 10, 100, false],
    ['dW 100×200 · 200×100 (xᵀ)', 100, 100, 200, true],
    ['dW 64×200 · 200×100 (xᵀ)', 64, 100, 200, true],
    ['dx 200×100 · 100×64', 200, 64, 100, false]
  ] as const)
    rows.push(compare(`MLP ${name}`, 2 * M * N * K, product(M, N, K, transposed)))
  // The same products with their inputs just written by this thread, as in a training step (each op's input is the
  // op before's output): the worker reads its part's inputs from this core's cache, which the rows above (the same
  // inputs every call, cached by both cores) do not pay.
  const saved = heap.slice(0, (b + 100 * 100 * 4) / 4)
  for (const [name, M, N, K, transposed] of [
    ['forward 200×100 · 100×100, inputs just written', 200, 100, 100, false],
    ['dW 100×200 · 200×100 (xᵀ), inputs just written', 100, 100, 200, true]
  ] as const)
    rows.push(
      compare(`MLP ${name}`, 2 * M * N * K, product(M, N, K, transposed), () => {
        heap.set(saved.subarray(0, M * K), a / 4)
        heap.set(saved.subarray(b / 4, b / 4 + K * N), b / 4)
      })
    )
  // The small CNN's second conv (28×28 images after one 2×2 pool), batch 32: the three conv loops.
  const g: ConvGeometry = { x: [32, 14, 14, 16], k: 3, f: 32, before: 1, outH: 14, outW: 14 }
  const x = tf.tensor4d(values(32 * 14 * 14 * 16, 2), g.x)
  const w = tf.tensor4d(values(3 * 3 * 16 * 32, 3), [3, 3, 16, 32])
  const dy = tf.tensor4d(values(32 * 14 * 14 * 32, 4), [32, 14, 14, 32])
  const convFlops = 2 * 32 * 14 * 14 * 144 * 32
  rows.push(compare('CNN conv 2 forward (6,272 × 144 · 144 × 32)', convFlops, () => tf.dispose(convForwardGemm(x, w, g)!)))
  rows.push(compare('CNN conv 2 kernel gradient', convFlops, () => tf.dispose(convKernelGradGemm(x, dy, g)!)))
  rows.push(compare('CNN conv 2 input gradient', convFlops, () => tf.dispose(convInputGradGemm(dy, w, g)!)))
  tf.dispose([x, w, dy])
  // Handing a job over: 10 × 8 × 1 in two parts (one each) against one direct call, while the worker spins.
  const direct: number[] = []
  const handed: number[] = []
  for (let round = 0; round < ROUNDS * 100; round++) {
    let begin = performance.now()
    opened.exports.gemm(c, a, b, 0, 10, 8, 1, 4, 4, 32, 32, 0, 0)
    direct.push(performance.now() - begin)
    const helper = helperThread()
    if (!helper) continue
    begin = performance.now()
    helper.run(JOB_GEMM, kernel.memory, opened.shared!, [c, a, b, 0, 10, 8, 1, 4, 4, 32, 32, 0, 0], 5, 10, 2, (first, last) =>
      opened.exports.gemm(c + first * 32, a + first * 4, b, 0, last - first, 8, 1, 4, 4, 32, 32, 0, 0)
    )
    handed.push(performance.now() - begin)
  }
  const us = (list: number[], q: number) => ([...list].sort((p, r) => p - r)[Math.floor(q * (list.length - 1))]! * 1000).toFixed(1)
  console.log(
    `  handing a job over (10×8×1, two parts) costs ${us(handed, 0)} / ${us(handed, 0.5)} / ${us(handed, 0.9)} µs (min / median / p90) ` +
      `against ${us(direct, 0.5)} µs for the call alone; load average after ${loadAverage()}`
  )
  return rows
}

if (require.main === module) {
  void benchKernelThreads().then((rows) => {
    console.table(rows)
    process.exit(0)
  })
}
