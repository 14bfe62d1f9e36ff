/** The plain CSV reader's helper thread (plainHelper.ts): parses the segments it is given and posts their rows back. */
import { parentPort } from 'node:worker_threads'
import { NEWLINE, NotPlain, RowBlock, parseLines } from './plainParse'
import type { FromPlainHelper, ToPlainHelper } from './plainHelper'

parentPort?.on('message', ({ id, layout, bytes, end }: ToPlainHelper) => {
  const buffer = Buffer.from(bytes, 0, end)
  const hashing = layout.numeric.map((numeric) => !numeric)
  let reply: FromPlainHelper
  try {
    // Room for every line of the segment (blank ones are passed over: at most that many rows).
    let lines = 0
    for (let at = buffer.indexOf(NEWLINE); at >= 0 && at < end; at = buffer.indexOf(NEWLINE, at + 1)) lines++
    const block = new RowBlock(layout, Math.max(1, lines), buffer)
    if (parseLines(layout, buffer, 0, end, block, hashing) < end) throw new Error('a segment with more rows than lines')
    parentPort?.postMessage({ id, block } as FromPlainHelper, block.transferList())
    return
  } catch (error) {
    reply = error instanceof NotPlain ? { id, notPlain: true } : { id, error: error instanceof Error ? error.message : String(error) }
  }
  parentPort?.postMessage(reply)
})
