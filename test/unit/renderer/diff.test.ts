import { describe, expect, it } from 'vitest'
import type { RunDetail } from '../../../main/shared/contract'
import { blockSettings, trainConfig } from '../../../main/shared/contract'
import { diffSettings, runSettings, sequence } from '../../../renderer/src/components/experiments/diff'

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
    ...overrides
  }
}

describe('settings diff', () => {
  it('lists only what differs between runs', () => {
    const a = run({})
    const b = run({ runId: 'run-2', mode: 'layer-wise', seed: 7, lr: 0.01 })
    const rows = diffSettings([a, b])
    expect(rows).toContainEqual({ key: 'mode', values: ['end-to-end', 'layer-wise'] })
    expect(rows).toContainEqual({ key: 'seed', values: ['42', '7'] })
    expect(rows).toContainEqual({ key: 'Block 1.learningRate', values: ['0.001', '0.01'] })
    expect(rows.find((r) => r.key === 'dataset')).toBeUndefined()
    expect(diffSettings([a, run({})])).toEqual([])
  })
  it('reads layers as a person would', () => {
    expect(runSettings(run({}))['model.layer 1']).toBe('dense (units 100, activation relu)')
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
