/**
 * Inference throughput: onnxruntime-node on the exported file vs tfjs (cpu and wasm backends) on the same
 * model, for the digits MLP (64-100-100-10) and a small CNN on the 8×8 digit images, at batch 1 and 256.
 * Real inputs (digits rows, tiled up to the batch); random weights (speed does not depend on training).
 *
 * Run alone: npx tsx bench/inference.ts
 */
import fs from 'node:fs'
import path from 'node:path'
import * as tf from '@tensorflow/tfjs'
import * as ort from 'onnxruntime-node'
import { activateBackend } from '../main/core/backend'
import { exportToOnnx } from '../main/export/onnx'
import { DIGITS_CSV } from '../test/fixtures/digits'

export interface InferenceBenchRow {
  model: 'mlp-64-100-100-10' | 'small-cnn'
  engine: 'onnxruntime-node' | 'tfjs-cpu' | 'tfjs-wasm'
  batch: number
  samplesPerSec: number
  msPerBatch: number
  iterations: number
  /** samples/s relative to tfjs-cpu on the same model and batch, measured in the same run (null if cpu is missing). */
  vsTfjsCpu: number | null
}

const BATCHES = [1, 256]
/** Each measurement runs at least this long (after warm-up), so batch-1 figures are not a handful of calls. */
const MIN_MS = 1500
const WARMUP_MS = 500

type ModelName = InferenceBenchRow['model']

function buildModel(name: ModelName): tf.Sequential {
  const model =
    name === 'mlp-64-100-100-10'
      ? tf.sequential({
          layers: [
            tf.layers.dense({ inputShape: [64], units: 100, activation: 'relu' }),
            tf.layers.dense({ units: 100, activation: 'relu' }),
            tf.layers.dense({ units: 10, activation: 'softmax' })
          ]
        })
      : tf.sequential({
          layers: [
            tf.layers.conv2d({ inputShape: [8, 8, 1], filters: 16, kernelSize: 3, padding: 'same', activation: 'relu' }),
            tf.layers.maxPooling2d({ poolSize: 2 }),
            tf.layers.conv2d({ filters: 32, kernelSize: 3, padding: 'same', activation: 'relu' }),
            tf.layers.flatten(),
            tf.layers.dense({ units: 10, activation: 'softmax' })
          ]
        })
  // Fixed pseudo-random weights, so every engine and every run computes the same function.
  let state = 12345
  const next = (): number => ((state = (state * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff - 0.5) * 0.4
  model.setWeights(model.getWeights().map((w) => tf.tensor(Float32Array.from({ length: w.size }, next), w.shape)))
  return model
}

const inputShape = (name: ModelName): number[] => (name === 'small-cnn' ? [8, 8, 1] : [64])

function digitsInput(batch: number): Float32Array {
  const csv = DIGITS_CSV
  const rows = fs
    .readFileSync(csv, 'utf8')
    .trim()
    .split(/\r?\n/)
    .slice(1, 1 + Math.min(batch, 512))
    .map((line) =>
      line
        .split(',')
        .slice(0, 64)
        .map((v) => Number(v) / 16)
    )
  const out = new Float32Array(batch * 64)
  for (let i = 0; i < batch; i++) out.set(rows[i % rows.length]!, i * 64)
  return out
}

async function timeIt(
  run: () => Promise<void> | void,
  batch: number
): Promise<Pick<InferenceBenchRow, 'samplesPerSec' | 'msPerBatch' | 'iterations' | 'vsTfjsCpu'>> {
  // Warm up by time, not count: a fresh wasm module is still being tiered up by V8 after a few calls.
  const warm = performance.now()
  while (performance.now() - warm < WARMUP_MS) await run()
  let iterations = 0
  const start = performance.now()
  while (performance.now() - start < MIN_MS) {
    await run()
    iterations++
  }
  const ms = performance.now() - start
  return { samplesPerSec: (iterations * batch * 1000) / ms, msPerBatch: ms / iterations, iterations, vsTfjsCpu: null }
}

async function benchTfjs(name: ModelName, backend: 'cpu' | 'wasm'): Promise<InferenceBenchRow[] | null> {
  const active = await activateBackend(tf, { name: backend, reason: 'bench' })
  if (active.name !== backend) {
    console.warn(`tfjs ${backend}: not available (${active.reason}); skipped`)
    return null
  }
  const model = buildModel(name)
  const rows: InferenceBenchRow[] = []
  for (const batch of BATCHES) {
    const x = tf.tensor(digitsInput(batch), [batch, ...inputShape(name)])
    const timing = await timeIt(() => {
      const y = model.predict(x) as tf.Tensor
      y.dataSync()
      y.dispose()
    }, batch)
    x.dispose()
    rows.push({ model: name, engine: `tfjs-${backend}`, batch, ...timing })
  }
  model.dispose()
  return rows
}

async function benchOrt(name: ModelName): Promise<InferenceBenchRow[]> {
  await activateBackend(tf, { name: 'cpu', reason: 'bench' })
  const model = buildModel(name)
  const session = await ort.InferenceSession.create(exportToOnnx(model, { graphName: name }))
  model.dispose()
  const rows: InferenceBenchRow[] = []
  for (const batch of BATCHES) {
    const x = new ort.Tensor('float32', digitsInput(batch), [batch, ...inputShape(name)])
    const timing = await timeIt(async () => {
      await session.run({ input: x })
    }, batch)
    rows.push({ model: name, engine: 'onnxruntime-node', batch, ...timing })
  }
  await session.release()
  return rows
}

/** Measures every model × engine × batch once; engines that cannot start are skipped with a warning. */
export async function benchInference(): Promise<InferenceBenchRow[]> {
  const rows: InferenceBenchRow[] = []
  for (const name of ['mlp-64-100-100-10', 'small-cnn'] as const) {
    rows.push(...(await benchOrt(name)))
    rows.push(...((await benchTfjs(name, 'cpu')) ?? []))
    rows.push(...((await benchTfjs(name, 'wasm')) ?? []))
  }
  for (const row of rows) {
    const cpu = rows.find((r) => r.model === row.model && r.batch === row.batch && r.engine === 'tfjs-cpu')
    row.vsTfjsCpu = cpu ? row.samplesPerSec / cpu.samplesPerSec : null
  }
  return rows
}

export function formatInferenceBench(rows: InferenceBenchRow[]): string {
  const lines = ['model              engine            batch   samples/s   ms/batch  vs tfjs-cpu']
  for (const r of rows) {
    lines.push(
      `${r.model.padEnd(19)}${r.engine.padEnd(18)}${String(r.batch).padStart(5)}${r.samplesPerSec.toFixed(0).padStart(12)}${r.msPerBatch.toFixed(3).padStart(11)}${(r.vsTfjsCpu == null ? '-' : `${r.vsTfjsCpu.toFixed(1)}x`).padStart(13)}`
    )
  }
  return lines.join('\n')
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(__filename)) {
  benchInference().then(
    (rows) => console.log(formatInferenceBench(rows)),
    (error) => {
      console.error(error)
      process.exitCode = 1
    }
  )
}
