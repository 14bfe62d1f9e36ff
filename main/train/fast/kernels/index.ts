/**
 * Hand-written wasm SIMD kernels for the training steps tfjs-backend-wasm runs slowly (see each .wat for why).
 * They run in their own small wasm instance: inputs are copied in, the result is a view to copy out before the
 * next call. Where wasm SIMD is missing the loader answers null and callers keep their plain-JS loops.
 */
import { maxPoolGradWasm } from './maxPoolGrad.wasm'

interface MaxPoolGradExports {
  memory: WebAssembly.Memory
  maxPool2Grad(x: number, dy: number, dx: number, rows: number, outWidth: number, channels: number): void
}

let loaded: MaxPoolGradExports | null | undefined

function maxPoolGradKernel(): MaxPoolGradExports | null {
  if (loaded === undefined) {
    try {
      const module = new WebAssembly.Module(Buffer.from(maxPoolGradWasm, 'base64'))
      loaded = new WebAssembly.Instance(module, {}).exports as unknown as MaxPoolGradExports
    } catch {
      loaded = null
    }
  }
  return loaded
}

const PAGE = 65536

/** A Float32Array over the kernel's memory from `floats` floats on, grown to fit `total` floats. */
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
export function maxPool2GradientSimd(input: Float32Array, shape: number[], dy: Float32Array): Float32Array | null {
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
