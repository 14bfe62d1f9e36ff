/**
 * A second compute thread for the kernels' matrix products: one warm worker per process (started on first use,
 * unref'd so it never keeps a process alive) runs the same wasm code on the same shared WebAssembly.Memory as the
 * caller, on another part of the output.
 *
 * Determinism: the work is split only where every output element is computed by the same instructions in the
 * same order as on one thread: a gemm by rows at a multiple of its block of 4 rows (each element's sum over k never
 * crosses threads), a conv forward by whole chunks of output pixels, its kernel gradient by rows of dk (both
 * threads walk all chunks in order), its input gradient by whole images. So a seed trains to the same bits on one
 * thread or two (test/unit/train/kernel-threads.test.ts), and no kernel choice may depend on the thread count.
 *
 * Synchronisation: a job is written into a small shared Int32Array and published by bumping a sequence number;
 * the worker spins on it briefly after each job (the products of a training step come microseconds apart), then
 * sleeps in Atomics.wait. The caller computes its own part meanwhile, then spins (then waits) for the worker's.
 * Below a size threshold a call stays on the caller's thread. Where memory cannot be shared or the worker cannot
 * start (or fails), everything runs on the caller's thread, with the same results.
 *
 * LAYERLAB_KERNEL_THREADS=1 keeps one thread; the default follows the wasm backend's count (kernelThreads).
 */
import os from 'node:os'
import { MessageChannel, type MessagePort, Worker } from 'node:worker_threads'

/** Slots of the control block (Int32Array over a SharedArrayBuffer). */
const SEQ = 0 // job sequence number, bumped by the caller to publish a job
const CLAIM = 1 // (seq << 8) | next unclaimed part: both threads claim parts by compare-exchange
const WORKER_DONE = 2 // parts of the current job the worker has finished
const FAILED_PARTS = 3 // bit p: the worker failed part p (the caller redoes it)
const ASLEEP = 4 // 1 while the worker waits in Atomics.wait (the caller then notifies)
const READY = 5 // 1 once the worker runs
const KIND = 6
const MEMORY_ID = 7
const PARTS = 8
const UNIT = 9 // parts cover whole units (a gemm's block of rows, a chunk of pixels, an image) of [0, TOTAL)
const TOTAL = 10
const ARGS = 12
const SLOTS = ARGS + 20

export const JOB_GEMM = 0
export const JOB_CONV_FORWARD = 1
export const JOB_CONV_KERNEL_GRAD = 2
export const JOB_CONV_INPUT_GRAD = 3
export const JOB_CONV_DIRECT_KERNEL_GRAD = 4
export const JOB_POOL_FORWARD = 5
export const JOB_POOL_GRAD = 6
export const JOB_CONV_INFER = 7
const JOB_QUIT = 9

/**
 * How long the worker spins for the next job before it sleeps (ms): the fused dense step's products come
 * microseconds apart, so a short spin catches most of them. Where the other core is busy (a shared machine) the
 * scheduler may put the worker beside the caller, and every spin then takes the caller's time: the article's job
 * at load 3.6-3.9 ran 7.1 ms/epoch on one thread against 9.6-10.1 with a 0.1 ms spin and 7.6-8.6 with 0.03 ms
 * (issue 20's note, Session 4). A late worker costs no waiting: the caller claims the parts it has not taken.
 */
const WORKER_SPIN_MS = 0.03

/** Most parts a job is cut into (a bit each in FAILED_PARTS). */
export const MAX_PARTS = 8

/**
 * The range [first, last) of part `part` of `parts` over `total` in whole `unit`s (the worker has a copy). Parts
 * shrink toward the end (part p starts at 1 − ((parts − p) / parts)² of the units, so the last is about 1/parts² of
 * the work): the threads claim parts in turn, and whoever finishes first waits at most for the other's last part.
 * With equal parts the caller waited 27-60 ms an epoch of the small CNN (5-10 %; 2026-12-03, a second core running
 * at about 60 % of the first). The cut depends only on the shape, never on which thread runs a part.
 */
export function partRange(part: number, parts: number, unit: number, total: number): [number, number] {
  const units = Math.ceil(total / unit)
  const start = (p: number) => (p >= parts ? units : Math.round(units * (1 - ((parts - p) / parts) ** 2)))
  return [Math.min(total, start(part) * unit), Math.min(total, start(part + 1) * unit)]
}

/**
 * The worker (plain CommonJS, evaluated: no file to ship beside the bundle). It instantiates the modules it is sent
 * on the memories it is sent, and claims parts of jobs until told to quit.
 */
const WORKER_SOURCE = `
const { workerData, receiveMessageOnPort } = require('node:worker_threads')
const { performance } = require('node:perf_hooks')
const control = new Int32Array(workerData.control)
const port = workerData.port
const instances = new Map()
// partRange, as above
function partRange(part, parts, unit, total) {
  const units = Math.ceil(total / unit)
  const start = (p) => (p >= parts ? units : Math.round(units * (1 - ((parts - p) / parts) ** 2)))
  return [Math.min(total, start(part) * unit), Math.min(total, start(part + 1) * unit)]
}
function drain() {
  for (let m = receiveMessageOnPort(port); m; m = receiveMessageOnPort(port)) {
    const msg = m.message
    if (msg.detach !== undefined) { instances.delete(msg.detach); continue }
    const dense = msg.dense ? new WebAssembly.Instance(msg.dense, { env: { memory: msg.memory } }).exports : null
    const conv = msg.conv ? new WebAssembly.Instance(msg.conv, { dense: { memory: msg.memory, gemm: dense.gemm } }).exports : null
    const pool = msg.pool ? new WebAssembly.Instance(msg.pool, { env: { memory: msg.memory } }).exports : null
    const infer = msg.infer ? new WebAssembly.Instance(msg.infer, { env: { memory: msg.memory } }).exports : null
    instances.set(msg.id, { dense, conv, pool, infer })
  }
}
function claim(seq, parts) {
  for (;;) {
    const v = Atomics.load(control, ${CLAIM})
    if ((v >>> 8) !== (seq & 0xffffff) || (v & 255) >= parts) return -1
    if (Atomics.compareExchange(control, ${CLAIM}, v, v + 1) === v) return v & 255
  }
}
// poolPart, as below
function poolPart(pool, grad, a, first, last) {
  const outRow = a[4] * a[5] * 4
  const inRow = 4 * outRow
  if (grad) return pool.maxPool2Grad(a[0] + first * inRow, a[1] + first * outRow, a[2] + first * inRow, last - first, a[4], a[5])
  pool.maxPool2(a[0] + first * inRow, a[1] + first * outRow, last - first, a[4], a[5])
  pool.biasRelu(a[1] + first * outRow, a[3], a[2] + first * outRow, (last - first) * a[4], a[5])
}
// inferPart, as below
function inferPart(infer, a, first, last) {
  const perImage = a[4] * a[5] * a[11] * 4
  infer.convRelu(a[0] + first * a[9] * 4, a[1], a[2], a[3] + first * perImage, last - first, a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11])
}
function runPart(kind, instance, a, part, parts, unit, total) {
  const [first, last] = partRange(part, parts, unit, total)
  if (first >= last) return
  if (kind === ${JOB_GEMM}) {
    instance.dense.gemm(a[0] + first * a[10], a[1] + first * a[7], a[2], a[3], last - first, a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12])
    return
  }
  if (kind === ${JOB_POOL_FORWARD} || kind === ${JOB_POOL_GRAD}) {
    poolPart(instance.pool, kind === ${JOB_POOL_GRAD}, a, first, last)
    return
  }
  if (kind === ${JOB_CONV_INFER}) {
    inferPart(instance.infer, a, first, last)
    return
  }
  const conv = instance.conv
  conv.shape(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8])
  conv.epilogue(a[14], a[15], a[16])
  const run = conv[CONV_RUNS[kind]]
  run(a[9], a[10], a[11], a[12], a[13], first, last)
}
const CONV_RUNS = { ${JOB_CONV_FORWARD}: 'forward', ${JOB_CONV_KERNEL_GRAD}: 'kernelGrad', ${JOB_CONV_INPUT_GRAD}: 'inputGrad', ${JOB_CONV_DIRECT_KERNEL_GRAD}: 'directKernelGrad' }
const a = new Array(20)
let seen = Atomics.load(control, ${SEQ})
Atomics.store(control, ${READY}, 1)
for (;;) {
  let until = performance.now() + ${WORKER_SPIN_MS}
  for (let i = 0; Atomics.load(control, ${SEQ}) === seen; i++) {
    if ((i & 63) === 63 && performance.now() > until) {
      Atomics.store(control, ${ASLEEP}, 1)
      Atomics.wait(control, ${SEQ}, seen, 500)
      Atomics.store(control, ${ASLEEP}, 0)
      drain()
      until = performance.now() + ${WORKER_SPIN_MS}
    }
  }
  seen = Atomics.load(control, ${SEQ})
  const kind = Atomics.load(control, ${KIND})
  if (kind === ${JOB_QUIT}) break
  const parts = Atomics.load(control, ${PARTS})
  let part = claim(seen, parts)
  if (part < 0) continue
  // A claimed part keeps the job open, so its arguments stay put until the worker is done with it.
  drain()
  const instance = instances.get(Atomics.load(control, ${MEMORY_ID}))
  const unit = control[${UNIT}]
  const total = control[${TOTAL}]
  for (let i = 0; i < 20; i++) a[i] = control[${ARGS} + i]
  for (; part >= 0; part = claim(seen, parts)) {
    try {
      runPart(kind, instance, a, part, parts, unit, total)
    } catch {
      Atomics.or(control, ${FAILED_PARTS}, 1 << part)
    }
    Atomics.add(control, ${WORKER_DONE}, 1)
  }
}
`

/** The modules a memory's instances are built from, in the worker as here (conv imports dense's gemm). */
export interface SharedModules {
  dense?: WebAssembly.Module
  conv?: WebAssembly.Module
  /** maxPoolGrad.wat (the conv stage's pool, bias and relu each way). */
  pool?: WebAssembly.Module
  /** convInfer.wat (the first conv in inference). */
  infer?: WebAssembly.Module
}

/** convInfer.wat's entry (kernels/index.ts convReluSimd). */
export interface InferExports {
  convRelu(
    x: number,
    w: number,
    b: number,
    y: number,
    n: number,
    pooledH: number,
    pooledW: number,
    pool: number,
    c: number,
    rowFloats: number,
    imageFloats: number,
    kc: number,
    f: number
  ): void
}

/**
 * Images first .. last of an inference conv job (the worker has a copy). Operands [padded x, w, b, y, pooledH,
 * pooledW, pool, c, rowFloats, imageFloats, kc, f], offsets in bytes: each image's outputs are its own.
 */
export function inferPart(infer: InferExports, a: ArrayLike<number>, first: number, last: number): void {
  const perImage = a[4]! * a[5]! * a[11]! * 4
  infer.convRelu(
    a[0]! + first * a[9]! * 4,
    a[1]!,
    a[2]!,
    a[3]! + first * perImage,
    last - first,
    a[4]!,
    a[5]!,
    a[6]!,
    a[7]!,
    a[8]!,
    a[9]!,
    a[10]!,
    a[11]!
  )
}

/** The exports of maxPoolGrad.wat a pool job calls (kernels/index.ts has them all). */
export interface PoolExports {
  maxPool2(x: number, y: number, rows: number, outWidth: number, channels: number): void
  biasRelu(x: number, bias: number, y: number, pixels: number, channels: number): void
  maxPool2Grad(x: number, dy: number, dx: number, rows: number, outWidth: number, channels: number): void
}

/**
 * Output rows first .. last of a 2×2 pool job (the worker has a copy): forward, relu(max +
 * bias) through the pooled scratch; grad, the pool's input gradient from the pooled gradient. Operands [x, pooled
 * or its gradient, y or dx, bias, outWidth, channels]; every element is written by one row's calls alone.
 */
export function poolPart(pool: PoolExports, grad: boolean, a: ArrayLike<number>, first: number, last: number): void {
  const outRow = a[4]! * a[5]! * 4
  const inRow = 4 * outRow
  if (grad) return pool.maxPool2Grad(a[0]! + first * inRow, a[1]! + first * outRow, a[2]! + first * inRow, last - first, a[4]!, a[5]!)
  pool.maxPool2(a[0]! + first * inRow, a[1]! + first * outRow, last - first, a[4]!, a[5]!)
  pool.biasRelu(a[1]! + first * outRow, a[3]!, a[2]! + first * outRow, (last - first) * a[4]!, a[5]!)
}

/**
 * Sync costs for the bench and the note: jobs handed over, parts the worker took, how long the caller waited for
 * the worker's parts after its own, parts redone after a failure.
 */
export const threadStats = { jobs: 0, workerParts: 0, waitedMs: 0, redone: 0 }

/** A job's part on the caller's side: computes [first, last) of it. */
export type LocalPart = (first: number, last: number) => void

class KernelThread {
  private readonly control = new Int32Array(new SharedArrayBuffer(SLOTS * 4))
  private readonly port: MessagePort
  private readonly worker: Worker
  // One worker instance per memory and module set: tfjs's heap holds several (the fused and the plain gemm, the
  // conv module), and a part must run the caller's own build (the fused and plain gemms round differently).
  private readonly ids = new WeakMap<WebAssembly.Memory, WeakMap<SharedModules, number>>()
  private readonly released = new FinalizationRegistry<number>((id) => this.detach(id))
  private nextId = 1
  private seq = 0
  alive = true

  constructor(source: string) {
    const { port1, port2 } = new MessageChannel()
    this.port = port1
    this.worker = new Worker(source, {
      eval: true,
      workerData: { control: this.control.buffer, port: port2 },
      transferList: [port2]
    })
    this.worker.on('error', () => (this.alive = false))
    this.worker.on('exit', () => (this.alive = false))
    this.worker.unref()
    this.port.unref()
  }

  get ready(): boolean {
    return this.alive && Atomics.load(this.control, READY) === 1
  }

  /** The worker's id of a memory and its modules, sending them on first use. */
  private idOf(memory: WebAssembly.Memory, modules: SharedModules): number {
    let byModules = this.ids.get(memory)
    if (!byModules) this.ids.set(memory, (byModules = new WeakMap()))
    let id = byModules.get(modules)
    if (id === undefined) {
      id = this.nextId++
      this.port.postMessage({ id, memory, dense: modules.dense, conv: modules.conv, pool: modules.pool, infer: modules.infer })
      byModules.set(modules, id)
      this.released.register(modules, id)
    }
    return id
  }

  private detach(id: number): void {
    if (this.alive) this.port.postMessage({ detach: id })
  }

  private claim(parts: number): number {
    const control = this.control
    for (;;) {
      const v = Atomics.load(control, CLAIM)
      if (v >>> 8 !== (this.seq & 0xffffff) || (v & 255) >= parts) return -1
      if (Atomics.compareExchange(control, CLAIM, v, v + 1) === v) return v & 255
    }
  }

  /**
   * Runs `parts` parts of a job over [0, total) in whole `unit`s: this thread and the worker claim parts in turn
   * (whoever is free first), so a worker that is late or asleep costs at most the part it took. Each part is the
   * same computation whichever thread runs it.
   */
  run(
    kind: number,
    memory: WebAssembly.Memory,
    modules: SharedModules,
    args: number[],
    unit: number,
    total: number,
    parts: number,
    local: LocalPart
  ): void {
    const control = this.control
    const id = this.idOf(memory, modules)
    control[KIND] = kind
    control[MEMORY_ID] = id
    control[PARTS] = parts
    control[UNIT] = unit
    control[TOTAL] = total
    for (let i = 0; i < args.length; i++) control[ARGS + i] = args[i]!
    Atomics.store(control, WORKER_DONE, 0)
    Atomics.store(control, FAILED_PARTS, 0)
    this.seq = (this.seq + 1) & 0xffffff
    Atomics.store(control, CLAIM, this.seq << 8)
    Atomics.store(control, SEQ, this.seq)
    if (Atomics.load(control, ASLEEP) === 1) Atomics.notify(control, SEQ)
    threadStats.jobs++
    if (workerFirst) {
      // Tests: the worker takes the first part, so every call really runs on both threads.
      const begin = performance.now()
      while ((Atomics.load(control, CLAIM) & 255) === 0 && performance.now() - begin < 2000);
    }
    let mine = 0
    for (let part = this.claim(parts); part >= 0; part = this.claim(parts)) {
      const [first, last] = partRange(part, parts, unit, total)
      if (first < last) local(first, last)
      mine++
    }
    // Every part is claimed: wait for those the worker is still running.
    if (mine + Atomics.load(control, WORKER_DONE) < parts) {
      const begin = performance.now()
      for (let i = 0; mine + Atomics.load(control, WORKER_DONE) < parts; i++) {
        if ((i & 1023) === 1023 && (performance.now() - begin > 30_000 || !this.alive)) {
          this.alive = false
          throw new Error('the kernels’ second thread stopped answering')
        }
      }
      threadStats.waitedMs += performance.now() - begin
    }
    threadStats.workerParts += parts - mine
    const failed = Atomics.load(control, FAILED_PARTS)
    if (failed !== 0) {
      // The worker could not run its parts (it is not used again): the same parts here.
      this.alive = false
      for (let part = 0; part < parts; part++)
        if (failed & (1 << part)) {
          threadStats.redone++
          const [first, last] = partRange(part, parts, unit, total)
          if (first < last) local(first, last)
        }
    }
  }

  async stop(): Promise<void> {
    this.alive = false
    this.control[KIND] = JOB_QUIT
    this.seq = (this.seq + 1) & 0xffffff
    Atomics.store(this.control, SEQ, this.seq)
    Atomics.notify(this.control, SEQ)
    this.port.close()
    await this.worker.terminate()
  }
}

let configured: number | undefined
let workerFirst = false
let thread: KernelThread | null | undefined
let workerSource = WORKER_SOURCE

/**
 * Threads the kernels use: setKernelThreads's value, else LAYERLAB_KERNEL_THREADS, else as many as the wasm
 * backend was given (LAYERLAB_WASM_THREADS: the study pool's members and the pipeline's block workers run one
 * each, so several processes do not fight over the cores), else 2 with two cores. The count never changes what a
 * seed trains to.
 */
export function kernelThreads(): number {
  if (configured !== undefined) return configured
  for (const name of ['LAYERLAB_KERNEL_THREADS', 'LAYERLAB_WASM_THREADS']) {
    const asked = Number(process.env[name])
    if (asked >= 1) return Math.min(2, Math.floor(asked))
  }
  return (os.availableParallelism?.() ?? os.cpus().length) >= 2 ? 2 : 1
}

/**
 * Sets the kernels' thread count (1 or 2) for this process (bench, tests); undefined: back to the default.
 * `workerFirst` (tests): each threaded call waits for the worker to take its first part.
 */
export function setKernelThreads(threads: number | undefined, options: { workerFirst?: boolean } = {}): void {
  configured = threads === undefined ? undefined : Math.max(1, Math.min(2, Math.floor(threads)))
  workerFirst = options.workerFirst ?? false
}

/** Whether this runtime can share wasm memory between threads. */
export function sharedMemoryAvailable(): boolean {
  if (typeof SharedArrayBuffer !== 'function') return false
  try {
    return new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true }).buffer instanceof SharedArrayBuffer
  } catch {
    return false
  }
}

function start(): KernelThread | null {
  if (thread === undefined) {
    thread = null
    if (sharedMemoryAvailable())
      try {
        thread = new KernelThread(workerSource)
      } catch {
        thread = null
      }
  }
  return thread
}

/**
 * The warm worker to hand part of a job to, or null: one thread configured, memory not shared, the worker not
 * (yet, or no longer) running. Starts it on first call: calls before it runs stay on this thread.
 */
export function helperThread(): KernelThread | null {
  if (kernelThreads() < 2) return null
  const helper = thread === undefined ? start() : thread
  return helper?.ready ? helper : null
}

/** Starts the worker and resolves once it runs: true, or false where it cannot (bench and tests warm it up). */
export async function kernelThreadReady(timeoutMs = 10_000): Promise<boolean> {
  const helper = thread === undefined ? start() : thread
  const begin = Date.now()
  while (helper && helper.alive && !helper.ready && Date.now() - begin < timeoutMs) await new Promise((r) => setTimeout(r, 2))
  return helper?.ready ?? false
}

/** Ends the worker (a later call starts a fresh one); `source` replaces its code (tests of the fallback). */
export async function stopKernelThread(options: { source?: string } = {}): Promise<void> {
  const helper = thread
  thread = undefined
  workerSource = options.source ?? WORKER_SOURCE
  if (helper) await helper.stop()
}

export type { KernelThread }
