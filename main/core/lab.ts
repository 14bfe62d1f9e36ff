/**
 * The lab: every service over one data home, free of any host. Electron, the web shell and the CLI each open
 * one and put a router in front of it.
 */
import path from 'node:path'
import fs from 'node:fs'
import { Db } from '../store/db'
import { RunStore } from '../store/runs'
import { DatasetService } from '../data/service'
import { TrainingService } from '../train/service'
import { ExportService } from '../export/service'
import { LabEvents } from './events'
import { planBackend } from './backend'
import { createHandlers } from '../api/handlers'
import { createRouter, type Router } from '../api/router'
import { resolveHome } from './home'

export interface Lab {
  home: string
  db: Db
  events: LabEvents
  datasets: DatasetService
  runs: RunStore
  training: TrainingService
  exporter: ExportService
  router: Router
  close(): Promise<void>
}

/** Where bundled files live: resources/ at the project root, from source and from out/main alike. */
export function resourcesDir(): string {
  let dir = __dirname
  for (let i = 0; i < 5; i++) {
    const candidate = path.join(dir, 'resources')
    if (fs.existsSync(path.join(candidate, 'examples'))) return candidate
    dir = path.dirname(dir)
  }
  return path.resolve('resources')
}

export async function openLab(options: { home?: string; debug?: boolean } = {}): Promise<Lab> {
  const home = resolveHome(options.home)
  const db = await Db.open(path.join(home, 'layerlab.sqlite'))
  const events = new LabEvents()
  const runs = new RunStore(db, home)
  await runs.recoverInterrupted()
  const datasets = new DatasetService(db, home, events.emit)
  const training = new TrainingService(datasets, runs, home, events.emit)
  const exporter = new ExportService(datasets, runs, home)
  const lab: Lab = {
    home,
    db,
    events,
    datasets,
    runs,
    training,
    exporter,
    router: undefined as unknown as Router,
    async close() {
      await training.shutdown()
      await db.close()
    }
  }
  lab.router = createRouter(createHandlers(lab), {
    debug: options.debug,
    onInternalError: (error) => console.error(options.debug && error instanceof Error ? error.stack : `internal error: ${String(error)}`)
  })
  return lab
}

export { planBackend }
