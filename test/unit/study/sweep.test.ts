/** Sweeps as configurations: grid and random points, each setting applied to a whole model + partition + config. */
import { describe, expect, it } from 'vitest'
import { trainConfig } from '../../../main/shared/contract'
import { defaultModel } from '../../../main/model/presets'
import { applyPoint, compareConfigs, sweepConfigs, sweepPoints } from '../../../main/study/sweep'

const source = { inputShape: [61], classes: 10 }
const base = { ...defaultModel(source), config: trainConfig.parse({}) }

describe('sweep points', () => {
  it('a grid is every combination, in order', () => {
    const points = sweepPoints({ method: 'grid', seed: 0, params: { learningRate: [0.001, 0.01], mode: ['end-to-end', 'layer-wise'] } })
    expect(points).toEqual([
      { learningRate: 0.001, mode: 'end-to-end' },
      { learningRate: 0.001, mode: 'layer-wise' },
      { learningRate: 0.01, mode: 'end-to-end' },
      { learningRate: 0.01, mode: 'layer-wise' }
    ])
  })

  it('random search draws `samples` points from lists and log-uniform ranges, the same from the same seed', () => {
    const sweep = { method: 'random' as const, samples: 20, seed: 3, params: { learningRate: { min: 1e-4, max: 1e-2, log: true }, epochs: [5, 10] } }
    const points = sweepPoints(sweep)
    expect(points).toHaveLength(20)
    expect(sweepPoints(sweep)).toEqual(points)
    for (const p of points) {
      expect(p.learningRate).toBeGreaterThanOrEqual(1e-4)
      expect(p.learningRate).toBeLessThanOrEqual(1e-2)
      expect([5, 10]).toContain(p.epochs)
    }
    // Log-uniform: about half the draws below the geometric middle (1e-3).
    const below = points.filter((p) => (p.learningRate as number) < 1e-3).length
    expect(below).toBeGreaterThan(4)
    expect(below).toBeLessThan(16)
  })

  it('refuses what cannot be searched in one line', () => {
    expect(() => sweepPoints({ method: 'grid', seed: 0, params: {} })).toThrow(/choose at least one setting/)
    expect(() => sweepPoints({ method: 'grid', seed: 0, params: { learningRate: { min: 0.001, max: 0.01, log: false } } })).toThrow(
      'sweep learningRate: a range {min, max} needs method "random"; a grid takes a list of values'
    )
    expect(() => sweepPoints({ method: 'random', seed: 0, params: { epochs: [1] } })).toThrow(/needs samples/)
    const big = Array.from({ length: 15 }, (_, i) => 0.001 * (i + 1))
    expect(() => sweepPoints({ method: 'grid', seed: 0, params: { learningRate: big, epochs: big.map((_, i) => i + 1) } })).toThrow(
      /225 points; at most 200/
    )
  })
})

describe('a point applied to the base', () => {
  it('hidden sizes rebuild the MLP with one block per hidden layer, keeping the base block settings', () => {
    const c = applyPoint(base, { hidden: [32, 16, 8] }, source)
    expect(c.spec.layers.map((l) => (l.type === 'dense' ? l.units : l.type))).toEqual([32, 16, 8, 10])
    expect(c.partition.blocks.map((b) => [b.start, b.end])).toEqual([
      [0, 1],
      [1, 2],
      [2, 4]
    ])
    expect(c.settings).toEqual({ hidden: '32-16-8' })
  })

  it('boundaries cut the layers into blocks; per-block rates set each block; epochs and mode set the config', () => {
    const c = applyPoint(base, { boundaries: [2], blockLearningRates: [0.01, 0.001], epochs: 7, mode: 'layer-wise' }, source)
    expect(c.partition.blocks.map((b) => [b.start, b.end])).toEqual([
      [0, 2],
      [2, 3]
    ])
    expect(c.partition.blocks.map((b) => b.settings.learningRate)).toEqual([0.01, 0.001])
    expect(c.partition.blocks.map((b) => b.settings.epochs)).toEqual([7, 7])
    expect(c.config).toMatchObject({ epochs: 7, mode: 'layer-wise' })
    expect(c.name).toBe('cuts 2 · block lr 0.01/0.001 · epochs 7 · mode layer-wise')
    expect(() => applyPoint(base, { boundaries: [3] }, source)).toThrow(/need increasing layer indices between 1 and 2/)
  })

  it('every configuration of a sweep is checked against the data; a comparison is the base in each mode', () => {
    expect(sweepConfigs(base, { method: 'grid', seed: 0, params: { hidden: [[8], [16, 16]] } }, source)).toHaveLength(2)
    expect(compareConfigs(base, ['end-to-end', 'layer-wise']).map((c) => [c.name, c.config.mode])).toEqual([
      ['end-to-end', 'end-to-end'],
      ['layer-wise', 'layer-wise']
    ])
  })
})
