/**
 * The import worker: a worker_thread that owns one DuckDB instance and imports one table file at a time, posting
 * progress and the result. Parsing, profiling, writing the column files and fitting the split and the recipe happen
 * here, so the main thread (the desktop window, the web shell's event loop) never waits on them (a 5M-row table's
 * fit alone is about a second). DuckDB's binding is N-API: the same build loads
 * in Node and in Electron's main process.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { LabError } from '../shared/errors'
import { type Duck, openDuck, sqlString } from './duck'
import { importTableFile } from './importFile'
import { exportTable } from './exportTable'
import { fitTable, prepareSplit, transferableParts, writeSplit } from './prepare'
import { stageDateOrder } from './dateOrder'
import { importHelper } from './importHelper'
import type { FromWorker, ImportWorkerData, ToWorker } from './importProtocol'

const settings = workerData as ImportWorkerData
const port = parentPort
let duck: Promise<Duck> | null = null
// The helper thread starts with the worker, so that a first large file does not wait for its start (a thread and a
// module load: tens of milliseconds built, hundreds through tsx).
importHelper()
const running = new Map<number, AbortController>()

const post = (message: FromWorker, transfer: ArrayBuffer[] = []) => port?.postMessage(message, transfer)

async function run(message: Exclude<ToWorker, { type: 'cancel' }>): Promise<void> {
  const { id } = message
  const controller = new AbortController()
  running.set(id, controller)
  try {
    if (message.type === 'fit') {
      const { name, dir, meta, target, parse, skipped } = message.request
      const fitted = await fitTable(name, dir, meta, target, parse, skipped)
      writeSplit(dir, fitted.split)
      post({ type: 'done', id, result: fitted })
      return
    }
    if (message.type === 'prepare') {
      const { recipe, parts } = prepareSplit(message.request)
      if (!parts) return post({ type: 'done', id, result: { recipe, parts: null } })
      // The parts move to the main thread (and on to the training worker) without a copy.
      const moved = transferableParts(parts)
      post({ type: 'done', id, result: { recipe, parts: moved.data } }, moved.transfer)
      return
    }
    if (message.type === 'dateOrder') {
      post({ type: 'done', id, result: stageDateOrder(message.request) })
      return
    }
    duck ??= openDuck({ threads: settings.threads })
    const { connection } = await duck
    await connection.run(`SET temp_directory=${sqlString(message.tempDirectory)}`)
    const result =
      message.type === 'export'
        ? await exportTable(connection, message.request)
        : await importTableFile(
            { ...message.request, signal: controller.signal, onProgress: (rows, bytes) => post({ type: 'progress', id, rows, bytes }) },
            connection
          )
    post({ type: 'done', id, result })
  } catch (error) {
    const userError = error instanceof LabError
    post({ type: 'failed', id, message: error instanceof Error ? error.message : String(error), userError, stack: (error as Error)?.stack })
  } finally {
    running.delete(id)
  }
}

port?.on('message', (message: ToWorker) => {
  if (message.type === 'cancel') running.get(message.id)?.abort()
  else void run(message)
})
