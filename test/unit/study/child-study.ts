/**
 * A separate process running a study in a data home, to be killed mid-way:
 * `node --import tsx child-study.ts <home> <datasetId>`. Prints "study <id>", then "done <n>" each time a member
 * finishes; it never exits by itself before the study ends.
 */
import { openLab } from '../../../main/lab'
import type { EventPayload } from '../../../main/shared/contract'
import { call, smallBase } from './helpers'

async function main(): Promise<void> {
  const [home, datasetId] = process.argv.slice(2)
  if (!home || !datasetId) throw new Error('usage: child-study.ts <home> <datasetId>')
  const lab = await openLab({ home })
  lab.events.subscribe((event, payload) => {
    if (event === 'study.progress') process.stdout.write(`done ${(payload as EventPayload<'study.progress'>).done}\n`)
  })
  const base = await smallBase(lab, datasetId)
  const { studyId } = await call(lab, 'studies.start', { datasetId, base, protocol: { kind: 'seeds', seeds: 3 }, workers: 1 })
  process.stdout.write(`study ${studyId}\n`)
  await call(lab, 'studies.wait', { studyId })
  await lab.close()
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
