/// <reference types="@webgpu/types" />
/**
 * tfjs on WebGPU through Dawn (the optional npm package `webgpu`: an N-API addon with prebuilt `dawn.node` for
 * Linux (Vulkan), Windows (D3D12) and macOS (Metal), so it loads in Node, in Electron's main process and in their
 * worker threads alike). Three steps:
 *
 *   probeWebGPU()     in a child process, with a timeout: is there an adapter, which one, is it software? A bad
 *                     driver can only crash the child, and Dawn's native stderr noise stays there.
 *   activateWebGPU()  in the training worker: picks the adapter, registers `new WebGPUBackend(device, info)` as
 *                     tfjs's 'webgpu' backend and sets it. tfjs's own factory is not used: it dereferences a null
 *                     adapter (and `tf.getBackend()` then still answers 'webgpu'), and it cannot refuse software.
 *   closeWebGPU()     waits for the queue, drops the backend, destroys the device. Why it matters: terminating a
 *                     worker (or exiting the process) while a call into Dawn or a buffer read is pending aborts
 *                     the whole process (`napi_throw` fatal error, or `Promise not resolved or rejected:
 *                     mapAsync()`), and in Electron that process is the app. So the worker closes Dawn before its
 *                     last message, and only then may its host terminate it.
 *
 * Software adapters (SwiftShader, lavapipe, WARP; Dawn reports them as fallback adapters) are for correctness
 * tests only: never chosen automatically, accepted when webgpu is asked for, and labelled "software".
 */
import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'
import type * as tfType from '@tensorflow/tfjs'
import { errorLine } from '../shared/format'

const localRequire = createRequire(__filename)

export interface GpuAdapter {
  /** Dawn's normalised identifiers ("nvidia", "ampere", "nvidia-h200"; "google", "swiftshader" for SwiftShader). */
  vendor: string
  architecture: string
  device: string
  /** The driver's own description ("SwiftShader driver 5.0.0", "NVIDIA: 570.86"). */
  description: string
  /** The adapter's own name where Dawn lists it ("NVIDIA H200", "SwiftShader Device (Subzero)"); else "". */
  name: string
  /** The graphics API Dawn drives it through: Vulkan, D3D12, Metal. */
  api: string
  software: boolean
}

export type GpuProbe = { ok: true; adapter: GpuAdapter; label: string } | { ok: false; reason: string }

const SOFTWARE_NAMES = /swiftshader|llvmpipe|lavapipe|softpipe|\bwarp\b|basic render|null-backend/i
const API_NAMES: Record<string, string> = {
  vulkan: 'Vulkan',
  d3d12: 'D3D12',
  d3d11: 'D3D11',
  metal: 'Metal',
  opengl: 'OpenGL',
  opengles: 'OpenGL ES'
}
const VENDOR_NAMES: Record<string, string> = {
  nvidia: 'NVIDIA',
  amd: 'AMD',
  ati: 'AMD',
  intel: 'Intel',
  apple: 'Apple',
  qualcomm: 'Qualcomm',
  arm: 'Arm',
  swiftshader: 'SwiftShader',
  google: 'Google',
  microsoft: 'Microsoft'
}

/** The API Dawn uses on this platform when it does not say. */
function platformApi(): string {
  return process.platform === 'win32' ? 'd3d12' : process.platform === 'darwin' ? 'metal' : 'vulkan'
}

/**
 * Flags for Dawn's create(): Vulkan only on Linux (Dawn would also probe OpenGL/EGL, which only adds noise);
 * LAYERLAB_DAWN_FLAGS adds more, comma-separated (e.g. `adapter=NVIDIA H200` on a machine with several GPUs).
 */
export function dawnFlags(env: NodeJS.ProcessEnv = process.env): string[] {
  const flags = process.platform === 'linux' ? ['backend=vulkan'] : []
  const extra = env.LAYERLAB_DAWN_FLAGS
  if (extra)
    flags.push(
      ...extra
        .split(',')
        .map((flag) => flag.trim())
        .filter(Boolean)
    )
  return flags
}

type AdapterInfoLike = { vendor?: string; architecture?: string; device?: string; description?: string; isFallbackAdapter?: boolean }

/** Dawn marks CPU adapters (VK_PHYSICAL_DEVICE_TYPE_CPU, WARP) as fallback adapters; the names are a second check. */
export function isSoftware(info: AdapterInfoLike): boolean {
  if (info.isFallbackAdapter) return true
  return [info.vendor, info.architecture, info.device, info.description].some((field) => field && SOFTWARE_NAMES.test(field))
}

/** "NVIDIA H200": the listed name, else one made from Dawn's identifiers, else the driver's description. */
export function adapterName(adapter: GpuAdapter): string {
  return adapter.name || readableName(adapter) || adapter.description || 'unknown adapter'
}

/** "webgpu (NVIDIA H200, Vulkan)"; "webgpu (SwiftShader Device (Subzero), Vulkan, software)". */
export function gpuLabel(adapter: GpuAdapter): string {
  const parts = [adapterName(adapter), API_NAMES[adapter.api] ?? adapter.api]
  if (adapter.software) parts.push('software')
  return `webgpu (${parts.join(', ')})`
}

/** A name from Dawn's normalised identifiers: "nvidia-h200" → "NVIDIA H200" (vendors by name, short words upper case). */
function readableName(adapter: Pick<GpuAdapter, 'vendor' | 'device' | 'architecture'>): string {
  const source = adapter.device || [adapter.vendor, adapter.architecture].filter(Boolean).join('-')
  return source
    .split('-')
    .filter(Boolean)
    .map((word) => VENDOR_NAMES[word] ?? (word.length <= 4 ? word.toUpperCase() : word[0]!.toUpperCase() + word.slice(1)))
    .join(' ')
}

const normalise = (text: string) =>
  text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')

/** The adapter as LayerLab describes it; `listing` is Dawn's adapter list (raw names and APIs), when known. */
export function describeAdapter(info: AdapterInfoLike, listing: Array<{ api: string; name: string }> = []): GpuAdapter {
  const device = info.device ?? ''
  const key = normalise(device)
  const listed = listing.find((entry) => key && normalise(entry.name).startsWith(key)) ?? (listing.length === 1 ? listing[0] : undefined)
  return {
    vendor: info.vendor ?? '',
    architecture: info.architecture ?? '',
    device,
    description: info.description ?? '',
    name: listed?.name ?? '',
    api: listed?.api ?? platformApi(),
    software: isSoftware(info)
  }
}

/** The `webgpu` package's entry, or null where the optional dependency is not installed (or not for this platform). */
export function webgpuEntry(): string | null {
  try {
    return localRequire.resolve('webgpu')
  } catch {
    return null
  }
}

const NOT_INSTALLED = 'the optional package "webgpu" is not installed'

// ---------------------------------------------------------------- the probe (a child process)

/**
 * Run by the probe child (Node, or Electron's binary with ELECTRON_RUN_AS_NODE=1); argv ends with the package's
 * entry URL and the flags (JSON). Prints one line `LAYERLAB_PROBE {json}`. Besides the adapter it gets Dawn's
 * adapter list (dawn.node names every adapter, with its API, in the error for an unknown `adapter=` flag) and runs
 * one small compute shader with a read-back, so "ok" means device, shader compiler and buffer mapping all work.
 */
const PROBE_SCRIPT = `
const [entry, flagsJson] = process.argv.slice(-2)
const say = (o) => process.stdout.write('LAYERLAB_PROBE ' + JSON.stringify(o) + '\\n')
;(async () => {
  const { create, globals } = await import(entry)
  Object.assign(globalThis, globals)
  const flags = JSON.parse(flagsJson)
  let listing = []
  try { await create([...flags.filter((f) => !f.startsWith('adapter=')), 'adapter=layerlab-list-adapters']).requestAdapter() }
  catch (e) { listing = [...String(e.message).matchAll(/backend: '([^']*)', name: '([^']*)'/g)].map((m) => ({ api: m[1], name: m[2] })) }
  const gpu = create(flags)
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' })
  if (!adapter) return say({ adapter: null, listing })
  const i = adapter.info
  const info = { vendor: i.vendor, architecture: i.architecture, device: i.device, description: i.description, isFallbackAdapter: !!i.isFallbackAdapter }
  const device = await adapter.requestDevice()
  const module = device.createShaderModule({ code: '@group(0) @binding(0) var<storage, read_write> o: array<f32>; @compute @workgroup_size(4) fn main(@builtin(global_invocation_id) id: vec3u) { o[id.x] = f32(id.x) * 2.0; }' })
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' } })
  const out = device.createBuffer({ size: 16, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC })
  const read = device.createBuffer({ size: 16, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST })
  const encoder = device.createCommandEncoder()
  const pass = encoder.beginComputePass()
  pass.setPipeline(pipeline)
  pass.setBindGroup(0, device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: [{ binding: 0, resource: { buffer: out } }] }))
  pass.dispatchWorkgroups(1)
  pass.end()
  encoder.copyBufferToBuffer(out, 0, read, 0, 16)
  device.queue.submit([encoder.finish()])
  await read.mapAsync(GPUMapMode.READ)
  const values = Array.from(new Float32Array(read.getMappedRange()))
  read.unmap()
  device.destroy()
  say({ adapter: info, listing, compute: values.join(',') === '0,2,4,6' ? 'ok' : 'wrong result ' + values.join(',') })
})().catch((e) => say({ error: String((e && e.message) || e).split('\\n')[0] }))
`

export interface ProbeOptions {
  /** Default 20 s: Dawn answers in well under a second, with or without a driver; past this the child is killed. */
  timeoutMs?: number
  /** The child's environment (default: this process's). */
  env?: NodeJS.ProcessEnv
}

/** Probes in a child process. Never throws and never takes longer than the timeout. */
export function probeWebGPU(options: ProbeOptions = {}): Promise<GpuProbe> {
  const entry = webgpuEntry()
  if (!entry) return Promise.resolve({ ok: false, reason: NOT_INSTALLED })
  const timeoutMs = options.timeoutMs ?? 20_000
  const env = options.env ?? process.env
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['-e', PROBE_SCRIPT, pathToFileURL(entry).href, JSON.stringify(dawnFlags(env))], {
      // Electron's binary runs as plain Node with this; Node ignores it.
      env: { ...env, ELECTRON_RUN_AS_NODE: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
      windowsHide: true
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs)
    child.on('error', (error) => {
      clearTimeout(timer)
      resolve({ ok: false, reason: `the WebGPU probe could not start (${errorLine(error)})` })
    })
    child.on('close', (code, signal) => {
      clearTimeout(timer)
      resolve(readProbe(stdout, stderr, { code, signal, timeoutMs }))
    })
  })
}

interface ProbeAnswer {
  adapter?: AdapterInfoLike | null
  listing?: Array<{ api: string; name: string }>
  compute?: string
  error?: string
}

/** The probe child's output as a result, with Dawn's last warning as the why where there is no adapter. */
export function readProbe(stdout: string, stderr: string, exit: { code: number | null; signal: string | null; timeoutMs: number }): GpuProbe {
  const hint = lastDawnWarning(stderr)
  const why = hint ? ` (${hint})` : ''
  const line = stdout.split('\n').find((l) => l.startsWith('LAYERLAB_PROBE '))
  if (!line) {
    const ended = exit.signal === 'SIGKILL' ? `no answer within ${exit.timeoutMs / 1000} s` : `it exited with ${exit.signal ?? `code ${exit.code}`}`
    return { ok: false, reason: `the WebGPU probe failed: ${ended}${why}` }
  }
  const answer = JSON.parse(line.slice('LAYERLAB_PROBE '.length)) as ProbeAnswer
  if (answer.error) return { ok: false, reason: `WebGPU failed: ${answer.error}` }
  if (!answer.adapter) return { ok: false, reason: `no WebGPU adapter${why}` }
  const adapter = describeAdapter(answer.adapter, answer.listing)
  if (answer.compute !== 'ok') return { ok: false, reason: `${gpuLabel(adapter)} failed a test shader: ${answer.compute}` }
  return { ok: true, adapter, label: gpuLabel(adapter) }
}

/** Dawn's last "Warning: …" line without its source location: why there is no adapter, in one line. */
function lastDawnWarning(stderr: string): string | null {
  const warnings = stderr
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.startsWith('Warning: '))
  const last = warnings.at(-1)
  return last
    ? last
        .slice('Warning: '.length)
        .replace(/\s+at \S+ \(.*\)$/, '')
        .replace(/ - While .*$/, '')
    : null
}

// ---------------------------------------------------------------- the training process

interface Live {
  device: GPUDevice
  lost: string | null
  errors: string[]
}
let live: Live | null = null

/** Why the device was lost, or the first uncaptured GPU error (validation, out of memory) since activation. */
export function webgpuTrouble(): string | null {
  return live ? (live.lost ?? live.errors[0] ?? null) : null
}

export interface ActivateOptions {
  /** Accept a software adapter (webgpu was asked for). */
  allowSoftware: boolean
  /** The probe's adapter for this machine: lends its listed name and API to the label. */
  probed?: GpuAdapter
}

/**
 * Loads Dawn, picks the adapter, registers and sets the 'webgpu' backend on `tf`. Any failure answers
 * { ok: false, reason } and leaves no half-registered backend: the caller then activates another one.
 */
export async function activateWebGPU(tf: typeof tfType, options: ActivateOptions): Promise<GpuProbe> {
  const entry = webgpuEntry()
  if (!entry) return { ok: false, reason: NOT_INSTALLED }
  let device: GPUDevice | null = null
  try {
    // An ES module: import() works from CommonJS in Node 20.19+ and Electron alike.
    const { create, globals } = (await import(pathToFileURL(entry).href)) as { create(flags: string[]): GPU; globals: object }
    // GPUBufferUsage, GPUMapMode, …: tfjs's backend reads them as globals.
    for (const [key, value] of Object.entries(globals))
      if (!(key in globalThis)) Object.defineProperty(globalThis, key, { value, configurable: true, writable: true })
    const gpu = create(dawnFlags())
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' })
    if (!adapter) return { ok: false, reason: 'no WebGPU adapter (no Vulkan, D3D12 or Metal driver that Dawn accepts)' }
    // adapter.info is newer than the @webgpu/types tfjs pins (it had requestAdapterInfo()); Dawn has it.
    const info = (adapter as GPUAdapter & { info: GPUAdapterInfo & AdapterInfoLike }).info
    const summary = options.probed && options.probed.device === info.device ? options.probed : describeAdapter(info)
    const label = gpuLabel(summary)
    if (summary.software && !options.allowSoftware) return { ok: false, reason: `only a software adapter (${label})` }
    // What tfjs's own factory asks for (it needs the adapter's full limits for big buffers and workgroups).
    const limits = adapter.limits
    device = await adapter.requestDevice({
      requiredFeatures: adapter.features.has('timestamp-query') ? ['timestamp-query'] : [],
      requiredLimits: {
        maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
        maxComputeWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension,
        maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
        maxBufferSize: limits.maxBufferSize,
        maxComputeWorkgroupSizeX: limits.maxComputeWorkgroupSizeX,
        maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup
      }
    })
    const state: Live = { device, lost: null, errors: [] }
    void device.lost.then((lost) => {
      if (lost.reason !== 'destroyed') state.lost = `GPU device lost: ${lost.message || lost.reason}`
    })
    device.onuncapturederror = (event) => {
      if (state.errors.length < 5) state.errors.push(`GPU error: ${errorLine(event.error.message)}`)
    }
    // The backend checks navigator.gpu. Node 21+ (so Electron) has a navigator of its own: add gpu to it.
    const nav = (globalThis as { navigator?: object }).navigator
    if (nav) Object.defineProperty(nav, 'gpu', { value: gpu, configurable: true, writable: true })
    else Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true })
    const { WebGPUBackend } = localRequire('@tensorflow/tfjs-backend-webgpu') as typeof import('@tensorflow/tfjs-backend-webgpu')
    // Importing the package with navigator.gpu set registers tfjs's own factory: ours replaces it.
    if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu')
    const chosen = device
    tf.registerBackend('webgpu', () => new WebGPUBackend(chosen, info), 3)
    guardReadSync(WebGPUBackend.prototype as unknown as ReadSyncOwner)
    // tfjs would run small ops whose inputs are on the CPU side on the cpu backend: keep every op on the device.
    tf.env().set('WEBGPU_CPU_FORWARD', false)
    if (!(await tf.setBackend('webgpu'))) throw new Error('tfjs refused the WebGPU device')
    await tf.ready()
    live = state
    return { ok: true, adapter: summary, label }
  } catch (error) {
    device?.destroy()
    if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu')
    return { ok: false, reason: `webgpu failed to start (${errorLine(error)})` }
  }
}

interface ReadSyncOwner {
  readSync(dataId: object): unknown
  tensorMap: { get(dataId: object): { values?: unknown } | undefined }
}

/**
 * tfjs-webgpu's readSync (dataSync, arraySync) copies GPU data through an OffscreenCanvas, which Node lacks: it
 * would fail with "OffscreenCanvas is not defined". Say what to do instead. Values still on the CPU side read fine.
 */
function guardReadSync(proto: ReadSyncOwner): void {
  const marker = Symbol.for('layerlab.readSyncGuard')
  const target = proto as ReadSyncOwner & { [marker]?: boolean }
  if (target[marker]) return
  const original = proto.readSync
  proto.readSync = function (this: ReadSyncOwner, dataId: object) {
    if (this.tensorMap.get(dataId)?.values != null) return original.call(this, dataId)
    throw new Error('dataSync()/arraySync() cannot read GPU memory in Node: use await tensor.data()')
  }
  target[marker] = true
}

/** Whether a WebGPU device is open in this thread (closeWebGPU has work to do). */
export function webgpuOpen(): boolean {
  return live !== null
}

/**
 * Waits for the queued work, drops the backend (and its buffers), destroys the device and the navigator.gpu
 * reference. Afterwards the thread may be terminated and the process exits on its own. Safe to call twice.
 */
export async function closeWebGPU(tf: typeof tfType): Promise<void> {
  if (!live) return
  const { device } = live
  live = null
  try {
    await device.queue.onSubmittedWorkDone()
  } catch {
    // A lost device has no queue left to wait for.
  }
  if (tf.getBackend() === 'webgpu') await tf.setBackend('cpu')
  if (tf.findBackendFactory('webgpu')) tf.removeBackend('webgpu')
  device.destroy()
  const nav = (globalThis as { navigator?: { gpu?: unknown } }).navigator
  if (nav && 'gpu' in nav) delete nav.gpu
}
