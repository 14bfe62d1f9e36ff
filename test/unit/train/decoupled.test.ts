/**
 * Decoupled training (DGL): on one thread, and as a pipeline with one worker thread per block and bounded links
 * between them. The pipeline must train the same model as the one thread, with more than one block's step in
 * flight at once, no more batches waiting in a link than its bound, and stop cleanly when cancelled.
 */
import { MessageChannel } from 'node:worker_threads'
import * as tf from '@tensorflow/tfjs'
import { beforeAll, describe, expect, it } from 'vitest'
import { trainConfig, type EpochRow, type ModelSpec, type Partition, type TrainConfig } from '../../../main/shared/contract'
import { activateBackend, planBackend } from '../../../main/core/backend'
import { defaultModel, partitionFromRanges } from '../../../main/model/presets'
import { train, type TrainOutcome } from '../../../main/train/engine'
import { LinkReceiver, LinkSender, type LinkMessage } from '../../../main/train/link'
import { loadDigits, makeStripeImages } from '../../fixtures/digits'
import { classified } from '../../fixtures/figures'

const digits = await loadDigits()
const images = makeStripeImages(160, 8, 9)

beforeAll(async () => {
  await activateBackend(tf, planBackend({}))
})

const weightsOf = (model: tf.LayersModel, start: number, end: number): number[] =>
  model.layers.slice(start, end).flatMap((layer) => layer.weights.flatMap((w) => Array.from(w.read().dataSync())))

const decoupledConfig = (overrides: Partial<TrainConfig> = {}): TrainConfig =>
  trainConfig.parse({ mode: 'decoupled', epochs: 2, batchSize: 16, patience: 0, ...overrides })

function cnn(): { spec: ModelSpec; partition: Partition } {
  const { spec, partition } = defaultModel({ inputShape: [8, 8, 1], classes: 2 }, { preset: 'small-cnn' })
  for (const block of partition.blocks) block.settings = { ...block.settings, learningRate: 0.003 }
  return { spec, partition }
}

describe('decoupled training on one thread', () => {
  it('updates every block on every batch against its own head and reports each head per epoch', async () => {
    const { spec, partition } = defaultModel({ inputShape: digits.inputShape, classes: 10 }, { hidden: [64, 64, 64] })
    expect(partition.blocks).toHaveLength(3)
    const rows: EpochRow[] = []
    const outcome = await train(
      { spec, partition, config: decoupledConfig({ epochs: 6, batchSize: 32 }), data: digits },
      { onEpoch: (r) => rows.push(r) }
    )
    expect(outcome.status).toBe('completed')
    expect(classified(outcome.metrics).testAccuracy).toBeGreaterThan(0.9)
    // One row per block per epoch, in block order.
    expect(rows.map((r) => [r.epoch, r.block])).toEqual([1, 2, 3, 4, 5, 6].flatMap((e) => [0, 1, 2].map((b) => [e, b])))
    expect(rows.every((r) => r.phase === 'block' && r.valAccuracy !== null)).toBe(true)
    // The last block's head is the model: its validation accuracy at the kept epoch is the model's.
    expect(outcome.blocks[2]!.headValAccuracy).toBeCloseTo(classified(outcome.metrics).valAccuracy, 10)
    expect(outcome.blocks.every((b) => b.epochs === 6 && b.headValAccuracy! > 0.8)).toBe(true)
    const { resources } = outcome
    expect(resources.stages.map((s) => [s.phase, s.block, s.examples])).toEqual([0, 1, 2].map((j) => ['decoupled', j, 6 * digits.train.n]))
    expect(resources.pipeline).toBeNull()
    outcome.model.dispose()
  })

  it('passes no gradient across a block boundary: block 1 trains the same whatever sits above it', async () => {
    const spec = (top: number): ModelSpec => ({
      version: 1,
      inputShape: digits.inputShape,
      layers: [
        { type: 'dense', units: 48, activation: 'relu' },
        { type: 'dense', units: top, activation: 'tanh' },
        { type: 'dense', units: 10, activation: 'softmax' }
      ]
    })
    const partition = partitionFromRanges([
      [0, 1],
      [1, 3]
    ])
    const blockOne = async (top: number) => {
      const outcome = await train({ spec: spec(top), partition, config: decoupledConfig({ epochs: 2, batchSize: 32 }), data: digits })
      const weights = weightsOf(outcome.model, 0, 1)
      const upper = weightsOf(outcome.model, 1, 3)
      outcome.model.dispose()
      return { weights, upper }
    }
    const narrow = await blockOne(16)
    const wide = await blockOne(80)
    expect(wide.weights).toEqual(narrow.weights)
    expect(wide.upper.length).not.toBe(narrow.upper.length)
  })

  it('freezes lower blocks first under FreezeOut: a frozen block still forwards, and stops counting examples', async () => {
    const { spec, partition } = cnn()
    const outcome = await train({
      spec,
      partition,
      config: decoupledConfig({ epochs: 4, freezeOut: { enabled: true, firstFreeze: 0.5 } }),
      data: images,
      cacheDir: null
    })
    expect(outcome.status).toBe('completed')
    // Blocks 1–3 train 2, 3 and 4 of the 4 epochs.
    expect(outcome.resources.stages.map((s) => s.examples)).toEqual([2, 3, 4].map((e) => e * images.train.n))
    expect(classified(outcome.metrics).testAccuracy).toBeGreaterThan(0.8)
    outcome.model.dispose()
  })
})

describe('bounded links', () => {
  it('hold a sender back once `capacity` batches wait, and let it go when the receiver takes one', async () => {
    const { port1, port2 } = new MessageChannel()
    const sender = new LinkSender(port1, 2)
    const receiver = new LinkReceiver(port2)
    const batch = (i: number): LinkMessage => ({ type: 'batch', x: new Float32Array([i]), y: new Int32Array([i]), shape: [1, 1], measure: false })
    const sent: number[] = []
    const sends = [0, 1, 2, 3].map((i) => sender.send(batch(i)).then(() => sent.push(i)))
    const settle = () => new Promise((resolve) => setTimeout(resolve, 50))
    await settle()
    expect(sent).toEqual([0, 1])
    expect(sender.inFlight).toBe(2)
    expect(receiver.queued).toBe(2)
    // Markers cost no credit: they pass a full link.
    await sender.send({ type: 'epoch-end', epoch: 0 })
    const first = await receiver.next()
    expect(first.type === 'batch' && first.x[0]).toBe(0)
    await settle()
    expect(sent).toEqual([0, 1, 2])
    const rest = [await receiver.next(), await receiver.next(), await receiver.next(), await receiver.next()]
    expect(rest.map((m) => (m.type === 'batch' ? m.x[0] : m.type))).toEqual([1, 'epoch-end', 2, 3])
    await Promise.all(sends)
    expect(receiver.maxQueued).toBe(2)
    sender.close()
    receiver.close()
  })

  it('release a send waiting for a credit when closed (a stopping pipeline never hangs on a full link)', async () => {
    const { port1, port2 } = new MessageChannel()
    const sender = new LinkSender(port1, 1)
    const receiver = new LinkReceiver(port2)
    await sender.send({ type: 'batch', x: new Float32Array(1), y: new Int32Array(1), shape: [1, 1], measure: false })
    let released = false
    const waiting = sender
      .send({ type: 'batch', x: new Float32Array(1), y: new Int32Array(1), shape: [1, 1], measure: false })
      .then(() => (released = true))
    await new Promise((resolve) => setTimeout(resolve, 30))
    expect(released).toBe(false)
    sender.close()
    await waiting
    expect(released).toBe(true)
    receiver.close()
  })
})

describe('decoupled pipeline (one worker thread per block)', () => {
  let oneThread: TrainOutcome
  let pipelined: TrainOutcome

  it('trains the same model as the one-thread schedule, with more than one block’s step in flight at once', async () => {
    const { spec, partition } = cnn()
    const run = (pipeline: boolean) =>
      train({ spec, partition, config: decoupledConfig({ epochs: 3, decoupled: { pipeline, queue: 2 } }), data: images, cacheDir: null })
    oneThread = await run(false)
    pipelined = await run(true)
    expect(pipelined.status).toBe('completed')
    expect(pipelined.metrics).toEqual(oneThread.metrics)
    expect(pipelined.blocks.map((b) => b.headValAccuracy)).toEqual(oneThread.blocks.map((b) => b.headValAccuracy))
    const [a, b] = [weightsOf(oneThread.model, 0, 7), weightsOf(pipelined.model, 0, 7)]
    expect(Math.max(...a.map((v, i) => Math.abs(v - b[i]!)))).toBeLessThan(1e-5)
    const pipeline = pipelined.resources.pipeline!
    console.log(
      `decoupled CNN: one thread ${classified(oneThread.metrics).testAccuracy} in ${oneThread.timing.totalMs.toFixed(0)} ms, pipeline ${classified(pipelined.metrics).testAccuracy} in ${pipelined.timing.totalMs.toFixed(0)} ms; ` +
        `weights max |diff| ${Math.max(...a.map((v, i) => Math.abs(v - b[i]!)))}, steps in flight ≤ ${pipeline.maxStepsInFlight}, queued ≤ ${pipeline.maxQueued}`
    )
    expect(pipeline.workers).toBe(3)
    expect(pipeline.maxStepsInFlight).toBeGreaterThanOrEqual(2)
    // The links' bound held: never more batches waiting in one than its queue.
    expect(pipeline.maxQueued).toBeGreaterThanOrEqual(1)
    expect(pipeline.maxQueued).toBeLessThanOrEqual(2)
    // Each worker measured its own steps; the blocks train at once, so their peaks add up for the run.
    const peaks = pipelined.resources.stages.map((s) => s.stepPeakBytes)
    expect(peaks.every((p) => p > 0)).toBe(true)
    expect(pipelined.resources.stepPeakBytes).toBe(peaks.reduce((x, y) => x + y, 0))
    expect(pipelined.resources.examples).toBe(oneThread.resources.examples)
    oneThread.model.dispose()
    pipelined.model.dispose()
  })

  it('stops between batches when cancelled mid-run, ending every worker', async () => {
    const { spec, partition } = cnn()
    let batches = 0
    const rows: EpochRow[] = []
    const epochsScored = () => new Set(rows.map((row) => row.epoch)).size
    // Cancel once the first epoch is scored, and remember how many were scored when the flag was first seen: the
    // trigger is the run's own progress, not a count of progress messages, which arrive late on a loaded machine.
    let scoredAtCancel: number | null = null
    const outcome = await train(
      { spec, partition, config: decoupledConfig({ epochs: 50, decoupled: { pipeline: true, queue: 2 } }), data: images, cacheDir: null },
      {
        onProgress: () => batches++,
        onEpoch: (r) => rows.push(r),
        shouldStop: () => {
          if (scoredAtCancel === null && rows.length > 0) scoredAtCancel = epochsScored()
          return scoredAtCancel !== null
        }
      }
    )
    expect(outcome.status).toBe('cancelled')
    expect(outcome.metrics).toBeNull()
    expect(batches).toBeGreaterThan(0)
    expect(scoredAtCancel).not.toBeNull()
    // After the cancel is seen no epoch starts scoring; only one already being scored may still finish.
    expect(epochsScored()).toBeLessThanOrEqual(scoredAtCancel! + 1)
    expect(outcome.epochsRun).toBeLessThanOrEqual(scoredAtCancel! + 1)
    expect(outcome.epochsRun).toBeLessThan(50)
    outcome.model.dispose()
  })
})
