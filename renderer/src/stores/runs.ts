import { defineStore } from 'pinia'
import { computed, ref } from 'vue'
import type { ClassificationEvaluation, RequestArgs, RunDetail, RunSummary } from '@contract'
import { api, onEvent } from '../api/bridge'
import { errorText } from '@shared/format'
import { useDatasetsStore } from './datasets'
import { useModelStore } from './model'
import { useTrainingStore } from './training'
import { useWorkspaceStore } from './workspace'

export type Misclassified = ClassificationEvaluation['misclassified'][number]

/** The experiment history: the run list, the selection to compare, and run details fetched on demand. */
export const useRunsStore = defineStore('runs', () => {
  const runs = ref<RunSummary[]>([])
  const loaded = ref(false)
  const error = ref<string | null>(null)
  const selected = ref<string[]>([])
  const details = ref<Record<string, RunDetail>>({})
  let listening = false

  async function refresh(): Promise<void> {
    try {
      runs.value = await api('runs.list')
      error.value = null
      const known = new Set(runs.value.map((r) => r.runId))
      selected.value = selected.value.filter((id) => known.has(id))
    } catch (e) {
      error.value = errorText(e)
    } finally {
      loaded.value = true
    }
    if (!listening) {
      listening = true
      // A run that ends anywhere (this window, the CLI, another window) shows up without a manual refresh.
      onEvent('train.finished', ({ runId }) => {
        delete details.value[runId]
        void refresh()
      })
    }
  }

  async function detail(runId: string, force = false): Promise<RunDetail> {
    if (force || !details.value[runId] || details.value[runId].status === 'running') details.value[runId] = await api('runs.get', { runId })
    return details.value[runId]
  }

  async function loadSelected(): Promise<void> {
    await Promise.all(selected.value.map((id) => detail(id)))
  }

  async function update(args: RequestArgs<'runs.update'>): Promise<void> {
    const updated = await api('runs.update', args)
    runs.value = runs.value.map((r) => (r.runId === updated.runId ? updated : r))
    const known = details.value[updated.runId]
    if (known) details.value[updated.runId] = { ...known, ...updated }
  }

  async function remove(runId: string): Promise<void> {
    await api('runs.delete', { runId })
    delete details.value[runId]
    selected.value = selected.value.filter((id) => id !== runId)
    runs.value = runs.value.filter((r) => r.runId !== runId)
  }

  /** Re-runs with exactly the stored settings (same seed: the same result on the same backend). */
  async function rerun(runId: string): Promise<string> {
    const run = await detail(runId)
    const { runId: newId } = await api('train.start', {
      datasetId: run.datasetId,
      spec: run.spec,
      partition: run.partition,
      config: run.config,
      name: `${run.name} (re-run)`
    })
    await refresh()
    return newId
  }

  /** Loads a run's dataset, model, partition and config into the builder, to train a changed copy. */
  async function editCopy(runId: string): Promise<void> {
    const run = await detail(runId)
    // The current dataset's model and settings are put away first: the copy replaces them.
    useWorkspaceStore().persist()
    const datasets = useDatasetsStore()
    if (!datasets.list.some((d) => d.datasetId === run.datasetId)) await datasets.load()
    await datasets.select(run.datasetId)
    const source = datasets.selected
    if (!source) throw new Error(`dataset ${run.datasetName} is no longer there`)
    await useModelStore().loadSpec(source, run.spec, run.partition)
    useTrainingStore().config = JSON.parse(JSON.stringify(run.config)) as RunDetail['config']
  }

  /** The dataset rows behind some of a run's misclassified test examples (tables: their values), in the order given. */
  async function misclassifiedRows(
    run: RunDetail,
    picked: Misclassified[]
  ): Promise<{ columns: string[]; rows: Array<Misclassified & { values: Array<string | number | null> }> }> {
    let columns: string[] = []
    const rows = await Promise.all(
      picked.map(async (m) => {
        const page = await api('datasets.preview', { datasetId: run.datasetId, offset: m.row, limit: 1 })
        columns = page.columns
        return { ...m, values: page.rows[0] ?? [] }
      })
    )
    return { columns, rows }
  }

  /** Thumbnails of image rows (a run's misclassified test images), fetched once per dataset row. */
  const thumbnailCache = new Map<string, string>()
  async function rowThumbnails(datasetId: string, rows: number[]): Promise<Map<number, string>> {
    const missing = [...new Set(rows.filter((r) => !thumbnailCache.has(`${datasetId}/${r}`)))]
    for (let start = 0; start < missing.length; start += 200) {
      const found = await api('datasets.rowThumbnails', { datasetId, rows: missing.slice(start, start + 200) })
      for (const t of found) thumbnailCache.set(`${datasetId}/${t.row}`, t.dataUrl)
    }
    return new Map(rows.map((r) => [r, thumbnailCache.get(`${datasetId}/${r}`) ?? '']))
  }

  const selectedDetails = computed(() => selected.value.map((id) => details.value[id]).filter((d): d is RunDetail => Boolean(d)))

  return {
    runs,
    loaded,
    error,
    selected,
    details,
    selectedDetails,
    refresh,
    detail,
    loadSelected,
    update,
    remove,
    rerun,
    editCopy,
    misclassifiedRows,
    rowThumbnails
  }
})
