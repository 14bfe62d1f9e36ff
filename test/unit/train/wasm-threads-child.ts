/**
 * Trains the digits MLP and a small CNN on the wasm backend in a fresh process (the thread count is fixed when the
 * backend starts) and prints one JSON line: the backend's reason, the threads XNNPACK got, and the metrics.
 * `LAYERLAB_WASM_THREADS=n node --import tsx wasm-threads-child.ts`. It must exit by itself: idle pool threads may
 * not keep a finished process alive.
 */
import * as tf from '@tensorflow/tfjs'
import { trainConfig } from '../../../main/shared/contract'
import { activateBackend } from '../../../main/core/backend'
import { wasmThreadCount, wasmThreadsStarted } from '../../../main/core/wasmSetup'
import { defaultModel } from '../../../main/model/presets'
import { train } from '../../../main/train/engine'
import { loadDigits, makeStripeImages } from '../../fixtures/digits'

async function main(): Promise<void> {
  const backend = await activateBackend(tf, { name: 'wasm', reason: 'child' })
  const digits = await loadDigits()
  const mlp = defaultModel({ inputShape: digits.inputShape, classes: 10 })
  const config = trainConfig.parse({ mode: 'end-to-end', epochs: 3, batchSize: 32, patience: 0, seed: 7 })
  const mlpRun = await train({ spec: mlp.spec, partition: mlp.partition, config, data: digits })
  const images = makeStripeImages(240, 16, 5)
  const cnn = defaultModel({ inputShape: [16, 16, 1], classes: 2 }, { preset: 'small-cnn' })
  const cnnRun = await train({ spec: cnn.spec, partition: cnn.partition, config: trainConfig.parse({ ...config, epochs: 2 }), data: images })
  const weights = cnnRun.model.getWeights().map((w) => Array.from(w.dataSync().slice(0, 4)))
  console.log(
    JSON.stringify({ backend, threads: wasmThreadCount(), started: wasmThreadsStarted(), mlp: mlpRun.metrics, cnn: cnnRun.metrics, weights })
  )
}

void main()
