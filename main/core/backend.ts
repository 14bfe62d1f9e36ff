/**
 * Training backend choice, in one place. Order: tfjs-node-gpu (only when asked for: it needs CUDA), tfjs-node
 * (libtensorflow), wasm (XNNPACK; only for models whose kernels it has), cpu (pure JS, always works).
 * LAYERLAB_BACKEND=gpu|tensorflow|wasm|cpu forces one; a forced backend that is missing falls back with a reason.
 */
import { createRequire } from 'node:module'
import type * as tfType from '@tensorflow/tfjs'
import { plannedWasmThreads, prepareWasmThreads, shareMemoryOnClone, threadCount, wasmThreadCount, withFullCoreCount } from './wasmSetup'
import { errorLine } from '../shared/format'

const THREADS = /\d+ threads?/

export type BackendName = 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu'
export interface BackendChoice {
  name: BackendName
  reason: string
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

const ALIASES: Record<string, BackendName> = {
  gpu: 'tensorflow-gpu',
  'tensorflow-gpu': 'tensorflow-gpu',
  tensorflow: 'tensorflow',
  node: 'tensorflow',
  wasm: 'wasm',
  cpu: 'cpu'
}

/** Decides the backend without loading it (cheap: used for the status bar). */
export function planBackend(options: { prefer?: string; stridedConv?: boolean } = {}): BackendChoice {
  const asked = options.prefer ?? process.env.LAYERLAB_BACKEND
  const wanted = asked ? ALIASES[asked.toLowerCase()] : undefined
  const notes: string[] = []
  if (asked && !wanted) notes.push(`unknown backend "${asked}"`)
  if (wanted === 'tensorflow-gpu') {
    if (installed('@tensorflow/tfjs-node-gpu')) return { name: 'tensorflow-gpu', reason: 'asked for; tfjs-node-gpu installed' }
    notes.push('tfjs-node-gpu not installed')
  }
  if (wanted === 'cpu') return { name: 'cpu', reason: 'asked for' }
  if (wanted !== 'wasm' && installed('@tensorflow/tfjs-node')) return { name: 'tensorflow', reason: [...notes, 'tfjs-node installed'].join('; ') }
  if (!wanted || wanted === 'tensorflow') notes.push('tfjs-node not installed')
  if (options.stridedConv) return { name: 'cpu', reason: [...notes, 'wasm lacks the strided conv gradient kernel'].join('; ') }
  if (installed('@tensorflow/tfjs-backend-wasm'))
    return { name: 'wasm', reason: [...notes, `wasm (XNNPACK, ${threadCount(plannedWasmThreads())})`].join('; ') }
  return { name: 'cpu', reason: [...notes, 'no faster backend'].join('; ') }
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

/** Loads and activates the planned backend on the given tf instance; falls back to cpu if it cannot start. */
export async function activateBackend(tf: typeof tfType, choice: BackendChoice): Promise<BackendChoice> {
  try {
    if (choice.name === 'tensorflow-gpu') localRequire('@tensorflow/tfjs-node-gpu')
    else if (choice.name === 'tensorflow') localRequire('@tensorflow/tfjs-node')
    else if (choice.name === 'wasm') {
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
