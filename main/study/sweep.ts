/**
 * A study's configurations: the base with each mode (a comparison), or the points of a grid or random sweep over
 * settings. Each configuration is a whole model + partition + training config, checked against the data before
 * anything runs.
 */
import type { Block, ModelSpec, Partition, StudyConfig, SweepSpec, TrainConfig, TrainMode } from '../shared/contract'
import { LabError } from '../shared/errors'
import { seededRandom } from '../core/random'
import { defaultModel, partitionFromRanges, type ModelSource } from '../model/presets'
import { assertTrainable } from '../model/spec'

export interface Base {
  spec: ModelSpec
  partition: Partition
  config: TrainConfig
}

/** At most this many sweep points. */
export const MAX_SWEEP_POINTS = 200

const clone = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T

/** One configuration per mode, the rest as in the base. */
export function compareConfigs(base: Base, modes: TrainMode[]): StudyConfig[] {
  return [...new Set(modes)].map((mode) => ({
    name: mode,
    spec: clone(base.spec),
    partition: clone(base.partition),
    config: { ...clone(base.config), mode },
    settings: { mode }
  }))
}

type Value = number | string | number[] | TrainMode
type Axis = { name: keyof SweepSpec['params']; values: Value[] | null; range?: { min: number; max: number; log: boolean; integer: boolean } }

function axes(sweep: SweepSpec): Axis[] {
  const out: Axis[] = []
  for (const [name, given] of Object.entries(sweep.params) as Array<[Axis['name'], unknown]>) {
    if (given === undefined) continue
    if (Array.isArray(given)) out.push({ name, values: given as Value[] })
    else {
      const r = given as { min: number; max: number; log?: boolean }
      if (!(r.max >= r.min)) throw new LabError(`sweep ${name}: max (${r.max}) is below min (${r.min})`)
      if (sweep.method === 'grid') throw new LabError(`sweep ${name}: a range {min, max} needs method "random"; a grid takes a list of values`)
      out.push({ name, values: null, range: { min: r.min, max: r.max, log: r.log ?? false, integer: name === 'epochs' } })
    }
  }
  if (out.length === 0)
    throw new LabError('sweep: choose at least one setting to vary (learningRate, epochs, hidden, blockLearningRates, boundaries, mode)')
  return out
}

/** The sweep's points: every combination (grid) or `samples` draws (random), as setting → value. */
export function sweepPoints(sweep: SweepSpec): Array<Partial<Record<Axis['name'], Value>>> {
  const list = axes(sweep)
  if (sweep.method === 'grid') {
    const count = list.reduce((n, axis) => n * axis.values!.length, 1)
    if (count > MAX_SWEEP_POINTS)
      throw new LabError(`sweep: the grid has ${count} points; at most ${MAX_SWEEP_POINTS} (use method "random" with samples)`)
    let points: Array<Partial<Record<Axis['name'], Value>>> = [{}]
    for (const axis of list) points = points.flatMap((point) => axis.values!.map((value) => ({ ...point, [axis.name]: value })))
    return points
  }
  const samples = sweep.samples
  if (!samples) throw new LabError('sweep: method "random" needs samples (how many points to draw)')
  const random = seededRandom(sweep.seed)
  return Array.from({ length: samples }, () => {
    const point: Partial<Record<Axis['name'], Value>> = {}
    for (const axis of list) {
      if (axis.values) point[axis.name] = axis.values[Math.floor(random() * axis.values.length)]!
      else {
        const { min, max, log, integer } = axis.range!
        const u = random()
        const value = log ? Math.exp(Math.log(min) + u * (Math.log(max) - Math.log(min))) : min + u * (max - min)
        point[axis.name] = integer ? Math.round(value) : Number(value.toPrecision(3))
      }
    }
    return point
  })
}

/** Settings of block i of a new partition: the base block's at the same place, else the base's last block's. */
const settingsFor = (base: Partition, index: number): Block['settings'] => clone((base.blocks[index] ?? base.blocks.at(-1)!).settings)

function withRanges(base: Partition, ranges: Array<[number, number]>): Partition {
  const partition = partitionFromRanges(ranges)
  partition.blocks.forEach((block, i) => (block.settings = settingsFor(base, i)))
  return partition
}

/** One point applied to the base: model (hidden), partition (boundaries), rates, epochs, mode — in that order. */
export function applyPoint(base: Base, point: Partial<Record<Axis['name'], Value>>, source: ModelSource): StudyConfig {
  let spec = clone(base.spec)
  let partition = clone(base.partition)
  const config = clone(base.config)
  const settings: StudyConfig['settings'] = {}
  if (point.hidden) {
    const hidden = point.hidden as number[]
    if (!spec.layers.every((layer) => layer.type === 'dense' || layer.type === 'flatten' || layer.type === 'dropout'))
      throw new LabError('sweep hidden: varies the hidden sizes of an MLP (dense layers); this model has other layers')
    const built = defaultModel(source, { preset: 'mlp', hidden })
    spec = built.spec
    partition = withRanges(
      base.partition,
      built.partition.blocks.map((b) => [b.start, b.end])
    )
    settings.hidden = hidden.join('-')
  }
  if (point.boundaries) {
    const cuts = point.boundaries as number[]
    const n = spec.layers.length
    const ordered = cuts.every((cut, i) => cut > 0 && cut < n && (i === 0 || cut > cuts[i - 1]!))
    if (!ordered)
      throw new LabError(`sweep boundaries [${cuts.join(', ')}]: need increasing layer indices between 1 and ${n - 1} (where blocks 2, 3, … start)`)
    const starts = [0, ...cuts]
    partition = withRanges(
      partition,
      starts.map((start, i) => [start, starts[i + 1] ?? n])
    )
    settings.boundaries = cuts.join(',') || 'one block'
  }
  if (point.learningRate !== undefined) {
    for (const block of partition.blocks) block.settings.learningRate = point.learningRate as number
    settings.learningRate = point.learningRate as number
  }
  if (point.blockLearningRates) {
    const rates = point.blockLearningRates as number[]
    if (rates.length !== partition.blocks.length)
      throw new LabError(`sweep blockLearningRates [${rates.join(', ')}]: gives ${rates.length} rates for ${partition.blocks.length} blocks`)
    partition.blocks.forEach((block, i) => (block.settings.learningRate = rates[i]!))
    settings.blockLearningRates = rates.join('/')
  }
  if (point.epochs !== undefined) {
    config.epochs = point.epochs as number
    for (const block of partition.blocks) block.settings.epochs = point.epochs as number
    settings.epochs = point.epochs as number
  }
  if (point.mode) {
    config.mode = point.mode as TrainMode
    settings.mode = point.mode as TrainMode
  }
  const name = Object.entries(settings)
    .map(([key, value]) => `${SHORT[key] ?? key} ${value}`)
    .join(' · ')
  return { name, spec, partition, config, settings }
}

const SHORT: Record<string, string> = {
  learningRate: 'lr',
  blockLearningRates: 'block lr',
  boundaries: 'cuts',
  hidden: 'hidden',
  epochs: 'epochs',
  mode: 'mode'
}

/** The sweep's configurations, each checked against the data. */
export function sweepConfigs(base: Base, sweep: SweepSpec, source: ModelSource): StudyConfig[] {
  const configs = sweepPoints(sweep).map((point) => applyPoint(base, point, source))
  configs.forEach((c, i) => {
    try {
      assertTrainable(c.spec, c.partition, source)
    } catch (error) {
      throw new LabError(`sweep point ${i + 1} (${c.name}): ${error instanceof Error ? error.message : String(error)}`)
    }
  })
  return configs
}
