/**
 * Stride-1 convolutions, forward and both gradients, as im2col + the dense kernels' gemm (convTrain.wat), on one
 * instance per process: inputs are copied into its memory, results are views of it (copy before the next call).
 * Null where wasm SIMD is missing; callers keep their tfjs ops.
 */
import { convTrainWasm } from './convTrain.wasm'
import { denseTrainKernel, type DenseTrainKernel, type Nhwc } from './index'

interface ConvTrainExports {
  shape(n: number, h: number, w: number, c: number, k: number, f: number, outH: number, outW: number, before: number): void
  im2col(patches: number, x: number, p0: number, count: number): void
  forward(y: number, x: number, weights: number, patches: number, chunk: number): void
  kernelGrad(dk: number, x: number, dy: number, patches: number, chunk: number): void
  inputGrad(dx: number, dy: number, wT: number, patches: number, chunk: number): void
}

interface ConvKernels {
  dense: DenseTrainKernel
  conv: ConvTrainExports
}

let loaded: ConvKernels | null | undefined

function kernels(): ConvKernels | null {
  if (loaded === undefined) {
    loaded = null
    try {
      const dense = denseTrainKernel()
      if (dense) {
        const module = new WebAssembly.Module(Buffer.from(convTrainWasm, 'base64'))
        const imports = { dense: { memory: dense.kernel.memory, gemm: dense.kernel.gemm } }
        loaded = { dense: dense.kernel, conv: new WebAssembly.Instance(module, imports).exports as unknown as ConvTrainExports }
      }
    } catch {
      loaded = null
    }
  }
  return loaded
}

/**
 * Whether the taped training step (tfjs's gradient tape: CNNs, layers the fused dense path does not take) uses our
 * wasm kernels where tensors live in this process: convs as im2col + gemm (fast/conv.ts), dense gradients by the
 * gemm (fast/dense.ts) and the optimizer's update (optimizer.ts). Off unless LAYERLAB_TAPE_KERNELS=1: on a quiet
 * machine XNNPACK on two threads was faster than our one-threaded kernels (kernels 1.17–1.25× its epoch time; they
 * win only on one wasm thread, 0.87×, README "The small CNN against PyTorch"), and choosing them by thread count
 * would make a seed train to other numbers on another thread count (float order), which the tests forbid.
 * Read per call: tests and the bench compare both in one process.
 */
export function tapeKernelsWanted(): boolean {
  return process.env.LAYERLAB_TAPE_KERNELS === '1'
}

/** True where the kernels run (wasm SIMD). */
export function convTrainAvailable(): boolean {
  return kernels() !== null
}

/**
 * Output pixels per chunk: the chunk's patch matrix stays near 128 KiB (in the core's L2 beside the other
 * operand); a multiple of 5, the gemm tile's rows.
 */
function chunkFor(kkc: number): number {
  return Math.max(5, Math.floor(32768 / kkc / 5) * 5)
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

function setShape(conv: ConvTrainExports, g: ConvGeometry): { kkc: number; pixels: number; inputSize: number } {
  const [n, h, w, c] = g.x
  conv.shape(n, h, w, c, g.k, g.f, g.outH, g.outW, g.before)
  return { kkc: g.k * g.k * c, pixels: n * g.outH * g.outW, inputSize: n * h * w * c }
}

/** y [n, outH, outW, f] of x and the kernel [k, k, c, f]; null where the kernels do not run. */
export function convForwardGemm(x: Float32Array, kernel: Float32Array, g: ConvGeometry): Float32Array | null {
  const k = kernels()
  if (!k) return null
  const { kkc, pixels, inputSize } = setShape(k.conv, g)
  const chunk = chunkFor(kkc)
  const { at, heap } = layout(k.dense.memory, [inputSize, kkc * g.f, chunk * kkc, pixels * g.f])
  const [xAt, wAt, patchesAt, yAt] = at as [number, number, number, number]
  heap.set(x, xAt / 4)
  heap.set(kernel, wAt / 4)
  k.conv.forward(yAt, xAt, wAt, patchesAt, chunk)
  return heap.subarray(yAt / 4, yAt / 4 + pixels * g.f)
}

/** dk [k, k, c, f] from x and dy [n, outH, outW, f]; null where the kernels do not run. */
export function convKernelGradGemm(x: Float32Array, dy: Float32Array, g: ConvGeometry): Float32Array | null {
  const k = kernels()
  if (!k) return null
  const { kkc, pixels, inputSize } = setShape(k.conv, g)
  const chunk = chunkFor(kkc)
  const { at, heap } = layout(k.dense.memory, [inputSize, pixels * g.f, chunk * kkc, kkc * g.f])
  const [xAt, dyAt, patchesAt, dkAt] = at as [number, number, number, number]
  heap.set(x, xAt / 4)
  heap.set(dy, dyAt / 4)
  k.conv.kernelGrad(dkAt, xAt, dyAt, patchesAt, chunk)
  return heap.subarray(dkAt / 4, dkAt / 4 + kkc * g.f)
}

/** dx [n, h, w, c] from dy [n, outH, outW, f] and the kernel [k, k, c, f]; null where the kernels do not run. */
export function convInputGradGemm(dy: Float32Array, kernel: Float32Array, g: ConvGeometry): Float32Array | null {
  const k = kernels()
  if (!k) return null
  const { kkc, pixels, inputSize } = setShape(k.conv, g)
  const chunk = chunkFor(kkc)
  const { at, heap } = layout(k.dense.memory, [pixels * g.f, kkc * g.f, kkc * g.f, chunk * kkc, inputSize])
  const [dyAt, wAt, wTAt, patchesAt, dxAt] = at as [number, number, number, number, number]
  heap.set(dy, dyAt / 4)
  heap.set(kernel, wAt / 4)
  k.dense.transpose(wTAt, wAt, kkc, g.f)
  k.conv.inputGrad(dxAt, dyAt, wTAt, patchesAt, chunk)
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

/** The patch matrix [pixels, k·k·c] of x (tests). */
export function im2colGemm(x: Float32Array, g: ConvGeometry): Float32Array | null {
  const k = kernels()
  if (!k) return null
  const { kkc, pixels, inputSize } = setShape(k.conv, g)
  const { at, heap } = layout(k.dense.memory, [inputSize, pixels * kkc])
  const [xAt, patchesAt] = at as [number, number]
  heap.set(x, xAt / 4)
  k.conv.im2col(patchesAt, xAt, 0, pixels)
  return heap.subarray(patchesAt / 4, patchesAt / 4 + pixels * kkc)
}
