import { describe, expect, it } from 'vitest'
import type { RunDetail } from '../../../main/shared/contract'
import { blockSettings, trainConfig } from '../../../main/shared/contract'
import { diffSettings, distinctNames, runSettings, sequence } from '../../../renderer/src/components/experiments/diff'

function run(overrides: Partial<RunDetail> & { lr?: number }): RunDetail {
  const settings = blockSettings.parse({ learningRate: overrides.lr ?? 0.001 })
  return {
    runId: 'run-1',
    name: 'a',
    datasetId: 'ds-1',
    datasetName: 'digits',
    task: 'classification',
    mode: 'end-to-end',
    status: 'completed',
    backend: 'wasm',
    seed: 42,
    metrics: null,
    tags: [],
    notes: '',
    error: null,
    createdAt: '',
    startedAt: null,
    endedAt: null,
    spec: {
      version: 1,
      inputShape: [64],
      layers: [
        { type: 'dense', units: 100, activation: 'relu' },
        { type: 'dense', units: 10, activation: 'softmax' }
      ]
    },
    partition: { blocks: [{ name: 'Block 1', color: '#2f6fde', start: 0, end: 2, settings }] },
    config: trainConfig.parse({}),
    epochs: [],
    blocks: [],
    evaluation: null,
    artifacts: [],
    timing: null,
    peakRssBytes: null,
    resources: null,
    ...overrides
  }
}

describe('settings diff', () => {
  it('lists only what differs between runs', () => {
    const a = run({})
    const b = run({ runId: 'run-2', seed: 7, lr: 0.01 })
    const rows = diffSettings([a, b])
    expect(rows).toContainEqual({ key: 'seed', values: ['42', '7'] })
    expect(rows).toContainEqual({ key: 'Block 1 · optimizer', values: ['Adam, learning rate 0.001', 'Adam, learning rate 0.01'] })
    expect(rows.find((r) => r.key === 'dataset')).toBeUndefined()
    expect(diffSettings([a, run({})])).toEqual([])
  })
  it('diffs the settings that took effect, in plain words: end-to-end 60 epochs, patience 10 against layer-wise 30 per block + 10 fine-tune', () => {
    const e2e = run({ config: trainConfig.parse({ mode: 'end-to-end', epochs: 60, patience: 10 }) })
    const settings = blockSettings.parse({ epochs: 30, patience: 5, freezeAfter: false })
    const layerWise = run({
      runId: 'run-2',
      mode: 'layer-wise',
      config: trainConfig.parse({ mode: 'layer-wise', fineTune: { enabled: true, epochs: 10, learningRateFactor: 0.1 } }),
      partition: { blocks: [{ name: 'Block 1', color: '#2f6fde', start: 0, end: 2, settings }] }
    })
    const rows = Object.fromEntries(diffSettings([e2e, layerWise]).map((r) => [r.key, r.values]))
    expect(rows['how it trains']).toEqual(['end-to-end: all layers at once', 'layer-wise: block by block, each with its own head'])
    expect(rows['epochs']).toEqual(['up to 60, stop after 10 epochs without better validation accuracy', '— (not used in this mode)'])
    expect(rows['fine-tune after the blocks']).toEqual([
      '— (not used in this mode)',
      "up to 10 epochs at 0.1 × each block's learning rate, stop after 10 epochs without better validation accuracy"
    ])
    expect(rows['Block 1 · epochs']).toEqual([
      '— (not used in this mode)',
      "up to 30, stop after 5 epochs without better validation accuracy of the block's head"
    ])
    // No raw keys anywhere.
    expect(Object.keys(rows).filter((k) => /config\.|\w\.\w/.test(k))).toEqual([])
  })
  it('reads layers as a person would, counted from 1', () => {
    expect(runSettings(run({})).get('layer 1')).toBe('dense 100, relu')
    expect(runSettings(run({})).get('Block 1 · layers')).toBe('layers 1–2')
  })
  it('names compared runs by what tells them apart', () => {
    expect(distinctNames(['species · end-to-end · 60 ep · 10:38', 'species · layer-wise · 2 blocks · 10:38'])).toEqual([
      'end-to-end · 60 ep · 10:38',
      'layer-wise · 2 blocks · 10:38'
    ])
    expect(distinctNames(['wine e2e', 'wine lw'])).toEqual(['wine e2e', 'wine lw'])
    expect(distinctNames(['a · b', 'a · b'])).toEqual(['a · b', 'a · b'])
  })
  it('lays epochs of every stage end to end', () => {
    const r = run({
      epochs: [
        { block: 0, phase: 'block', epoch: 1, loss: 1, accuracy: 0.5, valLoss: 1, valAccuracy: 0.6, learningRate: 0.01, samplesPerSec: 1 },
        { block: 1, phase: 'block', epoch: 1, loss: 0.5, accuracy: 0.7, valLoss: null, valAccuracy: null, learningRate: 0.01, samplesPerSec: 1 },
        { block: 1, phase: 'finetune', epoch: 1, loss: 0.2, accuracy: 0.9, valLoss: 0.3, valAccuracy: 0.95, learningRate: 0.001, samplesPerSec: 1 }
      ]
    })
    expect(sequence(r, 'valAccuracy')).toEqual([
      [1, 0.6],
      [3, 0.95]
    ])
  })
})
