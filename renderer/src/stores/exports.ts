import { defineStore } from 'pinia'
import { ref } from 'vue'
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
    try {
      let data: string
      if ('path' in source) data = source.path
      else {
        const uploaded = await uploadFiles(source.files)
        // One file on its own is predicted by its path (uploadFiles gives one per file); a folder by the folder.
        const [only] = source.files
        data = only && source.files.length === 1 && !only.relativePath.includes('/') ? uploaded.paths[0]! : uploaded.dir
      }
      prediction.value = await api('predict.run', { model, data })
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
    exportRun,
    downloadable,
    download,
    downloadError,
    predict,
    predictionCsv
  }
})
