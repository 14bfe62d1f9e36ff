/**
 * The wasm backend's set-up for training in Node (issue 7): XNNPACK on every core, and clones that share memory.
 *
 * Threads: tfjs-backend-wasm runs XNNPACK on one thread in Node, though a plain CPU has 2+ cores and PyTorch
 * uses them all.
 *
 * Why this is needed: tfjs-backend-wasm 4.22 ships a threaded SIMD build and an Emscripten loader that supports
 * Node's worker_threads, but three things keep it single-threaded in Node:
 *   1. its WASM_HAS_MULTITHREAD_SUPPORT flag answers false whenever it runs in Node (tfjs issue 3830);
 *   2. it hands Emscripten the pthread worker script as a `blob:` URL, which worker_threads cannot load, and the
 *      worker's main script as a Blob, which Emscripten's Node worker path cannot import;
 *   3. its C side caps the thread count at half the logical cores (it assumes two hyper-threads per core), which
 *      is one thread on a 2-core machine.
 * This module sets the flag, installs a global `Worker` that starts the same worker script from text (taken from
 * the package's own bundle, so it always matches the installed version) and reads the Blob inside the thread,
 * and reports the real core count while the backend starts. Nothing of tfjs is patched on disk; where any step
 * does not fit the installed package, threads stay off and the backend starts single-threaded as before.
 */
import { readFileSync } from 'node:fs'
import { EventEmitter } from 'node:events'
import { createRequire } from 'node:module'
import os from 'node:os'
import { Worker as NodeWorker } from 'node:worker_threads'
import type * as tfType from '@tensorflow/tfjs'

const localRequire = createRequire(__filename)

/**
 * The pthread bootstrap, run as CommonJS in each thread: it holds messages until Emscripten's "load" arrives,
 * reads the main script out of its Blob (asynchronous, so it cannot happen inside Emscripten's synchronous
 * importScripts), defines the free names the main script expects from tfjs's bundle, starts Emscripten's worker
 * script and replays the held messages to it.
 */
const PTHREAD_BOOTSTRAP = `
const { parentPort, workerData } = require('worker_threads')
const held = []
const hold = (message) => {
  held.push(message)
  if (message && message.cmd === 'load') void start(message)
}
parentPort.on('message', hold)
async function start(load) {
  try {
    const mainScript = typeof load.urlOrBlob === 'string' ? require('fs').readFileSync(load.urlOrBlob, 'utf8') : await load.urlOrBlob.text()
    Object.assign(globalThis, {
      require$$0: require('fs'), require$$1: require('path'), require$$3: require('perf_hooks'), require$$4: require('os'),
      commonjsGlobal: globalThis
    })
    ;(0, eval)(workerData.workerScript)
    globalThis.importScripts = () => (0, eval)(mainScript)
    parentPort.off('message', hold)
    for (const message of held) globalThis.onmessage({ data: message })
  } catch (error) {
    console.error('layerlab: a wasm thread failed to start: ' + (error && error.message))
  }
}
`

/** Emscripten's pthread worker script, as tfjs passes it to its Blob (same escaping of newlines). */
function pthreadWorkerScript(): string | null {
  try {
    const bundle = readFileSync(localRequire.resolve('@tensorflow/tfjs-backend-wasm/dist/tf-backend-wasm.node.js'), 'utf8')
    const literal = /^var wasmWorkerContents = ("(?:[^"\\]|\\.)*");$/m.exec(bundle)
    if (!literal) return null
    // Group 1 is not optional: a match always has it.
    return (JSON.parse(literal[1]!) as string).replace(/\n/g, '\\n')
  } catch {
    return null
  }
}

/**
 * One of Emscripten's pool workers, started only when a thread is run on it. tfjs's build allocates a pool of 8
 * workers, each a JavaScript isolate that loads the whole backend (about 8 MB each: +65 MB for the pool on a
 * 2-core machine), while XNNPACK uses cores − 1 of them. Until then this answers Emscripten's "load" with
 * "loaded" and keeps the message; the first other message starts the real thread, hands it the kept "load"
 * (the shared memory and the compiled module) and then that message, and drops the real "loaded" reply
 * Emscripten has already seen. ref() is a no-op: Emscripten refs a running thread, which would keep a finished
 * process alive.
 */
class LazyPthread extends EventEmitter {
  private thread: NodeWorker | null = null
  private load: unknown = null

  constructor(private readonly startThread: () => NodeWorker) {
    super()
  }

  postMessage(message: unknown, transfer?: readonly Transferable[]): void {
    if (this.thread) {
      this.thread.postMessage(message, transfer as never)
      return
    }
    if (this.load === null && (message as { cmd?: string } | null)?.cmd === 'load') {
      this.load = message
      setImmediate(() => this.emit('message', { cmd: 'loaded' }))
      return
    }
    const thread = (this.thread = this.startThread())
    let seenLoaded = false
    thread.on('message', (data: { cmd?: string } | null) => {
      if (!seenLoaded && data?.cmd === 'loaded') {
        seenLoaded = true
        return
      }
      this.emit('message', data)
    })
    thread.on('error', (error) => this.emit('error', error))
    // XNNPACK's pool threads live as long as the backend and only ever work while the calling thread waits for
    // them: they must not keep a finished process (CLI, tests) alive. After the listeners: adding a "message"
    // listener refs a worker again.
    thread.unref()
    thread.postMessage(this.load)
    thread.postMessage(message, transfer as never)
  }

  ref(): void {}
  unref(): void {}

  terminate(): Promise<number> {
    return this.thread ? this.thread.terminate() : Promise.resolve(0)
  }
}

let enabled: number | null = null
let threadsStarted = 0

/** How many of Emscripten's pool workers have started a real thread (the rest never load anything). */
export function wasmThreadsStarted(): number {
  return threadsStarted
}

/** The threads the wasm backend will ask for: LAYERLAB_WASM_THREADS, else every core (tfjs's build allows 8). */
export function plannedWasmThreads(): number {
  const asked = Number(process.env.LAYERLAB_WASM_THREADS)
  return Math.min(8, Number.isInteger(asked) && asked >= 1 ? asked : os.cpus().length)
}

/** "1 thread", "2 threads". */
export const threadCount = (count: number): string => `${count} thread${count === 1 ? '' : 's'}`

/**
 * Prepares threads for the wasm backend; call before the backend is first initialised (tf.setBackend('wasm')).
 * Returns the thread count asked for (1 = threads stay off). LAYERLAB_WASM_THREADS=n overrides the core count.
 */
export function prepareWasmThreads(tf: typeof tfType): number {
  if (enabled !== null) return enabled
  const threads = plannedWasmThreads()
  const workerScript = threads > 1 ? pthreadWorkerScript() : null
  if (!workerScript || typeof SharedArrayBuffer === 'undefined') return (enabled = 1)
  const startThread = () => {
    threadsStarted++
    return new NodeWorker(PTHREAD_BOOTSTRAP, { eval: true, workerData: { workerScript } })
  }
  class PthreadWorker extends LazyPthread {
    constructor() {
      super(startThread)
    }
  }
  // Emscripten's loader assigns worker_threads' Worker to the global on start; the setter keeps ours.
  Object.defineProperty(globalThis, 'Worker', { get: () => PthreadWorker, set: () => undefined, configurable: true })
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true)
  const wasm = localRequire('@tensorflow/tfjs-backend-wasm') as { setThreadsCount(count: number): void }
  wasm.setThreadsCount(threads)
  return (enabled = threads)
}

/**
 * Runs the backend's start with the core count doubled: the C side halves it (see above). Restored right after.
 */
export async function withFullCoreCount<T>(start: () => Promise<T>): Promise<T> {
  const cpus = os.cpus
  os.cpus = () => {
    const list = cpus()
    return [...list, ...list]
  }
  try {
    return await start()
  } finally {
    os.cpus = cpus
  }
}

/** The thread count XNNPACK got (1 before the wasm backend started or without threads). */
export function wasmThreadCount(): number {
  try {
    return (localRequire('@tensorflow/tfjs-backend-wasm') as { getThreadsCount(): number }).getThreadsCount()
  } catch {
    return 1
  }
}

/**
 * Makes tf.clone on the wasm backend share the tensor's memory (a reference count) instead of copying it, as
 * the cpu backend and tfjs-node already do. Why: customGrad's `save` clones every tensor a gradient needs, so
 * each training step copied the activations it keeps for the backward pass (about 1 ms per batch of 32 for the
 * small CNN). Sharing is safe because tfjs tensors are never written in place: an assign or an update gives a
 * variable new memory. tfjs's wasm kernels that copy through their own identity helper are not affected.
 */
export function shareMemoryOnClone(tf: typeof tfType): void {
  const wasm = tf.findBackend('wasm') as unknown as { incRef?(dataId: unknown): void } | null
  const registered = tf.getKernel('Identity', 'wasm')
  if (!wasm || typeof wasm.incRef !== 'function' || !registered || (registered as { shares?: boolean }).shares) return
  tf.unregisterKernel('Identity', 'wasm')
  const sharing = {
    kernelName: 'Identity',
    backendName: 'wasm',
    shares: true,
    kernelFunc: ({ inputs, backend }: { inputs: tfType.NamedTensorInfoMap; backend: unknown }) => {
      const x = inputs.x as tfType.TensorInfo
      ;(backend as { incRef(dataId: unknown): void }).incRef(x.dataId)
      return { dataId: x.dataId, shape: x.shape, dtype: x.dtype }
    }
  }
  tf.registerKernel(sharing as unknown as tfType.KernelConfig)
}
