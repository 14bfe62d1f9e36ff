/**
 * XNNPACK on several threads (main/core/wasmSetup.ts): a fresh process per thread count, because the count is
 * fixed when the wasm backend starts. Both counts must train to the same numbers: each output of a threaded
 * kernel is still computed by one thread in the same order, so threads change the speed and nothing else.
 */
import { spawn } from 'node:child_process'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'

const ROOT = path.resolve(__dirname, '../../..')
const CHILD = path.join(__dirname, 'wasm-threads-child.ts')

interface ChildReport {
  backend: { name: string; reason: string }
  threads: number
  /** Pool workers that started a real thread. */
  started: number
  mlp: { testAccuracy: number; testLoss: number }
  cnn: { testAccuracy: number; testLoss: number }
  weights: number[][]
}

function runChild(threads: number): Promise<ChildReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD], {
      cwd: ROOT,
      env: { ...process.env, LAYERLAB_WASM_THREADS: String(threads) },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()))
    // The child must end by itself (no exit call): a hang here fails the test by timeout.
    child.on('exit', (code) => {
      const line = out.trim().split('\n').pop() ?? ''
      if (code !== 0 || !line.startsWith('{')) reject(new Error(`child exited ${code}: ${err.slice(-800)}`))
      else resolve(JSON.parse(line) as ChildReport)
    })
  })
}

describe('wasm backend on several threads', () => {
  it('reports its thread count and trains to exactly the single-thread numbers', async () => {
    const single = await runChild(1)
    const threaded = await runChild(2)
    expect(single.backend).toEqual({ name: 'wasm', reason: 'child, 1 thread' })
    expect(single.threads).toBe(1)
    expect(threaded.backend).toEqual({ name: 'wasm', reason: 'child, 2 threads' })
    expect(threaded.threads).toBe(2)
    // XNNPACK's pool of 2 is the calling thread and one worker: of Emscripten's 8 pool workers one starts.
    expect(single.started).toBe(0)
    expect(threaded.started).toBe(1)
    expect(threaded.mlp).toEqual(single.mlp)
    expect(threaded.cnn).toEqual(single.cnn)
    expect(threaded.weights).toEqual(single.weights)
    // Sanity: the runs learned something (digits above 90 % after 3 epochs; stripes above chance).
    expect(single.mlp.testAccuracy).toBeGreaterThan(0.9)
    expect(single.cnn.testAccuracy).toBeGreaterThan(0.6)
  }, 180_000)

  it('uses every core by default', async () => {
    const report = await runChild(0)
    expect(report.threads).toBe(Math.min(8, os.cpus().length))
  }, 120_000)
})
