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

  it('bounds the longest CSV record: quoted line ends stay inside it, a lone \\r does not end it, doubled quotes change nothing', async () => {
    const records = { quote: '"', escape: '"' }
    const shape = async (name: string, text: string, options = records) =>
      (await hashFile(write(name, text), { records: options }).shape).longestRecord
    // An unquoted line with a \r inside, across the 1 MB reads: one record from its start to its \n.
    const cr = `1,${'x'.repeat(MB)}\r${'y'.repeat(MB)}`
    expect(await shape('cr.csv', `a,b\n${cr}\n2,3\n`)).toBe(cr.length)
    // A quoted field of 3 MB of short lines (with doubled quotes in it), past the first read.
    const field = `"say ""hi""\n${'a line\n'.repeat(450_000)}"`
    const quoted = `7,${field},z`
    expect(await shape('quoted.csv', `${'1,2,3\n'.repeat(200_000)}${quoted}\n4,5,6\n`)).toBe(quoted.length)
    // The same file read as having no quote character: its longest line is the bound.
    expect(await shape('quoted.csv', `${'1,2,3\n'.repeat(200_000)}${quoted}\n4,5,6\n`, { quote: '', escape: '' })).toBeLessThan(20)
    // Quotes escaped by a backslash, or a file quoted throughout: it cannot tell.
    expect(await shape('backslash.csv', 'a,b\n1,"x \\" y"\n', { quote: '"', escape: '\\' })).toBeNull()
    expect(await shape('many.csv', `${'"a",1\n'.repeat(120_000)}`)).toBeNull()
    // Short records: a small bound (the whole of the last line counts, its \n or not).
    expect(await shape('small.csv', 'a,b\n1,"two\nlines"\n3,4')).toBe(13)
  })
})
