/**
 * Training backend choice, in one place. Order: webgpu (a hardware GPU adapter, through Dawn, for a model with
 * enough work per batch to pay for a GPU's per-dispatch cost), wasm (XNNPACK; models whose kernels it has), cpu
 * (pure JS, always works). LAYERLAB_BACKEND=webgpu|wasm|cpu (or a run's own `backend` setting) forces one; a
 * forced backend that cannot start falls back with the reason in one line. Software GPU adapters (SwiftShader,
 * lavapipe, WARP) are used only when webgpu is forced.
 *
 * tfjs-node and tfjs-node-gpu are gone: both download libtensorflow at install from a bucket that has answered
 * 403 since 2026-08 (tensorflow/tfjs#8742), and tfjs-node-gpu needed CUDA 11.8 on Linux only.
 */
import { createRequire } from 'node:module'
import type * as tfType from '@tensorflow/tfjs'
import { plannedWasmThreads, prepareWasmThreads, shareMemoryOnClone, threadCount, wasmThreadCount, withFullCoreCount } from './wasmSetup'
import { activateWebGPU, adapterName, closeWebGPU, gpuLabel, probeWebGPU, type GpuAdapter, type GpuProbe } from './webgpu'
import { errorLine } from '../shared/format'

const THREADS = /\d+ threads?/

export type BackendName = 'webgpu' | 'wasm' | 'cpu'
export interface BackendChoice {
  name: BackendName
  reason: string
  /** webgpu: the adapter the probe found (its name, API and driver go with the run). */
  adapter?: GpuAdapter
  /** webgpu: what to train on if the device cannot be opened after all. */
  fallback?: BackendChoice
}

/** How a run's backend is recorded and shown: "wasm", "cpu", "webgpu (NVIDIA H200, Vulkan)". */
export function backendLabel(choice: BackendChoice): string {
  return choice.name === 'webgpu' && choice.adapter ? gpuLabel(choice.adapter) : choice.name
}

const localRequire = createRequire(__filename)

function installed(pkg: string): boolean {
  try {
    localRequire.resolve(pkg)
    return true
  } catch {
    return false
  }
}

const ALIASES: Record<string, BackendName | 'auto'> = { auto: 'auto', webgpu: 'webgpu', gpu: 'webgpu', wasm: 'wasm', cpu: 'cpu' }

/**
 * Forward FLOPs per batch from which webgpu is chosen on a hardware adapter. Why a threshold: each tf op is one
 * GPU dispatch costing ~0.1–0.25 ms of host time whatever its size, and a training step of the digits MLP is
 * ~100 of them, more than wasm needs for the whole step. Forward FLOPs per batch of 32: digits MLP 1.1 M, small
 * CNN on 28×28×1 71 M, cnn-medium on 64×64×3 9.9 G. Not yet calibrated on a GPU machine: a starting point that
 * keeps MLPs on wasm and sends image models to the GPU.
 */
export const WEBGPU_MIN_FLOPS_PER_BATCH = 50e6

export interface PlanOptions {
  /** webgpu | wasm | cpu | auto (LAYERLAB_BACKEND-style); undefined: LAYERLAB_BACKEND, else auto. */
  prefer?: string
  /** The model has a strided conv: wasm lacks its gradient kernel, so it trains on cpu or the GPU. */
  stridedConv?: boolean
  /** Forward FLOPs per training batch (model/spec.ts forwardFlops × batch size). */
  flopsPerBatch?: number
  /** The WebGPU probe's answer; undefined: not probed (webgpu is then not an option). */
  gpu?: GpuProbe
}

function wanted(prefer: string | undefined): { name: BackendName | 'auto'; note: string | null } {
  const asked = prefer ?? process.env.LAYERLAB_BACKEND
  if (!asked) return { name: 'auto', note: null }
  const name = ALIASES[asked.toLowerCase()]
  return name ? { name, note: null } : { name: 'auto', note: `unknown backend "${asked}" (webgpu, wasm, cpu or auto)` }
}

const heavy = (options: PlanOptions) => Boolean(options.stridedConv) || (options.flopsPerBatch ?? 0) >= WEBGPU_MIN_FLOPS_PER_BATCH

/** Whether the choice for these options could be webgpu, so that the GPU is worth probing for. */
export function mayUseGpu(options: Omit<PlanOptions, 'gpu'>): boolean {
  const want = wanted(options.prefer).name
  return want === 'webgpu' || (want === 'auto' && heavy(options))
}

const mflops = (flops: number) => `${(flops / 1e6).toFixed(flops < 1e7 ? 1 : 0)} MFLOP`

/** Decides the backend without loading it (cheap and synchronous: the status bar, the run record). */
export function planBackend(options: PlanOptions = {}): BackendChoice {
  const want = wanted(options.prefer)
  const notes: string[] = want.note ? [want.note] : []
  const gpu = options.gpu
  if (want.name === 'cpu') return { name: 'cpu', reason: 'asked for' }
  if (want.name === 'webgpu' || want.name === 'auto') {
    if (gpu?.ok && want.name === 'webgpu')
      return { name: 'webgpu', reason: `${gpu.label}, asked for`, adapter: gpu.adapter, fallback: planWithoutGpu(options, []) }
    if (gpu?.ok && !gpu.adapter.software && heavy(options)) {
      const why = options.stridedConv ? 'strided convs' : `${mflops(options.flopsPerBatch ?? 0)} per batch`
      return { name: 'webgpu', reason: `${gpu.label}, ${why}`, adapter: gpu.adapter, fallback: planWithoutGpu(options, []) }
    }
    if (want.name === 'webgpu') notes.push(`webgpu unavailable (${gpu && !gpu.ok ? gpu.reason : 'not probed'})`)
    else if (gpu?.ok && !gpu.adapter.software)
      notes.push(`${gpu.label} not used: ${mflops(options.flopsPerBatch ?? 0)} per batch is too little work for a GPU`)
  }
  return planWithoutGpu(options, notes)
}

/** wasm where its kernels suffice, else cpu; `notes` say what was passed over and why. */
function planWithoutGpu(options: PlanOptions, notes: string[]): BackendChoice {
  if (options.stridedConv) return { name: 'cpu', reason: [...notes, 'wasm lacks the strided conv gradient kernel'].join('; ') }
  if (installed('@tensorflow/tfjs-backend-wasm'))
    return { name: 'wasm', reason: [...notes, `wasm (XNNPACK, ${threadCount(plannedWasmThreads())})`].join('; ') }
  return { name: 'cpu', reason: [...notes, 'no faster backend'].join('; ') }
}

let gpuProbe: Promise<GpuProbe> | null = null

/** The WebGPU probe (a child process, at most 20 s), once per process: adapters do not come and go while it runs. */
export function probeGpu(): Promise<GpuProbe> {
  gpuProbe ??= probeWebGPU()
  return gpuProbe
}

/** planBackend, with the GPU probed first where the choice could be webgpu. */
export async function chooseBackend(options: Omit<PlanOptions, 'gpu'> = {}): Promise<BackendChoice> {
  return planBackend({ ...options, gpu: mayUseGpu(options) ? await probeGpu() : undefined })
}

/** What the status bar says about the GPU: the adapter's label and when it is used, or why there is none. */
export async function gpuStatus(): Promise<{ label: string | null; name: string | null; software: boolean; reason: string }> {
  const want = wanted(undefined).name
  if (want === 'wasm' || want === 'cpu') return { label: null, name: null, software: false, reason: `not used: LAYERLAB_BACKEND=${want}` }
  const gpu = await probeGpu()
  if (!gpu.ok) return { label: null, name: null, software: false, reason: gpu.reason }
  const name = adapterName(gpu.adapter)
  if (gpu.adapter.software)
    return { label: gpu.label, name, software: true, reason: 'a software adapter: used only when a run asks for webgpu (for tests, not speed)' }
  return {
    label: gpu.label,
    name,
    software: false,
    reason:
      want === 'webgpu'
        ? 'every run (LAYERLAB_BACKEND=webgpu)'
        : `models of ${mflops(WEBGPU_MIN_FLOPS_PER_BATCH)} or more per batch, strided convs, or a run that asks for webgpu`
  }
}

/** Threads load the wasm module in parallel; a start that takes this long is stuck (a thread failed to load). */
const WASM_START_MS = 60_000

function withTimeout<T>(work: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms)
    timer.unref()
  })
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer))
}

/**
 * Loads and activates the planned backend on the given tf instance. webgpu that cannot open its device falls
 * back to the plan's fallback (wasm, or cpu for strided convs) and says why in the reason; wasm that cannot start
 * falls back to cpu. Never throws.
 */
export async function activateBackend(tf: typeof tfType, choice: BackendChoice): Promise<BackendChoice> {
  if (choice.name === 'webgpu') {
    const result = await activateWebGPU(tf, { allowSoftware: choice.adapter?.software ?? false, probed: choice.adapter })
    if (result.ok) return { name: 'webgpu', reason: choice.reason, adapter: result.adapter }
    const next = await activateBackend(tf, choice.fallback ?? planWithoutGpu({}, []))
    return { ...next, reason: `webgpu failed (${result.reason}); ${next.reason}` }
  }
  try {
    if (choice.name === 'wasm') {
      localRequire('@tensorflow/tfjs-backend-wasm')
      prepareWasmThreads(tf)
      if (await withFullCoreCount(() => withTimeout(tf.setBackend('wasm'), WASM_START_MS, 'wasm did not start within 60 s'))) {
        await tf.ready()
        shareMemoryOnClone(tf)
        // The planned count where the reason has one (the threads may have fallen back to 1), else appended.
        const threads = threadCount(wasmThreadCount())
        return { ...choice, reason: THREADS.test(choice.reason) ? choice.reason.replace(THREADS, threads) : `${choice.reason}, ${threads}` }
      }
    } else if (await tf.setBackend(choice.name)) {
      await tf.ready()
      return choice
    }
  } catch (error) {
    const message = errorLine(error)
    await tf.setBackend('cpu')
    return { name: 'cpu', reason: `${choice.name} failed to start (${message})` }
  }
  await tf.setBackend('cpu')
  return { name: 'cpu', reason: `${choice.name} is not available` }
}

/**
 * Releases what the active backend holds outside tfjs: the WebGPU device. A training thread calls this before its
 * last message; its host must not terminate it earlier (see core/webgpu.ts).
 */
export async function closeBackend(tf: typeof tfType): Promise<void> {
  await closeWebGPU(tf)
}
