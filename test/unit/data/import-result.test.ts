/**
 * The content hash's reads also find the file's longest line (DuckDB drops a line over its max_line_size silently):
 * lines that span the 1 MB reads, \n, \r\n and \r line ends, a last line with no line end, and the line number of
 * a byte offset for the error.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { createHash } from 'node:crypto'
import { afterAll, describe, expect, it } from 'vitest'
import { hashFile, lineNumberAt } from '../../../main/data/importResult'

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'layerlab-hash-'))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))
const MB = 1 << 20

function write(name: string, text: string): string {
  const file = path.join(dir, name)
  fs.writeFileSync(file, text)
  return file
}

describe('hashFile', () => {
  it('finds the longest line across its reads, whatever the line ends, and still hashes every byte', async () => {
    const long = 'x'.repeat(3 * MB + 123)
    for (const end of ['\n', '\r\n', '\r']) {
      const head = ['a,b', '1,2', 'short'].join(end) + end
      const text = head + long + end + ['3,4', 'y'.repeat(1.5 * MB)].join(end)
      const file = write(`long-${end.length}-${end.charCodeAt(0)}.csv`, text)
      const job = hashFile(file)
      expect(await job.result).toBe(createHash('sha256').update(text).digest('hex'))
      expect(await job.longestLine).toEqual({ start: head.length, bytes: long.length })
      expect(await lineNumberAt(file, head.length)).toBe(4)
    }
  })

  it('counts a last line without a line end, and says nothing of lines under 1 MB', async () => {
    const tail = 'q'.repeat(2 * MB)
    const job = hashFile(write('tail.csv', `a\n1\n${tail}`))
    expect(await job.longestLine).toEqual({ start: 4, bytes: tail.length })
    const small = hashFile(write('small.csv', Array.from({ length: 50_000 }, (_, i) => `${i},${'v'.repeat(40)}`).join('\n')))
    expect(await small.longestLine).toBeNull()
    const oneLine = hashFile(write('one-line.csv', 'w'.repeat(MB + 5)))
    expect(await oneLine.longestLine).toEqual({ start: 0, bytes: MB + 5 })
  })

  it('reports the longest stretch between \\n bytes (a lone \\r does not end it) and whether the quote byte occurs', async () => {
    const text = `a,b\n1,${'x'.repeat(MB)}\r${'y'.repeat(MB)}\n2,3\n`
    const plain = hashFile(write('cr-inside.csv', text), { quote: '"' })
    expect(await plain.shape).toEqual({ longestNewlineSpan: 2 * MB + 3, quoteSeen: false })
    expect(await plain.longestLine).toEqual({ start: 4, bytes: MB + 2 })
    // The quote far past the first read, and a file with no quote asked for.
    const late = write('late-quote.csv', `${'1,2\n'.repeat(MB)}3,"x"\n`)
    expect((await hashFile(late, { quote: '"' }).shape).quoteSeen).toBe(true)
    expect((await hashFile(late).shape).quoteSeen).toBe(false)
    expect((await hashFile(late, { quote: "'" }).shape).quoteSeen).toBe(false)
  })
})
