/** Progressive freezing (FreezeOut): when each block freezes, that it then stays put, and its annealed rate. */
import * as tf from '@tensorflow/tfjs'
import { beforeAll, describe, expect, it } from 'vitest'
import { trainConfig, type EpochRow } from '../../../main/shared/contract'
import { activateBackend, planBackend } from '../../../main/core/backend'
import { defaultModel } from '../../../main/model/presets'
import { train } from '../../../main/train/engine'
import { freezeOutEpochs } from '../../../main/train/freezeOut'
import { loadDigits } from '../../fixtures/digits'
import { classified } from '../../fixtures/figures'

const digits = await loadDigits()

beforeAll(async () => {
  await activateBackend(tf, planBackend({}))
})

const weightsOf = (model: tf.LayersModel, start: number, end: number): number[] =>
  model.layers.slice(start, end).flatMap((layer) => layer.weights.flatMap((w) => Array.from(w.read().dataSync())))

describe('FreezeOut', () => {
  it('spreads the freezing points from firstFreeze to the end, lower blocks first', () => {
    expect(freezeOutEpochs(3, 10, 0.8)).toEqual([8, 9, 10])
    expect(freezeOutEpochs(4, 10, 0.5)).toEqual([5, 7, 9, 10])
    expect(freezeOutEpochs(1, 5, 0.5)).toEqual([5])
    // Never less than one epoch.
    expect(freezeOutEpochs(2, 1, 0.1)).toEqual([1, 1])
  })

  it('trains a block until its point, then leaves it untouched while the blocks above go on, each on its own cosine', async () => {
    const { spec, partition } = defaultModel({ inputShape: digits.inputShape, classes: 10 })
    const config = trainConfig.parse({ epochs: 4, patience: 0, freezeOut: { enabled: true, firstFreeze: 0.5 } })
    let model: tf.LayersModel | null = null
    const first: number[][] = []
    const second: number[][] = []
    const rows: EpochRow[] = []
    const snap = () => {
      first.push(weightsOf(model!, partition.blocks[0]!.start, partition.blocks[0]!.end))
      second.push(weightsOf(model!, partition.blocks[1]!.start, partition.blocks[1]!.end))
    }
    const outcome = await train(
      { spec, partition, config, data: digits },
      {
        onStageStart: (_, m) => {
          model = m
          snap()
        },
        onEpoch: (row) => {
          rows.push(row)
          snap()
        }
      }
    )
    // Two blocks, firstFreeze 0.5 of 4 epochs: block 1 trains epochs 1–2, block 2 all four.
    expect(first[1]).not.toEqual(first[0])
    expect(first[2]).not.toEqual(first[1])
    expect(first[3]).toEqual(first[2])
    expect(first[4]).toEqual(first[2])
    for (let e = 1; e <= 4; e++) expect(second[e]).not.toEqual(second[e - 1])
    // The rows carry the top block's rate: a cosine over its four epochs.
    const rate = partition.blocks[1]!.settings.learningRate
    expect(rows.map((r) => r.learningRate / rate)).toEqual([1, 0.8535533905932737, 0.5, 0.14644660940672627].map((f) => expect.closeTo(f, 10)))
    expect(classified(outcome.metrics).testAccuracy).toBeGreaterThan(0.9)
    outcome.model.dispose()
  })
})
