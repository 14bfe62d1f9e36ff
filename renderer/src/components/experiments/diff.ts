/**
 * The settings diff of two or more runs, in plain words: each run's settings *that took effect* (an end-to-end run's
 * block epochs and heads are never used; a layer-wise run's whole-model epochs are not either), labelled as a
 * person reads them ("Block 1 · epochs", not "config.fineTune.epochs"), and only the rows whose values differ.
 * Pure, so it is unit-tested without a browser.
 */
import { layerRange } from '@shared/blocks'
import type { BlockSettings, LayerSpec, RunDetail } from '@contract'

/** label → value, in the order a person reads a run's settings. */
export type Settings = Map<string, string>

const onOff = (on: boolean): string => (on ? 'on' : 'off')
const HEAD_TEXT: Record<BlockSettings['head'], string> = {
  auto: 'auto (one dense layer on the output, images pooled to ≤ 2,048 values)',
  linear: 'one dense layer (images pooled to 2×2)',
  mlp: 'a small MLP (dense, relu, dense)',
  conv: 'conv 3×3, pool to 4×4, dense'
}
const optimizers: Record<BlockSettings['optimizer'], string> = { sgd: 'SGD', momentum: 'SGD with momentum', adam: 'Adam' }

function layerText(layer: LayerSpec): string {
  switch (layer.type) {
    case 'dense':
      return `dense ${layer.units}, ${layer.activation}`
    case 'conv2d':
      return `conv ${layer.filters} × ${layer.kernelSize}×${layer.kernelSize}, stride ${layer.strides}, ${layer.padding}, ${layer.activation}`
    case 'maxPooling2d':
    case 'averagePooling2d':
      return `${layer.type === 'maxPooling2d' ? 'max' : 'average'} pool ${layer.poolSize}`
    case 'dropout':
      return `dropout ${layer.rate}`
    case 'activation':
      return `activation ${layer.activation}${layer.alpha !== undefined ? ` (${layer.alpha})` : ''}`
    case 'batchNormalization':
      return 'batch norm'
    case 'globalAveragePooling2d':
      return 'global average pool'
    case 'flatten':
      return 'flatten'
  }
}

const stopping = (patience: number, what: string): string =>
  patience > 0 ? `stop after ${patience} epoch${patience === 1 ? '' : 's'} without better ${what}` : 'never stop early'

/** A run's settings as they took effect, in plain words. */
export function runSettings(run: RunDetail): Settings {
  const out: Settings = new Map()
  const { config } = run
  const layerWise = run.mode === 'layer-wise'
  out.set('dataset', run.datasetName)
  out.set('how it trains', layerWise ? 'layer-wise: block by block, each with its own head' : 'end-to-end: all layers at once')
  out.set('seed', String(run.seed))
  out.set('batch size', String(config.batchSize))
  if (!layerWise) {
    out.set('epochs', `up to ${config.epochs}, ${stopping(config.patience, 'validation accuracy')}`)
    out.set('gradual unfreezing', onOff(config.gradualUnfreeze))
  } else {
    const tuned = config.fineTune.enabled && run.partition.blocks.some((b) => !b.settings.freezeAfter)
    out.set(
      'fine-tune after the blocks',
      tuned
        ? `up to ${config.fineTune.epochs} epochs at ${config.fineTune.learningRateFactor} × each block's learning rate, ${stopping(config.patience, 'validation accuracy')}`
        : config.fineTune.enabled
          ? 'none (every block is frozen after its stage)'
          : 'off'
    )
  }
  if (run.spec.inputShape.length === 3) out.set('image augmentation', config.augment ? `on${config.augmentFlip ? ', with flips' : ''}` : 'off')
  out.set('input', run.spec.inputShape.join(' × '))
  run.spec.layers.forEach((layer, i) => out.set(`layer ${i + 1}`, layerText(layer)))
  run.partition.blocks.forEach((block) => {
    const b = block.settings
    const name = block.name
    out.set(`${name} · layers`, layerRange(block.start, block.end))
    out.set(
      `${name} · optimizer`,
      `${optimizers[b.optimizer]}, learning rate ${b.learningRate}${b.optimizer === 'momentum' ? `, momentum ${b.momentum}` : ''}`
    )
    out.set(`${name} · weight decay`, String(b.weightDecay))
    out.set(`${name} · learning-rate schedule`, b.schedule)
    out.set(`${name} · layer-adaptive rate (LARS)`, onOff(b.lars))
    if (layerWise) {
      out.set(`${name} · epochs`, `up to ${b.epochs}, ${stopping(b.patience, "validation accuracy of the block's head")}`)
      out.set(`${name} · after its stage`, b.freezeAfter ? 'frozen' : 'trains again in the fine-tune')
    }
    if (run.mode !== 'end-to-end') {
      out.set(`${name} · head`, HEAD_TEXT[b.head])
      out.set(`${name} · local loss`, b.localLoss === 'none' ? 'none' : `${b.localLoss}, weight ${b.localLossWeight}`)
    }
  })
  return out
}

export interface DiffRow {
  key: string
  values: string[]
}

/** A setting one run has and another lacks was not used there: said so, not left blank. */
const NOT_USED = '— (not used in this mode)'

export function diffSettings(runs: RunDetail[]): DiffRow[] {
  const all = runs.map(runSettings)
  const keys: string[] = []
  for (const settings of all) for (const key of settings.keys()) if (!keys.includes(key)) keys.push(key)
  return keys.map((key) => ({ key, values: all.map((s) => s.get(key) ?? NOT_USED) })).filter((row) => new Set(row.values).size > 1)
}

/**
 * Epoch rows as one sequence (x = 1, 2, … across blocks and fine-tune) so runs of every mode overlay. A decoupled
 * run trains all blocks in each epoch: its sequence is the last block's rows (the model's output), x = epoch.
 */
export function sequence(run: RunDetail, metric: 'valAccuracy' | 'accuracy' | 'loss' | 'valLoss'): Array<[number, number]> {
  const last = run.partition.blocks.length - 1
  const rows = run.mode === 'decoupled' ? run.epochs.filter((row) => row.block === last) : run.epochs
  const points: Array<[number, number]> = []
  rows.forEach((row, i) => {
    const value = row[metric]
    if (value !== null && Number.isFinite(value)) points.push([i + 1, value])
  })
  return points
}

/**
 * Names with the leading " · "-separated parts that all of them share left out: "species · end-to-end · …" and
 * "species · layer-wise · …" become "end-to-end · …" and "layer-wise · …". Names that would become empty or equal
 * stay whole.
 */
export function distinctNames(names: string[]): string[] {
  if (names.length < 2) return names
  const parts = names.map((n) => n.split(' · '))
  let shared = 0
  while (parts.every((p) => p.length > shared + 1 && p[shared] === parts[0]![shared])) shared++
  const short = parts.map((p) => p.slice(shared).join(' · '))
  return new Set(short).size === names.length ? short : names
}
