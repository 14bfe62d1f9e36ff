import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { defaultHome, resolveHome } from '../../../main/core/home'
import { backendLabel, mayUseGpu, planBackend } from '../../../main/core/backend'
import { gpuLabel, type GpuAdapter, type GpuProbe } from '../../../main/core/webgpu'

describe('data home', () => {
  it('is the per-user app-data folder Electron uses for an app named LayerLab', () => {
    expect(defaultHome({}, 'linux')).toBe(path.join(os.homedir(), '.config', 'LayerLab'))
    expect(defaultHome({ XDG_CONFIG_HOME: '/x/cfg' }, 'linux')).toBe('/x/cfg/LayerLab')
    expect(defaultHome({ APPDATA: 'C:\\Users\\a\\AppData\\Roaming' }, 'win32')).toContain('LayerLab')
  })
  it('prefers --home, then LAYERLAB_HOME', () => {
    const tmp = os.tmpdir()
    expect(resolveHome(path.join(tmp, 'a'), { LAYERLAB_HOME: path.join(tmp, 'b') })).toBe(path.join(tmp, 'a'))
    expect(resolveHome(undefined, { LAYERLAB_HOME: path.join(tmp, 'b') })).toBe(path.join(tmp, 'b'))
  })
})

describe('backend choice', () => {
  const saved = process.env.LAYERLAB_BACKEND
  afterEach(() => {
    if (saved === undefined) delete process.env.LAYERLAB_BACKEND
    else process.env.LAYERLAB_BACKEND = saved
  })
  const cores = Math.min(8, os.cpus().length)
  const wasmReason = `wasm (XNNPACK, ${cores} thread${cores === 1 ? '' : 's'})`
  const adapter = (software: boolean): GpuAdapter => ({
    vendor: software ? 'google' : 'nvidia',
    architecture: software ? 'swiftshader' : 'hopper',
    device: software ? 'swiftshader-device-subzero' : 'nvidia-h200',
    description: software ? 'SwiftShader driver 5.0.0' : 'NVIDIA: 570.86',
    name: software ? 'SwiftShader Device (Subzero)' : 'NVIDIA H200',
    api: 'vulkan',
    software
  })
  const found = (software: boolean): GpuProbe => ({ ok: true, adapter: adapter(software), label: gpuLabel(adapter(software)) })
  const none: GpuProbe = { ok: false, reason: 'no WebGPU adapter (vkCreateInstance failed with VK_ERROR_INCOMPATIBLE_DRIVER)' }

  it('without a GPU: wasm for dense models, cpu for strided convs (wasm lacks their gradient kernel)', () => {
    delete process.env.LAYERLAB_BACKEND
    expect(planBackend({ gpu: none })).toEqual({ name: 'wasm', reason: wasmReason })
    expect(planBackend({ stridedConv: true, gpu: none }).name).toBe('cpu')
  })

  it('a hardware adapter takes models with enough work per batch; small ones stay on wasm, saying why', () => {
    delete process.env.LAYERLAB_BACKEND
    const big = planBackend({ flopsPerBatch: 71e6, gpu: found(false) })
    expect(big).toMatchObject({ name: 'webgpu', reason: 'webgpu (NVIDIA H200, Vulkan), 71 MFLOP per batch' })
    expect(big.fallback).toEqual({ name: 'wasm', reason: wasmReason })
    expect(backendLabel(big)).toBe('webgpu (NVIDIA H200, Vulkan)')
    expect(planBackend({ stridedConv: true, flopsPerBatch: 1e6, gpu: found(false) }).fallback?.name).toBe('cpu')
    const small = planBackend({ flopsPerBatch: 1.1e6, gpu: found(false) })
    expect(small.name).toBe('wasm')
    expect(small.reason).toBe(`webgpu (NVIDIA H200, Vulkan) not used: 1.1 MFLOP per batch is too little work for a GPU; ${wasmReason}`)
    expect(mayUseGpu({ flopsPerBatch: 1.1e6 })).toBe(false)
    expect(mayUseGpu({ flopsPerBatch: 71e6 })).toBe(true)
  })

  it('never picks a software adapter by itself; asked for, it takes one and labels it', () => {
    delete process.env.LAYERLAB_BACKEND
    expect(planBackend({ flopsPerBatch: 1e9, gpu: found(true) }).name).toBe('wasm')
    const asked = planBackend({ prefer: 'webgpu', gpu: found(true) })
    expect(asked.name).toBe('webgpu')
    expect(backendLabel(asked)).toBe('webgpu (SwiftShader Device (Subzero), Vulkan, software)')
    process.env.LAYERLAB_BACKEND = 'gpu'
    expect(planBackend({ gpu: found(true) }).name).toBe('webgpu')
    expect(mayUseGpu({})).toBe(true)
  })

  it('webgpu asked for without an adapter falls back to wasm with the reason in one line', () => {
    const plan = planBackend({ prefer: 'webgpu', gpu: none })
    expect(plan).toEqual({ name: 'wasm', reason: `webgpu unavailable (${none.reason}); ${wasmReason}` })
    expect(plan.reason).not.toContain('\n')
  })

  it("honours LAYERLAB_BACKEND and a run's own choice, which wins, and says what an unknown name is", () => {
    process.env.LAYERLAB_BACKEND = 'cpu'
    expect(planBackend({ gpu: found(false) })).toEqual({ name: 'cpu', reason: 'asked for' })
    expect(planBackend({ prefer: 'wasm', gpu: found(false), flopsPerBatch: 1e9 }).name).toBe('wasm')
    expect(mayUseGpu({ flopsPerBatch: 1e9 })).toBe(false)
    expect(planBackend({ prefer: 'quantum' }).reason).toContain('unknown backend "quantum" (webgpu, wasm, cpu or auto)')
    // tfjs-node is gone (its libtensorflow download answers 403): the old names are unknown now.
    expect(planBackend({ prefer: 'tensorflow' }).reason).toContain('unknown backend "tensorflow"')
  })
})
