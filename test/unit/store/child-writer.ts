/**
 * A separate process writing runs into a data home: `node --import tsx child-writer.ts <home> <mode> <count> [store]`
 * (store: a postgres:// URL; default the home's SQLite file).
 * mode "hang": creates one run marked running with this pid, appends epochs, prints "ready", then waits to be
 * killed; "hang-remote" the same with the row naming another host. mode "write": creates <count> runs with epochs each and exits.
 */
import { openDb } from '../../../main/store/open'
import { resolveStore } from '../../../main/store/location'
import { RunStore } from '../../../main/store/runs'
import { epochRow, newRun } from './helpers'

async function main(): Promise<void> {
  const [home, mode, countText, store] = process.argv.slice(2)
  if (home === undefined) throw new Error('usage: child-writer.ts <home> <mode> <count> [store]')
  const db = await openDb(resolveStore(store || 'sqlite'), home)
  const runs = new RunStore(db, home)
  if (mode === 'hang' || mode === 'hang-remote') {
    const runId = await runs.create(newRun('ds-1', { name: 'killed run', status: 'running', ownerPid: process.pid }))
    // As if trained on another machine: a reader can only ask the run's lock (its PID means nothing here).
    if (mode === 'hang-remote') await db.run(`UPDATE runs SET owner_host = 'another-host', owner_pid = 1 WHERE id = ?`, [runId])
    for (let epoch = 1; epoch <= 3; epoch++) await runs.appendEpoch(runId, epochRow(epoch))
    process.stdout.write(`ready ${runId}\n`)
    // Keep writing until killed, as a training process would.
    let epoch = 4
    setInterval(() => void runs.appendEpoch(runId, epochRow(epoch++)), 5)
    return
  }
  const count = Number(countText)
  for (let i = 0; i < count; i++) {
    const runId = await runs.create(newRun('ds-1', { name: `child ${process.pid} run ${i}`, status: 'running' }))
    for (let epoch = 1; epoch <= 5; epoch++) await runs.appendEpoch(runId, epochRow(epoch))
    await runs.finish(runId, { status: 'completed', metrics: { testAccuracy: 0.9, testLoss: 0.3, valAccuracy: 0.9, trainAccuracy: 1 } })
  }
  await db.close()
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
