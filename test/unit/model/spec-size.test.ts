import { describe, expect, it } from 'vitest'
import type { ModelSpec } from '../../../main/shared/contract'
import { MAX_TENSOR_VALUES, describeSpec, trainingBytes } from '../../../main/model/spec'

const mlp = (units: number): ModelSpec => ({
  version: 1,
  inputShape: [64],
  layers: [
    { type: 'dense', units, activation: 'relu' },
    { type: 'dense', units: 10, activation: 'softmax' }
  ]
})

describe('model size against memory', () => {
  it('counts parameters with their gradients and Adam slots, and one batch of activations', () => {
    const { layers, errors } = describeSpec(mlp(100), { memoryBytes: 1e12 })
    expect(errors).toEqual([])
    const params = 65 * 100 + 101 * 10
    expect(trainingBytes(layers, 32)).toBe(params * 16 + 32 * (100 + 10) * 8)
  })

  it('refuses a model that does not fit the memory, naming its size and the machine', () => {
    const [problem] = describeSpec(mlp(100), { memoryBytes: 64 * 1024, batchSize: 32 }).errors
    expect(problem?.message).toBe(
      "the model needs about 145 KiB of memory to train (7,510 parameters with their gradients and optimizer state, and the activations of a batch of 32), more than this machine's 64 KiB: make it smaller"
    )
    // A smaller batch does not change the parameters' share.
    expect(describeSpec(mlp(100), { memoryBytes: 64 * 1024, batchSize: 1 }).errors).toHaveLength(1)
  })

  it('refuses a layer with more values than one tensor holds, before any allocation', () => {
    const [problem] = describeSpec(mlp(1e12)).errors
    expect(problem?.message).toBe(
      `layer 1 (dense): has 65,000,000,000,000 parameters, more than one tensor can hold (${MAX_TENSOR_VALUES.toLocaleString('en')}): make it smaller`
    )
    expect(problem?.layer).toBe(0)
  })
})
