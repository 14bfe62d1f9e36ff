import { defineStore } from 'pinia'
import { watch } from 'vue'
import { trainConfig, type DatasetSummary } from '@contract'
import { useAppStore } from './app'
import { modelSourceKey, useModelStore } from './model'
import { useTrainingStore } from './training'
import { loadDraft, saveDraft } from './drafts'

/** Edits are written to storage this long after the last one. */
const SAVE_MS = 300

/**
 * Each dataset keeps its own model, partition and training settings. Switching datasets puts the current one's
 * away and brings the other's back (or its default model with fresh settings); a reload brings back what was there.
 * So a new dataset never opens with another's "500 epochs, patience 0", and a reload mid-run does not swap models.
 */
export const useWorkspaceStore = defineStore('workspace', () => {
  const app = useAppStore()
  const model = useModelStore()
  const training = useTrainingStore()
  let home: string | null = null

  /** Saves the model and settings of the dataset they belong to. */
  function persist(): void {
    if (home === null || !model.datasetId || !model.sourceKey || !model.spec || !model.partition) return
    saveDraft(localStorage, home, model.datasetId, {
      sourceKey: model.sourceKey,
      preset: model.preset,
      hidden: [...model.hidden],
      spec: JSON.parse(JSON.stringify(model.spec)) as typeof model.spec,
      partition: JSON.parse(JSON.stringify(model.partition)) as typeof model.partition,
      config: JSON.parse(JSON.stringify(training.config)) as typeof training.config
    })
  }

  let timer: ReturnType<typeof setTimeout> | undefined
  watch(
    [() => model.spec, () => model.partition, () => model.preset, () => model.hidden, () => training.config],
    () => {
      clearTimeout(timer)
      timer = setTimeout(persist, SAVE_MS)
    },
    { deep: true }
  )

  /** Makes the model and settings those of `summary`: its saved draft when it still fits, else its default model. */
  async function ensureModel(summary: DatasetSummary): Promise<void> {
    home = await app.home()
    const key = modelSourceKey(summary)
    if (model.datasetId === summary.datasetId && model.sourceKey === key && model.spec) return
    clearTimeout(timer)
    persist()
    const draft = loadDraft(localStorage, home, summary.datasetId)
    if (draft && draft.sourceKey === key) {
      await model.loadSpec(summary, draft.spec, draft.partition)
      model.preset = draft.preset
      model.hidden = draft.hidden
      training.config = draft.config
    } else {
      // A dataset new to this model: its default, and default settings (the chosen mode carries over).
      const mode = training.config.mode
      await model.loadDefault(summary)
      // The default MLP's hidden sizes, as the Model view's field shows them.
      const dense = model.spec?.layers.filter((l) => l.type === 'dense') ?? []
      model.hidden = dense.slice(0, -1).map((l) => (l.type === 'dense' ? l.units : 0))
      training.config = trainConfig.parse({ mode })
    }
  }

  return { ensureModel, persist }
})
