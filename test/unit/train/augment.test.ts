import { describe, expect, it } from 'vitest'
import { augmentImage } from '../../../main/train/augment'
import { seededRandom } from '../../../main/core/random'

/** A 9×9 one-channel image with a bright vertical bar left of centre. */
function bar(): Float32Array {
  const image = new Float32Array(81)
  for (let y = 1; y < 8; y++) image[y * 9 + 2] = 1
  return image
}
const columnMass = (image: Float32Array, x: number) => Array.from({ length: 9 }, (_, y) => image[y * 9 + x]!).reduce((a, b) => a + b, 0)

describe('image augmentation', () => {
  it('is the identity with no rotation, shift or flip', () => {
    const out = new Float32Array(81)
    augmentImage(bar(), 0, out, 0, [9, 9, 1], () => 0.5, { flip: false, maxShift: 2, maxDegrees: 10 })
    expect(Array.from(out)).toEqual(Array.from(bar()))
  })

  it('flips horizontally when asked and the coin says so', () => {
    const out = new Float32Array(81)
    const coins = [0.5, 0.5, 0.5, 0.1] // angle 0, dy 0, dx 0, flip
    augmentImage(bar(), 0, out, 0, [9, 9, 1], () => coins.shift()!, { flip: true, maxShift: 2, maxDegrees: 10 })
    expect(columnMass(out, 6)).toBe(7)
    expect(columnMass(out, 2)).toBe(0)
  })

  it('shifts and rotates a little, writes only its own slot, and repeats with the same seed', () => {
    const source = new Float32Array(81 * 2)
    source.set(bar(), 81)
    const a = new Float32Array(81 * 3).fill(-1)
    const b = new Float32Array(81 * 3).fill(-1)
    augmentImage(source, 81, a, 81, [9, 9, 1], seededRandom(3))
    augmentImage(source, 81, b, 81, [9, 9, 1], seededRandom(3))
    expect(Array.from(a)).toEqual(Array.from(b))
    expect(a.subarray(0, 81).every((v) => v === -1) && a.subarray(162).every((v) => v === -1)).toBe(true)
    const mass = a.subarray(81, 162).reduce((s, v) => s + v, 0)
    // A ±10° rotation and ±2 px shift keep most of the bar inside the frame.
    expect(mass).toBeGreaterThanOrEqual(5)
    expect(mass).toBeLessThanOrEqual(9)
  })
})
