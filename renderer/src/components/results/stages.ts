/**
 * How each stage of a run ended, in words: "stopped early at 15/60: no better validation for 10 epochs", "cancelled
 * at epoch 12/30", "30/30 epochs". Pure (a run's config, partition, epoch rows and status in), so it is unit-tested
 * and the Train view, the run detail and the Compare view say the same thing.
 */
import type { EpochRow, Partition, RunStatus, TrainConfig } from '@contract'

export interface StageOutcome {
  key: string
  name: string
  phase: EpochRow['phase']
  /** The block, for a block's greedy stage. */
  block: number | null
  planned: number
  trained: number
  patience: number
  ended: 'finished' | 'stopped-early' | 'cancelled' | 'failed' | 'running' | 'not-run'
  /** Best validation accuracy among the stage's epochs (a block's head, or the whole model). */
  bestVal: number | null
}

export interface StagedRun {
  mode: TrainConfig['mode']
  config: TrainConfig
  partition: Partition
  epochs: EpochRow[]
  status: RunStatus
}

const bestOf = (rows: EpochRow[]): number | null =>
  rows.reduce<number | null>((best, r) => (r.valAccuracy !== null && (best === null || r.valAccuracy > best) ? r.valAccuracy : best), null)

/** Every stage the run's settings plan, in order, with how far it got. */
export function stageOutcomes(run: StagedRun): StageOutcome[] {
  const planned: Array<Omit<StageOutcome, 'trained' | 'ended' | 'bestVal'>> =
    run.mode === 'end-to-end'
      ? [{ key: 'end-to-end', name: 'whole model', phase: 'end-to-end', block: null, planned: run.config.epochs, patience: run.config.patience }]
      : [
          ...run.partition.blocks.map((b, i) => ({
            key: `block-${i}`,
            name: b.name,
            phase: 'block' as const,
            block: i,
            planned: b.settings.epochs,
            patience: b.settings.patience
          })),
          ...(run.config.fineTune.enabled && run.partition.blocks.some((b) => !b.settings.freezeAfter)
            ? [
                {
                  key: 'finetune',
                  name: 'fine-tune',
                  phase: 'finetune' as const,
                  block: null,
                  planned: run.config.fineTune.epochs,
                  patience: run.config.patience
                }
              ]
            : [])
        ]
  const rowsOf = (stage: (typeof planned)[number]) =>
    run.epochs.filter((r) => r.phase === stage.phase && (stage.block === null || r.block === stage.block))
  const trainedRows = planned.map(rowsOf)
  // The stage the run was in when it ended: the last one with epochs (or the first, when none has any yet).
  const lastWithRows = trainedRows.reduce((last, rows, i) => (rows.length ? i : last), -1)
  const ongoing = Math.max(0, lastWithRows)
  return planned.map((stage, i) => {
    const rows = trainedRows[i]!
    const trained = rows.length
    let ended: StageOutcome['ended']
    if (i < ongoing) ended = trained < stage.planned ? 'stopped-early' : 'finished'
    else if (i > ongoing) ended = 'not-run'
    else if (run.status === 'running' || run.status === 'queued') ended = 'running'
    else if (run.status === 'completed') ended = trained < stage.planned ? 'stopped-early' : 'finished'
    else if (trained >= stage.planned) ended = 'finished'
    else ended = run.status === 'failed' ? 'failed' : 'cancelled'
    // A completed run's later stages that never started: none (every planned stage runs); a cancelled run's: not run.
    if (ended === 'not-run' && run.status === 'completed') ended = 'finished'
    return { ...stage, trained, ended, bestVal: bestOf(rows) }
  })
}

/** One stage's end in words, as every view shows it. */
export function outcomeText(stage: StageOutcome): string {
  switch (stage.ended) {
    case 'stopped-early':
      return stage.patience > 0
        ? `stopped early at ${stage.trained}/${stage.planned}: no better validation for ${stage.patience} epoch${stage.patience === 1 ? '' : 's'}`
        : `stopped at ${stage.trained}/${stage.planned}`
    case 'finished':
      return `${stage.trained}/${stage.planned} epochs`
    case 'cancelled':
      return `cancelled at epoch ${stage.trained}/${stage.planned}`
    case 'failed':
      return `failed at epoch ${stage.trained}/${stage.planned}`
    case 'running':
      return `epoch ${stage.trained}/${stage.planned}`
    case 'not-run':
      return 'not run'
  }
}

/** The short form for a card: "15/60, stopped early". */
export function outcomeShort(stage: StageOutcome): string {
  switch (stage.ended) {
    case 'stopped-early':
      return `${stage.trained}/${stage.planned} ep, stopped early`
    case 'cancelled':
    case 'failed':
      return `${stage.ended} at ${stage.trained}/${stage.planned}`
    case 'not-run':
      return 'not run'
    default:
      return `${stage.trained}/${stage.planned} ep`
  }
}
