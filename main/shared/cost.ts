/**
 * What a run costs and what it may cost, in words the CLI and the renderer share: the training budget of a
 * configuration (before a run), and the measured figures of a run (its stored resources), with the sentence
 * that says what the memory figure is. Pure: the renderer imports it.
 */
import type { Partition, RunResources, StageResources, TrainConfig, TrainMode } from './contract'

/** 7_340_032 → "7.0 MiB", 211_968 → "207 KiB"; null → "—". */
export function bytes(value: number | null | undefined): string {
  if (value === null || value === undefined) return '—'
  if (value >= 2 ** 30) return `${(value / 2 ** 30).toFixed(2)} GiB`
  if (value >= 2 ** 20) return `${(value / 2 ** 20).toFixed(value >= 100 * 2 ** 20 ? 0 : 1)} MiB`
  return `${Math.round(value / 1024)} KiB`
}

/** The one sentence that says what the step-memory figure is, next to every place it is shown. */
export const STEP_MEMORY_EXPLAINED =
  'Step memory is the most tensor memory one training step held at once (the weights, the optimizer’s state, one batch’s activations and their gradients), which is what training block by block shrinks; peak RSS is the whole process with its code and data, so it moves far less.'

// ---------------------------------------------------------------- the budget of a configuration

export interface StageBudget {
  name: string
  /** At most this many epochs (early stopping may end it sooner). */
  epochs: number
  /** Blocks whose weights it trains. */
  blocks: number
}

export interface Budget {
  stages: StageBudget[]
  /** Passes over the training rows. */
  passes: number
  /** Σ epochs × blocks trained: block 1 for 10 epochs and the whole 3-block model for 10 is 40. */
  blockEpochs: number
  /** passes × training rows. */
  examples: number
}

/** Epochs each block trains under FreezeOut (see train/freezeOut.ts: the same rule). */
export function freezeOutEpochs(blockCount: number, epochs: number, firstFreeze: number): number[] {
  return Array.from({ length: blockCount }, (_, j) => {
    const t = blockCount > 1 ? firstFreeze + ((1 - firstFreeze) * j) / (blockCount - 1) : 1
    return Math.max(1, Math.min(epochs, Math.ceil(t * epochs)))
  })
}

/** The most a configuration trains, before any early stopping. */
export function trainingBudget(config: TrainConfig, partition: Partition, trainRows: number): Budget {
  const blocks = partition.blocks
  const count = blocks.length
  let stages: StageBudget[]
  let passes: number
  let blockEpochs: number
  if (config.mode === 'layer-wise') {
    stages = blocks.map((block) => ({ name: block.name, epochs: block.settings.epochs, blocks: 1 }))
    const tuned = blocks.filter((block) => !block.settings.freezeAfter).length
    if (config.fineTune.enabled && tuned > 0) stages.push({ name: 'Fine-tune', epochs: config.fineTune.epochs, blocks: tuned })
    passes = stages.reduce((sum, stage) => sum + stage.epochs, 0)
    blockEpochs = stages.reduce((sum, stage) => sum + stage.epochs * stage.blocks, 0)
  } else {
    const trained = config.freezeOut.enabled ? freezeOutEpochs(count, config.epochs, config.freezeOut.firstFreeze) : blocks.map(() => config.epochs)
    stages =
      config.mode === 'decoupled'
        ? blocks.map((block, j) => ({ name: block.name, epochs: trained[j]!, blocks: 1 }))
        : [{ name: 'All blocks', epochs: config.epochs, blocks: count }]
    passes = config.epochs
    blockEpochs = trained.reduce((a, b) => a + b, 0)
  }
  return { stages, passes, blockEpochs, examples: passes * trainRows }
}

/**
 * Layer-wise epochs per block for the same passes over the data as end-to-end with `epochs`: the epochs left
 * after the fine-tune, divided among the blocks (at least one each).
 */
export function sameBudgetBlockEpochs(epochs: number, blockCount: number, fineTuneEpochs: number): number {
  return Math.max(1, Math.floor((epochs - fineTuneEpochs) / Math.max(1, blockCount)))
}

/** "3 blocks × 16 epochs + fine-tune 10": the budget in a few words. */
export function budgetText(mode: TrainMode, budget: Budget): string {
  const rows = `${budget.passes} passes over the data (${budget.examples.toLocaleString('en-US')} examples), ${budget.blockEpochs} block-epochs`
  if (mode === 'end-to-end') return `${rows}: every block in every pass`
  const blockStages = budget.stages.filter((stage) => stage.blocks === 1)
  const epochs = blockStages.map((stage) => stage.epochs)
  const same = epochs.every((e) => e === epochs[0])
  const perBlock = same ? `${blockStages.length} blocks × ${epochs[0] ?? 0} epochs` : `blocks ${epochs.join(' + ')} epochs`
  if (mode === 'decoupled') return `${rows}: every block in every pass, each against its own head`
  const fineTune = budget.stages.find((stage) => stage.blocks > 1 || stage.name === 'Fine-tune')
  return `${rows}: ${perBlock}${fineTune ? ` + fine-tune ${fineTune.epochs}` : ''}`
}

// ---------------------------------------------------------------- the figures of a run

/** The stage whose training step held the most tensor memory. */
export function heaviestStage(resources: RunResources): StageResources | null {
  return resources.stages.reduce<StageResources | null>((top, stage) => (!top || stage.stepPeakBytes > top.stepPeakBytes ? stage : top), null)
}

/** The heaviest step of the block stages alone (layer-wise, decoupled), without a whole-model fine-tune. */
export function blockStagePeak(resources: RunResources): number | null {
  const blocks = resources.stages.filter((stage) => stage.phase === 'block' || stage.phase === 'decoupled')
  return blocks.length ? Math.max(...blocks.map((stage) => stage.stepPeakBytes)) : null
}

/** Where the run's step peak comes from, in a few words. */
export function peakWhere(resources: RunResources): string {
  if (resources.pipeline) return `the sum over its ${resources.pipeline.workers} block workers, which train at once`
  const top = heaviestStage(resources)
  if (!top) return ''
  if (top.phase === 'end-to-end') return 'the whole model'
  if (top.phase === 'finetune') return top.blocks > 1 ? `the fine-tune of ${top.blocks} blocks` : 'the fine-tune'
  return `${top.name}'s stage`
}

/**
 * Two runs' step memory compared in one sentence ("… held 52 % less tensor memory per step than …"), or null when
 * either has no figures.
 */
export function compareStepMemory(
  run: { name: string; resources: RunResources | null },
  reference: { name: string; resources: RunResources | null }
): string | null {
  const a = run.resources?.stepPeakBytes
  const b = reference.resources?.stepPeakBytes
  if (!a || !b) return null
  const change = Math.round((100 * (a - b)) / b)
  const how = change === 0 ? 'as much tensor memory per step as' : `${Math.abs(change)} % ${change < 0 ? 'less' : 'more'} tensor memory per step than`
  const sentence = `${run.name} held ${how} ${reference.name} (${bytes(a)} vs ${bytes(b)} at its heaviest step: ${peakWhere(run.resources!)}).`
  // A fine-tune of the whole model is as heavy as end-to-end: say what the block stages alone held.
  const blocks = blockStagePeak(run.resources!)
  if (blocks === null || blocks >= a || heaviestStage(run.resources!)?.phase !== 'finetune') return sentence
  const saved = Math.round((100 * (b - blocks)) / b)
  const relation =
    saved > 0 ? `${saved} % less than ${reference.name}` : saved < 0 ? `${-saved} % more than ${reference.name}` : `as much as ${reference.name}`
  return `${sentence} Its block stages alone held ${bytes(blocks)}, ${relation}; leaving block 1 out of the fine-tune keeps the whole run there.`
}

/**
 * Two runs' peak RSS compared in one sentence, or null when either has no figures. A run that held less tensor
 * memory per step but not less RSS is told why in plain words rather than left to look like a contradiction.
 */
export function compareRss(
  run: { name: string; resources: RunResources | null },
  reference: { name: string; resources: RunResources | null }
): string | null {
  const a = run.resources?.peakRssBytes
  const b = reference.resources?.peakRssBytes
  if (!a || !b) return null
  const change = Math.round((100 * (a - b)) / b)
  const figures = `${bytes(a)} vs ${bytes(b)}`
  if (change < 0) return `Its peak RSS (the whole process) was ${-change} % lower than ${reference.name}'s (${figures}).`
  const how = change === 0 ? 'about the same as' : `${change} % higher than`
  return `Its peak RSS was ${how} ${reference.name}'s (${figures}): ${RSS_EXPLAINED}`
}

/** Why a smaller training step does not show in the process's peak RSS (measured: README, What a run costs). */
export const RSS_EXPLAINED =
  'most of a process’s memory is its code, the data set and memory the allocator keeps once it has been used, and a smaller training step gives none of that back.'
