/**
 * One block of the decoupled pipeline (pipeline.ts), in its own worker thread with its own tfjs backend: takes
 * batches from the link above, trains the block against its head on each (BlockLearner, as the one-thread
 * schedule does), hands the block's output down the next link, and at each epoch's end posts its weights and
 * figures to the run's thread. The build emits it as out/main/blockWorker.js.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads'
import * as tf from '@tensorflow/tfjs'
import { activateBackend, planBackend } from '../core/backend'
import { buildModel } from '../model/build'
import { hasStridedConv } from '../model/spec'
import { errorText } from '../shared/format'
import { BlockLearner, blockOptimizer, blockPart, dropoutSeeds, emptyTally, targetTensor, type BlockStep } from './decoupled'
import { LinkReceiver, LinkSender, type LinkMessage } from './link'
import { backendHeapBytes, profiledStep } from './meter'
import type { BlockWorkerData, BlockWorkerMessage } from './pipeline'

const post = (message: BlockWorkerMessage, transfer: ArrayBuffer[] = []) => parentPort!.postMessage(message, transfer)

/** Counts this worker's step as in flight (slot 0) and keeps the most ever in flight at once (slot 1). */
function enter(counters: Int32Array): void {
  const now = Atomics.add(counters, 0, 1) + 1
  let seen = Atomics.load(counters, 1)
  while (now > seen) {
    const before = Atomics.compareExchange(counters, 1, seen, now)
    if (before === seen) break
    seen = before
  }
}

async function run(data: BlockWorkerData & { up: MessagePort; down: MessagePort | null }): Promise<void> {
  // Each worker's XNNPACK gets its share of the cores (read when the backend starts).
  process.env.LAYERLAB_WASM_THREADS = String(data.threads)
  await activateBackend(tf, planBackend({ prefer: data.backend, stridedConv: hasStridedConv(data.spec) }))
  const { spec, partition, config, block: j } = data
  // The same seeded build as every other thread's: this block and its head start from the same weights.
  const model = buildModel(spec, { seed: config.seed })
  const part = blockPart(model, spec, partition, j, data.objective, config.seed)
  const learner = new BlockLearner(part, blockOptimizer(config, partition, j), data.objective, data.fastPath, dropoutSeeds(config.seed, j))
  const up = new LinkReceiver(data.up)
  const down = data.down ? new LinkSender(data.down, data.queue) : null
  const stop = new Int32Array(data.stop)
  const counters = new Int32Array(data.counters)
  const layers = [...part.own.layers, ...(part.head?.layers ?? [])]
  let epoch = 0
  let tally = emptyTally()
  let busyMs = 0
  let stepPeakBytes = 0
  let examples = 0
  const finish = () => {
    up.close()
    down?.close()
  }
  while (Atomics.load(stop, 0) === 0) {
    const message: LinkMessage = await up.next()
    if (Atomics.load(stop, 0) === 1) break
    if (message.type === 'epoch') {
      epoch = message.epoch
      learner.optimizer.setEpoch(epoch, data.trainEpochs)
      await down?.send(message)
    } else if (message.type === 'batch') {
      const started = performance.now()
      const count = message.shape[0]!
      const update = epoch < data.trainEpochs
      const x = tf.tensor(message.x, message.shape)
      const labels = targetTensor(message.y)
      const step = (): BlockStep => learner.step(x, labels, update, down !== null)
      enter(counters)
      let result: BlockStep
      try {
        if (message.measure) {
          const measured = await profiledStep(step)
          stepPeakBytes = Math.max(stepPeakBytes, measured.peakBytes)
          result = measured.value
        } else result = step()
      } finally {
        Atomics.sub(counters, 0, 1)
      }
      x.dispose()
      labels.dispose()
      tally.lossSum += result.loss * count
      tally.tally += result.tally
      tally.seen += count
      if (update) examples += count
      if (down && result.out) {
        // A copy the thread owns, whatever the backend keeps its values in: it moves to the next block.
        const out = (result.out.dataSync() as Float32Array).slice()
        const shape = result.out.shape
        result.out.dispose()
        busyMs += performance.now() - started
        // Waits here while the next block's queue is full (backpressure).
        await down.send({ type: 'batch', x: out, y: message.y, shape, measure: message.measure }, [out.buffer, message.y.buffer as ArrayBuffer])
      } else {
        busyMs += performance.now() - started
        post({ type: 'batch', epoch, loss: result.loss, tally: result.tally, count })
      }
    } else if (message.type === 'epoch-end') {
      const weights = layers.flatMap((layer) => layer.weights.map((w) => (w.read().dataSync() as Float32Array).slice()))
      post(
        {
          type: 'epoch',
          epoch: message.epoch,
          weights,
          tally,
          learningRate: learner.optimizer.learningRate,
          busyMs,
          stepPeakBytes,
          examples,
          heapBytes: backendHeapBytes(),
          maxQueued: up.maxQueued
        },
        weights.map((w) => w.buffer as ArrayBuffer)
      )
      tally = emptyTally()
      examples = 0
      await down?.send(message)
    } else {
      await down?.send(message)
      post({ type: 'done' })
      finish()
      return
    }
  }
  finish()
}

if (parentPort) {
  run(workerData as BlockWorkerData & { up: MessagePort; down: MessagePort | null }).catch((error: unknown) => {
    post({ type: 'failed', error: errorText(error) })
  })
}
