/**
 * The composition root: opens every service over one data home and puts the router in front of them. Electron,
 * the web shell and the CLI each open one Lab and reach the services only through its router (and hear its events);
 * nothing above this file sees a service, a store or the database.
 */
import { openDb } from './store/open'
import { resolveStore } from './store/location'
import { DatasetStore } from './store/datasets'
import { RunStore } from './store/runs'
import { DatasetService } from './data/service'
import { TrainingService } from './train/service'
import { ExportService } from './export/service'
import { StudyStore } from './store/studies'
import { StudyService } from './study/service'
import { LabEvents } from './core/events'
import { resolveHome } from './core/home'
import { readSettings } from './core/settings'
import { createHandlers } from './api/handlers'
import { createRouter, type Router } from './api/router'
import { parseQueueUrl } from './core/queue'
import { QueueWatch, workersOf } from './study/queueWatch'

export interface Lab {
  /** Where files live: datasets' caches, weights, ONNX files (the data home, or --artifacts for a shared store). */
  readonly home: string
  /** Where the history is, safe to print (no password): the SQLite file or the PostgreSQL URL. */
  readonly store: string
  readonly router: Router
  /** Contract events (progress, epochs, ends of runs) for the hosts to forward. */
  readonly events: LabEvents
  /** Cancels running work, waits for it to record its end, and closes the database. */
  close(): Promise<void>
}

export interface LabOptions {
  /** The data home (default: LAYERLAB_HOME, else the per-user app-data folder). */
  home?: string
  /**
   * The history store: a postgres:// URL (default: LAYERLAB_STORE, else the home's saved setting, else the SQLite file
   * in the data home). An
   * unreachable server fails the open with one line naming host:port; the password is never in any message.
   */
  store?: string
  /**
   * Where files go instead of the data home (default: LAYERLAB_ARTIFACTS, else the home): with a shared
   * PostgreSQL store, a folder every machine mounts, so that a worker elsewhere finds the datasets it trains on.
   */
  artifacts?: string
  debug?: boolean
  /** The lab's queue (redis://…): studies can be submitted to it, its workers listed and their progress heard. */
  queue?: string
}

export async function openLab(options: LabOptions = {}): Promise<Lab> {
  const dataHome = resolveHome(options.home)
  const location = resolveStore(options.store, process.env, readSettings(dataHome).store)
  const artifacts = options.artifacts || process.env.LAYERLAB_ARTIFACTS
  const home = artifacts ? resolveHome(artifacts) : dataHome
  const db = await openDb(location, dataHome)
  const events = new LabEvents()
  const runs = new RunStore(db, home)
  await runs.recoverInterrupted()
  const datasets = new DatasetService({ store: new DatasetStore(db), runs, home, emit: events.emit })
  const training = new TrainingService(datasets, runs, home, events.emit)
  const exporter = new ExportService(datasets, runs, home)
  const studyStore = new StudyStore(db)
  await studyStore.recoverInterrupted()
  const queueText = options.queue ?? process.env.LAYERLAB_QUEUE
  const defaultQueue = queueText ? parseQueueUrl(queueText) : null
  const watch = defaultQueue ? new QueueWatch(defaultQueue, events.emit, `lab-${process.pid}-${Math.random().toString(36).slice(2, 8)}`) : null
  // What this lab does that others watching the queue want to see: its studies' progress, its runs' progress.
  const stopPublishing = watch ? events.subscribe((event, payload) => watch.publish(event, payload)) : () => undefined
  const studies = new StudyService({ store: studyStore, runs, datasets, training, emit: events.emit, defaultQueue })
  const queueWorkers = async (queue?: string) => (queue ? workersOf(queue) : watch ? watch.workers() : { queue: null, workers: [], error: null })
  const router = createRouter(
    createHandlers({
      home,
      dataHome,
      store: { kind: location.kind, location: db.location, source: location.source ?? 'default' },
      datasets,
      runs,
      training,
      exporter,
      studies,
      queueWorkers
    }),
    {
      debug: options.debug,
      onInternalError: (error) => console.error(options.debug && error instanceof Error ? error.stack : `internal error: ${String(error)}`)
    }
  )
  return {
    home,
    store: db.location,
    router,
    events,
    async close() {
      // Studies first: they stop their members and stay resumable; then any run still training.
      await studies.shutdown()
      await training.shutdown()
      stopPublishing()
      await watch?.close()
      await datasets.close()
      await runs.close()
      await db.close()
    }
  }
}
