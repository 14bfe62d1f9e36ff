/** Wilson intervals and the overlap rule, against values computed by hand from the formula. */
import { describe, expect, it } from 'vitest'
import { accuracyInterval, clearlyBest, intervalsOverlap, wilsonInterval } from '../../../main/shared/intervals'

describe('Wilson interval', () => {
  it('matches the formula on the wine case of the issue: 25/27 and 24/27', () => {
    const [lo, hi] = wilsonInterval(25, 27)!
    expect(lo).toBeCloseTo(0.766304, 6)
    expect(hi).toBeCloseTo(0.979445, 6)
    const [lo24, hi24] = wilsonInterval(24, 27)!
    expect(lo24).toBeCloseTo(0.719422, 6)
    expect(hi24).toBeCloseTo(0.96148, 5)
  })

  it('stays inside [0, 1] and does not collapse at 0 or n', () => {
    const [lo, hi] = wilsonInterval(27, 27)!
    expect(lo).toBeCloseTo(0.875445, 6)
    expect(hi).toBeLessThanOrEqual(1)
    expect(wilsonInterval(0, 10)).toEqual([0, expect.closeTo(0.277533, 6)])
    expect(wilsonInterval(0, 0)).toBeNull()
    expect(wilsonInterval(5, 3)).toBeNull()
  })

  it('takes an accuracy and a row count', () => {
    expect(accuracyInterval(25 / 27, 27)).toEqual(wilsonInterval(25, 27))
  })
})

describe('overlap', () => {
  it('25/27 against 24/27 overlaps: neither run is best', () => {
    const a = wilsonInterval(25, 27)!
    const b = wilsonInterval(24, 27)!
    expect(intervalsOverlap(a, b)).toBe(true)
    expect(clearlyBest([a, b])).toBeNull()
  })

  it('a clearly separated interval is best; lower-is-better flips it', () => {
    const good = wilsonInterval(970, 1000)!
    const bad = wilsonInterval(900, 1000)!
    expect(intervalsOverlap(good, bad)).toBe(false)
    expect(clearlyBest([bad, good])).toBe(1)
    expect(clearlyBest([bad, good], false)).toBe(0)
    expect(clearlyBest([good, null])).toBeNull()
  })
})
