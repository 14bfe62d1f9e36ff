/** The bench's paired ratio (bench/stats.ts): what the README's "ours over theirs" figures and intervals are. */
import { describe, expect, it } from 'vitest'
import { pairedRatio, pairedRepetition, ratioText } from '../../../bench/stats'

describe('pairedRatio', () => {
  it('cancels a drift both sides of a pair share', () => {
    // The machine's speed swings 2.5× between repetitions; ours is always 0.6× theirs.
    const theirs = [400, 800, 1000, 450, 700]
    const ours = theirs.map((ms) => 0.6 * ms)
    const { ratio, ci95, n } = pairedRatio(ours, theirs)
    expect(n).toBe(5)
    expect(ratio).toBeCloseTo(0.6, 12)
    expect(ci95![0]).toBeCloseTo(0.6, 12)
    expect(ci95![1]).toBeCloseTo(0.6, 12)
  })

  it('is the geometric mean of the ratios with a t interval on their logs', () => {
    // log ratios 0, ln 2, ln 4: mean ln 2, sd ln 2, t(0.975, 2) = 4.3027
    const { ratio, ci95 } = pairedRatio([1, 2, 4], [1, 1, 1])
    expect(ratio).toBeCloseTo(2, 12)
    const half = (4.302652729911275 * Math.LN2) / Math.sqrt(3)
    expect(ci95![0]).toBeCloseTo(Math.exp(Math.LN2 - half), 6)
    expect(ci95![1]).toBeCloseTo(Math.exp(Math.LN2 + half), 6)
    expect(ratioText({ ratio, ci95 })).toBe('2.00 (0.36–11.19)')
  })

  it('has no interval from one pair', () => {
    const paired = pairedRatio([3], [4])
    expect(paired.ratio).toBeCloseTo(0.75, 12)
    expect(paired.ci95).toBeNull()
    expect(ratioText(paired)).toBe('0.75')
  })
})

describe('pairedRepetition', () => {
  it('runs ours and the reference back to back, alternating which goes first, then the others in alternating order', async () => {
    const order: string[] = []
    const step = (name: string) => async () => void order.push(name)
    for (let rep = 0; rep < 2; rep++) await pairedRepetition(rep, step('ours'), step('reference'), [step('a'), step('b')])
    expect(order).toEqual(['ours', 'reference', 'a', 'b', 'reference', 'ours', 'b', 'a'])
  })
})
