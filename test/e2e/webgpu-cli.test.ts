/**
 * The built `layerlab` command on webgpu, as a user runs it: `LAYERLAB_BACKEND=webgpu layerlab train --data
 * digits.csv --json` on SwiftShader trains to wasm's accuracy with the same seed and records the adapter; on a
 * machine without a Vulkan driver the same command trains on wasm and says why in one line.
 */
import { spawn } from 'node:child_process'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { DIGITS_CSV } from '../fixtures/digits'
import { removeHome, tempHome } from '../fixtures/home'
import { swiftShaderEnv, useSwiftShader } from '../fixtures/webgpu'

const missing = useSwiftShader()
const BIN = path.resolve(__dirname, '../../bin/layerlab.cjs')
const homes: string[] = []
afterAll(() => homes.forEach(removeHome))

interface Run {
  code: number | null
  stdout: string
  stderr: string
}

function layerlab(args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  const home = tempHome('layerlab-webgpu-cli-')
  homes.push(home)
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, '--home', home, ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    child.on('exit', (code) => resolve({ code, stdout, stderr }))
  })
}

/** stderr without tfjs's Node banner (it suggests tfjs-node, which no longer installs). */
const ownLines = (stderr: string) =>
  stderr.split('\n').filter((line) => line.trim() && !/^=+$|looks like you are running TensorFlow\.js in Node/.test(line))

const TRAIN = ['--json', 'train', '--data', DIGITS_CSV, '--epochs', '6', '--seed', '3']

describe.skipIf(missing)('layerlab train on webgpu', { timeout: 10 * 60_000 }, () => {
  it('LAYERLAB_BACKEND=webgpu trains there, reports the adapter, and matches wasm with the same seed', async () => {
    const env = swiftShaderEnv()
    const [gpu, wasm] = await Promise.all([
      layerlab(TRAIN, { ...env, LAYERLAB_BACKEND: 'webgpu' }),
      layerlab([...TRAIN, '--backend', 'wasm'], { ...env, LAYERLAB_BACKEND: 'webgpu' })
    ])
    expect(gpu.code, gpu.stderr).toBe(0)
    expect(wasm.code, wasm.stderr).toBe(0)
    const onGpu = JSON.parse(gpu.stdout) as { backend: string; status: string; metrics: { testAccuracy: number } }
    const onWasm = JSON.parse(wasm.stdout) as { backend: string; metrics: { testAccuracy: number } }
    expect(onGpu.status).toBe('completed')
    expect(onGpu.backend).toBe('webgpu (SwiftShader Device (Subzero), Vulkan, software)')
    expect(ownLines(gpu.stderr)).toEqual(['training on webgpu (SwiftShader Device (Subzero), Vulkan, software), asked for'])
    // A run's own --backend wins over LAYERLAB_BACKEND.
    expect(onWasm.backend).toBe('wasm')
    expect(onGpu.metrics.testAccuracy).toBeGreaterThan(0.9)
    expect(Math.abs(onGpu.metrics.testAccuracy - onWasm.metrics.testAccuracy) * 269).toBeLessThanOrEqual(2)
  })

  it('without a usable Vulkan driver it trains on wasm and says why in one line', async () => {
    const run = await layerlab([...TRAIN.slice(0, 4), '--epochs', '1'], {
      ...swiftShaderEnv(),
      VK_ICD_FILENAMES: '/nonexistent/vulkan_icd.json',
      LAYERLAB_BACKEND: 'webgpu'
    })
    expect(run.code, run.stderr).toBe(0)
    expect((JSON.parse(run.stdout) as { backend: string }).backend).toBe('wasm')
    const lines = ownLines(run.stderr)
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(
      /^training on wasm: webgpu unavailable \(no WebGPU adapter \(vkCreateInstance failed with VK_ERROR_INCOMPATIBLE_DRIVER\)\); wasm \(XNNPACK, \d threads?\)$/
    )
  })
})
