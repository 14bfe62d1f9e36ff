/** Test inputs of the data tests. */
/** Rows of a small three-class table: numbers a, b and a label that a threshold on a decides. */
export function threeClassRows(n: number): { a: number; b: number; label: string }[] {
  return Array.from({ length: n }, (_, i) => {
    const a = (i * 7) % 23
    return { a, b: ((i * 13) % 17) / 4, label: a < 8 ? 'low' : a < 16 ? 'mid' : 'high' }
  })
}
