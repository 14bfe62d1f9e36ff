/**
 * denseTrain.wat's gemm on every kind of edge: rows, columns and depth that are not multiples of its tiles
 * (2 × 16, 4 × 8, 4 × 4 in blocks of 4 rows), 1 included, in each mode and activation, A read plainly or
 * transposed, C with and without padding after its rows. Each element must be the same bits as a plain-JS
 * reference that does exactly what every tile does: start from 0, C or the bias and add A[m, k]·B[k, n] for k
 * ascending, rounded to float32 after the multiply and after the add (plain build) or once per multiply-add (the
 * fused build, where this CPU fuses it), then relu (pmax with 0) or relu6. And nothing outside C's M × N
 * elements is written: the padding after each row and the 16 bytes after C keep their sentinel.
 */
import { describe, expect, it } from 'vitest'
import { seededRandom } from '../../../main/core/random'
import { denseTrainKernel, type DenseTrainKernel, type DenseTrainVariant } from '../../../main/train/fast/kernels'

const variants = (): DenseTrainVariant[] => (['fused', 'plain'] as const).filter((variant) => denseTrainKernel(variant) !== null)

const f32 = new Float32Array(1)
const i32 = new Int32Array(f32.buffer)

/** The float32 next to r (a float32) towards +∞ (up) or −∞. */
function nextFloat(r: number, up: boolean): number {
  if (r === 0) return up ? 2 ** -149 : -(2 ** -149)
  f32[0] = r
  i32[0]! += r > 0 === up ? 1 : -1
  return f32[0]!
}

/** a·b + c rounded once to float32 (a, b, c float32): the product is exact in float64, the sum's error is kept. */
function fusedMultiplyAdd(a: number, b: number, c: number): number {
  const p = a * b
  const s = p + c
  const v = s - p
  const error = p - (s - v) + (c - v)
  const r = Math.fround(s)
  if (error === 0 || r === s) return r
  // rounding s to float32 after rounding to float64 goes wrong only where s fell exactly halfway between two floats
  const [low, high] = r > s ? [nextFloat(r, false), r] : [r, nextFloat(r, true)]
  if (s !== (low + high) / 2) return r
  return error > 0 ? high : low
}

const multiplyThenAdd = (a: number, b: number, c: number) => Math.fround(c + Math.fround(a * b))

/** C as the kernel defines it, element by element. */
function reference(
  madd: (a: number, b: number, c: number) => number,
  A: Float32Array,
  B: Float32Array,
  bias: Float32Array,
  C: Float32Array,
  [M, N, K]: readonly [number, number, number],
  transposed: boolean,
  mode: number,
  act: number
): Float32Array {
  const out = new Float32Array(M * N)
  for (let m = 0; m < M; m++)
    for (let n = 0; n < N; n++) {
      let acc = mode === 1 ? C[m * N + n]! : mode === 2 ? bias[n]! : 0
      for (let k = 0; k < K; k++) acc = madd(transposed ? A[k * M + m]! : A[m * K + k]!, B[k * N + n]!, acc)
      if (act > 0) acc = acc < 0 ? 0 : acc
      if (act === 2) acc = 6 < acc ? 6 : acc
      out[m * N + n] = acc
    }
  return out
}

/** Whether this build's multiply-add is fused here: (1 + 2⁻¹²)² − 1 keeps its 2⁻²⁴ only when fused. */
function fusedHere(gemm: DenseTrainKernel['gemm'], memory: WebAssembly.Memory): boolean {
  const heap = new Float32Array(memory.buffer)
  heap.set([1 + 2 ** -12, 0, 0, 0], 0)
  heap.set([1 + 2 ** -12, 0, 0, 0], 4)
  heap.set([-1, 0, 0, 0], 8)
  gemm(32, 0, 16, 0, 1, 1, 1, 4, 4, 4, 4, 1, 0)
  return heap[8] === 2 ** -11 + 2 ** -24
}

const SENTINEL = 12345.5

describe('gemm tiles', () => {
  for (const variant of variants())
    it(`${variant} build: every edge shape gives the reference's bits and writes only C`, () => {
      const opened = denseTrainKernel(variant)!
      const { exports } = opened
      exports.memory.grow(4)
      const fused = fusedHere(exports.gemm, exports.memory)
      if (variant === 'plain') expect(fused).toBe(false)
      const madd = fused ? fusedMultiplyAdd : multiplyThenAdd
      const random = seededRandom(20)
      const values = (count: number) => Float32Array.from({ length: count }, () => Math.fround(random() * 2 - 1))
      const rows = [1, 2, 3, 4, 5, 6, 7, 9, 13, 18]
      const columns = [1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 23, 24, 31, 33, 40]
      const depths = [1, 2, 3, 17]
      let cases = 0
      for (const M of rows)
        for (const N of columns) {
          const K = depths[cases % depths.length]!
          const mode = cases % 3
          const act = (cases >> 1) % 3
          const transposed = cases % 4 === 1
          const padding = cases % 5 === 2 ? 3 : 0
          cases++
          const ldc = (N + padding) * 4
          const A = values(M * K)
          const B = values(K * N)
          const bias = values(N)
          const C = values(M * N)
          const heap = new Float32Array(exports.memory.buffer)
          const a = 64
          const b = a + M * K * 4 + 16
          const biasAt = b + K * N * 4 + 16
          const c = biasAt + N * 4 + 16
          heap.set(A, a / 4)
          heap.set(B, b / 4)
          heap.set(bias, biasAt / 4)
          heap.fill(SENTINEL, c / 4, c / 4 + (M * ldc) / 4 + 4)
          for (let m = 0; m < M; m++) heap.set(C.subarray(m * N, (m + 1) * N), (c + m * ldc) / 4)
          if (transposed) exports.gemm(c, a, b, biasAt, M, N, K, 4, M * 4, N * 4, ldc, mode, act)
          else exports.gemm(c, a, b, biasAt, M, N, K, K * 4, 4, N * 4, ldc, mode, act)
          const expected = reference(madd, A, B, bias, C, [M, N, K], transposed, mode, act)
          const shape = `${M}×${N}×${K} mode ${mode} act ${act}${transposed ? ' Aᵀ' : ''} ldc ${ldc}`
          for (let m = 0; m < M; m++) {
            for (let n = 0; n < N; n++) {
              const got = heap[(c + m * ldc) / 4 + n]!
              if (!Object.is(got, expected[m * N + n])) expect(got, `${shape} at ${m}, ${n}`).toBe(expected[m * N + n])
            }
            for (let n = N; n < N + padding; n++) expect(heap[(c + m * ldc) / 4 + n], `${shape}: padding of row ${m}`).toBe(SENTINEL)
          }
          for (let i = 0; i < 4; i++) expect(heap[(c + M * ldc) / 4 + i], `${shape}: after C`).toBe(SENTINEL)
        }
      expect(cases).toBe(rows.length * columns.length)
    })
})

describe('a product summed over k in two calls', () => {
  // The schedule issue 20's note names for two threads (each its rows of the batch through the backward pass): a
  // weight gradient xᵀ·dz summed over the first rows in mode 0 and continued from that C over the rest in mode 1
  // must give the bits of one call, since each element is one accumulator adding k in order.
  for (const variant of variants())
    it(`${variant} build: mode 0 over k < h then mode 1 over the rest gives one call's bits (A read transposed)`, () => {
      const { exports } = denseTrainKernel(variant)!
      exports.memory.grow(8)
      const random = seededRandom(31)
      const values = (count: number) => Float32Array.from({ length: count }, () => Math.fround(random() * 2 - 1))
      for (const [M, N, K, h] of [
        [64, 100, 200, 100],
        [100, 10, 59, 28],
        [37, 23, 61, 30],
        [13, 9, 7, 3]
      ] as const) {
        const heap = new Float32Array(exports.memory.buffer)
        const a = 64
        const b = a + M * K * 4 + 16
        const whole = b + K * N * 4 + 16
        const split = whole + M * N * 4 + 16
        heap.set(values(M * K), a / 4)
        heap.set(values(K * N), b / 4)
        // A (m, k) at a + 4m + 4Mk: the layer's input, row k of the batch; B (k, n) at b + 4Nk: dz.
        exports.gemm(whole, a, b, 0, M, N, K, 4, M * 4, N * 4, N * 4, 0, 0)
        exports.gemm(split, a, b, 0, M, N, h, 4, M * 4, N * 4, N * 4, 0, 0)
        exports.gemm(split, a + h * M * 4, b + h * N * 4, 0, M, N, K - h, 4, M * 4, N * 4, N * 4, 1, 0)
        const one = heap.slice(whole / 4, whole / 4 + M * N)
        const two = heap.slice(split / 4, split / 4 + M * N)
        const differs = one.findIndex((value, i) => !Object.is(value, two[i]))
        expect(differs, `${M}×${N}×${K} cut at ${h}`).toBe(-1)
        expect(one.some((value) => value !== 0)).toBe(true)
      }
    })
})
