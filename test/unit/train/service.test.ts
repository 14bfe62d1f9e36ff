/**
 * TrainingService end to end: a real worker thread (main/train/worker.ts through tsx), the real SQLite store,
 * the digits data. The data side is stood in for by a loader of the digits CSV (tests/unit/train/digits.ts).
 */
import fs from 'node:fs'
import path from 'node:path'
import * as tf from '@tensorflow/tfjs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { trainConfig, type EventName, type EventPayload } from '../../../main/shared/contract'
import { LabError } from '../../../main/shared/errors'
import type { Emit } from '../../../main/core/events'
import type { PreparedData } from '../../../main/data/types'
import { defaultModel } from '../../../main/model/presets'
import { SqliteDb } from '../../../main/store/db'
import { RunStore } from '../../../main/store/runs'
import { TrainingService, type TrainingData } from '../../../main/train/service'
import { loadRunModel } from '../../../main/export/runModel'
import { insertDataset } from '../store/helpers'
import { tempHome } from '../../fixtures/home'
import { digitsSummary, loadDigits } from '../../fixtures/digits'
import { classified, confusionOf } from '../../fixtures/figures'

const summary = digitsSummary

/** A stand-in for DatasetService: `prepare` may alter the data to provoke failures. */
function digitsSource(prepare: (data: PreparedData) => PreparedData = (d) => d): TrainingData {
  return {
    get: async (datasetId) => {
      if (datasetId !== summary.datasetId) throw new LabError(`dataset ${datasetId} not found`, 'not_found')
      return summary
    },
    // A fresh copy each time: its buffers move to the worker.
    loadPrepared: async () => prepare(await loadDigits())
  }
}

type Recorded = { event: EventName; payload: unknown; at: number }
let home: string
let db: SqliteDb
let runs: RunStore
const events: Recorded[] = []
const emit: Emit = (event, payload) => events.push({ event, payload, at: performance.now() })
const eventsOf = <E extends EventName>(event: E, runId: string) =>
  events.filter((e) => e.event === event && (e.payload as { runId: string }).runId === runId) as Array<Recorded & { payload: EventPayload<E> }>

beforeAll(async () => {
  home = tempHome('layerlab-train-')
  db = await SqliteDb.open(path.join(home, 'layerlab.sqlite'))
  await insertDataset(db, 'ds-digits', 'digits')
  runs = new RunStore(db, home)
})
afterAll(async () => {
  await db.close()
})

describe('TrainingService', () => {
  it('keeps a finished worker for the next run, where a seed trains to the same weights as in a new worker', async () => {
    const reused = new TrainingService(digitsSource(), runs, home, emit)
    const { spec, partition } = await reused.defaultModel({ datasetId: 'ds-digits' })
    const once = async (service: TrainingService, mode: 'end-to-end' | 'layer-wise') => {
      const config = trainConfig.parse({ epochs: 3, seed: 7, mode })
      const { runId } = await service.start({ datasetId: 'ds-digits', spec, partition, config })
      const done = await service.waitFor(runId)
      expect(done.status).toBe('completed')
      return { metrics: done.metrics, weights: fs.readFileSync(path.join(runs.runDir(runId), 'weights.bin')) }
    }
    const first = await once(reused, 'end-to-end')
    // A layer-wise run between them in the same worker: nothing of it may reach the next run.
    await once(reused, 'layer-wise')
    const again = await once(reused, 'end-to-end')
    expect(reused.workersStarted).toBe(1)
    const fresh = new TrainingService(digitsSource(), runs, home, emit)
    const alone = await once(fresh, 'end-to-end')
    expect(fresh.workersStarted).toBe(1)
    expect(again.weights.equals(first.weights)).toBe(true)
    expect(alone.weights.equals(first.weights)).toBe(true)
    expect(again.metrics).toEqual(first.metrics)
    await Promise.all([reused.shutdown(), fresh.shutdown()])
  })

  it('ends a parked worker that no run took within its idle time; the next run starts a new one', async () => {
    const training = new TrainingService(digitsSource(), runs, home, emit, { idleWorkerMs: 300 })
    const { spec, partition } = await training.defaultModel({ datasetId: 'ds-digits' })
    const once = async () => {
      const { runId } = await training.start({ datasetId: 'ds-digits', spec, partition, config: trainConfig.parse({ epochs: 1, seed: 3 }) })
      expect((await training.waitFor(runId)).status).toBe('completed')
    }
    await once()
    await expect.poll(() => training.workersParked).toBe(1)
    await expect.poll(() => training.workersParked, { timeout: 5_000 }).toBe(0)
    await once()
    expect(training.workersStarted).toBe(2)
    await training.shutdown()
    expect(training.workersParked).toBe(0)
  })

  it('trains in a worker, records every epoch, saves the weights and reloads them with the same accuracy', async () => {
    const training = new TrainingService(digitsSource(), runs, home, emit)
    const { spec, partition } = await training.defaultModel({ datasetId: 'ds-digits' })
    const started = performance.now()
    const { runId } = await training.start({ datasetId: 'ds-digits', spec, partition, config: trainConfig.parse({}), name: 'service e2e' })
    expect(['queued', 'running']).toContain((await runs.summary(runId)).status)
    const done = await training.waitFor(runId)
    const elapsed = performance.now() - started
    expect(done.status).toBe('completed')
    expect(done.error).toBeNull()
    expect(classified(done.metrics).testAccuracy).toBeGreaterThanOrEqual(0.97)

    const detail = await runs.get(runId)
    expect(detail.backend).toBe('wasm')
    expect(detail.name).toBe('service e2e')
    expect(detail.epochs.length).toBeGreaterThan(5)
    expect(detail.epochs.map((e) => e.epoch)).toEqual(detail.epochs.map((_, i) => i + 1))
    expect(confusionOf(detail.evaluation).confusion).toHaveLength(10)
    expect(detail.timing!.msPerEpoch).toBeGreaterThan(0)
    expect(detail.peakRssBytes).toBeGreaterThan(10 * 2 ** 20)
    // What the run cost, stored with it: one end-to-end stage, every epoch's rows, its step peak.
    const resources = detail.resources!
    expect(resources.peakRssBytes).toBe(detail.peakRssBytes)
    expect(resources.stages.map((s) => s.phase)).toEqual(['end-to-end'])
    expect(resources.examples).toBe(detail.epochs.length * (await loadDigits()).train.n)
    expect(resources.stepPeakBytes).toBeGreaterThan(0)
    expect(resources.wallMs).toBeGreaterThan(0)
    expect(detail.startedAt).not.toBeNull()
    const weights = detail.artifacts.find((a) => a.kind === 'weights')!
    expect(weights.path).toBe(path.join(home, 'runs', runId, 'weights.bin'))
    expect(fs.statSync(weights.path).size).toBe(weights.bytes)

    expect(eventsOf('train.epoch', runId)).toHaveLength(detail.epochs.length)
    expect(eventsOf('train.finished', runId).map((e) => e.payload.status)).toEqual(['completed'])
    const progress = eventsOf('train.progress', runId)
    // The first batch always reports; after it, at most ~5 a second (throttled in the worker; a little slack for
    // delivery in bursts). How many come depends on how fast the run is (the fused kernel trains digits in under a
    // second), so the test bounds the count by the run's own time instead of expecting a number.
    expect(progress.length).toBeGreaterThanOrEqual(1)
    expect(progress.length).toBeLessThanOrEqual(elapsed / 200 + 3)
    expect(progress[0]!.payload).toMatchObject({ phase: 'end-to-end', blockCount: 2, batches: Math.ceil(1258 / 32) })

    const { model } = await loadRunModel(runs, runId)
    const test = (await loadDigits()).test
    const predicted = Array.from(
      tf.tidy(() => tf.argMax(model.predict(tf.tensor2d(test.x, [test.n, summary.featureCount])) as tf.Tensor, 1).dataSync())
    )
    const correct = predicted.filter((p, i) => p === test.y[i]).length
    expect(correct / test.n).toBeCloseTo(classified(done.metrics).testAccuracy, 10)
    model.dispose()
  })

  it('trains layer-wise in a worker with its prefix cache in the run folder, and leaves only the weights there', async () => {
    const training = new TrainingService(digitsSource(), runs, home, emit)
    const { spec, partition } = await training.defaultModel({ datasetId: 'ds-digits' })
    const { runId } = await training.start({
      datasetId: 'ds-digits',
      spec,
      partition,
      config: trainConfig.parse({ mode: 'layer-wise', epochs: 3 }),
      name: 'layer-wise'
    })
    const done = await training.waitFor(runId)
    expect(done.status).toBe('completed')
    expect(classified(done.metrics).testAccuracy).toBeGreaterThan(0.9)
    expect(fs.readdirSync(path.join(home, 'runs', runId))).toEqual(['weights.bin'])
    const resources = (await runs.get(runId)).resources!
    expect(resources.stages.map((s) => s.phase)).toEqual(['block', 'block', 'finetune'])
    // A block stage's step holds one block's activations; the fine-tune's holds the whole model's.
    expect(resources.stages[0]!.stepPeakBytes).toBeLessThan(resources.stages[2]!.stepPeakBytes)
  })

  it('trains decoupled on a pipeline of block workers started from the training worker, and stores the pipeline’s figures', async () => {
    const training = new TrainingService(digitsSource(), runs, home, emit)
    const { spec, partition } = await training.defaultModel({ datasetId: 'ds-digits' })
    const config = trainConfig.parse({ mode: 'decoupled', epochs: 3, patience: 0, decoupled: { pipeline: true, queue: 3 } })
    const { runId } = await training.start({ datasetId: 'ds-digits', spec, partition, config, name: 'pipeline' })
    const done = await training.waitFor(runId)
    expect(done.error).toBeNull()
    expect(done.status).toBe('completed')
    expect(classified(done.metrics).testAccuracy).toBeGreaterThan(0.9)
    const detail = await runs.get(runId)
    expect(detail.mode).toBe('decoupled')
    expect(detail.epochs.map((e) => [e.epoch, e.block])).toEqual([1, 2, 3].flatMap((e) => [0, 1].map((b) => [e, b])))
    const resources = detail.resources!
    expect(resources.pipeline).toMatchObject({ workers: 2, queue: 3 })
    expect(resources.pipeline!.maxQueued).toBeLessThanOrEqual(3)
    expect(resources.stages.map((s) => s.phase)).toEqual(['decoupled', 'decoupled'])
  })

  it('cancels a run between batches: cancelled, with its epochs and its weights so far', async () => {
    const training = new TrainingService(digitsSource(), runs, home, emit)
    const { spec, partition } = defaultModel(summary)
    const { runId } = await training.start({ datasetId: 'ds-digits', spec, partition, config: trainConfig.parse({ epochs: 1000, patience: 0 }) })
    while (eventsOf('train.epoch', runId).length < 3) await new Promise((resolve) => setTimeout(resolve, 20))
    await training.cancel(runId)
    const done = await training.waitFor(runId)
    expect(done.status).toBe('cancelled')
    expect(done.metrics).toBeNull()
    const detail = await runs.get(runId)
    expect(detail.epochs.length).toBeGreaterThanOrEqual(3)
    expect(detail.epochs.length).toBeLessThan(1000)
    expect(detail.endedAt).not.toBeNull()
    const { model } = await loadRunModel(runs, runId)
    model.dispose()
    // Cancelling a finished run changes nothing.
    await training.cancel(runId)
    expect((await runs.summary(runId)).status).toBe('cancelled')
  })

  it('records a failure in the worker as failed with the error text', async () => {
    const broken = (data: PreparedData): PreparedData => ({ ...data, inputShape: [63] })
    const training = new TrainingService(digitsSource(broken), runs, home, emit)
    const { spec, partition } = defaultModel(summary)
    const { runId } = await training.start({ datasetId: 'ds-digits', spec, partition, config: trainConfig.parse({}) })
    const done = await training.waitFor(runId)
    expect(done.status).toBe('failed')
    expect(done.error).toBe("model: input shape [61] does not match the data set's [63]")
    expect(eventsOf('train.finished', runId).map((e) => e.payload.error)).toEqual([done.error])
    await expect(loadRunModel(runs, runId)).rejects.toThrow(/has no saved weights/)
  })

  it('refuses a spec that does not fit the data set before creating a run', async () => {
    const training = new TrainingService(digitsSource(), runs, home, emit)
    const before = (await runs.list()).length
    const { spec, partition } = defaultModel({ inputShape: [64], classes: 3 })
    await expect(training.start({ datasetId: 'ds-digits', spec, partition, config: trainConfig.parse({}) })).rejects.toThrow(
      'model: layer 3 (dense): outputs 3 values but the data set has 10 classes'
    )
    expect(await runs.list()).toHaveLength(before)
  })

  it('describes specs being edited, returning problems instead of throwing', async () => {
    const training = new TrainingService(digitsSource(), runs, home, emit)
    const { spec, partition } = defaultModel(summary)
    const good = await training.describe({ spec, partition })
    expect(good.errors).toEqual([])
    expect(good.layers.map((l) => l.outputShape)).toEqual([
      [null, 100],
      [null, 100],
      [null, 10]
    ])
    expect(good.totalParams).toBe(61 * 100 + 100 + 100 * 100 + 100 + 100 * 10 + 10)
    const bad = await training.describe({ spec: { version: 1, inputShape: [64], layers: [{ type: 'dense', units: 0 }] } })
    expect(bad.errors[0]).toMatchObject({ layer: 0 })
    expect(bad.errors[0]!.message).toMatch(/^layer 1 units: /)
    const badPartition = await training.describe({ spec, partition: { blocks: [partition.blocks[0]] } })
    expect(badPartition.errors.map((e) => e.message)).toEqual(['partition: the blocks cover layers 1..1 but the model has 3 layers (1..3)'])
  })
})
