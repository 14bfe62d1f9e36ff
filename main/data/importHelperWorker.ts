/** The import helper's thread (importHelper.ts): parses segments, hashes files, bins column files and fits column groups. */
import { parentPort } from 'node:worker_threads'
import { type BlockArrays, NEWLINE, NotPlain, type PlainLayout, RowBlock, parseLines } from './plainParse'
import { type HashJob, hashFile } from './importResult'
import type { FromImportHelper, ToImportHelper } from './importHelper'
import { fileHistogram, standardMasked } from './columnPasses'

const post = (message: FromImportHelper, transfer: ArrayBuffer[] = []) => parentPort?.postMessage(message, transfer)
const hashes = new Map<number, HashJob>()

function parse(id: number, layout: PlainLayout, bytes: ArrayBuffer, end: number, spare: BlockArrays | null): void {
  const buffer = Buffer.from(bytes, 0, end)
  const hashing = layout.numeric.map((numeric) => !numeric)
  try {
    // Room for every line of the segment (blank ones are passed over: at most that many rows).
    let lines = 0
    for (let at = buffer.indexOf(NEWLINE); at >= 0 && at < end; at = buffer.indexOf(NEWLINE, at + 1)) lines++
    // The arrays sent back when they have room; else new ones with some to spare for the next segments.
    const block =
      spare && spare.capacity >= lines
        ? RowBlock.from({ ...spare, rows: 0, buffer })
        : new RowBlock(layout, Math.max(1, Math.ceil(lines * 1.25)), buffer)
    if (parseLines(layout, buffer, 0, end, block, hashing) < end) throw new Error('a segment with more rows than lines')
    post({ id, block }, block.transferList())
  } catch (error) {
    post(error instanceof NotPlain ? { id, notPlain: true } : { id, error: error instanceof Error ? error.message : String(error) })
  }
}

parentPort?.on('message', (message: ToImportHelper) => {
  if (message.type === 'parse') return parse(message.id, message.layout, message.bytes, message.end, message.spare)
  if (message.type === 'stopHash') return void hashes.get(message.id)?.stop()
  if (message.type === 'histogram' || message.type === 'masked') {
    try {
      if (message.type === 'masked') return post({ id: message.id, masked: standardMasked(message.files, message.weights, message.n) })
      return post({ id: message.id, histogram: fileHistogram(message.pass) })
    } catch (error) {
      return post({ id: message.id, error: error instanceof Error ? error.message : String(error) })
    }
  }
  const { id, file, options } = message
  const job = hashFile(file, options)
  hashes.set(id, job)
  Promise.all([job.result, job.longestLine, job.shape])
    .then(([hash, longestLine, shape]) => post({ id, hashed: { hash, longestLine, shape } }))
    .catch((error: unknown) => post({ id, error: error instanceof Error ? error.message : String(error) }))
    .finally(() => hashes.delete(id))
})
