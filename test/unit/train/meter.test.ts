/**
 * The stage meter's RSS sampling (issue 20): a read of the process's RSS costs ~0.1 ms inside a training process, so
 * a stage samples it at most every RSS_SAMPLE_MS of its batches, and always at its end and the run's. The clock is
 * stubbed: the test counts samples, it does not time anything.
 */
import { afterEach, describe, expect, it, vi } from 'vitest'
import { RSS_SAMPLE_MS, ResourceMeter } from '../../../main/train/meter'

afterEach(() => {
  vi.restoreAllMocks()
})

describe('stage meter', () => {
  it('counts every batch’s rows but samples RSS at most every RSS_SAMPLE_MS, and at the stage’s end', () => {
    let now = 1000
    vi.spyOn(performance, 'now').mockImplementation(() => now)
    const run = new ResourceMeter()
    const samples = vi.spyOn(run, 'sampleRss')
    const meter = run.stage({ name: 'All blocks', phase: 'end-to-end', block: -1, blocks: 1 })
    for (let b = 0; b < 50; b++) meter.batch(32)
    expect(samples).toHaveBeenCalledTimes(1)
    now += RSS_SAMPLE_MS - 1
    meter.batch(32)
    expect(samples).toHaveBeenCalledTimes(1)
    now += 1
    meter.batch(8)
    expect(samples).toHaveBeenCalledTimes(2)
    const result = meter.result(5)
    expect(samples).toHaveBeenCalledTimes(3)
    expect(result.examples).toBe(51 * 32 + 8)
    expect(result.peakRssBytes).toBeGreaterThan(0)
    run.end(meter, 5)
    expect(run.result().peakRssBytes).toBeGreaterThanOrEqual(result.peakRssBytes)
  })
})
