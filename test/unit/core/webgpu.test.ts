/**
 * The WebGPU probe and activation on a real Dawn: SwiftShader (software Vulkan) where the adapter is found, a
 * missing driver where it is not, a hung probe, and the one-line reasons each gives.
 */
import * as tf from '@tensorflow/tfjs'
import { describe, expect, it } from 'vitest'
import { activateWebGPU, closeWebGPU, describeAdapter, gpuLabel, probeWebGPU, readProbe, webgpuOpen } from '../../../main/core/webgpu'
import { activateBackend, planBackend } from '../../../main/core/backend'
import { swiftShaderEnv, useSwiftShader } from '../../fixtures/webgpu'

const missing = useSwiftShader()

describe('labels and reasons', () => {
  it('names the adapter as Dawn lists it, or readably from its identifiers, and marks software', () => {
    const h200 = describeAdapter({ vendor: 'nvidia', architecture: 'hopper', device: 'nvidia-h200', description: 'NVIDIA: 570.86' })
    expect(gpuLabel(h200)).toBe(
      'webgpu (NVIDIA H200, Vulkan)'.replace('Vulkan', process.platform === 'win32' ? 'D3D12' : process.platform === 'darwin' ? 'Metal' : 'Vulkan')
    )
    const listed = describeAdapter({ vendor: 'amd', architecture: 'rdna-3', device: 'amd-radeon-rx-7900-xtx' }, [
      { api: 'd3d12', name: 'AMD Radeon RX 7900 XTX' }
    ])
    expect(gpuLabel(listed)).toBe('webgpu (AMD Radeon RX 7900 XTX, D3D12)')
    const warp = describeAdapter({ vendor: 'microsoft', device: 'microsoft-basic-render-driver', isFallbackAdapter: true }, [
      { api: 'd3d12', name: 'Microsoft Basic Render Driver' }
    ])
    expect(warp.software).toBe(true)
    expect(gpuLabel(warp)).toBe('webgpu (Microsoft Basic Render Driver, D3D12, software)')
    // No fallback flag, but a software driver's name.
    expect(describeAdapter({ vendor: 'mesa', device: 'llvmpipe-llvm-15' }).software).toBe(true)
  })

  it("reads a probe that found nothing, hung or crashed as one line with Dawn's own why", () => {
    const stderr = [
      'error: XDG_RUNTIME_DIR is invalid or not set in the environment.',
      'Warning: vkCreateInstance failed with VK_ERROR_INCOMPATIBLE_DRIVER',
      '    at CreateVkInstance (../../third_party/dawn/src/dawn/native/vulkan/BackendVk.cpp:482)'
    ].join('\n')
    const none = readProbe('LAYERLAB_PROBE {"adapter":null,"listing":[]}\n', stderr, { code: 0, signal: null, timeoutMs: 20_000 })
    expect(none).toEqual({ ok: false, reason: 'no WebGPU adapter (vkCreateInstance failed with VK_ERROR_INCOMPATIBLE_DRIVER)' })
    const lavapipe = readProbe(
      'LAYERLAB_PROBE {"adapter":null}\n',
      'Warning: Vulkan shaderUniform*ArrayDynamicIndexing required. - While initializing adapter (backend=BackendType::Vulkan) at InitializeImpl (x.cpp:257)\n',
      { code: 0, signal: null, timeoutMs: 20_000 }
    )
    expect(lavapipe).toEqual({ ok: false, reason: 'no WebGPU adapter (Vulkan shaderUniform*ArrayDynamicIndexing required.)' })
    expect(readProbe('', '', { code: null, signal: 'SIGKILL', timeoutMs: 20_000 })).toEqual({
      ok: false,
      reason: 'the WebGPU probe failed: no answer within 20 s'
    })
    expect(readProbe('', 'Segmentation fault\n', { code: null, signal: 'SIGSEGV', timeoutMs: 20_000 })).toEqual({
      ok: false,
      reason: 'the WebGPU probe failed: it exited with SIGSEGV'
    })
  })
})

describe.skipIf(missing)('Dawn on SwiftShader', () => {
  it('the probe finds SwiftShader, runs its test shader, and reports it as software', async () => {
    const probe = await probeWebGPU({ env: swiftShaderEnv() })
    expect(probe).toMatchObject({ ok: true, label: 'webgpu (SwiftShader Device (Subzero), Vulkan, software)' })
    if (!probe.ok) return
    expect(probe.adapter).toMatchObject({ vendor: 'google', software: true, description: expect.stringContaining('SwiftShader') })
  })

  it('without a driver the probe answers no adapter, in one line, quickly', async () => {
    const probe = await probeWebGPU({ env: { ...swiftShaderEnv(), VK_ICD_FILENAMES: '/nonexistent/icd.json' } })
    expect(probe).toEqual({ ok: false, reason: expect.stringMatching(/^no WebGPU adapter \(.*VK_ERROR_INCOMPATIBLE_DRIVER\)$/) })
  })

  it('a probe past its timeout is killed and says so', async () => {
    const probe = await probeWebGPU({ env: swiftShaderEnv(), timeoutMs: 1 })
    expect(probe).toEqual({ ok: false, reason: expect.stringContaining('no answer within') })
  })

  it('activation refuses a software adapter unless asked, then trains and reads only asynchronously', async () => {
    // Without the probe's adapter list the name comes from Dawn's identifiers.
    expect(await activateWebGPU(tf, { allowSoftware: false })).toEqual({
      ok: false,
      reason: 'only a software adapter (webgpu (SwiftShader Device Subzero, Vulkan, software))'
    })
    expect(tf.findBackendFactory('webgpu')).toBeNull()
    const active = await activateWebGPU(tf, { allowSoftware: true })
    expect(active).toMatchObject({ ok: true })
    expect(tf.getBackend()).toBe('webgpu')
    const product = tf.matMul(tf.ones([4, 4]), tf.ones([4, 4]))
    expect(Array.from(await product.data())).toEqual(new Array(16).fill(4))
    expect(() => tf.add(product, 1).dataSync()).toThrow('dataSync()/arraySync() cannot read GPU memory in Node: use await tensor.data()')
    await closeWebGPU(tf)
    expect(webgpuOpen()).toBe(false)
    expect(tf.getBackend()).toBe('cpu')
  })

  it('a planned webgpu run whose device cannot open trains on the fallback and says why in one line', async () => {
    const saved = process.env.VK_ICD_FILENAMES
    process.env.VK_ICD_FILENAMES = '/nonexistent/icd.json'
    try {
      const probe = await probeWebGPU({ env: swiftShaderEnv() })
      const planned = planBackend({ prefer: 'webgpu', gpu: probe })
      expect(planned.name).toBe('webgpu')
      const active = await activateBackend(tf, planned)
      expect(active.name).toBe('wasm')
      expect(active.reason).toMatch(
        /^webgpu failed \(no WebGPU adapter \(no Vulkan, D3D12 or Metal driver that Dawn accepts\)\); wasm \(XNNPACK, \d threads?\)$/
      )
      expect(tf.getBackend()).toBe('wasm')
    } finally {
      process.env.VK_ICD_FILENAMES = saved
    }
  })
})
