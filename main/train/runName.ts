/**
 * The default name of a run: what it trains on, how, with which key settings, and when —
 * "digits · layer-wise · 2 blocks × 30 ep + fine-tune 10 · 12-01 07:10:32". Two runs started the same minute no
 * longer share a name ("layer-wise 2026-12-01 07:10" twice); the store adds "(2)" if they would still collide.
 */
import type { Partition, TrainConfig } from '../shared/contract'

const two = (n: number): string => String(n).padStart(2, '0')

/** Local time, month to second: a person reads runs by when they started them. */
export function runTime(date: Date): string {
  return `${two(date.getMonth() + 1)}-${two(date.getDate())} ${two(date.getHours())}:${two(date.getMinutes())}:${two(date.getSeconds())}`
}

/** The settings that tell runs of one dataset apart at a glance. */
export function keySettings(config: TrainConfig, partition: Partition): string {
  if (config.mode === 'end-to-end') {
    const unfreeze = config.gradualUnfreeze ? ', gradual unfreezing' : ''
    return `${config.epochs} ep${config.patience ? `, patience ${config.patience}` : ''}${unfreeze}`
  }
  const epochs = partition.blocks.map((b) => b.settings.epochs)
  const same = epochs.every((e) => e === epochs[0])
  const count = partition.blocks.length
  const stages = same ? `${count} block${count === 1 ? '' : 's'} × ${epochs[0]} ep` : `blocks ${epochs.join('/')} ep`
  const tuned = config.fineTune.enabled && partition.blocks.some((b) => !b.settings.freezeAfter)
  return `${stages}${tuned ? ` + fine-tune ${config.fineTune.epochs}` : ''}`
}

export function defaultRunName(datasetName: string, config: TrainConfig, partition: Partition, at = new Date()): string {
  return [datasetName, config.mode, keySettings(config, partition), runTime(at)].filter(Boolean).join(' · ')
}
