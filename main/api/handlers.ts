/** Every request of the contract, mapped to the service that answers it. Thin: no logic here. */
import type { Handlers } from './router'
import type { Lab } from '../core/lab'
import { resourcesDir } from '../core/lab'
import { planBackend } from '../core/backend'
import path from 'node:path'
import { version } from '../core/version'

export function createHandlers(lab: Lab): Handlers {
  return {
    'app.info': () => ({
      name: 'LayerLab' as const,
      version,
      home: lab.home,
      backend: planBackend(),
      examples: [
        {
          name: 'digits',
          path: path.join(resourcesDir(), 'examples', 'digits.csv'),
          description: '1,797 handwritten digits, 8×8 pixels (UCI, CC BY 4.0): the layer-wise article’s data set'
        }
      ]
    }),
    'datasets.list': () => lab.datasets.list(),
    'datasets.get': ({ datasetId }) => lab.datasets.get(datasetId),
    'datasets.import': (args) => lab.datasets.import(args),
    'datasets.preview': (args) => lab.datasets.preview(args),
    'datasets.update': (args) => lab.datasets.update(args),
    'datasets.thumbnails': (args) => lab.datasets.thumbnails(args),
    'datasets.delete': async ({ datasetId }) => {
      await lab.datasets.delete(datasetId)
      return { ok: true as const }
    },
    'models.default': (args) => lab.training.defaultModel(args),
    'models.describe': (args) => lab.training.describe(args),
    'train.start': (args) => lab.training.start(args),
    'train.cancel': async ({ runId }) => {
      await lab.training.cancel(runId)
      return { ok: true as const }
    },
    'runs.list': () => lab.runs.list(),
    'runs.get': ({ runId }) => lab.runs.get(runId),
    'runs.update': (args) => lab.runs.update(args),
    'runs.delete': async ({ runId }) => {
      await lab.runs.delete(runId)
      return { ok: true as const }
    },
    'export.onnx': (args) => lab.exporter.exportOnnx(args),
    'predict.run': (args) => lab.exporter.predict(args)
  }
}
