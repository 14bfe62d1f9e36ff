import { defineStore } from 'pinia'
import { ref, shallowRef } from 'vue'
import type { EventPayload, RequestArgs, RequestResult, StudyDetail, StudyProtocol, StudySummary, SweepSpec, TrainMode } from '@contract'
import { api, onEvent } from '../api/bridge'
import { errorText } from '@shared/format'
import { useModelStore } from './model'
import { useTrainingStore } from './training'

/** What the new-study form asks for; the model and its settings come from the Model and Train views. */
export interface StudyChoice {
  datasetId: string
  compare: TrainMode[]
  sweep?: SweepSpec
  protocol: StudyProtocol
  workers?: number
  /** Submit to queue workers: a redis:// URL, or 'default' for the lab's own queue. */
  queue?: string
  name?: string
}

/** A member run's own progress while it trains (its stage's epochs, as a fraction). */
export interface MemberProgress {
  fraction: number
  text: string
}

/** How often a running study's detail is fetched again while its members finish (events say when). */
const REFRESH_MS = 700

/**
 * Studies: the list, the open study's detail (statistics, members) and its live progress — the whole study's
 * done/total and time left from `study.progress`, each training member's from `train.progress`.
 */
export const useStudiesStore = defineStore('studies', () => {
  const list = ref<StudySummary[]>([])
  const loaded = ref(false)
  const error = ref<string | null>(null)
  const openId = ref<string | null>(null)
  const detail = shallowRef<StudyDetail | null>(null)
  const progress = shallowRef<EventPayload<'study.progress'> | null>(null)
  const memberProgress = shallowRef<Record<string, MemberProgress>>({})
  const starting = ref(false)
  /** The queue's workers (the lab's queue, or the open study's), as last fetched. */
  const queueWorkers = shallowRef<RequestResult<'queue.workers'> | null>(null)
  let refreshTimer: ReturnType<typeof setTimeout> | undefined

  async function refresh(): Promise<void> {
    try {
      list.value = await api('studies.list')
      error.value = null
    } catch (e) {
      error.value = errorText(e)
    } finally {
      loaded.value = true
    }
  }

  async function loadDetail(): Promise<void> {
    if (!openId.value) return
    try {
      const next = await api('studies.get', { studyId: openId.value })
      if (next.studyId === openId.value) detail.value = next
    } catch (e) {
      error.value = errorText(e)
    }
  }

  function refreshSoon(): void {
    if (refreshTimer) return
    refreshTimer = setTimeout(() => {
      refreshTimer = undefined
      void loadDetail()
      void refresh()
    }, REFRESH_MS)
  }

  onEvent('study.progress', (payload) => {
    if (payload.studyId === openId.value) progress.value = payload
    refreshSoon()
  })
  onEvent('train.progress', (p) => {
    const running = detail.value?.members.some((m) => m.runId === p.runId)
    if (!running) return
    const stage = p.phase === 'block' ? `${p.blockName}` : p.phase === 'finetune' ? 'fine-tune' : 'end-to-end'
    memberProgress.value = {
      ...memberProgress.value,
      [p.runId]: { fraction: (p.epoch - 1 + p.batch / Math.max(1, p.batches)) / Math.max(1, p.epochs), text: `${stage} epoch ${p.epoch}/${p.epochs}` }
    }
  })

  /** The workers of the lab's queue (no argument) or of the queue a study was submitted to (its URL, shown). */
  async function loadWorkers(queue?: string): Promise<RequestResult<'queue.workers'> | null> {
    try {
      const lab = await api('queue.workers', {})
      // A study's stored queue has no credentials: the lab's own queue is asked through the lab when it is that one.
      queueWorkers.value = !queue || lab.queue === queue ? lab : await api('queue.workers', { queue })
    } catch (e) {
      queueWorkers.value = { queue: queue ?? null, workers: [], error: errorText(e) }
    }
    return queueWorkers.value
  }

  async function open(studyId: string): Promise<void> {
    openId.value = studyId
    detail.value = null
    progress.value = null
    memberProgress.value = {}
    await loadDetail()
  }

  async function act<T>(work: () => Promise<T>): Promise<T | undefined> {
    try {
      error.value = null
      return await work()
    } catch (e) {
      error.value = errorText(e)
      return undefined
    }
  }

  async function start(args: RequestArgs<'studies.start'>): Promise<string | null> {
    starting.value = true
    try {
      const result = await act(() => api('studies.start', args))
      if (!result) return null
      await refresh()
      await open(result.studyId)
      return result.studyId
    } finally {
      starting.value = false
    }
  }

  /** Whether the Model view holds a model for this dataset (the study then starts from it and the Train settings). */
  function usesBuiltModel(datasetId: string): boolean {
    const model = useModelStore()
    return Boolean(model.spec && model.partition && model.datasetId === datasetId && !model.description?.errors.length)
  }

  /** Starts a study from the form: the built model and Train settings when they are for this dataset, else its default model. */
  async function startFromViews(choice: StudyChoice): Promise<string | null> {
    const model = useModelStore()
    const training = useTrainingStore()
    const built = usesBuiltModel(choice.datasetId)
    const base = built
      ? { spec: model.spec!, partition: model.partition!, config: { ...JSON.parse(JSON.stringify(training.config)), split: undefined } }
      : await act(async () => ({ ...(await api('models.default', { datasetId: choice.datasetId })), config: {} }))
    if (!base) return null
    return start({ ...choice, base })
  }

  async function startExample(): Promise<string | null> {
    starting.value = true
    try {
      const result = await act(() => api('studies.example', {}))
      if (!result) return null
      await refresh()
      await open(result.studyId)
      return result.studyId
    } finally {
      starting.value = false
    }
  }

  async function cancel(studyId: string): Promise<void> {
    await act(() => api('studies.cancel', { studyId }))
    await Promise.all([refresh(), loadDetail()])
  }

  async function resume(studyId: string): Promise<void> {
    await act(() => api('studies.resume', { studyId }))
    await Promise.all([refresh(), loadDetail()])
  }

  async function remove(studyId: string): Promise<void> {
    await act(() => api('studies.delete', { studyId }))
    if (openId.value === studyId) {
      openId.value = null
      detail.value = null
    }
    await refresh()
  }

  return {
    list,
    loaded,
    error,
    openId,
    detail,
    progress,
    memberProgress,
    starting,
    queueWorkers,
    loadWorkers,
    refresh,
    open,
    start,
    startFromViews,
    usesBuiltModel,
    startExample,
    cancel,
    resume,
    remove
  }
})
