import { describe, expect, it } from 'vitest'
import { blockSettings, trainConfig, type EpochRow, type Partition, type RunSummary } from '../../../main/shared/contract'
import { outcomeShort, outcomeText, stageOutcomes } from '../../../renderer/src/components/results/stages'
import { bestCompleted, runChoices } from '../../../renderer/src/components/export/choices'
import { compareVerdict } from '../../../renderer/src/components/experiments/verdict'
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
    task: 'classification',
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
  it('weighs a regression run by its validation R², within the dataset trained on last, and labels it by its test R²', () => {
    const regression = (id: string, valR2: number, createdAt: string): RunSummary => ({
      ...run(id, 'completed', null, createdAt),
      datasetId: 'numbers',
      task: 'regression',
      metrics: {
        testR2: valR2 - 0.05,
        testRmse: 1,
        testMae: 1,
        testMape: null,
        valR2,
        valRmse: 1,
        trainR2: 0.9,
        testLoss: 1,
        testRows: 66,
        valRows: 66,
        trainRows: 310
      }
    })
    // A validation R² of 0.6 is not "better" than 95 % accuracy, nor worse: only runs of the newest run's dataset compete.
    const mixed = [...runs, regression('r1', 0.6, '2026-01-04'), regression('r2', 0.5, '2026-01-05')]
    expect(bestCompleted(mixed)?.runId).toBe('r1')
    expect(runChoices(mixed).find((c) => c.value === 'r1')!.label).toBe('r1 · test R² 0.550 of 66')
  })
})

describe('the Compare verdict', () => {
  const compared = (name: string, accuracy: number | null, rows?: number) => ({
    name,
    mode: 'end-to-end' as const,
    task: 'classification' as const,
    evaluation: null,
    metrics:
      accuracy === null
        ? null
        : { testAccuracy: accuracy, testLoss: 1, valAccuracy: accuracy, trainAccuracy: accuracy, ...(rows ? { testRows: rows } : {}) }
  })
  it('calls no run best while the test intervals overlap (25 of 27 against 24 of 27)', () => {
    const verdict = compareVerdict([compared('a', 25 / 27, 27), compared('b', 24 / 27, 27)])!
    expect(verdict.clear).toBe(false)
    expect(verdict.text).toMatch(/^No run is clearly best: the test accuracies' 95 % intervals overlap, .*\(on 27 and 27 test rows\)/)
    expect(verdict.figures).toEqual(['a: 92.59 %, 95 % interval 76.6–97.9 %', 'b: 88.89 %, 95 % interval 71.9–96.1 %'])
  })
  it('names the best run when its interval lies above every other (990 of 1000 against 900 of 1000)', () => {
    const verdict = compareVerdict([compared('a', 0.9, 1000), compared('b', 0.99, 1000)])!
    expect(verdict).toMatchObject({ clear: true, text: expect.stringMatching(/^b \(end-to-end\) has the best test accuracy/) })
  })
  it('names no best when a run does not say on how many rows it was scored, and says nothing for one scored run', () => {
    expect(compareVerdict([compared('a', 0.9, 1000), compared('b', 0.99)])!.text).toMatch(/^No run can be called best: some runs do not record/)
    expect(compareVerdict([compared('a', 0.9, 1000), compared('b', null)])).toBeNull()
  })
  it('gives regression runs the highest R² with its rows, never "clearly best" (no interval for R²)', () => {
    const r = (name: string, testR2: number) => ({
      name,
      mode: 'layer-wise' as const,
      task: 'regression' as const,
      evaluation: null,
      metrics: {
        testR2,
        testRmse: 1,
        testMae: 1,
        testMape: null,
        valR2: testR2,
        valRmse: 1,
        trainR2: 1,
        testLoss: 1,
        testRows: 66,
        valRows: 66,
        trainRows: 310
      }
    })
    const verdict = compareVerdict([r('a', 0.41), r('b', 0.47)])!
    expect(verdict.clear).toBe(false)
    expect(verdict.text).toMatch(/^Highest test R²: b \(layer-wise, 0\.470\)\. R² comes with no interval here/)
    expect(verdict.text).not.toMatch(/interval (lies|overlap)|%/)
    expect(verdict.figures).toEqual(['a: test R² 0.410 on 66 test rows', 'b: test R² 0.470 on 66 test rows'])
  })
})

describe('the import progress line', () => {
  it('counts files and bytes while uploading, then images or rows', () => {
    const base = { label: 'train', importId: null, files: 120, totalFiles: 700, rows: 0, bytes: 3_200_000, totalBytes: 12_500_000 }
    expect(importProgressText({ ...base, phase: 'uploading', kind: 'images' })).toBe('Uploading train: 120 of 700 files · 3.2 MB of 13 MB')
    expect(importProgressText({ ...base, phase: 'reading', kind: 'images', rows: 240 })).toBe('Decoding the images of train: 240 images (26 %)')
    expect(importProgressText({ ...base, label: 'a.csv', phase: 'reading', kind: 'table', rows: 1, totalBytes: 0 })).toBe('Reading a.csv: 1 row')
    expect(importProgressText({ ...base, label: 'a.csv', phase: 'fitting', kind: 'table', rows: 1797 })).toBe(
      'Read 1,797 rows of a.csv; splitting and fitting the preparation…'
    )
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
