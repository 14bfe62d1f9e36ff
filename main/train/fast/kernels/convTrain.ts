/**
 * Stride-1 convolutions, forward and both gradients, as im2col + the dense kernels' gemm (convTrain.wat), on one
 * instance per process: inputs are copied into its memory, results are views of it (copy before the next call).
 * Null where wasm SIMD is missing; callers keep their tfjs ops.
 */
import { convTrainSharedWasm, convTrainWasm } from './convTrain.wasm'
import { denseTrainKernel, type DenseTrainInstance, type DenseTrainKernel, GEMM_BLOCK_ROWS, type Nhwc } from './index'
import { helperThread, JOB_CONV_FORWARD, JOB_CONV_INPUT_GRAD, JOB_CONV_KERNEL_GRAD, MAX_PARTS, type SharedModules } from './threads'

interface ConvTrainExports {
  shape(n: number, h: number, w: number, c: number, k: number, f: number, outH: number, outW: number, before: number): void
  im2col(patches: number, x: number, p0: number, count: number): void
  /** Output pixels first .. last. */
  forward(y: number, x: number, weights: number, patches: number, chunk: number, first: number, last: number): void
  /** Rows first .. last of dk (k·k·c rows). */
  kernelGrad(dk: number, x: number, dy: number, patches: number, chunk: number, first: number, last: number): void
  /** Output pixels first .. last, whole images. */
  inputGrad(dx: number, dy: number, wT: number, patches: number, chunk: number, first: number, last: number): void
}

interface ConvKernels {
  dense: DenseTrainKernel
  conv: ConvTrainExports
  /** Where the memory is shared: what a second thread needs to run the same code on it. */
  shared: SharedModules | null
}

let loaded: ConvKernels | null | undefined

function kernels(): ConvKernels | null {
  if (loaded === undefined) {
    loaded = null
    try {
      const dense = denseTrainKernel()
      if (dense) {
        // The conv module calls the dense module's own gemm (one thread): the conv calls split their work
        // themselves, by chunks, rows or images (kernels/threads.ts).
        const sharedConv = dense.shared ? new WebAssembly.Module(Buffer.from(convTrainSharedWasm, 'base64')) : null
        const module = sharedConv ?? new WebAssembly.Module(Buffer.from(convTrainWasm, 'base64'))
        const imports = { dense: { memory: dense.exports.memory, gemm: dense.exports.gemm } }
        const conv = new WebAssembly.Instance(module, imports).exports as unknown as ConvTrainExports
        const shared = dense.shared && sharedConv ? { dense: dense.shared.dense, conv: sharedConv } : null
        loaded = { dense: dense.kernel, conv, shared }
      }
    } catch {
      loaded = null
    }
  }
  return loaded
}

/** Conv calls below this many multiply-adds stay on one thread (see THREADED_GEMM_MIN_MACS). */
const THREADED_CONV_MIN_MACS = 200_000

type ConvRun = 'forward' | 'kernelGrad' | 'inputGrad'
const JOBS: Record<ConvRun, number> = {
  forward: JOB_CONV_FORWARD,
  kernelGrad: JOB_CONV_KERNEL_GRAD,
  inputGrad: JOB_CONV_INPUT_GRAD
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
  macs: number
): void {
  const helper = k.shared && total > unit && macs >= THREADED_CONV_MIN_MACS ? helperThread() : null
  if (!helper) return k.conv[run](out, input, other, patches, chunk, 0, total)
  const [n, h, w, c] = g.x
  const shape = [n, h, w, c, g.k, g.f, g.outH, g.outW, g.before]
  helper.run(JOBS[run], k.dense.memory, k.shared!, [...shape, out, input, other, patches2, chunk], unit, total, parts, (first, last) =>
    k.conv[run](out, input, other, patches, chunk, first, last)
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

/** Byte offsets of consecutive buffers (16-byte aligned, 16 bytes of slack after each), the memory grown to fit. */
function layout(memory: WebAssembly.Memory, floats: number[]): { at: number[]; heap: Float32Array } {
  const at: number[] = []
  let end = 0
  for (const count of floats) {
    at.push(end)
    end += Math.ceil((count * 4) / 16) * 16 + 16
  }
  const missing = Math.ceil(end / 65536) - memory.buffer.byteLength / 65536
  if (missing > 0) memory.grow(missing)
  return { at, heap: new Float32Array(memory.buffer) }
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
 * output pixels, input size, the im2col chunk); null where the kernels do not run.
 */
function convCall(g: ConvGeometry): { k: ConvKernels; kkc: number; pixels: number; inputSize: number; chunk: number } | null {
  const k = kernels()
  if (!k) return null
  const [n, h, w, c] = g.x
  k.conv.shape(n, h, w, c, g.k, g.f, g.outH, g.outW, g.before)
  const kkc = g.k * g.k * c
  return { k, kkc, pixels: n * g.outH * g.outW, inputSize: n * h * w * c, chunk: chunkFor(kkc) }
}

/** y [n, outH, outW, f] of x and the kernel [k, k, c, f]; null where the kernels do not run. */
export function convForwardGemm(x: Float32Array, kernel: Float32Array, g: ConvGeometry): Float32Array | null {
  const call = convCall(g)
  if (!call) return null
  const { k, kkc, pixels, inputSize, chunk } = call
  const { at, heap } = layout(k.dense.memory, [inputSize, kkc * g.f, chunk * kkc, pixels * g.f, chunk * kkc])
  const [xAt, wAt, patchesAt, yAt, patches2At] = at as [number, number, number, number, number]
  heap.set(x, xAt / 4)
  heap.set(kernel, wAt / 4)
  // whole chunks each: the same gemm calls as on one thread
  const macs = pixels * kkc * g.f
  const parts = Math.min(MAX_PARTS, Math.ceil(pixels / chunk), Math.max(2, Math.floor(macs / THREADED_CONV_MIN_MACS)))
  runConv(k, g, 'forward', [yAt, xAt, wAt, patchesAt, patches2At], chunk, chunk, pixels, parts, macs)
  return heap.subarray(yAt / 4, yAt / 4 + pixels * g.f)
}

/** dk [k, k, c, f] from x and dy [n, outH, outW, f]; null where the kernels do not run. */
export function convKernelGradGemm(x: Float32Array, dy: Float32Array, g: ConvGeometry): Float32Array | null {
  const call = convCall(g)
  if (!call) return null
  const { k, kkc, pixels, inputSize, chunk } = call
  const { at, heap } = layout(k.dense.memory, [inputSize, pixels * g.f, chunk * kkc, kkc * g.f, chunk * kkc])
  const [xAt, dyAt, patchesAt, dkAt, patches2At] = at as [number, number, number, number, number]
  heap.set(x, xAt / 4)
  heap.set(dy, dyAt / 4)
  // rows of dk from multiples of the gemm's block of rows, two parts (each walks every chunk in order, im2col included)
  runConv(k, g, 'kernelGrad', [dkAt, xAt, dyAt, patchesAt, patches2At], chunk, GEMM_BLOCK_ROWS, kkc, 2, pixels * kkc * g.f)
  return heap.subarray(dkAt / 4, dkAt / 4 + kkc * g.f)
}

/** dx [n, h, w, c] from dy [n, outH, outW, f] and the kernel [k, k, c, f]; null where the kernels do not run. */
export function convInputGradGemm(dy: Float32Array, kernel: Float32Array, g: ConvGeometry): Float32Array | null {
  const call = convCall(g)
  if (!call) return null
  const { k, kkc, pixels, inputSize, chunk } = call
  const { at, heap } = layout(k.dense.memory, [pixels * g.f, kkc * g.f, kkc * g.f, chunk * kkc, inputSize, chunk * kkc])
  const [dyAt, wAt, wTAt, patchesAt, dxAt, patches2At] = at as [number, number, number, number, number, number]
  heap.set(dy, dyAt / 4)
  heap.set(kernel, wAt / 4)
  k.dense.transpose(wTAt, wAt, kkc, g.f)
  // whole images each: no pixel of one part's images touches another's dx
  const macs = pixels * kkc * g.f
  const parts = Math.min(MAX_PARTS, g.x[0], Math.max(2, Math.floor(macs / THREADED_CONV_MIN_MACS)))
  runConv(k, g, 'inputGrad', [dxAt, dyAt, wTAt, patchesAt, patches2At], chunk, g.outH * g.outW, pixels, parts, macs)
  return heap.subarray(dxAt / 4, dxAt / 4 + inputSize)
}

/**
 * A dense layer's two matrix gradients from its input x [m, in], kernel w [in, out] and dz [m, out] (the output's
 * gradient through the activation): dW = xᵀ·dz and, with `inputGradient`, dx = dz·wᵀ. Views of the kernels'
 * memory (copy before the next call); null where the kernels do not run.
 */
export function denseGradientsGemm(
  x: Float32Array,
  weights: Float32Array,
  dz: Float32Array,
  m: number,
  inputs: number,
  outputs: number,
  inputGradient: boolean
): { dW: Float32Array; dx: Float32Array | null } | null {
  const k = kernels()
  if (!k) return null
  const { at, heap } = layout(k.dense.memory, [m * inputs, m * outputs, inputs * outputs, inputs * outputs, inputs * outputs, m * inputs])
  const [xAt, dzAt, wAt, wTAt, dWAt, dxAt] = at as [number, number, number, number, number, number]
  heap.set(x, xAt / 4)
  heap.set(dz, dzAt / 4)
  // dW [in, out] = xᵀ [in, m] · dz [m, out]: the gemm reads x transposed.
  k.dense.gemm(dWAt, xAt, dzAt, 0, inputs, outputs, m, 4, inputs * 4, outputs * 4, outputs * 4, 0, 0)
  let dx: Float32Array | null = null
  if (inputGradient) {
    heap.set(weights, wAt / 4)
    k.dense.transpose(wTAt, wAt, inputs, outputs)
    // dx [m, in] = dz [m, out] · wᵀ [out, in]
    k.dense.gemm(dxAt, dzAt, wTAt, 0, m, inputs, outputs, outputs * 4, 4, inputs * 4, inputs * 4, 0, 0)
    dx = heap.subarray(dxAt / 4, dxAt / 4 + m * inputs)
  }
  return { dW: heap.subarray(dWAt / 4, dWAt / 4 + inputs * outputs), dx }
}

let plainDense: DenseTrainInstance | null | undefined

/**
 * A dense layer's forward product x [m, in] · w [in, out] through the gemm built without fused multiply-add (its
 * own instance: the conv and gradient products above use the fused build where the runtime has it), started from
 * 0 or, with `bias`, from the bias (then relu where asked): each output is the sum over `in` ascending of
 * products rounded apart, XNNPACK's order, so the same bits as the wasm backend's MatMul, and with the bias as its
 * fused MatMul with bias and relu (test/unit/train/denseGemm.test.ts). XNNPACK packs its B operand afresh on every
 * call: on a CNN's 1,568 × 64 dense layer that was most of its 0.8 ms forward per batch of 32. A view of the
 * kernel's memory (copy before the next call); null where the kernels do not run.
 */
export function denseForwardGemm(
  x: Float32Array,
  weights: Float32Array,
  bias: Float32Array | null,
  m: number,
  inputs: number,
  outputs: number,
  relu: boolean
): Float32Array | null {
  if (plainDense === undefined) plainDense = denseTrainKernel('plain')
  if (!plainDense) return null
  const k = plainDense.kernel
  const { at, heap } = layout(k.memory, [m * inputs, inputs * outputs, outputs, m * outputs])
  const [xAt, wAt, biasAt, yAt] = at as [number, number, number, number]
  heap.set(x, xAt / 4)
  heap.set(weights, wAt / 4)
  if (bias) heap.set(bias, biasAt / 4)
  k.gemm(yAt, xAt, wAt, biasAt, m, outputs, inputs, inputs * 4, 4, outputs * 4, outputs * 4, bias ? 2 : 0, relu ? 1 : 0)
  return heap.subarray(yAt / 4, yAt / 4 + m * outputs)
}

/** The patch matrix [pixels, k·k·c] of x (tests). */
export function im2colGemm(x: Float32Array, g: ConvGeometry): Float32Array | null {
  const call = convCall(g)
  if (!call) return null
  const { k, kkc, pixels, inputSize } = call
  const { at, heap } = layout(k.dense.memory, [inputSize, pixels * kkc])
  const [xAt, patchesAt] = at as [number, number]
  heap.set(x, xAt / 4)
  k.conv.im2col(patchesAt, xAt, 0, pixels)
  return heap.subarray(patchesAt / 4, patchesAt / 4 + pixels * kkc)
}
