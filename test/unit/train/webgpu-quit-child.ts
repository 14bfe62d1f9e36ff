/**
 * App quit during a webgpu run, as the desktop app and the CLI do it: open a lab, start a run on webgpu, and once
 * it trains (its first progress), close the lab (which cancels the run and waits for it), then let the process end
 * by itself. Prints one JSON line: the run's status and backend. `node --import tsx webgpu-quit-child.ts HOME CSV`.
 * Terminating the worker or exiting while it is inside Dawn would abort the process instead (exit 134).
 */
import { openLab } from '../../../main/lab'
import type { EventPayload } from '../../../main/shared/contract'

async function main(): Promise<void> {
  const [home, csv] = process.argv.slice(-2) as [string, string]
  const lab = await openLab({ home })
  const call = async (name: string, args: unknown) => {
    const response = await lab.router.handle(name, args)
    if (!response.ok) throw new Error(response.error.message)
    return response.result as Record<string, unknown>
  }
  const dataset = (await call('datasets.import', { path: csv })) as { datasetId: string }
  const model = (await call('models.default', { datasetId: dataset.datasetId })) as { spec: unknown; partition: unknown }
  const training = new Promise<void>((resolve) => lab.events.subscribe((event) => event === 'train.progress' && resolve()))
  let backend = ''
  lab.events.subscribe((event, payload) => {
    if (event === 'train.backend') backend = (payload as EventPayload<'train.backend'>).backend
  })
  const { runId } = (await call('train.start', { datasetId: dataset.datasetId, ...model, config: { epochs: 50, backend: 'webgpu' } })) as {
    runId: string
  }
  await training
  await lab.close()
  const reopened = await openLab({ home })
  const run = await reopened.router.handle('runs.get', { runId })
  await reopened.close()
  const detail = run.ok ? (run.result as { status: string; backend: string; epochs: unknown[] }) : null
  console.log(JSON.stringify({ status: detail?.status, backend: detail?.backend, eventBackend: backend }))
}

void main()
