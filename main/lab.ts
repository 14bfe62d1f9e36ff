/**
 * The composition root: opens every service over one data home and puts the router in front of them. Electron,
 * the web shell and the CLI each open one Lab and reach the services only through its router (and hear its events);
 * nothing above this file sees a service, a store or the database.
 */
import path from 'node:path'
import { Db } from './store/db'
import { DatasetStore } from './store/datasets'
import { RunStore } from './store/runs'
import { DatasetService } from './data/service'
import { TrainingService } from './train/service'
import { ExportService } from './export/service'
import { StudyStore } from './store/studies'
import { StudyService } from './study/service'
import { LabEvents } from './core/events'
import { resolveHome } from './core/home'
import { createHandlers } from './api/handlers'
import { createRouter, type Router } from './api/router'

export interface Lab {
  readonly home: string
  readonly router: Router
  /** Contract events (progress, epochs, ends of runs) for the hosts to forward. */
  readonly events: LabEvents
  /** Cancels running work, waits for it to record its end, and closes the database. */
  close(): Promise<void>
}

export async function openLab(options: { home?: string; debug?: boolean } = {}): Promise<Lab> {
  const home = resolveHome(options.home)
  const db = await Db.open(path.join(home, 'layerlab.sqlite'))
  const events = new LabEvents()
  const runs = new RunStore(db, home)
  await runs.recoverInterrupted()
  const datasets = new DatasetService({ store: new DatasetStore(db), runs, home, emit: events.emit })
  const training = new TrainingService(datasets, runs, home, events.emit)
  const exporter = new ExportService(datasets, runs, home)
  const studyStore = new StudyStore(db)
  await studyStore.recoverInterrupted()
  const studies = new StudyService({ store: studyStore, runs, datasets, training, emit: events.emit })
  const router = createRouter(createHandlers({ home, datasets, runs, training, exporter, studies }), {
    debug: options.debug,
    onInternalError: (error) => console.error(options.debug && error instanceof Error ? error.stack : `internal error: ${String(error)}`)
  })
  return {
    home,
    router,
    events,
    async close() {
      // Studies first: they stop their members and stay resumable; then any run still training.
      await studies.shutdown()
      await training.shutdown()
      await datasets.close()
      await runs.close()
      await db.close()
    }
  }
}
