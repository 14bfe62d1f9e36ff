/** The column helper's thread (columnHelper.ts): runs its share of a pass and posts the results, or the error. */
import { parentPort } from 'node:worker_threads'
import { COLUMN_JOBS, type FromHelper, type ToHelper } from './columnHelper'

parentPort?.on('message', ({ id, job, context, items }: ToHelper) => {
  let reply: FromHelper
  try {
    const run = COLUMN_JOBS[job] as (context: unknown, items: unknown[]) => unknown[]
    reply = { id, result: run(context, items) }
  } catch (error) {
    reply = { id, error: error instanceof Error ? error.message : String(error) }
  }
  parentPort?.postMessage(reply)
})
