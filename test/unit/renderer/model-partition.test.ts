/**
 * The Model view's partition edits: whatever a person does to the layer stack (insert, remove, move a boundary,
 * split, merge), the partition must stay one the back end accepts: contiguous, non-empty, covering every layer.
 * Checked with the back end's own validator (main/model/spec) on the back end's own default models.
 */
import { describe, expect, it } from 'vitest'
import type { Partition } from '../../../main/shared/contract'
import { defaultModel } from '../../../main/model/presets'
import { validatePartition } from '../../../main/model/spec'
import {
  discriminativeRates,
  partitionAfterInsert,
  partitionAfterRemove,
  partitionMergeNext,
  partitionMoveBoundary,
  partitionSplitAt
} from '../../../renderer/src/stores/model'
import { buildCurves } from '../../../renderer/src/components/train/curves'

const ranges = (p: Partition) => p.blocks.map((b) => [b.start, b.end])

/** A small deterministic generator (mulberry32), so a failing sequence can be replayed. */
function random(seed: number): () => number {
  let a = seed
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

describe('partition edits', () => {
  const mlp = defaultModel({ inputShape: [64], classes: 10 }, { hidden: [100, 100] })

  it('an inserted layer joins the block of the layer before it; a removed one leaves its block', () => {
    expect(ranges(mlp.partition)).toEqual([
      [0, 1],
      [1, 3]
    ])
    const inserted = partitionAfterInsert(mlp.partition, 2)
    expect(ranges(inserted)).toEqual([
      [0, 1],
      [1, 4]
    ])
    expect(ranges(partitionAfterInsert(mlp.partition, 0))).toEqual([
      [0, 2],
      [2, 4]
    ])
    expect(ranges(partitionAfterRemove(inserted, 2))).toEqual([
      [0, 1],
      [1, 3]
    ])
    // Removing the only layer of a block removes the block, and names and colours follow the positions.
    const merged = partitionAfterRemove(mlp.partition, 0)
    expect(ranges(merged)).toEqual([[0, 2]])
    expect(merged.blocks[0]!.name).toBe('Block 1')
  })

  it('boundaries move, split and merge without ever emptying a block', () => {
    expect(ranges(partitionMoveBoundary(mlp.partition, 0, 1)!)).toEqual([
      [0, 2],
      [2, 3]
    ])
    expect(partitionMoveBoundary(mlp.partition, 0, -1)).toBeNull()
    expect(partitionMoveBoundary(mlp.partition, 0, 2)).toBeNull()
    const split = partitionSplitAt(mlp.partition, 2)!
    expect(ranges(split)).toEqual([
      [0, 1],
      [1, 2],
      [2, 3]
    ])
    expect(split.blocks.map((b) => b.name)).toEqual(['Block 1', 'Block 2', 'Block 3'])
    expect(new Set(split.blocks.map((b) => b.color)).size).toBe(3)
    expect(partitionSplitAt(mlp.partition, 1)).toBeNull() // already a boundary
    expect(ranges(partitionMergeNext(split, 1)!)).toEqual([
      [0, 1],
      [1, 3]
    ])
    expect(partitionMergeNext(split, 2)).toBeNull()
  })

  it('stays valid for the back end through long random edit sequences on the MLP and the CNN', () => {
    const cnn = defaultModel({ inputShape: [16, 16, 1], classes: 3 })
    for (const [start, seed] of [
      [mlp, 1],
      [cnn, 2],
      [mlp, 3],
      [cnn, 4]
    ] as const) {
      const next = random(seed)
      let partition = start.partition
      let layers = start.spec.layers.length
      for (let step = 0; step < 300; step++) {
        const pick = Math.floor(next() * 5)
        const at = Math.floor(next() * layers)
        const block = Math.floor(next() * partition.blocks.length)
        if (pick === 0 && layers < 30) {
          partition = partitionAfterInsert(partition, Math.floor(next() * (layers + 1)))
          layers++
        } else if (pick === 1 && layers > 1) {
          partition = partitionAfterRemove(partition, at)
          layers--
        } else if (pick === 2) partition = partitionMoveBoundary(partition, block, next() < 0.5 ? -1 : 1) ?? partition
        else if (pick === 3) partition = partitionSplitAt(partition, at) ?? partition
        else partition = partitionMergeNext(partition, block) ?? partition
        expect(validatePartition(partition, layers), `seed ${seed}, step ${step}`).toEqual([])
      }
    }
  })

  it('discriminative rates divide by 2.6 per block below the top one', () => {
    const three = partitionSplitAt(mlp.partition, 2)!
    three.blocks[2]!.settings.learningRate = 0.01
    const rates = discriminativeRates(three).blocks.map((b) => b.settings.learningRate)
    expect(rates[2]).toBe(0.01)
    // Rounded to 4 significant digits for the rate field.
    expect(Math.abs(rates[1]! / (0.01 / 2.6) - 1)).toBeLessThan(5e-4)
    expect(Math.abs(rates[0]! / (0.01 / 2.6 ** 2) - 1)).toBeLessThan(5e-4)
  })
})

describe('training curves', () => {
  it('puts stages one after another, one curve per stage and split, validation dashed', () => {
    const row = (phase: 'block' | 'finetune', block: number, epoch: number) => ({
      phase,
      block,
      epoch,
      loss: 1 / epoch,
      accuracy: epoch / 10,
      valLoss: 1.1 / epoch,
      valAccuracy: epoch / 11,
      learningRate: 0.001,
      samplesPerSec: 1000
    })
    const rows = [row('block', 0, 1), row('block', 0, 2), row('block', 1, 1), row('finetune', 2, 1)]
    const { loss, accuracy, bands } = buildCurves(rows, [
      { name: 'Block 1', color: '#111111' },
      { name: 'Block 2', color: '#222222' }
    ])
    expect(loss.map((c) => [c.name, Boolean(c.dashed)])).toEqual([
      ['Block 1', false],
      ['Block 1', true],
      ['Block 2', false],
      ['Block 2', true],
      ['fine-tune', false],
      ['fine-tune', true]
    ])
    expect(loss[0]!.points).toEqual([
      [1, 1],
      [2, 0.5]
    ])
    expect(accuracy[2]!.points).toEqual([[3, 0.1]])
    expect(bands.map((b) => [b.from, b.to])).toEqual([
      [0.5, 2.5],
      [2.5, 3.5],
      [3.5, 4.5]
    ])
    expect(loss[2]!.color).toBe('#222222')
  })
})
