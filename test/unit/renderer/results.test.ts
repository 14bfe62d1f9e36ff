import { describe, expect, it } from 'vitest'
import { blockSettings, trainConfig, type EpochRow, type Partition, type RunSummary } from '../../../main/shared/contract'
import { outcomeShort, outcomeText, stageOutcomes } from '../../../renderer/src/components/results/stages'
import { bestCompleted, runChoices } from '../../../renderer/src/components/export/choices'
import { importProgressText, byteSize } from '../../../renderer/src/components/datasets/importProgress'
import { loadDraft, loadSelection, saveDraft, saveSelection } from '../../../renderer/src/stores/drafts'

const partition: Partition = {
  blocks: [
    { name: 'Block 1', color: '#2f6fde', start: 0, end: 1, settings: blockSettings.parse({ epochs: 30, patience: 5, freezeAfter: false }) },
    { name: 'Block 2', color: '#e8743b', start: 1, end: 2, settings: blockSettings.parse({ epochs: 30, patience: 5, freezeAfter: false }) }
  ]
}
const rows = (phase: EpochRow['phase'], block: number, n: number, val = 0.5): EpochRow[] =>
  Array.from({ length: n }, (_, i) => ({
    phase,
    block,
    epoch: i + 1,
    loss: 1,
    accuracy: 0.5,
    valLoss: 1,
    valAccuracy: val + i / 1000,
    learningRate: 0.001,
    samplesPerSec: 1
  }))

describe('how each stage of a run ended', () => {
  it('says an end-to-end run stopped early, with its patience', () => {
    const [stage] = stageOutcomes({
      mode: 'end-to-end',
      config: trainConfig.parse({}),
      partition,
      epochs: rows('end-to-end', -1, 15),
      status: 'completed'
    })
    expect(outcomeText(stage!)).toBe('stopped early at 15/60: no better validation for 10 epochs')
    expect(outcomeShort(stage!)).toBe('15/60 ep, stopped early')
  })
  it('follows a layer-wise run: a block that ran its course, one stopped early, the fine-tune', () => {
    const epochs = [...rows('block', 0, 30), ...rows('block', 1, 12), ...rows('finetune', -1, 10)]
    const config = trainConfig.parse({ mode: 'layer-wise' })
    const stages = stageOutcomes({ mode: 'layer-wise', config, partition, epochs, status: 'completed' })
    expect(stages.map(outcomeText)).toEqual(['30/30 epochs', 'stopped early at 12/30: no better validation for 5 epochs', '10/10 epochs'])
    expect(stages[1]!.bestVal).toBeCloseTo(0.511, 6)
  })
  it('marks where a cancelled run stopped, and the stages it never reached', () => {
    const config = trainConfig.parse({ mode: 'layer-wise' })
    const stages = stageOutcomes({ mode: 'layer-wise', config, partition, epochs: rows('block', 0, 7), status: 'cancelled' })
    expect(stages.map((s) => s.ended)).toEqual(['cancelled', 'not-run', 'not-run'])
    expect(outcomeText(stages[0]!)).toBe('cancelled at epoch 7/30')
  })
  it('plans no fine-tune when every block is frozen after its stage', () => {
    const frozen = { blocks: partition.blocks.map((b) => ({ ...b, settings: { ...b.settings, freezeAfter: true } })) }
    const stages = stageOutcomes({
      mode: 'layer-wise',
      config: trainConfig.parse({ mode: 'layer-wise' }),
      partition: frozen,
      epochs: [],
      status: 'completed'
    })
    expect(stages.map((s) => s.key)).toEqual(['block-0', 'block-1'])
  })
})

describe('what the Export view offers', () => {
  const run = (id: string, status: RunSummary['status'], val: number | null, createdAt: string): RunSummary => ({
    runId: id,
    name: id,
    datasetId: 'ds',
    datasetName: 'd',
    mode: 'end-to-end',
    status,
    backend: 'wasm',
    seed: 1,
    metrics: val === null ? null : { testAccuracy: val, testLoss: 1, valAccuracy: val, trainAccuracy: val, testRows: 27, valRows: 27 },
    tags: [],
    notes: '',
    error: null,
    createdAt,
    startedAt: null,
    endedAt: null
  })
  const runs = [
    run('good', 'completed', 0.9, '2026-01-01'),
    run('better', 'completed', 0.95, '2026-01-02'),
    run('latest', 'cancelled', null, '2026-01-03')
  ]
  it('preselects the completed run with the best validation accuracy, not the latest (cancelled) one', () => {
    expect(bestCompleted(runs)?.runId).toBe('better')
    expect(bestCompleted([runs[2]!])).toBeNull()
  })
  it('marks runs without a test evaluation, and lists evaluated runs first', () => {
    const choices = runChoices(runs)
    expect(choices.map((c) => c.value)).toEqual(['better', 'good', 'latest'])
    expect(choices[0]!.label).toBe('better · test 95.0 % of 27')
    expect(choices[2]).toMatchObject({ label: 'latest · cancelled, not evaluated', evaluated: false })
  })
})

describe('the import progress line', () => {
  it('counts files and bytes while uploading, then images or rows', () => {
    const base = { label: 'train', files: 120, totalFiles: 700, rows: 0, bytes: 3_200_000, totalBytes: 12_500_000 }
    expect(importProgressText({ ...base, phase: 'uploading', kind: 'images' })).toBe('Uploading train: 120 of 700 files · 3.2 MB of 13 MB')
    expect(importProgressText({ ...base, phase: 'importing', kind: 'images', rows: 240 })).toBe('Decoding the images of train: 240 images (26 %)')
    expect(importProgressText({ ...base, label: 'a.csv', phase: 'importing', kind: 'table', rows: 1, totalBytes: 0 })).toBe('Reading a.csv: 1 row')
    expect(byteSize(999)).toBe('999 B')
    expect(byteSize(1536)).toBe('1.5 KB')
  })
})

describe('what the browser remembers', () => {
  class MemoryStorage {
    items = new Map<string, string>()
    get length() {
      return this.items.size
    }
    clear() {
      this.items.clear()
    }
    getItem(key: string) {
      return this.items.get(key) ?? null
    }
    key(i: number) {
      return [...this.items.keys()][i] ?? null
    }
    removeItem(key: string) {
      this.items.delete(key)
    }
    setItem(key: string, value: string) {
      this.items.set(key, value)
    }
  }
  it('keeps the selection and each dataset’s draft per data home, and refuses a draft that does not parse', () => {
    const storage = new MemoryStorage() as unknown as Storage
    saveSelection(storage, '/home/a', 'ds-1')
    expect(loadSelection(storage, '/home/a')).toBe('ds-1')
    expect(loadSelection(storage, '/home/b')).toBeNull()
    const spec = { version: 1 as const, inputShape: [4], layers: [{ type: 'dense' as const, units: 3, activation: 'softmax' as const }] }
    const draft = { sourceKey: 'k', preset: 'mlp' as const, hidden: [100], spec, partition, config: trainConfig.parse({ epochs: 500, patience: 0 }) }
    saveDraft(storage, '/home/a', 'ds-1', draft)
    expect(loadDraft(storage, '/home/a', 'ds-1')).toEqual(draft)
    expect(loadDraft(storage, '/home/a', 'ds-2')).toBeNull()
    storage.setItem('layerlab:/home/a:draft:ds-3', JSON.stringify({ ...draft, spec: { version: 2 } }))
    expect(loadDraft(storage, '/home/a', 'ds-3')).toBeNull()
    storage.setItem('layerlab:/home/a:draft:ds-4', '{not json')
    expect(loadDraft(storage, '/home/a', 'ds-4')).toBeNull()
  })
})
