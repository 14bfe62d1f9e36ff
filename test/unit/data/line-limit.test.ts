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

/** How many distinct notes the dataset holds (the long one among them: one more than the short ones). */
async function noteDistinct(datasetId: string): Promise<number> {
  const dataset = await lab.datasets.get(datasetId)
  return dataset.columns.find((c) => c.name === 'note')!.distinct
}

describe('the CSV line limit', () => {
  for (const megabytes of [3, 9]) {
    it(`imports every row of a file with an unquoted ${megabytes} MB line`, async () => {
      const file = lab.write(`line-${megabytes}.csv`, ['a,note,label', ...rows(40, 7, 'w'.repeat(megabytes * MB))].join('\n'))
      const summary = await lab.datasets.import({ path: file })
      expect(summary.rows).toBe(40)
      expect(summary.parse.table?.setAside ?? null).toBeNull()
      expect(await noteDistinct(summary.datasetId)).toBe(4)
      await lab.datasets.delete(summary.datasetId)
    })
  }

  it('imports every row when a quoted field with line ends comes after the sample and is longer than the buffers', async () => {
    // 6,000 short rows (past the 64 KiB sample, which holds no quote), then a 5 MB field of 1 KB lines.
    const field = `"${`${'q'.repeat(1023)}\n`.repeat(5 * 1024)}"`
    const file = lab.write('late-quote.csv', ['a,note,label', ...rows(6_010, 6_000, field)].join('\n'))
    const summary = await lab.datasets.import({ path: file })
    expect(summary.rows).toBe(6_010)
    expect(summary.parse.table?.setAside ?? null).toBeNull()
    expect(await noteDistinct(summary.datasetId)).toBe(4)
    await lab.datasets.delete(summary.datasetId)
  })

  it('keeps the values of a plain file with short lines (the small limit itself)', async () => {
    const file = lab.write('plain.csv', ['a,note,label', ...rows(5_000, -1, '')].join('\n'))
    const summary = await lab.datasets.import({ path: file })
    expect(summary.rows).toBe(5_000)
    expect(await noteDistinct(summary.datasetId)).toBe(3)
    await lab.datasets.delete(summary.datasetId)
  })
})
