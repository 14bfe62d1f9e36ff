/**
 * The training worker (worker_threads). The build emits it as out/main/trainWorker.js; from source it runs
 * through tsx. It activates the planned backend, trains, saves the weights, and reports over parentPort.
 *
 * On webgpu the worker holds a Dawn device, and terminating a thread while it is inside Dawn (a shader compile,
 * a pending buffer read) aborts the whole process. So the device is closed before the last message (finished or
 * failed), and the host terminates the thread only after that message; cancel is cooperative (the shared flag,
 * read between batches), and app quit goes through cancel (TrainingService.shutdown).
 */
import fs from 'node:fs'
import path from 'node:path'
import { parentPort } from 'node:worker_threads'
import * as tf from '@tensorflow/tfjs'
import { activateBackend, backendLabel, closeBackend } from '../core/backend'
import { webgpuTrouble } from '../core/webgpu'
import { saveWeights } from '../model/io'
import { train } from './engine'
import type { ToTrainWorker, WorkerJob, WorkerMessage } from './protocol'
import { errorText } from '../shared/format'

/** At most ~5 progress messages a second: the UI cannot show more and each one crosses a thread. */
const PROGRESS_INTERVAL_MS = 200

const post = (message: WorkerMessage) => parentPort!.postMessage(message)

async function run(job: WorkerJob): Promise<WorkerMessage> {
  const cancel = new Int32Array(job.cancelFlag)
  const backend = await activateBackend(tf, job.backend)
  const label = backendLabel(backend)
  post({ type: 'backend', name: backend.name, label, reason: backend.reason, adapter: backend.adapter ?? null })
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
  // A GPU validation error leaves garbage in the tensors it touched without throwing: such a run is not a result.
  const trouble = webgpuTrouble()
  if (trouble) throw new Error(`${label}: ${trouble}`)
  outcome.model.dispose()
  tf.disposeVariables()
  return {
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
    backend: label,
    // The next run starts from a clean engine: the same backend, nothing of this run's left.
    reusable: backend.name !== 'webgpu' && tf.memory().numTensors === 0
  }
}

// One run at a time: the host sends the next only after this one's last message (TrainingService keeps the worker).
parentPort?.on('message', (message: ToTrainWorker) => {
  if (message.type !== 'job') return
  void run(message.job)
    .catch((error: unknown): WorkerMessage => ({ type: 'failed', error: errorText(error) }))
    .then(async (last) => {
      if (last.type !== 'finished' || !last.reusable) await closeBackend(tf).catch(() => undefined)
      post(last)
    })
})
