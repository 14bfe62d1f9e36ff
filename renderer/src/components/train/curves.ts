/** Turns the epochs of a run into chart curves: one per stage (block, fine-tune, end-to-end) in its colour. */
import type { EpochRow, TrainMode } from '@contract'
import type { Band, Curve } from '../charts/types'

export type { Band, Curve }

export interface StageStyle {
  name: string
  color: string
}

const FINE_TUNE = { name: 'fine-tune', color: '#1f2328' }
const WHOLE_MODEL = { name: 'model', color: '#2f6fde' }

/**
 * x counts epochs across the whole run, so stages sit one after another on the same axis; a decoupled run trains
 * every block in every epoch, so its blocks' curves share the epochs (x = epoch, no stage bands).
 */
export function buildCurves(rows: EpochRow[], blocks: StageStyle[], mode?: TrainMode): { loss: Curve[]; accuracy: Curve[]; bands: Band[] } {
  const together = mode === 'decoupled'
  const stages = new Map<
    string,
    {
      style: StageStyle
      loss: Array<[number, number]>
      valLoss: Array<[number, number]>
      acc: Array<[number, number]>
      valAcc: Array<[number, number]>
      from: number
      to: number
    }
  >()
  rows.forEach((row, i) => {
    const x = together ? row.epoch : i + 1
    const key = row.phase === 'block' ? `block-${row.block}` : row.phase
    let stage = stages.get(key)
    if (!stage) {
      const style =
        row.phase === 'block'
          ? (blocks[row.block] ?? { name: `Block ${row.block + 1}`, color: '#6c8893' })
          : row.phase === 'finetune'
            ? FINE_TUNE
            : WHOLE_MODEL
      stage = { style, loss: [], valLoss: [], acc: [], valAcc: [], from: x, to: x }
      stages.set(key, stage)
    }
    stage.to = x
    stage.loss.push([x, row.loss])
    stage.acc.push([x, row.accuracy])
    if (row.valLoss !== null) stage.valLoss.push([x, row.valLoss])
    if (row.valAccuracy !== null) stage.valAcc.push([x, row.valAccuracy])
  })
  const loss: Curve[] = []
  const accuracy: Curve[] = []
  const bands: Band[] = []
  for (const stage of stages.values()) {
    const { name, color } = stage.style
    loss.push({ name, color, points: stage.loss })
    accuracy.push({ name, color, points: stage.acc })
    // Validation shares the stage's name, so the legend has one entry per stage (toggling both); dashed tells them apart.
    if (stage.valLoss.length) loss.push({ name, color, dashed: true, points: stage.valLoss })
    if (stage.valAcc.length) accuracy.push({ name, color, dashed: true, points: stage.valAcc })
    if (!together) bands.push({ name, color, from: stage.from - 0.5, to: stage.to + 0.5 })
  }
  return { loss, accuracy, bands }
}
