/**
 * Hand-written wasm SIMD kernels for the training steps tfjs-backend-wasm runs slowly (see each .wat for why).
 * They run in their own small wasm instance: inputs are copied in, the result is a view to copy out before the
 * next call. Where wasm SIMD is missing the loader answers null and callers keep their plain-JS loops.
 */
import v8 from 'node:v8'
import type * as tf from '@tensorflow/tfjs'
import { convInferSharedWasm, convInferWasm } from './convInfer.wasm'
import { convKernelGradSharedWasm, convKernelGradWasm } from './convKernelGrad.wasm'
import { denseTrainFusedWasm, denseTrainSharedFusedWasm, denseTrainSharedMaximumPages, denseTrainSharedWasm, denseTrainWasm } from './denseTrain.wasm'
import { maxPoolGradSharedWasm, maxPoolGradWasm } from './maxPoolGrad.wasm'
import { type KernelMemory, ownMemory, perMemory, placeOperands, writableTensor } from './operands'
import {
  helperThread,
  inferPart,
  type InferExports,
  JOB_CONV_INFER,
  JOB_GEMM,
  JOB_POOL_FORWARD,
  JOB_POOL_GRAD,
  MAX_PARTS,
  poolPart,
  type PoolExports,
  type SharedModules,
  sharedMemoryAvailable
} from './threads'

interface MaxPoolGradExports extends PoolExports {
  memory: WebAssembly.Memory
  biasReluGrad(dy: number, y: number, dz: number, db: number, pixels: number, channels: number): void
}

type Dot = (
  x: number,
  dy: number,
  batches: number,
  rows: number,
  columns: number,
  xBatch: number,
  xRow: number,
  xColumn: number,
  dyBatch: number,
  dyRow: number,
  dyColumn: number,
  out: number
) => void

interface ConvKernelGradExports {
  memory: WebAssembly.Memory
  dot16: Dot
  dot4: Dot
}

/** Compiles a kernel module once; null where this runtime cannot (no wasm SIMD). */
function loader<T>(base64: string): () => T | null {
  let loaded: T | null | undefined
  return () => {
    if (loaded === undefined) {
      try {
        loaded = new WebAssembly.Instance(new WebAssembly.Module(Buffer.from(base64, 'base64')), {}).exports as unknown as T
      } catch {
        loaded = null
      }
    }
    return loaded
  }
}

interface ConvInferExports extends InferExports {
  memory: WebAssembly.Memory
}

const maxPoolGradKernel = loader<MaxPoolGradExports>(maxPoolGradWasm)
const convInferKernel = loader<ConvInferExports>(convInferWasm)
const convKernelGradKernel = loader<ConvKernelGradExports>(convKernelGradWasm)

/**
 * A kernel module where tensors can be its operands in place: its shared build on tfjs's heap where that runs,
 * else `own` (its plain build on its own memory; kernels/operands.ts). `role`: the module's place in the helper
 * thread's instances; on the heap, `shared` then says what the helper instantiates (one object per build: the
 * worker keys its instances by it), else null (one thread).
 */
function placedLoader<T extends { memory: WebAssembly.Memory }>(
  sharedBase64: string,
  own: () => T | null,
  role?: 'pool' | 'infer'
): () => { exports: T; memory: KernelMemory; shared: SharedModules | null } | null {
  let compiled: WebAssembly.Module | undefined
  let shared: SharedModules | null = null
  return perMemory((heap) => {
    if (!heap) {
      const exports = own()
      return exports && { exports, memory: ownMemory(exports.memory), shared: null }
    }
    if (!compiled) {
      compiled = new WebAssembly.Module(Buffer.from(sharedBase64, 'base64'))
      shared = role ? { [role]: compiled } : null
    }
    return { exports: new WebAssembly.Instance(compiled, { env: { memory: heap.memory } }).exports as unknown as T, memory: heap, shared }
  })
}

const placedMaxPoolGrad = placedLoader(maxPoolGradSharedWasm, maxPoolGradKernel, 'pool')

/**
 * Pool inputs below this many floats stay on one thread. The small CNN's pools (32 × 28 × 28 × 16 and
 * 32 × 14 × 14 × 32: 401 k and 201 k floats) took 0.3-0.4 ms a call each way on one thread, 7-13 % of a batch
 * together (2026-12-03).
 */
const THREADED_POOL_MIN_FLOATS = 65_536

/**
 * Output rows [0, rows) of a pool job (threads.ts poolPart) on two threads where the kernels run on tfjs's heap,
 * the helper is up and the input is big enough, else on this one: the same bits either way (each output element
 * is written by one row's call).
 */
function runPool(
  placed: NonNullable<ReturnType<typeof placedMaxPoolGrad>>,
  grad: boolean,
  operands: [number, number, number, number, number, number],
  rows: number,
  inputFloats: number
): void {
  const helper = placed.shared && inputFloats >= THREADED_POOL_MIN_FLOATS && rows >= 2 ? helperThread() : null
  if (!helper) return poolPart(placed.exports, grad, operands, 0, rows)
  helper.run(
    grad ? JOB_POOL_GRAD : JOB_POOL_FORWARD,
    placed.memory.memory,
    placed.shared!,
    operands,
    1,
    rows,
    Math.min(MAX_PARTS, rows),
    (first, last) => poolPart(placed.exports, grad, operands, first, last)
  )
}
const placedConvKernelGrad = placedLoader(convKernelGradSharedWasm, convKernelGradKernel)
const placedConvInfer = placedLoader(convInferSharedWasm, convInferKernel, 'infer')

const PAGE = 65536

/** An NHWC shape, as a Tensor4D carries it: batch, height, width, channels. */
export type Nhwc = [number, number, number, number]

/** A Float32Array over the whole of the kernel's memory, grown first to hold at least `total` floats. */
function heap(memory: WebAssembly.Memory, total: number): Float32Array {
  const missing = Math.ceil((total * 4) / PAGE) - memory.buffer.byteLength / PAGE
  if (missing > 0) memory.grow(missing)
  return new Float32Array(memory.buffer)
}

/**
 * The max-pool input gradient for 2×2 windows with stride 2 (NHWC, height and width even, channels a multiple
 * of 4): dy goes to each window's first largest input. Returns a view into the kernel's memory (copy it before
 * the next call), or null where the kernel cannot run (no wasm SIMD, or another shape).
 */
export function maxPool2GradientSimd(input: Float32Array, shape: Nhwc, dy: Float32Array): Float32Array | null {
  const [n, height, width, channels] = shape
  if (channels % 4 !== 0 || height % 2 !== 0 || width % 2 !== 0 || dy.length * 4 !== input.length) return null
  const kernel = maxPoolGradKernel()
  if (!kernel) return null
  const values = heap(kernel.memory, 2 * input.length + dy.length)
  values.set(input, 0)
  values.set(dy, input.length)
  const dxAt = input.length + dy.length
  kernel.maxPool2Grad(0, input.length * 4, dxAt * 4, (n * height) / 2, width / 2, channels)
  return values.subarray(dxAt, dxAt + input.length)
}

/**
 * Max pooling with 2×2 windows and stride 2 (NHWC, height and width even, channels a multiple of 4). Returns a
 * view into the kernel's memory (copy it before the next call), or null where the kernel cannot run.
 */
export function maxPool2Simd(input: Float32Array, shape: Nhwc): Float32Array | null {
  const [n, height, width, channels] = shape
  if (channels % 4 !== 0 || height % 2 !== 0 || width % 2 !== 0 || input.length !== n * height * width * channels) return null
  const kernel = maxPoolGradKernel()
  if (!kernel) return null
  const values = heap(kernel.memory, input.length + input.length / 4)
  values.set(input, 0)
  kernel.maxPool2(0, input.length * 4, (n * height) / 2, width / 2, channels)
  return values.subarray(input.length, input.length + input.length / 4)
}

/** True where biasReluSimd and biasReluGradSimd run (wasm SIMD). */
export function biasReluAvailable(): boolean {
  return maxPoolGradKernel() !== null
}

/**
 * relu(x + bias) over x [pixels, channels] (NHWC flattened), bias [channels], channels a multiple of 4: the same
 * bits as tfjs's Add and Relu (maxPoolGrad.wat). A view into the kernel's memory (copy it before the next call),
 * or null where the kernel cannot run.
 */
export function biasReluSimd(x: Float32Array, bias: Float32Array): Float32Array | null {
  const channels = bias.length
  if (channels % 4 !== 0 || x.length % channels !== 0) return null
  const kernel = maxPoolGradKernel()
  if (!kernel) return null
  const values = heap(kernel.memory, 2 * x.length + channels)
  values.set(x, 0)
  values.set(bias, x.length)
  const yAt = x.length + channels
  kernel.biasRelu(0, x.length * 4, yAt * 4, x.length / channels, channels)
  return values.subarray(yAt, yAt + x.length)
}

/**
 * The gradients of y = relu(x + bias) from dy and y (biasReluSimd's output): dz = dy · step(y) for x and db, dz
 * summed over pixels, for the bias; the same bits as tfjs's Relu and Add gradients. Views into the kernel's memory
 * (copy them before the next call), or null where the kernel cannot run.
 */
export function biasReluGradSimd(dy: Float32Array, y: Float32Array, channels: number): { dz: Float32Array; db: Float32Array } | null {
  if (channels % 4 !== 0 || y.length % channels !== 0 || dy.length !== y.length) return null
  const kernel = maxPoolGradKernel()
  if (!kernel) return null
  const values = heap(kernel.memory, 3 * y.length + channels)
  values.set(dy, 0)
  values.set(y, y.length)
  const dzAt = 2 * y.length
  const dbAt = 3 * y.length
  kernel.biasReluGrad(0, y.length * 4, dzAt * 4, dbAt * 4, y.length / channels, channels)
  return { dz: values.subarray(dzAt, dzAt + y.length), db: values.subarray(dbAt, dbAt + channels) }
}

/**
 * relu(maxPool2(x) + bias), maxPool2Simd and biasReluSimd in one call on the kernel's memory (the pooled values
 * never leave it), over the shapes maxPool2Simd takes; null where the kernels cannot run.
 */
export function maxPool2BiasReluSimd(x: tf.Tensor4D, bias: tf.Tensor1D): tf.Tensor4D | null {
  const [n, height, width, channels] = x.shape
  if (channels % 4 !== 0 || height % 2 !== 0 || width % 2 !== 0 || bias.size !== channels) return null
  const placed = placedMaxPoolGrad()
  if (!placed) return null
  const pooled = x.size / 4
  const y = writableTensor<tf.Tensor4D>([n, height / 2, width / 2, channels])
  const { at, finish } = placeOperands(placed.memory, [{ read: x }, { read: bias }, { floats: pooled }, { write: y }])
  const [xAt, biasAt, pooledAt, yAt] = at as [number, number, number, number]
  runPool(placed, false, [xAt, pooledAt, yAt, biasAt, width / 2, channels], (n * height) / 2, x.size)
  finish()
  return y.tensor
}

/**
 * The gradients of y = relu(maxPool2(x) + bias) from x, y (maxPool2BiasReluSimd's output) and dy:
 * biasReluGradSimd then maxPool2GradientSimd on the kernel's memory (the pooled gradient never leaves it); null
 * where the kernels cannot run.
 */
export function maxPool2BiasReluGradSimd(input: tf.Tensor4D, y: tf.Tensor4D, dy: tf.Tensor4D): { dx: tf.Tensor4D; db: tf.Tensor1D } | null {
  const [n, height, width, channels] = input.shape
  const pooled = input.size / 4
  if (channels % 4 !== 0 || height % 2 !== 0 || width % 2 !== 0 || y.size !== pooled || dy.size !== pooled) return null
  const placed = placedMaxPoolGrad()
  if (!placed) return null
  const dx = writableTensor<tf.Tensor4D>(input.shape)
  const db = writableTensor<tf.Tensor1D>([channels])
  const { at, finish } = placeOperands(placed.memory, [{ read: input }, { read: y }, { read: dy }, { floats: pooled }, { write: db }, { write: dx }])
  const [xAt, yAt, dyAt, dzAt, dbAt, dxAt] = at as [number, number, number, number, number, number]
  // (the bias gradient sums over every pixel in order: one thread)
  placed.exports.biasReluGrad(dyAt, yAt, dzAt, dbAt, pooled / channels, channels)
  runPool(placed, true, [xAt, dzAt, dxAt, 0, width / 2, channels], (n * height) / 2, input.size)
  finish()
  return { dx: dx.tensor, db: db.tensor }
}

/**
 * A stride-1 conv with its bias and relu, then a max pool of `pool`×`pool` windows with that stride (1: none), in
 * inference: the same bits as tfjs's fused conv2d on XNNPACK and its max pool (convInfer.wat). x [n, h, w, c],
 * kernel [k, k, c, f], bias [f] (null: zeros), `before` rows and columns of zeros in front (tfjs's "same" puts the
 * odd one behind), the conv's output outH × outW (multiples of `pool`). Returns y [n, outH/pool, outW/pool, f], or
 * null where the kernel cannot run (no wasm SIMD; filters not a multiple of 4). On tfjs's heap the images are cut
 * between two threads (each image's outputs are the same sums on either).
 */
export function convReluSimd(
  x: tf.Tensor4D,
  kernel: tf.Tensor4D,
  bias: tf.Tensor1D | null,
  k: number,
  before: number,
  outH: number,
  outW: number,
  pool: number
): tf.Tensor4D | null {
  const [n, height, width, c] = x.shape
  const f = kernel.shape[3]
  if (f % 4 !== 0 || outH % pool !== 0 || outW % pool !== 0 || kernel.size !== k * k * c * f || (bias && bias.size !== f)) return null
  const placed = placedConvInfer()
  if (!placed) return null
  // The input with its zeros around it: every tap of every window then reads memory, as XNNPACK's zero buffer.
  const paddedH = outH + k - 1
  const paddedW = outW + k - 1
  const rowFloats = paddedW * c
  const imageFloats = paddedH * rowFloats
  const [pooledH, pooledW] = [outH / pool, outW / pool]
  const y = writableTensor<tf.Tensor4D>([n, pooledH, pooledW, f])
  const { at, heap, finish } = placeOperands(placed.memory, [
    { read: x },
    { read: kernel },
    bias ? { read: bias } : { floats: f },
    { floats: n * imageFloats },
    { write: y }
  ])
  const [xAt, wAt, bAt, paddedAt, yAt] = (at as [number, number, number, number, number]).map((offset) => offset / 4) as [
    number,
    number,
    number,
    number,
    number
  ]
  if (!bias) heap.fill(0, bAt, bAt + f)
  heap.fill(0, paddedAt, paddedAt + n * imageFloats)
  for (let image = 0; image < n; image++)
    for (let row = 0; row < height; row++) {
      const from = xAt + (image * height + row) * width * c
      heap.copyWithin(paddedAt + image * imageFloats + (row + before) * rowFloats + before * c, from, from + width * c)
    }
  const args = [paddedAt * 4, wAt * 4, bAt * 4, yAt * 4, pooledH, pooledW, pool, c, rowFloats, imageFloats, k * c, f]
  const helper = placed.shared && n >= 2 && n * outH * outW * k * k * c * f >= THREADED_INFER_MIN_MACS ? helperThread() : null
  if (!helper) inferPart(placed.exports, args, 0, n)
  else {
    helper.run(JOB_CONV_INFER, placed.memory.memory, placed.shared!, args, 1, n, Math.min(MAX_PARTS, n), (first, last) =>
      inferPart(placed.exports, args, first, last)
    )
  }
  finish()
  return y.tensor
}

/** Inference convs below this many multiply-adds stay on one thread (the conv kernels' line, convTrain.ts). */
const THREADED_INFER_MIN_MACS = 200_000

/**
 * The kernel gradient of a stride-1 conv, dk [k, k, c, f], from its input x [n, h, w, c] and the gradient of its
 * output dy [n, outH, outW, f], padded by `before` rows and columns in front (tfjs's "same" and "valid"). For
 * inputs with few channels (see convKernelGrad.wat); filters a multiple of 4, else null (callers fall back).
 */
export function convKernelGradientSimd(x: tf.Tensor4D, dy: tf.Tensor4D, k: number, before: number): tf.Tensor4D | null {
  const [n, h, w, c] = x.shape
  const [, outH, outW, f] = dy.shape
  if (f % 4 !== 0 || dy.shape[0] !== n) return null
  const placed = placedConvKernelGrad()
  if (!placed) return null
  const kernel = placed.exports
  const dkSize = k * k * c * f
  const out = writableTensor<tf.Tensor4D>([k, k, c, f])
  const { at, heap, finish } = placeOperands(placed.memory, [{ read: x }, { read: dy }, { write: out }])
  const [xAt, dyAt, dkAt] = at as [number, number, number]
  const dk = heap.subarray(dkAt / 4, dkAt / 4 + dkSize)
  const width = f % 16 === 0 ? 16 : 4
  const dot = width === 16 ? kernel.dot16 : kernel.dot4
  for (let i = 0; i < k; i++) {
    // Output rows (columns) whose window row i (column j) falls inside the image.
    const firstRow = Math.max(0, before - i)
    const endRow = Math.min(outH, h + before - i)
    for (let j = 0; j < k; j++) {
      const firstColumn = Math.max(0, before - j)
      const endColumn = Math.min(outW, w + before - j)
      for (let channel = 0; channel < c; channel++)
        for (let f0 = 0; f0 < f; f0 += width) {
          const at = ((i * k + j) * c + channel) * f + f0
          if (endRow <= firstRow || endColumn <= firstColumn) {
            dk.fill(0, at, at + width)
            continue
          }
          const xStart = xAt + (((firstRow + i - before) * w + (firstColumn + j - before)) * c + channel) * 4
          const dyStart = dyAt + ((firstRow * outW + firstColumn) * f + f0) * 4
          dot(
            xStart,
            dyStart,
            n,
            endRow - firstRow,
            endColumn - firstColumn,
            h * w * c * 4,
            w * c * 4,
            c * 4,
            outH * outW * f * 4,
            outW * f * 4,
            f * 4,
            dkAt + at * 4
          )
        }
    }
  }
  finish()
  return out.tensor
}

/** The dense-chain step's kernels (denseTrain.wat); byte offsets and strides, see the .wat for each. */
export interface DenseTrainKernel {
  memory: WebAssembly.Memory
  gemm(
    c: number,
    a: number,
    b: number,
    bias: number,
    M: number,
    N: number,
    K: number,
    am: number,
    ak: number,
    ldb: number,
    ldc: number,
    mode: number,
    act: number
  ): void
  activationGradient(dy: number, y: number, n: number, act: number): void
  columnSum(out: number, src: number, M: number, N: number): void
  transpose(dst: number, src: number, rows: number, cols: number): void
  gatherRows(dst: number, src: number, index: number, count: number, rowBytes: number): void
  sumSquares(w: number, n: number): number
  decayedSumSquares(g: number, w: number, n: number, decay: number): number
  sgd(w: number, g: number, n: number, rate: number, decay: number, scale: number): void
  momentum(w: number, g: number, v: number, n: number, rate: number, decay: number, scale: number, momentum: number): void
  adam(
    w: number,
    g: number,
    m: number,
    v: number,
    n: number,
    rate: number,
    decay: number,
    scale: number,
    beta1: number,
    beta2: number,
    epsilon: number,
    c1: number,
    c2: number
  ): void
}

export type DenseTrainVariant = 'fused' | 'plain'

/**
 * Whether this runtime validates relaxed SIMD (the fused multiply-add variant). Electron 45 and Node 22 have it on;
 * Node 20's V8 (11.3) implements it behind --experimental-wasm-relaxed-simd, a flag that only decides whether
 * modules using the new instructions validate, so it is switched on here before our own module is compiled
 * (LAYERLAB_RELAXED_SIMD=0 keeps it off). Measured on the 2-core AMD EPYC (issue 20's note, Session 5), one
 * thread, the MLP's 100-column products: 46-48 GFLOP/s fused, 35-37 with multiply and add apart.
 */
function relaxedSimd(fusedBytes: BufferSource): boolean {
  if (process.env.LAYERLAB_RELAXED_SIMD === '0') return false
  if (WebAssembly.validate(fusedBytes)) return true
  if (!/^11\./.test(process.versions.v8)) return false
  try {
    v8.setFlagsFromString('--experimental-wasm-relaxed-simd')
  } catch {
    return false
  }
  return WebAssembly.validate(fusedBytes)
}

const denseTrainModules = new Map<string, WebAssembly.Module | null>()

function denseTrainModule(variant: DenseTrainVariant, shared: boolean): WebAssembly.Module | null {
  const key = `${variant}${shared ? '-shared' : ''}`
  if (!denseTrainModules.has(key)) {
    const base64 = shared
      ? variant === 'fused'
        ? denseTrainSharedFusedWasm
        : denseTrainSharedWasm
      : variant === 'fused'
        ? denseTrainFusedWasm
        : denseTrainWasm
    const bytes: BufferSource = Buffer.from(base64, 'base64')
    let compiled: WebAssembly.Module | null = null
    try {
      if (variant === 'plain' || relaxedSimd(bytes)) compiled = new WebAssembly.Module(bytes)
    } catch {
      compiled = null
    }
    denseTrainModules.set(key, compiled)
  }
  return denseTrainModules.get(key) ?? null
}

/**
 * Products smaller than this many multiply-adds stay on one thread, and each part handed out has at least as
 * many: handing a job over costs about a microsecond while the worker spins (bench kernel-threads), but the
 * defaults' batch-32 products (200-320 k) gained nothing on two threads in the bench (issue 20's note, Session 4).
 * Remeasured with the 2 × 16 tiles (Session 5, epoch overhead; whole runs, same process, load ~1): the article's
 * job on two threads took 0.88-0.90× one thread's time per run at 400 k, 0.82-0.85× at 200 k, 0.92-0.97× at 1 M,
 * 1.0-1.1× from 1.5 M; LayerLab's defaults (batch 32) 1.00× at 400 k but 1.11-1.54× at 200 k, where their
 * 16-row parts are cut too. A call alone, repeated while the worker spins, gains from ~160 k, but successive
 * products cut by rows move each layer's output between the cores. So the line stays at 400 k.
 */
export const THREADED_GEMM_MIN_MACS = 400_000

/** THREADED_GEMM_MIN_MACS, or LAYERLAB_THREADED_GEMM_MIN_MACS where set (to measure another threshold on a quiet machine). */
function defaultThreadedGemmMinimum(): number {
  const asked = process.env.LAYERLAB_THREADED_GEMM_MIN_MACS ? Number(process.env.LAYERLAB_THREADED_GEMM_MIN_MACS) : NaN
  return Number.isFinite(asked) && asked >= 0 ? asked : THREADED_GEMM_MIN_MACS
}

let threadedGemmMinMacs = defaultThreadedGemmMinimum()

/**
 * Sets the size below which a product stays on one thread, for this process (bench, tests; 0: every product of
 * at least 10 rows is cut); undefined: back to the default. Like the thread count, it never changes a result's bits.
 */
export function setThreadedGemmMinimum(macs: number | undefined): void {
  threadedGemmMinMacs = macs ?? defaultThreadedGemmMinimum()
}

type Gemm = DenseTrainKernel['gemm']

/** denseTrain.wat's gemm works in blocks of this many rows: cuts of a product's rows fall on its multiples. */
export const GEMM_BLOCK_ROWS = 4

/**
 * The gemm of an instance on shared memory, on two threads where the helper thread is up and the product is big
 * enough: cut by rows into parts that start at multiples of GEMM_BLOCK_ROWS. Every element is summed over k in the
 * same order by the same instructions in any tile (denseTrain.wat), so the result is the same bits as on one
 * thread; cutting at whole blocks keeps each part's rows in the same full-height tiles as one call would.
 */
function threadedGemm(gemm: Gemm, memory: WebAssembly.Memory, modules: SharedModules): Gemm {
  return (c, a, b, bias, M, N, K, am, ak, ldb, ldc, mode, act) => {
    const macs = M * N * K
    const helper = M >= 10 && macs >= threadedGemmMinMacs ? helperThread() : null
    if (!helper) return gemm(c, a, b, bias, M, N, K, am, ak, ldb, ldc, mode, act)
    const parts = Math.max(2, Math.min(MAX_PARTS, Math.floor(M / GEMM_BLOCK_ROWS), Math.floor(macs / Math.max(1, threadedGemmMinMacs))))
    helper.run(JOB_GEMM, memory, modules, [c, a, b, bias, M, N, K, am, ak, ldb, ldc, mode, act], GEMM_BLOCK_ROWS, M, parts, (first, last) =>
      gemm(c + first * ldc, a + first * am, b, bias, last - first, N, K, am, ak, ldb, ldc, mode, act)
    )
  }
}

/** A dense-chain kernel instance: `kernel.gemm` may use two threads; `exports` is the module's own (one thread). */
export interface DenseTrainInstance {
  kernel: DenseTrainKernel
  variant: DenseTrainVariant
  exports: DenseTrainKernel
  /** Where its memory is shared: the modules a second thread instantiates on it. */
  shared: SharedModules | null
}

/**
 * A fresh instance of the dense-chain kernels with its own memory (one per stage: its weights, state and buffers
 * live there until the stage ends), or on the shared memory `on` (tfjs's heap, kernels/operands.ts), fused
 * multiply-add where the runtime has it; `variant` forces one (tests).
 * The memory is shared where the runtime allows it (the gemm may then use a second thread; same results either
 * way). Null where wasm SIMD is missing.
 */
export function denseTrainKernel(variant?: DenseTrainVariant, on?: WebAssembly.Memory): DenseTrainInstance | null {
  const order: DenseTrainVariant[] = variant ? [variant] : ['fused', 'plain']
  for (const name of order) {
    const sharedModule = sharedMemoryAvailable() ? denseTrainModule(name, true) : null
    if (sharedModule) {
      try {
        const memory = on ?? new WebAssembly.Memory({ initial: 1, maximum: denseTrainSharedMaximumPages, shared: true })
        const exports = new WebAssembly.Instance(sharedModule, { env: { memory } }).exports as unknown as DenseTrainKernel
        const shared = { dense: sharedModule }
        const kernel: DenseTrainKernel = { ...exports, gemm: threadedGemm(exports.gemm, memory, shared) }
        return { kernel, variant: name, exports, shared }
      } catch {
        // fall through to the unshared build
      }
    }
    // A memory handed in is shared (tfjs's heap): only the shared builds import one.
    if (on) continue
    const module = denseTrainModule(name, false)
    if (module) {
      const exports = new WebAssembly.Instance(module, {}).exports as unknown as DenseTrainKernel
      return { kernel: exports, variant: name, exports, shared: null }
    }
  }
  return null
}

export { kernelThreadReady, kernelThreads, setKernelThreads, stopKernelThread, threadStats } from './threads'
