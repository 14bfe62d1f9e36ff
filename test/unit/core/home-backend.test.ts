import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { defaultHome, resolveHome } from '../../../main/core/home'
import { planBackend } from '../../../main/core/backend'

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
  it('falls back from the missing tfjs-node to wasm for dense models and to cpu for conv models', () => {
    delete process.env.LAYERLAB_BACKEND
    // tfjs-node cannot install here (libtensorflow download); where it is installed it wins.
    const mlp = planBackend()
    const cnn = planBackend({ stridedConv: true })
    expect(['tensorflow', 'wasm']).toContain(mlp.name)
    if (mlp.name === 'wasm') {
      expect(mlp.reason).toContain('tfjs-node not installed')
      // XNNPACK's planned threads: every core, up to the 8 tfjs's build allows.
      const cores = Math.min(8, os.cpus().length)
      expect(mlp.reason).toContain(`wasm (XNNPACK, ${cores} thread${cores === 1 ? '' : 's'})`)
      expect(cnn.name).toBe('cpu')
    }
  })
  it('honours LAYERLAB_BACKEND and says why when the asked one is missing', () => {
    expect(planBackend({ prefer: 'cpu' })).toEqual({ name: 'cpu', reason: 'asked for' })
    const gpu = planBackend({ prefer: 'gpu' })
    if (gpu.name !== 'tensorflow-gpu') expect(gpu.reason).toContain('tfjs-node-gpu not installed')
    expect(planBackend({ prefer: 'quantum' }).reason).toContain('unknown backend "quantum"')
  })
})
