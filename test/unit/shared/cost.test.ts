/** Budgets of configurations and the words for a run's figures (shared by the CLI and the renderer). */
import { describe, expect, it } from 'vitest'
import { trainConfig, type RunResources } from '../../../main/shared/contract'
import {
  blockStagePeak,
  budgetText,
  bytes,
  compareRss,
  compareStepMemory,
  RSS_EXPLAINED,
  sameBudgetBlockEpochs,
  trainingBudget
} from '../../../main/shared/cost'
import { partitionFromRanges } from '../../../main/model/presets'

const partition = partitionFromRanges([
  [0, 2],
  [2, 4],
  [4, 7]
])
for (const block of partition.blocks) block.settings.epochs = 8

describe('training budgets', () => {
  it('count passes over the data, block-epochs and examples for each mode', () => {
    const e2e = trainingBudget(trainConfig.parse({ mode: 'end-to-end', epochs: 8 }), partition, 2100)
    expect(e2e).toMatchObject({ passes: 8, blockEpochs: 24, examples: 16800 })
    const layerWise = trainingBudget(trainConfig.parse({ mode: 'layer-wise' }), partition, 2100)
    // 3 × 8 block epochs, then a 10-epoch fine-tune of all three blocks.
    expect(layerWise).toMatchObject({ passes: 34, blockEpochs: 54, examples: 34 * 2100 })
    expect(budgetText('layer-wise', layerWise)).toBe('34 passes over the data (71,400 examples), 54 block-epochs: 3 blocks × 8 epochs + fine-tune 10')
    const decoupled = trainingBudget(trainConfig.parse({ mode: 'decoupled', epochs: 8 }), partition, 2100)
    expect(decoupled).toMatchObject({ passes: 8, blockEpochs: 24 })
    const frozen = trainingBudget(
      trainConfig.parse({ mode: 'end-to-end', epochs: 10, freezeOut: { enabled: true, firstFreeze: 0.8 } }),
      partition,
      100
    )
    expect(frozen.blockEpochs).toBe(8 + 9 + 10)
  })

  it('gives layer-wise the same passes as end-to-end: the epochs left after the fine-tune, divided among the blocks', () => {
    expect(sameBudgetBlockEpochs(60, 3, 10)).toBe(16)
    expect(sameBudgetBlockEpochs(8, 3, 2)).toBe(2)
    expect(sameBudgetBlockEpochs(3, 3, 10)).toBe(1)
    expect(sameBudgetBlockEpochs(30, 2, 0)).toBe(15)
  })
})

describe('run figures in words', () => {
  const resources = (stages: Array<[RunResources['stages'][number]['phase'], number]>, pipeline: RunResources['pipeline'] = null): RunResources => ({
    stepPeakBytes: pipeline ? stages.reduce((a, [, b]) => a + b, 0) : Math.max(...stages.map(([, b]) => b)),
    peakRssBytes: 300 * 2 ** 20,
    backendHeapBytes: null,
    wallMs: 1000,
    examples: 100,
    stages: stages.map(([phase, stepPeakBytes], i) => ({
      name: phase === 'finetune' ? 'Fine-tune' : `Block ${i + 1}`,
      phase,
      block: phase === 'block' ? i : -1,
      blocks: phase === 'finetune' ? 3 : 1,
      stepPeakBytes,
      peakRssBytes: 1,
      ms: 1,
      examples: 1
    })),
    pipeline
  })

  it('format sizes and say which run held less tensor memory, and where its peak was', () => {
    expect(bytes(7 * 2 ** 20)).toBe('7.0 MiB')
    expect(bytes(207 * 1024)).toBe('207 KiB')
    expect(bytes(312 * 2 ** 20)).toBe('312 MiB')
    expect(bytes(null)).toBe('—')
    const e2e = { name: 'end-to-end run', resources: resources([['end-to-end', 14 * 2 ** 20]]) }
    const greedy = {
      name: 'layer-wise run',
      resources: resources([
        ['block', 7 * 2 ** 20],
        ['block', 5 * 2 ** 20],
        ['finetune', 6 * 2 ** 20]
      ])
    }
    expect(compareStepMemory(greedy, e2e)).toBe(
      "layer-wise run held 50 % less tensor memory per step than end-to-end run (7.0 MiB vs 14.0 MiB at its heaviest step: Block 1's stage)."
    )
    expect(blockStagePeak(greedy.resources)).toBe(7 * 2 ** 20)
    const pipelined = {
      name: 'pipeline',
      resources: resources(
        [
          ['decoupled', 4 * 2 ** 20],
          ['decoupled', 4 * 2 ** 20]
        ],
        { workers: 2, queue: 2, maxStepsInFlight: 2, maxQueued: 2 }
      )
    }
    expect(compareStepMemory(pipelined, e2e)).toContain('the sum over its 2 block workers')
    // With a whole-model fine-tune the run's peak is end-to-end's: the sentence adds the block stages' own.
    const tuned = {
      name: 'tuned',
      resources: resources([
        ['block', 7 * 2 ** 20],
        ['finetune', 14 * 2 ** 20]
      ])
    }
    expect(compareStepMemory(tuned, e2e)).toMatch(
      /^tuned held as much tensor memory per step as end-to-end run .* Its block stages alone held 7\.0 MiB, 50 % less than end-to-end run;/
    )
    expect(compareStepMemory({ name: 'old', resources: null }, e2e)).toBeNull()
  })

  it('compare peak RSS in a sentence, and say why when less step memory did not make it lower', () => {
    const withRss = (rss: number) => ({ ...resources([['block', 2 ** 20]]), peakRssBytes: rss * 2 ** 20 })
    const e2e = { name: 'end-to-end run', resources: withRss(240) }
    expect(compareRss({ name: 'lw', resources: withRss(216) }, e2e)).toBe(
      "Its peak RSS (the whole process) was 10 % lower than end-to-end run's (216 MiB vs 240 MiB)."
    )
    expect(compareRss({ name: 'lw', resources: withRss(264) }, e2e)).toBe(
      `Its peak RSS was 10 % higher than end-to-end run's (264 MiB vs 240 MiB): ${RSS_EXPLAINED}`
    )
    expect(compareRss({ name: 'lw', resources: withRss(240) }, e2e)).toMatch(/^Its peak RSS was about the same as end-to-end run's/)
    expect(compareRss({ name: 'old', resources: null }, e2e)).toBeNull()
  })
})
