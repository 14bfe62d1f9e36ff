/**
 * Where a kernel call's operands live. Two kinds of kernel memory:
 *
 * - tfjs-backend-wasm's own heap, where its threaded build keeps it in a shared WebAssembly.Memory (the default:
 *   two or more threads). Our shared builds import that memory (scripts/build-kernels.mjs), so a kernel reads its
 *   input tensors where tfjs keeps them and writes its results into tensors tfjs has just allocated: no copy in,
 *   no copy out. Scratch (patch matrices, transposed weights) is one block from tfjs's malloc, kept and grown.
 * - A memory of the kernels' own (tfjs's unthreaded build keeps its memory to itself; the cpu backend; or
 *   LAYERLAB_TFJS_HEAP=0): inputs are copied in, results copied out, as before.
 *
 * Why: a CPU profile of a small-CNN epoch (issue 20's note, Session 12) spent 11 % of the training thread in
 * BackendWasm.move (making tensors of the kernels' results) and ~5 % more copying tensors into the kernels'
 * memories; the conv stage moves ~14 MB a batch of 32 that way. Either kind runs the same instructions on the
 * same values in the same order, so the results are the same bits (test/unit/train/kernelOperands.test.ts).
 */
import * as tf from '@tensorflow/tfjs'
import { valuesInProcess } from '../inProcess'

/** The part of tfjs-backend-wasm's backend these functions use. */
interface WasmBackend {
  wasm: { wasmMemory?: WebAssembly.Memory; _malloc(bytes: number): number; _free(at: number): void } | null
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo
  getMemoryOffset(dataId: object): number
}

/** A kernel module's memory and where a call's scratch goes in it. */
export interface KernelMemory {
  memory: WebAssembly.Memory
  /** True for tfjs's heap: tensors are operands where they lie. */
  inPlace: boolean
  /** The byte offset of a region of at least `bytes` bytes (16-byte aligned), valid until the next call. */
  scratch(bytes: number): number
}

const PAGE = 65536

/** A memory of the kernels' own: scratch from its start, grown to fit. */
export function ownMemory(memory: WebAssembly.Memory): KernelMemory {
  return {
    memory,
    inPlace: false,
    scratch(bytes) {
      const missing = Math.ceil(bytes / PAGE) - memory.buffer.byteLength / PAGE
      if (missing > 0) memory.grow(missing)
      return 0
    }
  }
}

let heapOf: { backend: WasmBackend; heap: KernelMemory } | null = null

/**
 * tfjs's heap as a kernel memory, where the wasm backend runs its threaded build (shared memory) and
 * LAYERLAB_TFJS_HEAP is not 0; null elsewhere (callers use their own memory). Read per call: tests and the bench
 * compare both in one process.
 */
export function tfjsHeap(): KernelMemory | null {
  if (process.env.LAYERLAB_TFJS_HEAP === '0' || tf.getBackend() !== 'wasm') return null
  const backend = tf.backend() as unknown as WasmBackend
  if (heapOf?.backend === backend) return heapOf.heap
  const wasm = backend.wasm
  const memory = wasm?.wasmMemory
  if (!wasm || !memory || typeof SharedArrayBuffer !== 'function' || !(memory.buffer instanceof SharedArrayBuffer)) return null
  let at = 0
  let size = 0
  const heap: KernelMemory = {
    memory,
    inPlace: true,
    scratch(bytes) {
      if (bytes > size) {
        if (at) wasm._free(at)
        // A quarter more than asked, so a few growing calls do not each move the block.
        size = Math.ceil((bytes * 1.25) / 64) * 64
        // 16 bytes of slack to round the start up to 16 (malloc gives 8 or 16).
        at = wasm._malloc(size + 16) >>> 0
        if (!at) {
          size = 0
          throw new Error(`The wasm heap could not give the kernels ${bytes} bytes`)
        }
      }
      return Math.ceil(at / 16) * 16
    }
  }
  heapOf = { backend, heap }
  return heap
}

/**
 * A float32 tensor to write a kernel's result into, before it is read: on the wasm backend tfjs allocates it
 * (no values), on the cpu backend it holds an array of ours. `values()` is the view to write, taken when asked
 * (a heap that grows since may have moved).
 */
export interface WritableTensor<T extends tf.Tensor = tf.Tensor> {
  tensor: T
  values(): Float32Array
}

export function writableTensor<T extends tf.Tensor>(shape: number[]): WritableTensor<T> {
  if (tf.getBackend() === 'wasm') {
    const info = (tf.backend() as unknown as WasmBackend).makeOutput(shape, 'float32')
    const tensor = tf.engine().makeTensorFromTensorInfo(info) as T
    return { tensor, values: () => valuesInProcess(tensor) }
  }
  const values = new Float32Array(shape.reduce((a, b) => a * b, 1))
  // The cpu backend keeps this very array as the tensor's values.
  return { tensor: tf.tensor(values, shape) as T, values: () => values }
}

/** One operand of a call: a tensor it reads, a tensor it writes, or scratch of `floats` floats. */
export type Operand = { read: tf.Tensor } | { write: WritableTensor } | { floats: number }

/**
 * Byte offsets for a call's operands in `memory`, in order: tensors where they lie on tfjs's heap, else (and for
 * scratch) consecutive 16-byte-aligned blocks of scratch, read tensors copied in. `heap` is a view of the whole
 * memory; `finish()` copies written tensors out of scratch (nothing on tfjs's heap). Float32 tensors only.
 */
export function placeOperands(memory: KernelMemory, operands: Operand[]): { at: number[]; heap: Float32Array; finish(): void } {
  const backend = memory.inPlace ? (tf.backend() as unknown as WasmBackend) : null
  const sizes = operands.map((o) => ('floats' in o ? o.floats : 'read' in o ? o.read.size : o.write.tensor.size))
  const inPlace = operands.map((o) => backend !== null && !('floats' in o))
  const relative: number[] = []
  let end = 0
  sizes.forEach((floats, i) => {
    relative.push(end)
    if (!inPlace[i]) end += Math.ceil((floats * 4) / 16) * 16 + 16
  })
  const base = end > 0 ? memory.scratch(end) : 0
  const at = operands.map((o, i) =>
    inPlace[i] ? backend!.getMemoryOffset(('read' in o ? o.read : (o as { write: WritableTensor }).write.tensor).dataId) : base + relative[i]!
  )
  const heap = new Float32Array(memory.memory.buffer)
  operands.forEach((o, i) => {
    if (!inPlace[i] && 'read' in o) heap.set(valuesInProcess(o.read), at[i]! / 4)
  })
  return {
    at,
    heap,
    finish() {
      operands.forEach((o, i) => {
        if (inPlace[i] || !('write' in o)) return
        const view = new Float32Array(memory.memory.buffer)
        o.write.values().set(view.subarray(at[i]! / 4, at[i]! / 4 + sizes[i]!))
      })
    }
  }
}

/**
 * A kernel set built once for tfjs's heap (`build(heap)`) and once on a memory of its own (`build(null)`): each
 * call answers the one for where it runs now, the heap's where it can be built, else its own (null where neither).
 */
export function perMemory<T>(build: (heap: KernelMemory | null) => T | null): () => T | null {
  let onHeap: { memory: WebAssembly.Memory; built: T | null } | null = null
  let own: T | null | undefined
  return () => {
    const heap = tfjsHeap()
    if (heap) {
      if (onHeap?.memory !== heap.memory) {
        let built: T | null = null
        try {
          built = build(heap)
        } catch {
          built = null
        }
        onHeap = { memory: heap.memory, built }
      }
      if (onHeap.built) return onHeap.built
    }
    if (own === undefined) {
      try {
        own = build(null)
      } catch {
        own = null
      }
    }
    return own
  }
}
