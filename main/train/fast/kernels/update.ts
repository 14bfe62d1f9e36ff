/**
 * The optimizer's in-process update (optimizer.ts) in the dense kernels' SIMD loops (denseTrain.wat: sgd,
 * momentum, adam), on one kernel instance per optimizer whose memory keeps each weight tensor's moments between
 * steps: per step only the weights and the gradient are copied in and the new weights read out. Why: the same
 * update as a JavaScript loop took about 1 ms per batch for a small CNN's 105,000 weights (issue 20's note).
 */
import { denseTrainKernel, type DenseTrainKernel } from './index'

export interface UpdateStep {
  optimizer: 'sgd' | 'momentum' | 'adam'
  rate: number
  decay: number
  /** LARS's λ (1 without LARS). */
  scale: number
  momentum: number
  beta1: number
  beta2: number
  epsilon: number
  /** Adam's inverse bias corrections, 1 / (1 − β1^t) and 1 / (1 − β2^t). */
  c1: number
  c2: number
}

interface Region {
  w: number
  g: number
  first: number
  second: number
  n: number
}

export class UpdateKernel {
  private readonly regions = new Map<object, Region>()
  private end = 0

  private constructor(private readonly kernel: DenseTrainKernel) {}

  /** Null where wasm SIMD is missing (callers keep their loop). */
  static open(): UpdateKernel | null {
    const opened = denseTrainKernel()
    return opened ? new UpdateKernel(opened.kernel) : null
  }

  /** The memory of a weight tensor's update: weights, gradient and two moments (zero at first), n floats each. */
  private region(key: object, n: number): Region {
    let region = this.regions.get(key)
    if (region && region.n === n) return region
    // Whole vectors plus slack: the loops run over n rounded up to 4.
    const bytes = Math.ceil(n / 4) * 16 + 16
    region = { w: this.end, g: this.end + bytes, first: this.end + 2 * bytes, second: this.end + 3 * bytes, n }
    this.end += 4 * bytes
    const { memory } = this.kernel
    const missing = Math.ceil(this.end / 65536) - memory.buffer.byteLength / 65536
    if (missing > 0) memory.grow(missing)
    this.regions.set(key, region)
    return region
  }

  /** One step for the weight tensor `key`: its new weights, a view of the kernel's memory (copy before the next call). */
  apply(key: object, w: Float32Array, g: Float32Array, step: UpdateStep): Float32Array {
    const r = this.region(key, w.length)
    const heap = new Float32Array(this.kernel.memory.buffer)
    heap.set(w, r.w / 4)
    heap.set(g, r.g / 4)
    const n = w.length
    if (step.optimizer === 'sgd') this.kernel.sgd(r.w, r.g, n, step.rate, step.decay, step.scale)
    else if (step.optimizer === 'momentum') this.kernel.momentum(r.w, r.g, r.first, n, step.rate, step.decay, step.scale, step.momentum)
    else this.kernel.adam(r.w, r.g, r.first, r.second, n, step.rate, step.decay, step.scale, step.beta1, step.beta2, step.epsilon, step.c1, step.c2)
    return heap.subarray(r.w / 4, r.w / 4 + n)
  }
}
