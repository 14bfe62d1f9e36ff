/**
 * Stride-1 convolutions, forward and both gradients, as im2col + the dense kernels' gemm (convTrain.wat), and a
 * dense layer's products by the same gemm. Tensors in, tensors out: on tfjs's threaded heap the kernels read and
 * write the tensors where they lie, elsewhere they run on a memory of their own with copies in and out
 * (kernels/operands.ts). Null where wasm SIMD is missing; callers keep their tfjs ops.
 */
import type * as tf from '@tensorflow/tfjs'
import { convTrainSharedWasm, convTrainWasm } from './convTrain.wasm'
import { denseTrainKernel, type DenseTrainInstance, type DenseTrainKernel, GEMM_BLOCK_ROWS, type Nhwc } from './index'
import { type KernelMemory, ownMemory, perMemory, placeOperands, writableTensor } from './operands'
import {
  helperThread,
  JOB_CONV_DIRECT_KERNEL_GRAD,
  JOB_CONV_FORWARD,
  JOB_CONV_INPUT_GRAD,
  JOB_CONV_KERNEL_GRAD,
  MAX_PARTS,
  type SharedModules
} from './threads'

interface ConvTrainExports {
  shape(n: number, h: number, w: number, c: number, k: number, f: number, outH: number, outW: number, before: number): void
  im2col(patches: number, x: number, p0: number, count: number): void
  /**
   * The next forward's bias (0: none) and activation (0 none, 1 relu), and kernelGrad's pixels a partial sum;
   * `shape` clears them.
   */
  epilogue(bias: number, act: number, partPixels: number): void
  /** Output pixels first .. last. */
  forward(y: number, x: number, weights: number, patches: number, chunk: number, first: number, last: number): void
  /** Output pixels first .. last (whole parts) into their partial sums of dk at `dk` (partials one after another). */
  kernelGrad(dk: number, x: number, dy: number, patches: number, chunk: number, first: number, last: number): void
  /** out = the sum of `parts` partials of `floats` floats each, in order. */
  sumParts(out: number, partials: number, parts: number, floats: number): void
  /** Output pixels first .. last, whole images. */
  inputGrad(dx: number, dy: number, wT: number, patches: number, chunk: number, first: number, last: number): void
  /** kernelGrad without the patch matrix (few input channels, filters a multiple of 4); patches and chunk unused. */
  directKernelGrad(dk: number, x: number, dy: number, patches: number, chunk: number, first: number, last: number): void
}

interface ConvKernels {
  dense: DenseTrainKernel
  conv: ConvTrainExports
  /** Where the memory is shared: what a second thread needs to run the same code on it. */
  shared: SharedModules | null
  memory: KernelMemory
}

const convModules = new Map<boolean, WebAssembly.Module>()

/** The conv module compiled once per build (shared memory or not), for every kernel set below. */
function convModule(shared: boolean): WebAssembly.Module {
  let module = convModules.get(shared)
  if (!module) convModules.set(shared, (module = new WebAssembly.Module(Buffer.from(shared ? convTrainSharedWasm : convTrainWasm, 'base64'))))
  return module
}

/** The conv module on the dense instance's memory (throws where it cannot be built: perMemory answers null). */
function convKernelsOn(dense: DenseTrainInstance, memory: KernelMemory): ConvKernels {
  // The conv module calls the dense module's own gemm (one thread): the conv calls split their work
  // themselves, by chunks, rows or images (kernels/threads.ts).
  const module = convModule(dense.shared !== null)
  const imports = { dense: { memory: dense.exports.memory, gemm: dense.exports.gemm } }
  const conv = new WebAssembly.Instance(module, imports).exports as unknown as ConvTrainExports
  const shared = dense.shared ? { dense: dense.shared.dense, conv: module } : null
  return { dense: dense.kernel, conv, shared, memory }
}

/** The kernels on tfjs's heap where it can hold them (operands.ts), else on a memory of their own. */
const kernels = perMemory<ConvKernels>((heap) => {
  const dense = heap ? denseTrainKernel(undefined, heap.memory) : denseTrainKernel()
  return dense && convKernelsOn(dense, heap ?? ownMemory(dense.exports.memory))
})

/**
 * Partial sums a conv's kernel gradient is cut into (by output pixels, whole chunks), whatever the thread count:
 * enough that two threads of unequal speed (a shared machine's second core often runs at 60 % of the first)
 * finish together, few enough that adding them up costs nothing.
 */
const KERNEL_GRAD_PARTS = 8

/** Conv calls below this many multiply-adds stay on one thread (see THREADED_GEMM_MIN_MACS). */
const THREADED_CONV_MIN_MACS = 200_000

type ConvRun = 'forward' | 'kernelGrad' | 'inputGrad' | 'directKernelGrad'
const JOBS: Record<ConvRun, number> = {
  forward: JOB_CONV_FORWARD,
  kernelGrad: JOB_CONV_KERNEL_GRAD,
  inputGrad: JOB_CONV_INPUT_GRAD,
  directKernelGrad: JOB_CONV_DIRECT_KERNEL_GRAD
}

/**
 * Input channels up to which a training conv's kernel gradient skips the patch matrix (convTrain.wat
 * `directKernelGrad`; filters a multiple of 4): on the images themselves the patches are mostly copying. The
 * small CNN's first conv (32 × 28 × 28 × 1 → 16): 1.8 ms a batch as im2col + gemm, 0.72 ms in convKernelGrad.wat
 * on one thread, 0.53-0.58 ms here on two (2026-12-03). Its forward stays im2col + gemm: loops without the
 * patches measured only 7 % faster on one thread.
 */
const DIRECT_CHANNELS = 4

/** Whether a conv of this geometry takes the direct loops. */
function direct(g: ConvGeometry): boolean {
  return g.x[3] <= DIRECT_CHANNELS && g.f % 4 === 0
}

/**
 * Runs one of the conv module's loops over [0, total) — pixels (forward, inputGrad) or dk's rows (kernelGrad) —
 * on two threads where the helper is up and the work is big enough, in parts of whole `unit`s chosen by the
 * caller so that every output element is computed exactly as on one thread; the worker's parts use its own patch
 * buffer `patches2`.
 */
function runConv(
  k: ConvKernels,
  g: ConvGeometry,
  run: ConvRun,
  [out, input, other, patches, patches2]: [number, number, number, number, number],
  chunk: number,
  unit: number,
  total: number,
  parts: number,
  macs: number,
  [bias, act, partPixels]: [number, number, number] = [0, 0, 0]
): void {
  k.conv.epilogue(bias, act, partPixels)
  const helper = k.shared && total > unit && macs >= THREADED_CONV_MIN_MACS ? helperThread() : null
  if (!helper) return k.conv[run](out, input, other, patches, chunk, 0, total)
  const [n, h, w, c] = g.x
  const shape = [n, h, w, c, g.k, g.f, g.outH, g.outW, g.before]
  helper.run(
    JOBS[run],
    k.dense.memory,
    k.shared!,
    [...shape, out, input, other, patches2, chunk, bias, act, partPixels],
    unit,
    total,
    parts,
    (first, last) => k.conv[run](out, input, other, patches, chunk, first, last)
  )
}

/**
 * Whether the taped training step (tfjs's gradient tape: CNNs, layers the fused dense path does not take) uses our
 * wasm kernels where tensors live in this process: convs as im2col + gemm (fast/conv.ts), dense gradients by the
 * gemm (fast/dense.ts) and the optimizer's update (optimizer.ts). On unless LAYERLAB_TAPE_KERNELS=0: since the gemm's
 * register tiles (46–50 GFLOP/s a thread) the small CNN's epoch takes less time with them than with XNNPACK on two
 * threads (README "The small CNN against PyTorch"; before the tiles XNNPACK's two threads were as fast or faster).
 * They are chosen by a setting, never by thread count: a seed must train to the same numbers on any thread count
 * (float order), which the tests check, and the kernels' products give the same bits on one thread or two.
 * Read per call: tests and the bench compare both in one process.
 */
export function tapeKernelsWanted(): boolean {
  return process.env.LAYERLAB_TAPE_KERNELS !== '0'
}

/** True where the kernels run (wasm SIMD). */
export function convTrainAvailable(): boolean {
  return kernels() !== null
}

/**
 * Output pixels per chunk: the chunk's patch matrix stays near 128 KiB (in the core's L2 beside the other
 * operand); a multiple of the gemm's block of rows.
 */
function chunkFor(kkc: number): number {
  return Math.max(GEMM_BLOCK_ROWS, Math.floor(32768 / kkc / GEMM_BLOCK_ROWS) * GEMM_BLOCK_ROWS)
}

export interface ConvGeometry {
  /** The input's shape. */
  x: Nhwc
  /** Kernel size (square) and filters. */
  k: number
  f: number
  /** Rows and columns of padding before the image (after: whatever brings "same" back to the input's size). */
  before: number
  /** The output's height and width. */
  outH: number
  outW: number
}

/**
 * The kernels with the conv's shape set, and the sizes every conv call lays out its buffers by (patch length,
 * output pixels, the im2col chunk); null where the kernels do not run.
 */
function convCall(g: ConvGeometry, k: ConvKernels | null = kernels()): { k: ConvKernels; kkc: number; pixels: number; chunk: number } | null {
  if (!k) return null
  const [n, h, w, c] = g.x
  k.conv.shape(n, h, w, c, g.k, g.f, g.outH, g.outW, g.before)
  const kkc = g.k * g.k * c
  return { k, kkc, pixels: n * g.outH * g.outW, chunk: chunkFor(kkc) }
}

/** y [n, outH, outW, f] = x ⊛ kernel [k, k, c, f] (+ bias, then relu where asked) on the kernel set `k`. */
function convForwardOn(
  call: NonNullable<ReturnType<typeof convCall>>,
  x: tf.Tensor4D,
  kernel: tf.Tensor4D,
  g: ConvGeometry,
  bias: tf.Tensor1D | null,
  relu: boolean
): tf.Tensor4D {
  const { k, kkc, pixels, chunk } = call
  const y = writableTensor<tf.Tensor4D>([g.x[0], g.outH, g.outW, g.f])
  const { at, finish } = placeOperands(k.memory, [
    { read: x },
    { read: kernel },
    { floats: chunk * kkc },
    { write: y },
    { floats: chunk * kkc },
    bias ? { read: bias } : { floats: 0 }
  ])
  const [xAt, wAt, patchesAt, yAt, patches2At, biasAt] = at as [number, number, number, number, number, number]
  // whole chunks each: the same gemm calls as on one thread
  const macs = pixels * kkc * g.f
  const parts = Math.min(MAX_PARTS, Math.ceil(pixels / chunk), Math.max(2, Math.floor(macs / THREADED_CONV_MIN_MACS)))
  runConv(k, g, 'forward', [yAt, xAt, wAt, patchesAt, patches2At], chunk, chunk, pixels, parts, macs, [bias ? biasAt : 0, relu ? 1 : 0, 0])
  finish()
  return y.tensor
}

/** y [n, outH, outW, f] of x and the kernel [k, k, c, f]; null where the kernels do not run. */
export function convForwardGemm(x: tf.Tensor4D, kernel: tf.Tensor4D, g: ConvGeometry): tf.Tensor4D | null {
  const call = convCall(g)
  return call && convForwardOn(call, x, kernel, g, null, false)
}

/**
 * A conv layer in inference, relu(x ⊛ kernel + bias), through im2col and the gemm built without fused
 * multiply-add, whose sums start from the bias and add each product rounded in the patch's order (window row,
 * column, channel): the same bits as XNNPACK's fused conv on the wasm backend (test/unit/train/convInfer.test.ts).
 * Why: a small CNN's validation ran its second conv (83 × 14 × 14 × 16 → 32) in XNNPACK at ~8 ms a call, about
 * 18 GFLOP/s on two threads under load, ~7 % of an epoch (issue 20's note, Session 12). Null where the kernels do
 * not run.
 */
export function convReluInferenceGemm(x: tf.Tensor4D, kernel: tf.Tensor4D, bias: tf.Tensor1D | null, g: ConvGeometry): tf.Tensor4D | null {
  const call = convCall(g, plainKernels())
  return call && convForwardOn(call, x, kernel, g, bias, true)
}

/** dk [k, k, c, f] from x and dy [n, outH, outW, f]; null where the kernels do not run. */
export function convKernelGradGemm(x: tf.Tensor4D, dy: tf.Tensor4D, g: ConvGeometry): tf.Tensor4D | null {
  const call = convCall(g)
  if (!call) return null
  const { k, kkc, pixels, chunk } = call
  const dk = writableTensor<tf.Tensor4D>([g.k, g.k, g.x[3], g.f])
  if (direct(g)) {
    // rows of dk (taps) each: every row sums over all pixels in the same order on either thread
    const { at, finish } = placeOperands(k.memory, [{ read: x }, { read: dy }, { write: dk }])
    const [xAt, dyAt, dkAt] = at as [number, number, number]
    runConv(k, g, 'directKernelGrad', [dkAt, xAt, dyAt, 0, 0], 0, 1, kkc, Math.min(MAX_PARTS, kkc), pixels * kkc * g.f)
    finish()
    return dk.tensor
  }
  // Partial sums over fixed runs of whole chunks (the same cut on any thread count), added in order at the end.
  const chunks = Math.ceil(pixels / chunk)
  const parts = Math.min(KERNEL_GRAD_PARTS, chunks)
  const partPixels = Math.ceil(chunks / parts) * chunk
  const partials = Math.ceil(pixels / partPixels)
  const dkFloats = kkc * g.f
  const { at, finish } = placeOperands(k.memory, [
    { read: x },
    { read: dy },
    { floats: chunk * kkc },
    { write: dk },
    { floats: chunk * kkc },
    { floats: partials > 1 ? partials * dkFloats : 0 }
  ])
  const [xAt, dyAt, patchesAt, dkAt, patches2At, partialsAt] = at as [number, number, number, number, number, number]
  const sumsAt = partials > 1 ? partialsAt : dkAt
  runConv(k, g, 'kernelGrad', [sumsAt, xAt, dyAt, patchesAt, patches2At], chunk, partPixels, pixels, partials, pixels * kkc * g.f, [0, 0, partPixels])
  if (partials > 1) k.conv.sumParts(dkAt, partialsAt, partials, dkFloats)
  finish()
  return dk.tensor
}

/** dx [n, h, w, c] from dy [n, outH, outW, f] and the kernel [k, k, c, f]; null where the kernels do not run. */
export function convInputGradGemm(dy: tf.Tensor4D, kernel: tf.Tensor4D, g: ConvGeometry): tf.Tensor4D | null {
  const call = convCall(g)
  if (!call) return null
  const { k, kkc, pixels, chunk } = call
  const dx = writableTensor<tf.Tensor4D>(g.x)
  const { at, finish } = placeOperands(k.memory, [
    { read: dy },
    { read: kernel },
    { floats: kkc * g.f },
    { floats: chunk * kkc },
    { write: dx },
    { floats: chunk * kkc }
  ])
  const [dyAt, wAt, wTAt, patchesAt, dxAt, patches2At] = at as [number, number, number, number, number, number]
  k.dense.transpose(wTAt, wAt, kkc, g.f)
  // whole images each: no pixel of one part's images touches another's dx
  const macs = pixels * kkc * g.f
  const parts = Math.min(MAX_PARTS, g.x[0], Math.max(2, Math.floor(macs / THREADED_CONV_MIN_MACS)))
  runConv(k, g, 'inputGrad', [dxAt, dyAt, wTAt, patchesAt, patches2At], chunk, g.outH * g.outW, pixels, parts, macs)
  finish()
  return dx.tensor
}

/**
 * A dense layer's two matrix gradients from its input x [m, in], kernel w [in, out] and dz [m, out] (the output's
 * gradient through the activation): dW = xᵀ·dz and, with `inputGradient`, dx = dz·wᵀ (else null). Null where the
 * kernels do not run.
 */
export function denseGradientsGemm(
  x: tf.Tensor2D,
  weights: tf.Tensor2D,
  dz: tf.Tensor2D,
  inputGradient: boolean
): { dW: tf.Tensor2D; dx: tf.Tensor2D | null } | null {
  const k = kernels()
  if (!k) return null
  const [m, inputs] = x.shape
  const outputs = weights.shape[1]
  const dW = writableTensor<tf.Tensor2D>([inputs, outputs])
  const dx = inputGradient ? writableTensor<tf.Tensor2D>([m, inputs]) : null
  const { at, finish } = placeOperands(k.memory, [
    { read: x },
    { read: dz },
    { write: dW },
    ...(dx ? [{ read: weights }, { floats: inputs * outputs }, { write: dx }] : [])
  ])
  const [xAt, dzAt, dWAt, wAt, wTAt, dxAt] = at as [number, number, number, number, number, number]
  // dW [in, out] = xᵀ [in, m] · dz [m, out]: the gemm reads x transposed.
  k.dense.gemm(dWAt, xAt, dzAt, 0, inputs, outputs, m, 4, inputs * 4, outputs * 4, outputs * 4, 0, 0)
  if (dx) {
    k.dense.transpose(wTAt, wAt, inputs, outputs)
    // dx [m, in] = dz [m, out] · wᵀ [out, in]
    k.dense.gemm(dxAt, dzAt, wTAt, 0, m, inputs, outputs, outputs * 4, 4, inputs * 4, inputs * 4, 0, 0)
  }
  finish()
  return { dW: dW.tensor, dx: dx?.tensor ?? null }
}

/**
 * The gemm built without fused multiply-add and the conv module on it, on tfjs's heap where it can be, else on a
 * memory of its own: the products whose bits must be XNNPACK's (dense forward, inference convs).
 */
const plainKernels = perMemory<ConvKernels>((heap) => {
  const instance = heap ? denseTrainKernel('plain', heap.memory) : denseTrainKernel('plain')
  return instance && convKernelsOn(instance, heap ?? ownMemory(instance.exports.memory))
})

/**
 * A dense layer's forward product x [m, in] · w [in, out] through the gemm built without fused multiply-add (its
 * own instance: the conv and gradient products above use the fused build where the runtime has it), started from
 * 0 or, with `bias`, from the bias (then relu where asked): each output is the sum over `in` ascending of
 * products rounded apart, XNNPACK's order, so the same bits as the wasm backend's MatMul, and with the bias as its
 * fused MatMul with bias and relu (test/unit/train/denseGemm.test.ts). XNNPACK packs its B operand afresh on every
 * call: on a CNN's 1,568 × 64 dense layer that was most of its 0.8 ms forward per batch of 32. Null where the
 * kernels do not run.
 */
export function denseForwardGemm(x: tf.Tensor2D, weights: tf.Tensor2D, bias: tf.Tensor1D | null, relu: boolean): tf.Tensor2D | null {
  const plain = plainKernels()
  if (!plain) return null
  const [m, inputs] = x.shape
  const outputs = weights.shape[1]
  const y = writableTensor<tf.Tensor2D>([m, outputs])
  const { at, finish } = placeOperands(plain.memory, [{ read: x }, { read: weights }, bias ? { read: bias } : { floats: 0 }, { write: y }])
  const [xAt, wAt, biasAt, yAt] = at as [number, number, number, number]
  plain.dense.gemm(yAt, xAt, wAt, biasAt, m, outputs, inputs, inputs * 4, 4, outputs * 4, outputs * 4, bias ? 2 : 0, relu ? 1 : 0)
  finish()
  return y.tensor
}

/** The patch matrix [pixels, k·k·c] of x (tests). */
export function im2colGemm(x: tf.Tensor4D, g: ConvGeometry): Float32Array | null {
  const call = convCall(g)
  if (!call) return null
  const { k, kkc, pixels } = call
  const { at, heap } = placeOperands(k.memory, [{ read: x }, { floats: pixels * kkc }])
  const [xAt, patchesAt] = at as [number, number]
  k.conv.im2col(patchesAt, xAt, 0, pixels)
  return heap.slice(patchesAt / 4, patchesAt / 4 + pixels * kkc)
}
