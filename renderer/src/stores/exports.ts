import { defineStore } from 'pinia'
import { ref, watch } from 'vue'
import type { RequestArgs, RequestResult } from '@contract'
import { api, canDownload, downloadArtifact, pickPath, transport, uploadFiles } from '../api/bridge'
import { errorText } from '@shared/format'
import { writeCsv } from '@shared/csvWriter'

type ExportResult = RequestResult<'export.onnx'>
type PredictResult = RequestResult<'predict.run'>

/** Export to ONNX (with its proof) and predict on new files. */
export const useExportStore = defineStore('exports', () => {
  const runId = ref<string | null>(null)
  const busy = ref(false)
  const error = ref<string | null>(null)
  const result = ref<ExportResult | null>(null)
  const predicting = ref(false)
  const predictError = ref<string | null>(null)
  const prediction = ref<PredictResult | null>(null)
  /** The run the prediction above came from: shown with it, so it is never taken for another run's. */
  const predictedWith = ref<string | null>(null)

  // Another run chosen: the last export's proof and predictions belong to the old one, so they go.
  watch(runId, (next, previous) => {
    if (previous === null || next === previous) return
    result.value = null
    error.value = null
    prediction.value = null
    predictError.value = null
    predictedWith.value = null
  })

  async function exportRun(args: Omit<RequestArgs<'export.onnx'>, 'out'>): Promise<void> {
    busy.value = true
    error.value = null
    try {
      // Desktop: a native save dialog, which asks before it names an existing file (so the answer is the
      // confirmation to replace it); web shell: saved in the run's folder, then offered as a download.
      const out = transport() === 'electron' ? await pickPath('save-onnx') : null
      if (transport() === 'electron' && !out) return
      result.value = await api('export.onnx', { ...args, ...(out ? { out, overwrite: true } : {}) })
    } catch (e) {
      error.value = errorText(e)
    } finally {
      busy.value = false
    }
  }

  const downloadable = canDownload
  const downloadError = ref<string | null>(null)
  /** Web shell: saves the exported file through a single-use link (no secret in any href). */
  async function download(artifactId: string): Promise<void> {
    downloadError.value = null
    try {
      await downloadArtifact(artifactId)
    } catch (e) {
      downloadError.value = errorText(e)
    }
  }

  /** Predicts on a path (desktop) or on uploaded files (web shell). */
  async function predict(model: string, source: { path: string } | { files: Array<{ relativePath: string; file: Blob }> }): Promise<void> {
    predicting.value = true
    predictError.value = null
    prediction.value = null
    predictedWith.value = null
    try {
      // An upload is predicted by the path of what was picked (the file, or the folder), the path the CLI is given.
      const data = 'path' in source ? source.path : (await uploadFiles(source.files)).target
      prediction.value = await api('predict.run', { model, data })
      predictedWith.value = model
    } catch (e) {
      predictError.value = errorText(e)
    } finally {
      predicting.value = false
    }
  }

  /** The predictions as CSV (key, prediction, p_<label>…; regression: key, prediction), with the writer `layerlab predict --out` uses. */
  function predictionCsv(): string {
    const p = prediction.value
    if (!p) return ''
    if (p.task === 'regression')
      return writeCsv(
        ['key', 'prediction'],
        p.rows.map((r) => [r.key, r.prediction])
      )
    return writeCsv(
      ['key', 'prediction', ...p.labels.map((l) => `p_${l}`)],
      p.rows.map((r) => [r.key, r.prediction, ...r.probabilities])
    )
  }

  return {
    runId,
    busy,
    error,
    result,
    predicting,
    predictError,
    prediction,
    predictedWith,
    exportRun,
    downloadable,
    download,
    downloadError,
    predict,
    predictionCsv
  }
})
