import { defineStore } from 'pinia'
import { ref, watch } from 'vue'
import {
  type Block,
  type DatasetSummary,
  type BlockSettings,
  type LayerSpec,
  type ModelPreset,
  type ModelSpec,
  type Partition,
  type RequestResult,
  type Task
} from '@contract'
import { api } from '../api/bridge'
import { errorText } from '@shared/format'
import { blockColor, defaultBlockSettings, discriminativeRate } from '@shared/blocks'

export type Preset = ModelPreset
export type Description = RequestResult<'models.describe'>
export type LayerType = LayerSpec['type']

/** A new layer of each type with the values a person would most likely start from. */
export function newLayer(type: LayerType): LayerSpec {
  switch (type) {
    case 'dense':
      return { type, units: 64, activation: 'relu' }
    case 'conv2d':
      return { type, filters: 16, kernelSize: 3, strides: 1, padding: 'same', activation: 'relu' }
    case 'maxPooling2d':
    case 'averagePooling2d':
      return { type, poolSize: 2, padding: 'valid' }
    case 'globalAveragePooling2d':
    case 'flatten':
      return { type }
    case 'dropout':
      return { type, rate: 0.2 }
    case 'batchNormalization':
      return { type, momentum: 0.99, epsilon: 1e-3 }
    case 'activation':
      return { type, activation: 'relu' }
  }
}

// ---------------------------------------------------------------- partition edits (pure: old partition in, new out)

const AUTO_NAME = /^Block \d+$/

/**
 * Colours follow the block's position (the theme's palette), and names the user never changed follow it too,
 * so "Block 2" is always the second block after a split or a merge.
 */
function normalise(blocks: Block[]): Partition {
  return {
    blocks: blocks.map((block, index) => ({
      ...block,
      name: AUTO_NAME.test(block.name) ? `Block ${index + 1}` : block.name,
      color: blockColor(index)
    }))
  }
}

export function blockOfLayer(partition: Partition, layer: number): number {
  const index = partition.blocks.findIndex((b) => layer >= b.start && layer < b.end)
  return index >= 0 ? index : partition.blocks.length - 1
}

/** A layer inserted at `at` joins the block of the layer before it (the first block when it goes first). */
export function partitionAfterInsert(partition: Partition, at: number): Partition {
  const owner = at === 0 ? 0 : blockOfLayer(partition, at - 1)
  return normalise(
    partition.blocks.map((block, index) => {
      if (index < owner) return block
      if (index === owner) return { ...block, end: block.end + 1 }
      return { ...block, start: block.start + 1, end: block.end + 1 }
    })
  )
}

/** A removed layer leaves its block; a block left empty disappears. */
export function partitionAfterRemove(partition: Partition, at: number): Partition {
  const owner = blockOfLayer(partition, at)
  const blocks = partition.blocks
    .map((block, index) => {
      if (index < owner) return block
      if (index === owner) return { ...block, end: block.end - 1 }
      return { ...block, start: block.start - 1, end: block.end - 1 }
    })
    .filter((block) => block.end > block.start)
  return normalise(blocks)
}

/** Moves the boundary after block `index` by `delta` layers; refuses (returns null) to empty either side. */
export function partitionMoveBoundary(partition: Partition, index: number, delta: number): Partition | null {
  const upper = partition.blocks[index]
  const lower = partition.blocks[index + 1]
  if (!upper || !lower) return null
  const boundary = upper.end + delta
  if (boundary <= upper.start || boundary >= lower.end) return null
  return normalise(
    partition.blocks.map((block, i) => (i === index ? { ...block, end: boundary } : i === index + 1 ? { ...block, start: boundary } : block))
  )
}

/** Starts a new block at `layer` (which must not already start one); the new block copies its parent's settings. */
export function partitionSplitAt(partition: Partition, layer: number): Partition | null {
  const owner = blockOfLayer(partition, layer)
  const block = partition.blocks[owner]
  if (!block || layer <= block.start || layer >= block.end) return null
  const head: Block = { ...block, end: layer }
  const tail: Block = { ...block, name: `Block ${owner + 2}`, start: layer, settings: { ...block.settings } }
  return normalise([...partition.blocks.slice(0, owner), head, tail, ...partition.blocks.slice(owner + 1)])
}

/** Joins block `index` with the next one; the merged block keeps the upper block's settings. */
export function partitionMergeNext(partition: Partition, index: number): Partition | null {
  const upper = partition.blocks[index]
  const lower = partition.blocks[index + 1]
  if (!upper || !lower) return null
  return normalise([...partition.blocks.slice(0, index), { ...upper, end: lower.end }, ...partition.blocks.slice(index + 2)])
}

/** ULMFiT discriminative rates: block l of K gets η_top / 2.6^(K−l), the top (last) block keeps η_top. */
export function discriminativeRates(partition: Partition): Partition {
  const count = partition.blocks.length
  const last = partition.blocks[count - 1]
  // No blocks, no rates to set.
  if (!last) return partition
  const top = last.settings.learningRate
  return {
    blocks: partition.blocks.map((block, index) => ({
      ...block,
      // Four significant digits: exact to 0.05 %, and readable in the rate field.
      settings: { ...block.settings, learningRate: Number(discriminativeRate(top, index, count).toPrecision(4)) }
    }))
  }
}

/**
 * What a default model depends on: the data set, its target and task, its inputs and its classes. When any of these
 * changes (a new target, an excluded column) the model built for the old ones no longer fits.
 */
export function modelSourceKey(summary: DatasetSummary): string {
  return [
    summary.datasetId,
    summary.target ?? '',
    summary.task,
    summary.featureCount,
    summary.classes.length,
    summary.image ? Object.values(summary.image).join('x') : ''
  ].join('|')
}

// ---------------------------------------------------------------- the store

/**
 * The model being built for the selected data set: its spec, its partition into blocks, and what models.describe
 * says about it (shapes, parameters, problems), refreshed ~200 ms after the last edit. Survives switching views.
 */
export const useModelStore = defineStore('model', () => {
  const datasetId = ref<string | null>(null)
  /** modelSourceKey of the data set the model was built for. */
  const sourceKey = ref<string | null>(null)
  const preset = ref<Preset>('mlp')
  const hidden = ref<number[]>([100, 100])
  const spec = ref<ModelSpec | null>(null)
  const partition = ref<Partition | null>(null)
  const description = ref<Description | null>(null)
  const describing = ref(false)
  const error = ref<string | null>(null)
  const selectedBlock = ref(0)
  /** The task of the data set the model is for: describe checks the output layer against it. */
  const task = ref<Task | undefined>(undefined)

  /** Counts model loads: an answer that arrives after a newer load began is dropped, so the latest choice wins. */
  let loads = 0
  async function loadDefault(source: DatasetSummary, options: { preset?: Preset; hidden?: number[] } = {}): Promise<void> {
    error.value = null
    const load = ++loads
    try {
      const result = await api('models.default', { datasetId: source.datasetId, preset: options.preset, hidden: options.hidden })
      // A rebuild asked for while the view's first default was on its way: the rebuild wins.
      if (load !== loads) return
      datasetId.value = source.datasetId
      sourceKey.value = modelSourceKey(source)
      task.value = source.task
      spec.value = result.spec
      partition.value = normalise(result.partition.blocks)
      selectedBlock.value = 0
      preset.value = options.preset ?? (result.spec.inputShape.length === 3 ? 'small-cnn' : 'mlp')
      if (options.hidden) hidden.value = options.hidden
      await describe()
    } catch (e) {
      error.value = errorText(e)
    }
  }

  /** Takes a stored run's model and partition as the starting point for a new run (Experiments → edit and train). */
  async function loadSpec(source: DatasetSummary, nextSpec: ModelSpec, nextPartition: Partition): Promise<void> {
    loads++
    datasetId.value = source.datasetId
    sourceKey.value = modelSourceKey(source)
    task.value = source.task
    // A plain deep copy: the run's objects are reactive proxies, which structuredClone refuses.
    spec.value = JSON.parse(JSON.stringify(nextSpec)) as ModelSpec
    partition.value = normalise((JSON.parse(JSON.stringify(nextPartition)) as Partition).blocks)
    selectedBlock.value = 0
    preset.value = nextSpec.inputShape.length === 3 ? 'small-cnn' : 'mlp'
    await describe()
  }

  async function describe(): Promise<void> {
    if (!spec.value) return
    describing.value = true
    try {
      description.value = await api('models.describe', { spec: spec.value, partition: partition.value ?? undefined, task: task.value })
    } catch (e) {
      error.value = errorText(e)
    } finally {
      describing.value = false
    }
  }

  let timer: ReturnType<typeof setTimeout> | undefined
  watch(
    [spec, partition],
    () => {
      clearTimeout(timer)
      timer = setTimeout(() => void describe(), 200)
    },
    { deep: true }
  )

  function addLayer(type: LayerType, at?: number): void {
    if (!spec.value || !partition.value) return
    const index = at ?? spec.value.layers.length - 1 // before the output layer by default
    spec.value.layers.splice(index, 0, newLayer(type))
    partition.value = partitionAfterInsert(partition.value, index)
  }

  function removeLayer(index: number): void {
    if (!spec.value || !partition.value || spec.value.layers.length <= 1) return
    spec.value.layers.splice(index, 1)
    partition.value = partitionAfterRemove(partition.value, index)
    selectedBlock.value = Math.min(selectedBlock.value, partition.value.blocks.length - 1)
  }

  /** Swaps a layer with its neighbour; the blocks keep their ranges, so a layer can cross into the next block. */
  function moveLayer(index: number, delta: -1 | 1): void {
    if (!spec.value) return
    const other = index + delta
    if (other < 0 || other >= spec.value.layers.length) return
    const layers = spec.value.layers
    ;[layers[index], layers[other]] = [layers[other]!, layers[index]!]
  }

  function updateLayer(index: number, patch: Partial<LayerSpec>): void {
    if (!spec.value) return
    spec.value.layers[index] = { ...spec.value.layers[index], ...patch } as LayerSpec
  }

  function changePartition(next: Partition | null): boolean {
    if (!next) return false
    partition.value = next
    selectedBlock.value = Math.min(selectedBlock.value, next.blocks.length - 1)
    return true
  }

  const moveBoundary = (block: number, delta: number) => partition.value && changePartition(partitionMoveBoundary(partition.value, block, delta))
  const splitAt = (layer: number) => partition.value && changePartition(partitionSplitAt(partition.value, layer))
  const mergeNext = (block: number) => partition.value && changePartition(partitionMergeNext(partition.value, block))

  /** Puts the boundary after block `block` at layer position `boundary` (used by dragging). */
  function setBoundary(block: number, boundary: number): boolean {
    const current = partition.value?.blocks[block]
    if (!current) return false
    return Boolean(moveBoundary(block, boundary - current.end))
  }

  function updateBlockSettings(index: number, patch: Partial<BlockSettings>): void {
    const block = partition.value?.blocks[index]
    if (block) block.settings = { ...block.settings, ...patch }
  }

  function renameBlock(index: number, name: string): void {
    const block = partition.value?.blocks[index]
    if (block && name.trim()) block.name = name.trim().slice(0, 60)
  }

  function applyDiscriminativeRates(): void {
    if (partition.value) partition.value = discriminativeRates(partition.value)
  }

  function resetBlockSettings(index: number): void {
    const block = partition.value?.blocks[index]
    if (block) block.settings = defaultBlockSettings()
  }

  return {
    loadSpec,
    datasetId,
    sourceKey,
    preset,
    hidden,
    spec,
    partition,
    description,
    describing,
    error,
    selectedBlock,
    loadDefault,
    describe,
    addLayer,
    removeLayer,
    moveLayer,
    updateLayer,
    moveBoundary,
    splitAt,
    mergeNext,
    setBoundary,
    updateBlockSettings,
    renameBlock,
    applyDiscriminativeRates,
    resetBlockSettings
  }
})
