/**
 * Training runs on webgpu through the whole main side: the service plans the backend (probing the GPU), the worker
 * thread opens Dawn on SwiftShader, trains, closes the device and only then says it is done; cancel and app quit
 * during a run; a machine without an adapter. Software Vulkan: nothing here is timed.
 */
import { spawn } from 'node:child_process'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { trainConfig, type EventName, type EventPayload } from '../../../main/shared/contract'
import type { Emit } from '../../../main/core/events'
import { SqliteDb } from '../../../main/store/db'
import { RunStore } from '../../../main/store/runs'
import { TrainingService } from '../../../main/train/service'
import { defaultModel } from '../../../main/model/presets'
import { insertDataset } from '../store/helpers'
import { removeHome, tempHome } from '../../fixtures/home'
import { DIGITS_CSV, digitsSummary, loadDigits } from '../../fixtures/digits'
import { swiftShaderEnv, useSwiftShader } from '../../fixtures/webgpu'
import { classified } from '../../fixtures/figures'

const missing = useSwiftShader()
const ROOT = path.resolve(__dirname, '../../..')

let home: string
let db: SqliteDb
let runs: RunStore
const events: Array<{ event: EventName; payload: unknown }> = []
const emit: Emit = (event, payload) => events.push({ event, payload })
const eventsOf = <E extends EventName>(event: E, runId: string) =>
  events.filter((e) => e.event === event && (e.payload as { runId: string }).runId === runId).map((e) => e.payload as EventPayload<E>)
const source = { get: async () => digitsSummary, loadPrepared: () => loadDigits() }
const model = defaultModel({ inputShape: [61], classes: 10 })

beforeAll(async () => {
  home = tempHome('layerlab-webgpu-service-')
  db = await SqliteDb.open(path.join(home, 'layerlab.sqlite'))
  await insertDataset(db, digitsSummary.datasetId, 'digits')
  runs = new RunStore(db, home)
})
afterAll(async () => {
  await db.close()
  removeHome(home)
})

describe.skipIf(missing)('training runs on webgpu (SwiftShader)', { timeout: 10 * 60_000 }, () => {
  it('a run that asks for webgpu trains in the worker there and records the adapter', async () => {
    const training = new TrainingService(source, runs, home, emit)
    const config = trainConfig.parse({ epochs: 2, patience: 0, backend: 'webgpu' })
    const { runId } = await training.start({ datasetId: digitsSummary.datasetId, ...model, config })
    const done = await training.waitFor(runId)
    expect(done.error).toBeNull()
    expect(done.status).toBe('completed')
    expect(done.backend).toBe('webgpu (SwiftShader Device (Subzero), Vulkan, software)')
    expect(classified(done.metrics).testAccuracy).toBeGreaterThan(0.8)
    expect(eventsOf('train.backend', runId)).toEqual([
      {
        runId,
        backend: 'webgpu (SwiftShader Device (Subzero), Vulkan, software)',
        reason: 'webgpu (SwiftShader Device (Subzero), Vulkan, software), asked for'
      }
    ])
    const detail = await runs.get(runId)
    expect(detail.epochs).toHaveLength(2)
    const weights = detail.artifacts.find((a) => a.kind === 'weights')!
    expect(weights.info).toMatchObject({
      backend: done.backend,
      adapter: { vendor: 'google', description: 'SwiftShader driver 5.0.0', software: true }
    })
  })

  it('cancel stops a webgpu run between batches; the worker closes Dawn and the process carries on', async () => {
    const training = new TrainingService(source, runs, home, emit)
    const config = trainConfig.parse({ epochs: 50, patience: 0, backend: 'webgpu' })
    const { runId } = await training.start({ datasetId: digitsSummary.datasetId, ...model, config })
    while (eventsOf('train.progress', runId).length === 0) await new Promise((resolve) => setTimeout(resolve, 50))
    await training.cancel(runId)
    const done = await training.waitFor(runId)
    expect(done.status).toBe('cancelled')
    expect(done.backend).toMatch(/^webgpu \(/)
    // The same process trains again (on wasm, quickly): the cancelled worker left nothing broken behind.
    const next = await training.start({ datasetId: digitsSummary.datasetId, ...model, config: trainConfig.parse({ epochs: 1, backend: 'wasm' }) })
    expect((await training.waitFor(next.runId)).status).toBe('completed')
  })

  it('app quit during a webgpu run cancels it and the process exits cleanly (no Dawn abort)', async () => {
    const childHome = tempHome('layerlab-webgpu-quit-')
    try {
      const result = await new Promise<{ code: number | null; signal: string | null; out: string; err: string }>((resolve) => {
        const child = spawn(process.execPath, ['--import', 'tsx', path.join(__dirname, 'webgpu-quit-child.ts'), childHome, DIGITS_CSV], {
          cwd: ROOT,
          env: swiftShaderEnv(),
          stdio: ['ignore', 'pipe', 'pipe']
        })
        let out = ''
        let err = ''
        child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()))
        child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()))
        child.on('exit', (code, signal) => resolve({ code, signal, out, err }))
      })
      expect(result.err).not.toMatch(/FATAL|Promise not resolved|napi_throw|Aborted/)
      expect({ code: result.code, signal: result.signal }).toEqual({ code: 0, signal: null })
      const report = JSON.parse(result.out.trim().split('\n').pop() ?? '{}') as { status: string; backend: string; eventBackend: string }
      expect(report.status).toBe('cancelled')
      expect(report.backend).toMatch(/^webgpu \(SwiftShader/)
      expect(report.eventBackend).toBe(report.backend)
    } finally {
      removeHome(childHome)
    }
  })
})
