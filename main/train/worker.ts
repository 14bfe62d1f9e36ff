/**
 * The training worker (worker_threads). The build emits it as out/main/trainWorker.js; from source it runs
 * through tsx. It activates the backend, trains, saves the weights, and reports over parentPort.
 */
import fs from 'node:fs'
import path from 'node:path'
import { parentPort, workerData } from 'node:worker_threads'
import * as tf from '@tensorflow/tfjs'
import { activateBackend, planBackend } from '../core/backend'
import { saveWeights } from '../model/io'
import { train } from './engine'
import { hasStridedConv } from '../model/spec'
import type { WorkerJob, WorkerMessage } from './protocol'
import { errorText } from '../shared/format'

/** At most ~5 progress messages a second: the UI cannot show more and each one crosses a thread. */
const PROGRESS_INTERVAL_MS = 200

const post = (message: WorkerMessage) => parentPort!.postMessage(message)

async function run(job: WorkerJob): Promise<void> {
  const cancel = new Int32Array(job.cancelFlag)
  // Stride-1 convs train with their own gradients (fast/conv.ts): only strided convs need the kernel wasm lacks.
  const backend = await activateBackend(tf, planBackend({ prefer: job.backend, stridedConv: hasStridedConv(job.spec) }))
  post({ type: 'backend', name: backend.name, reason: backend.reason })
  let lastProgress = 0
  // Layer-wise caches of prefix outputs go next to the run's weights (deleted when the run ends; a killed run's
  // leftovers go with the run folder).
  const cacheDir = path.join(path.dirname(job.weightsPath), 'feature-cache')
  const outcome = await train(
    { ...job, cacheDir },
    {
      onProgress: (progress) => {
        const now = performance.now()
        if (now - lastProgress < PROGRESS_INTERVAL_MS) return
        lastProgress = now
        post({ type: 'progress', progress })
      },
      onEpoch: (row) => post({ type: 'epoch', row }),
      shouldStop: () => Atomics.load(cancel, 0) === 1
    }
  )
  // The run's figures were taken as it trained (train/meter.ts); saving the weights adds nothing to them.
  const peakRss = Math.max(outcome.resources.peakRssBytes, process.memoryUsage.rss())
  fs.rmSync(cacheDir, { recursive: true, force: true })
  const weightsBytes = await saveWeights(outcome.model, job.weightsPath)
  post({
    type: 'finished',
    status: outcome.status,
    metrics: outcome.metrics,
    evaluation: outcome.evaluation,
    blocks: outcome.blocks,
    timing: outcome.timing,
    peakRssBytes: peakRss,
    resources: { ...outcome.resources, peakRssBytes: peakRss },
    weightsBytes,
    prefixForwards: outcome.prefixForwards,
    backend: backend.name
  })
}

if (parentPort) {
  run(workerData as WorkerJob).catch((error: unknown) => {
    post({ type: 'failed', error: errorText(error) })
  })
}
