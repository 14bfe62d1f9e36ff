import { defineStore } from 'pinia'
import { computed, ref, shallowRef } from 'vue'
import { trainConfig, type EpochRow, type EventPayload, type RunDetail, type RunStatus, type Task, type TrainConfig } from '@contract'
import { api, onEvent } from '../api/bridge'
import { errorText } from '@shared/format'
import { useDatasetsStore } from './datasets'
import { useModelStore } from './model'

export type Progress = EventPayload<'train.progress'>
type AnyTrainEvent =
  | { name: 'progress'; payload: Progress }
  | { name: 'epoch'; payload: EventPayload<'train.epoch'> }
  | { name: 'finished'; payload: EventPayload<'train.finished'> }
  | { name: 'backend'; payload: EventPayload<'train.backend'> }

/** How often live state reaches the views: curves redraw at most 4 times a second, so the UI never stalls. */
const FLUSH_MS = 250

/**
 * The training config and the one live run: its progress, its epochs as they arrive, and its detail at the end.
 * Events stream in faster than a chart should redraw; they are gathered here and flushed every FLUSH_MS.
 */
export const useTrainingStore = defineStore('training', () => {
  const config = ref<TrainConfig>(trainConfig.parse({ mode: 'layer-wise' }))
  const runId = ref<string | null>(null)
  const status = ref<RunStatus | null>(null)
  const starting = ref(false)
  const error = ref<string | null>(null)
  const progress = shallowRef<Progress | null>(null)
  const epochs = shallowRef<EpochRow[]>([])
  const detail = shallowRef<RunDetail | null>(null)
  /** The blocks and mode of the live run (the model may be edited while it trains). */
  const runBlocks = shallowRef<Array<{ name: string; color: string }>>([])
  const runMode = ref<TrainConfig['mode']>('layer-wise')
  const runFineTune = ref(false)
  /** The data set the live run trains on (the view may show another one's model by now). */
  const runDataset = ref('')
  const runDatasetId = ref<string | null>(null)
  /** The live run's settings and partition, as it was started (the form may be edited meanwhile). */
  const runPlan = shallowRef<{ config: TrainConfig; partition: RunDetail['partition'] } | null>(null)
  /** Where the live run trains, and why (the worker's answer: webgpu, or a fallback with its reason). */
  const runBackend = ref<{ backend: string; reason: string } | null>(null)
  /** False for a run this window picked up (started in another window, tab or the CLI). */
  const startedHere = ref(false)
  /** What the live run predicts: its curves show accuracy or R². */
  const runTask = ref<Task>('classification')

  let pendingEpochs: EpochRow[] = []
  /** phase/block/epoch of every row seen: a resumed run gets stored rows and live ones, which may overlap. */
  let seen = new Set<string>()
  const rowKey = (row: EpochRow): string => `${row.phase}/${row.block}/${row.epoch}`
  let pendingProgress: Progress | null = null
  let flushTimer: ReturnType<typeof setTimeout> | undefined
  /** Events that arrive while train.start has not answered yet: kept, then replayed for the run it names. */
  let early: Array<AnyTrainEvent & { runId: string }> = []

  function flushSoon(): void {
    if (flushTimer) return
    flushTimer = setTimeout(flush, FLUSH_MS)
  }
  function flush(): void {
    flushTimer = undefined
    if (pendingEpochs.length) {
      epochs.value = [...epochs.value, ...pendingEpochs]
      pendingEpochs = []
    }
    if (pendingProgress) {
      progress.value = pendingProgress
      pendingProgress = null
    }
  }

  function handle(event: AnyTrainEvent): void {
    if (event.name === 'backend') {
      runBackend.value = { backend: event.payload.backend, reason: event.payload.reason }
    } else if (event.name === 'progress') {
      pendingProgress = event.payload
      flushSoon()
    } else if (event.name === 'epoch') {
      const { runId: _run, ...row } = event.payload
      if (seen.has(rowKey(row))) return
      seen.add(rowKey(row))
      pendingEpochs.push(row)
      flushSoon()
    } else {
      clearTimeout(flushTimer)
      flush()
      status.value = event.payload.status
      if (event.payload.error) error.value = event.payload.error
      void loadDetail()
    }
  }

  function route(event: AnyTrainEvent): void {
    const id = event.payload.runId
    if (starting.value && !runId.value) early.push({ ...event, runId: id })
    else if (id === runId.value) handle(event)
    // Another window started a run while this one shows none live: follow it (and Start waits for it).
    else if (event.name !== 'finished' && !running.value) void resume()
  }
  onEvent('train.progress', (payload) => route({ name: 'progress', payload }))
  onEvent('train.epoch', (payload) => route({ name: 'epoch', payload }))
  onEvent('train.finished', (payload) => route({ name: 'finished', payload }))
  onEvent('train.backend', (payload) => route({ name: 'backend', payload }))

  async function start(): Promise<void> {
    const model = useModelStore()
    const datasets = useDatasetsStore()
    const datasetId = model.datasetId ?? datasets.selectedId
    if (!datasetId || !model.spec || !model.partition) {
      error.value = 'build a model first (Model view)'
      return
    }
    error.value = null
    detail.value = null
    epochs.value = []
    progress.value = null
    pendingEpochs = []
    pendingProgress = null
    seen = new Set()
    early = []
    runId.value = null
    runBackend.value = null
    status.value = 'queued'
    starting.value = true
    startedHere.value = true
    runBlocks.value = model.partition.blocks.map((b) => ({ name: b.name, color: b.color }))
    runMode.value = config.value.mode
    const dataset = datasets.list.find((d) => d.datasetId === datasetId)
    runDataset.value = dataset?.name ?? ''
    runDatasetId.value = datasetId
    runTask.value = dataset?.task ?? 'classification'
    runPlan.value = JSON.parse(JSON.stringify({ config: config.value, partition: model.partition })) as typeof runPlan.value
    runFineTune.value = config.value.mode === 'layer-wise' && config.value.fineTune.enabled
    try {
      const result = await api('train.start', { datasetId, spec: model.spec, partition: model.partition, config: config.value })
      runId.value = result.runId
      status.value = 'running'
      const replay = early.filter((e) => e.runId === result.runId)
      early = []
      replay.forEach(handle)
    } catch (e) {
      error.value = errorText(e)
      status.value = null
    } finally {
      starting.value = false
    }
  }

  async function cancel(): Promise<void> {
    if (!runId.value) return
    try {
      await api('train.cancel', { runId: runId.value })
    } catch (e) {
      error.value = errorText(e)
    }
  }

  async function loadDetail(): Promise<void> {
    if (!runId.value) return
    try {
      detail.value = await api('runs.get', { runId: runId.value })
    } catch (e) {
      error.value = errorText(e)
    }
  }

  /**
   * After a reload (or from a second window) the live state is gone but a run may still be training: pick it up,
   * with the epochs it has stored so far, and follow its events from here on.
   */
  let resuming = false
  async function resume(): Promise<void> {
    if ((runId.value && running.value) || starting.value || resuming) return
    resuming = true
    try {
      // A study's members are followed in the study's own view, not here.
      const active = (await api('runs.list')).find(
        (r) => (r.status === 'running' || r.status === 'queued') && !r.tags.some((t) => t.startsWith('study '))
      )
      if (!active || (runId.value && running.value) || starting.value) return
      const run = await api('runs.get', { runId: active.runId })
      startedHere.value = false
      detail.value = null
      error.value = null
      progress.value = null
      runId.value = run.runId
      status.value = run.status
      runMode.value = run.mode
      runDataset.value = run.datasetName
      runDatasetId.value = run.datasetId
      runPlan.value = { config: run.config, partition: run.partition }
      runBackend.value = { backend: run.backend, reason: '' }
      runTask.value = run.task ?? 'classification'
      runFineTune.value = run.mode === 'layer-wise' && run.config.fineTune.enabled
      runBlocks.value = run.partition.blocks.map((b) => ({ name: b.name, color: b.color }))
      epochs.value = run.epochs
      seen = new Set(run.epochs.map(rowKey))
      if (run.status !== 'running' && run.status !== 'queued') detail.value = run
    } catch (e) {
      error.value = errorText(e)
    } finally {
      resuming = false
    }
  }

  const running = computed(() => starting.value || status.value === 'queued' || status.value === 'running')

  return {
    config,
    runId,
    status,
    starting,
    error,
    progress,
    epochs,
    detail,
    runBlocks,
    runMode,
    runFineTune,
    runDataset,
    runDatasetId,
    runPlan,
    runBackend,
    startedHere,
    runTask,
    start,
    cancel,
    loadDetail,
    resume,
    running
  }
})
