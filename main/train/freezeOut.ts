/**
 * Progressive freezing (FreezeOut, Brock et al. 2017), per block: block j of K trains for the first
 * t_j = firstFreeze + (1 − firstFreeze)·j/(K − 1) of the epochs on a cosine schedule that reaches zero at t_j,
 * then freezes, lower blocks first. A frozen block costs its forward only: below the lowest training block the
 * stage runs outside the gradient tape (stage.ts), so the backward pass and the updates of frozen blocks are
 * what it saves.
 */
import type { BlockSettings, TrainConfig } from '../shared/contract'
import { freezeOutEpochs } from '../shared/cost'

/** For each block, the number of epochs it trains (the last block: all of them); the rule lives with the budget. */
export { freezeOutEpochs }

/** A block's settings under FreezeOut: its own, annealed on a cosine over its active epochs (see Group.activeUntil). */
export const annealed = (settings: BlockSettings): BlockSettings => ({ ...settings, schedule: 'cosine' })

/** The epochs each block trains for under the config, or null without FreezeOut. */
export function freezeOutPlan(config: Pick<TrainConfig, 'freezeOut' | 'epochs'>, blockCount: number): number[] | null {
  return config.freezeOut.enabled ? freezeOutEpochs(blockCount, config.epochs, config.freezeOut.firstFreeze) : null
}
