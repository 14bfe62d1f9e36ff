/** Every request of the contract, mapped to the service that answers it. Thin: no logic here. */
import path from 'node:path'
import type { Handlers } from './router'
import type { RequestResult } from '../shared/contract'
import type { DatasetService } from '../data/service'
import type { RunStore } from '../store/runs'
import type { TrainingService } from '../train/service'
import type { ExportService } from '../export/service'
import type { StudyService } from '../study/service'
import { resourcesDir } from '../core/resources'
import { chooseBackend, gpuStatus } from '../core/backend'
import { version } from '../core/version'
import { readSettings, writeSettings } from '../core/settings'
import { parsePostgresUrl, type StoreSource } from '../store/location'
import { checkStore } from '../store/open'

/** The services the handlers call (the composition root, app.ts, opens them). */
export interface Services {
  home: string
  /** The data home, where the settings file is (differs from `home` when files go to --artifacts). */
  dataHome: string
  /** The history this lab is open on, safe to show. */
  store: { kind: 'sqlite' | 'postgres'; location: string; source: StoreSource }
  datasets: DatasetService
  runs: RunStore
  training: TrainingService
  exporter: ExportService
  studies: StudyService
  /** The workers of the lab's queue (null: no queue set) or of the queue a request names. */
  queueWorkers: (queue?: string) => Promise<RequestResult<'queue.workers'>>
}

const done = { ok: true as const }

export function createHandlers(services: Services): Handlers {
  const { datasets, runs, training, exporter, studies } = services
  return {
    'app.info': async () => ({
      name: 'LayerLab' as const,
      version,
      home: services.home,
      // With LAYERLAB_BACKEND=webgpu the answer depends on the GPU probe (once per process, shared with gpu).
      backend: await chooseBackend().then(({ name, reason }) => ({ name, reason })),
      gpu: await gpuStatus(),
      examples: [
        {
          name: 'digits',
          path: path.join(resourcesDir(), 'examples', 'digits.csv'),
          description: '1,797 handwritten digits, 8×8 pixels (UCI, CC BY 4.0): the layer-wise article’s data set'
        }
      ],
      store: { ...services.store, saved: savedStore(services.dataHome) }
    }),
    'app.setStore': async ({ url }) => {
      if (url === null || !url.trim() || url.trim() === 'sqlite') {
        writeSettings(services.dataHome, {})
        return { saved: null }
      }
      const saved = await checkStore(url)
      writeSettings(services.dataHome, { store: url.trim() })
      return { saved }
    },
    'datasets.list': () => datasets.list(),
    'datasets.get': ({ datasetId }) => datasets.get(datasetId),
    'datasets.import': (args) => datasets.import(args),
    'datasets.preview': (args) => datasets.preview(args),
    'datasets.update': (args) => datasets.update(args),
    'datasets.thumbnails': (args) => datasets.thumbnails(args),
    'datasets.rowThumbnails': (args) => datasets.rowThumbnails(args),
    'datasets.delete': async ({ datasetId }) => (await datasets.delete(datasetId), done),
    'datasets.cancelImport': ({ importId }) => (datasets.cancelImport(importId), done),
    'datasets.export': (args) => datasets.export(args),
    'models.default': (args) => training.defaultModel(args),
    'models.describe': (args) => training.describe(args),
    'train.start': (args) => training.start(args),
    'train.cancel': async ({ runId }) => (await training.cancel(runId), done),
    'runs.wait': ({ runId }) => training.waitFor(runId),
    'runs.list': () => runs.list(),
    'runs.get': ({ runId }) => runs.get(runId),
    'runs.update': (args) => runs.update(args),
    'runs.delete': async ({ runId }) => (await runs.delete(runId), done),
    'artifacts.get': ({ artifactId }) => runs.artifact(artifactId),
    'export.onnx': (args) => exporter.exportOnnx(args),
    'predict.run': (args) => exporter.predict(args),
    'studies.start': (args) => studies.start(args),
    'studies.example': (args) => studies.example(args),
    'studies.list': () => studies.list(),
    'studies.get': ({ studyId }) => studies.get(studyId),
    'studies.cancel': async ({ studyId }) => (await studies.cancel(studyId), done),
    'studies.resume': ({ studyId, workers, queue }) => studies.resume(studyId, workers, queue),
    'studies.wait': ({ studyId }) => studies.wait(studyId),
    'studies.delete': async ({ studyId }) => (await studies.delete(studyId), done),
    'queue.workers': ({ queue }) => services.queueWorkers(queue),
    'queue.trainMember': ({ job, worker, liveRuns }) => studies.trainMember(job, worker, liveRuns),
    'queue.memberWait': ({ runId }) => studies.memberWait(runId),
    'queue.handBack': async ({ key, runId, reason }) => (await studies.handBack(key, runId, reason), done)
  }
}

/** The home's saved store, shown without its password (or what is wrong with it). */
function savedStore(dataHome: string): string | null {
  const saved = readSettings(dataHome).store
  if (!saved) return null
  try {
    return parsePostgresUrl(saved, 'the saved store setting').display
  } catch (error) {
    return (error as Error).message
  }
}
