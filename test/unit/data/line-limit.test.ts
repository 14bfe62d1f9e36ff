/**
 * A CSV whose rows are its lines is read with DuckDB's 2 MB line limit (its buffers are twice the limit, and 64 MB
 * ones cost a 1M-row file 0.3–0.45 s and ~90 MiB), and DuckDB leaves out a row longer than its buffer without a word:
 * each way a file can break that limit must still import every row, whole. Without the checks after the scan, the
 * 9 MB line and the late quoted field below are lost, and the 3 MB line is set aside.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openTestServices, type TestServices } from '../../fixtures/home'

let lab: TestServices
beforeAll(async () => {
  lab = await openTestServices()
})
afterAll(async () => {
  await lab.close()
})

const MB = 1 << 20

/** `n` rows of a, note, label; row `at`'s note is `note`. */
function rows(n: number, at: number, note: string): string[] {
  return Array.from({ length: n }, (_, i) => `${i},${i === at ? note : `n${i % 3}`},${i % 2 ? 'up' : 'down'}`)
}

/**
 * Imports `count` rows (row `at`'s note is `note`) and checks that every row came in whole: the row count, nothing
 * set aside, and the notes' distinct count (the long one is one more than the three short ones).
 */
async function importsWhole(name: string, count: number, at: number, note: string): Promise<void> {
  const summary = await lab.datasets.import({ path: lab.write(name, ['a,note,label', ...rows(count, at, note)].join('\n')) })
  expect(summary.rows).toBe(count)
  expect(summary.parse.table?.setAside ?? null).toBeNull()
  const dataset = await lab.datasets.get(summary.datasetId)
  expect(dataset.columns.find((c) => c.name === 'note')!.distinct).toBe(at < 0 ? 3 : 4)
  await lab.datasets.delete(summary.datasetId)
}

describe('the CSV line limit', () => {
  for (const megabytes of [3, 9]) {
    it(`imports every row of a file with an unquoted ${megabytes} MB line`, async () => {
      await importsWhole(`line-${megabytes}.csv`, 40, 7, 'w'.repeat(megabytes * MB))
    })
  }

  it('imports every row when a quoted field with line ends comes after the sample and is longer than the buffers', async () => {
    // 6,000 short rows (past the 64 KiB sample, which holds no quote), then a 5 MB field of 1 KB lines.
    await importsWhole('late-quote.csv', 6_010, 6_000, `"${`${'q'.repeat(1023)}\n`.repeat(5 * 1024)}"`)
  })

  it('keeps the values of a plain file with short lines (the small limit itself)', async () => {
    await importsWhole('plain.csv', 5_000, -1, '')
  })
})
