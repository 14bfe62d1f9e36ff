/**
 * The fixed cost of a run inside a warm training worker, through the lab as the app and a study use it (issue 20):
 * `train.start` on the router → TrainingService → a kept worker → the run's record in SQLite. Reference in the same
 * run: the same request in a new lab, whose first run starts its own worker (thread, tfjs's modules, the wasm
 * backend's compile) and reads the dataset for the first time. The bench runs from source, so that worker's modules
 * go through tsx: its start is an upper bound (the built app's is ~330 ms, README "cold CLI"); the built CLI's
 * studies (`-- study`) measure what kept workers save a whole study.
 *
 * Per run, from the lab's events: "start" is from the request to the first batch's progress event (reading the
 * dataset and fitting its recipe, the record, moving the data to the worker, building the model); "end" is from
 * the last epoch's event to `train.finished` (the best weights restored, the test part scored, the weights
 * written, the run's end stored). Also the intercept: a 1-epoch run's wall minus one epoch's share of a 21-epoch
 * run's, which counts every fixed cost however it is spread. The article's settings (sgd+momentum, lr 0.1, batch
 * 200, no early stopping), digits; repetitions interleave the variants.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { openLab, type Lab } from '../main/lab'
import { call } from '../main/hosts/cliRequests'
import { trainConfig, type EventName, type Partition } from '../main/shared/contract'
import { loadAverage, median, spreadOf } from './stats'

const REPETITIONS = Number(process.env.LAYERLAB_BENCH_REPS ?? 7)
const DIGITS = path.join(__dirname, '..', 'resources', 'examples', 'digits.csv')
const LONG = 21

export interface WarmRunRow {
  worker: string
  epochs: number
  wallMs: number
  wallSpread: string
  startMs: number
  startSpread: string
  endMs: number
  endSpread: string
  load: string
}

interface Timing {
  wallMs: number
  startMs: number
  endMs: number
}

/** One run through the router, timed by the lab's own events. */
async function timedRun(lab: Lab, datasetId: string, spec: unknown, partition: Partition, epochs: number): Promise<Timing> {
  const marks: { event: EventName; at: number; runId: string }[] = []
  const stop = lab.events.subscribe((event, payload) =>
    marks.push({ event, at: performance.now(), runId: (payload as { runId?: string }).runId ?? '' })
  )
  const config = trainConfig.parse({ epochs, batchSize: 200, patience: 0, seed: 7 })
  const called = performance.now()
  const { runId } = await call(lab, 'train.start', { datasetId, spec: spec as never, partition, config })
  const done = await call(lab, 'runs.wait', { runId })
  stop()
  if (done.status !== 'completed') throw new Error(`run ${runId} ${done.status}: ${done.error}`)
  const of = (event: EventName) => marks.filter((m) => m.runId === runId && m.event === event)
  const firstBatch = of('train.progress')[0]?.at
  const lastEpoch = of('train.epoch').at(-1)?.at
  const finished = of('train.finished')[0]?.at
  if (firstBatch === undefined || lastEpoch === undefined || finished === undefined) throw new Error(`run ${runId}: events missing`)
  return { wallMs: finished - called, startMs: firstBatch - called, endMs: finished - lastEpoch }
}

export async function benchWarmRun(): Promise<WarmRunRow[]> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'layerlab-bench-warm-'))
  const warm = await openLab({ home })
  try {
    const dataset = await call(warm, 'datasets.import', { path: DIGITS, target: 'digit' })
    const { spec, partition } = await call(warm, 'models.default', { datasetId: dataset.datasetId })
    const blocks: Partition = {
      blocks: partition.blocks.map((b) => ({
        ...b,
        settings: { ...b.settings, optimizer: 'momentum', learningRate: 0.1, momentum: 0.9, weightDecay: 1e-4 }
      }))
    }
    // The kept worker's first run (its start) and one more to warm the JIT are not measured.
    for (let i = 0; i < 2; i++) await timedRun(warm, dataset.datasetId, spec, blocks, 1)
    const series = new Map<string, Timing[]>()
    const add = (key: string, t: Timing) => series.set(key, [...(series.get(key) ?? []), t])
    for (let rep = 0; rep < REPETITIONS; rep++) {
      // A new lab on the same home: its first run starts a new worker, as every run did before workers were kept.
      const fresh = await openLab({ home })
      add('new lab, tsx worker|1', await timedRun(fresh, dataset.datasetId, spec, blocks, 1))
      await fresh.close()
      add('kept worker|1', await timedRun(warm, dataset.datasetId, spec, blocks, 1))
      add(`kept worker|${LONG}`, await timedRun(warm, dataset.datasetId, spec, blocks, LONG))
    }
    const load = loadAverage()
    const rows: WarmRunRow[] = [...series].map(([key, timings]) => {
      const [worker, epochs] = key.split('|') as [string, string]
      const pick = (f: (t: Timing) => number) => timings.map(f)
      return {
        worker,
        epochs: Number(epochs),
        wallMs: median(pick((t) => t.wallMs)),
        wallSpread: spreadOf(pick((t) => t.wallMs)),
        startMs: median(pick((t) => t.startMs)),
        startSpread: spreadOf(pick((t) => t.startMs)),
        endMs: median(pick((t) => t.endMs)),
        endSpread: spreadOf(pick((t) => t.endMs)),
        load
      }
    })
    const short = rows.find((r) => r.worker === 'kept worker' && r.epochs === 1)!
    const long = rows.find((r) => r.epochs === LONG)!
    const perEpoch = (long.wallMs - short.wallMs) / (LONG - 1)
    console.log(
      `  kept worker: ${perEpoch.toFixed(1)} ms an epoch (21- and 1-epoch runs), fixed cost a run (intercept) ${(short.wallMs - perEpoch).toFixed(0)} ms;` +
        ` a new lab's first run costs ${(rows.find((r) => r.worker.startsWith('new lab'))!.wallMs - short.wallMs).toFixed(0)} ms more`
    )
    return rows
  } finally {
    await warm.close()
    fs.rmSync(home, { recursive: true, force: true })
  }
}
