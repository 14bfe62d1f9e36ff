import { defineStore } from 'pinia'
import { computed, ref, shallowRef } from 'vue'
import type { DatasetSummary, EventPayload, RequestArgs, RequestResult } from '@contract'
import { api, canDownload, downloadTable, onEvent, pickPath, transport, uploadFiles } from '../api/bridge'
import { errorText } from '@shared/format'
import { useAppStore } from './app'
import { loadSelection, saveSelection } from './drafts'

export type PreviewCell = string | number | null
export type Thumbnails = RequestResult<'datasets.thumbnails'>
export interface UploadItem {
  /** The file's path inside what the user chose: the file name, or the folder's webkitRelativePath. */
  relativePath: string
  file: Blob
}

/**
 * An import under way, in two phases: the web shell's upload (files and bytes sent), then the import itself
 * (rows read, or images decoded, with the bytes of the source done so far).
 */
export interface ImportProgress {
  label: string
  /** The id the import's progress events and its Cancel carry; null while the files are still uploading. */
  importId: string | null
  /** The web shell's upload, then the import's own phases (reading the source, profiling columns, fitting the split). */
  phase: 'uploading' | NonNullable<EventPayload<'dataset.progress'>['phase']>
  kind: 'table' | 'images' | null
  files: number
  totalFiles: number
  rows: number
  bytes: number
  totalBytes: number
}

/** Rows fetched per datasets.preview call while the preview table scrolls. */
export const PREVIEW_PAGE = 200

/**
 * Imported data sets, the selected one, and its lazily paged preview. The preview never holds the whole file
 * unless the user scrolls through all of it: rows arrive in pages as the table asks for them.
 */
export const useDatasetsStore = defineStore('datasets', () => {
  const list = ref<DatasetSummary[]>([])
  const loaded = ref(false)
  const selectedId = ref<string | null>(null)
  const selected = computed(() => list.value.find((d) => d.datasetId === selectedId.value) ?? null)
  /** The last import or edit that failed, as its one-line message. */
  const error = ref<string | null>(null)
  const importing = ref<ImportProgress | null>(null)
  /** The last table export on the desktop (its path), or its error in `error`. */
  const exported = ref<string | null>(null)
  const updating = ref(false)

  const previewColumns = shallowRef<string[]>([])
  /** One entry per row of the file; null until its page has arrived. */
  const previewRows = shallowRef<Array<PreviewCell[] | null>>([])
  const previewTotal = ref(0)
  const pageRequests = new Map<number, Promise<void>>()
  let previewFor: string | null = null

  const thumbnails = shallowRef<Thumbnails>([])

  onEvent('dataset.progress', (payload: EventPayload<'dataset.progress'>) => {
    const current = importing.value
    if (!current || current.phase === 'uploading') return
    if (payload.importId && current.importId && payload.importId !== current.importId) return
    importing.value = { ...current, phase: payload.phase ?? 'reading', rows: payload.rows, bytes: payload.bytes, totalBytes: payload.totalBytes }
  })

  async function load(): Promise<void> {
    try {
      const [items, home] = await Promise.all([api('datasets.list'), useAppStore().home()])
      list.value = items
      loaded.value = true
      // After a reload: the dataset the user had selected, else the newest.
      const remembered = loadSelection(localStorage, home)
      if (!selected.value && list.value.length)
        await select(list.value.some((d) => d.datasetId === remembered) ? remembered! : newest(list.value).datasetId)
    } catch (e) {
      error.value = errorText(e)
    }
  }

  function newest(items: DatasetSummary[]): DatasetSummary {
    return items.reduce((a, b) => (b.createdAt > a.createdAt ? b : a))
  }

  function remember(summary: DatasetSummary): void {
    const at = list.value.findIndex((d) => d.datasetId === summary.datasetId)
    if (at >= 0) list.value.splice(at, 1, summary)
    else list.value.push(summary)
  }

  async function importPath(
    path: string,
    options: Omit<RequestArgs<'datasets.import'>, 'path'> = {},
    label = path,
    kind: ImportProgress['kind'] = null
  ): Promise<DatasetSummary | null> {
    error.value = null
    const importId = `ui-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`
    importing.value = { label, importId, phase: 'reading', kind, files: 0, totalFiles: 0, rows: 0, bytes: 0, totalBytes: 0 }
    try {
      const summary = await api('datasets.import', { path, ...options, importId })
      remember(summary)
      await select(summary.datasetId)
      return summary
    } catch (e) {
      error.value = errorText(e)
      return null
    } finally {
      importing.value = null
    }
  }

  /** Web shell: uploads a CSV file or a folder of images, then imports what landed in the data home (as the CLI would). */
  async function importUpload(items: UploadItem[]): Promise<DatasetSummary | null> {
    const [firstItem] = items
    if (!firstItem) return null
    error.value = null
    const label = items.length === 1 ? firstItem.relativePath : (firstItem.relativePath.split('/')[0] ?? firstItem.relativePath)
    const kind = items.length === 1 && !firstItem.relativePath.includes('/') ? 'table' : 'images'
    importing.value = { label, importId: null, phase: 'uploading', kind, files: 0, totalFiles: items.length, rows: 0, bytes: 0, totalBytes: 0 }
    let target: string
    try {
      target = (
        await uploadFiles(items, (p) => {
          if (importing.value?.phase === 'uploading') importing.value = { ...importing.value, ...p }
        })
      ).target
    } catch (e) {
      error.value = `${label}: ${errorText(e)}`
      importing.value = null
      return null
    }
    return importPath(target, {}, label, kind)
  }

  /** Stops the running import; the import call then fails with "… import cancelled" and keeps nothing. */
  async function cancelImport(): Promise<void> {
    const importId = importing.value?.importId
    if (importId) await api('datasets.cancelImport', { importId }).catch(() => undefined)
  }

  /** Imports the selected workbook again from another sheet (a new dataset). */
  async function importSheet(sheet: string): Promise<void> {
    const summary = selected.value
    if (!summary) return
    await importPath(summary.sourcePath, { sheet }, `${summary.name} · ${sheet}`)
  }

  /** Web shell: the parsed table as a download (the desktop's exportTable saves through a dialog). */
  async function downloadParsed(format: 'csv' | 'parquet'): Promise<void> {
    const summary = selected.value
    if (!summary) return
    try {
      await downloadTable(summary.datasetId, format)
    } catch (e) {
      error.value = errorText(e)
    }
  }

  /** Desktop: asks where to save, then writes the parsed table there. */
  async function exportTable(): Promise<void> {
    const summary = selected.value
    if (!summary || transport() !== 'electron') return
    const out = await pickPath('save-table')
    if (!out) return
    try {
      exported.value = (await api('datasets.export', { datasetId: summary.datasetId, out, overwrite: true })).path
    } catch (e) {
      error.value = errorText(e)
    }
  }

  async function select(datasetId: string): Promise<void> {
    selectedId.value = datasetId
    void useAppStore()
      .home()
      .then((home) => saveSelection(localStorage, home, datasetId))
    thumbnails.value = []
    resetPreview(datasetId)
    const summary = selected.value
    if (summary?.kind === 'images') {
      try {
        thumbnails.value = await api('datasets.thumbnails', { datasetId, perClass: 8 })
      } catch (e) {
        error.value = errorText(e)
      }
    }
    await ensureRows(0, PREVIEW_PAGE)
  }

  async function update(args: Omit<RequestArgs<'datasets.update'>, 'datasetId'>): Promise<void> {
    const datasetId = selectedId.value
    if (!datasetId) return
    error.value = null
    updating.value = true
    try {
      remember(await api('datasets.update', { datasetId, ...args }))
    } catch (e) {
      error.value = errorText(e)
    } finally {
      updating.value = false
    }
  }

  async function remove(datasetId: string): Promise<void> {
    try {
      await api('datasets.delete', { datasetId })
      list.value = list.value.filter((d) => d.datasetId !== datasetId)
      if (selectedId.value === datasetId) {
        selectedId.value = null
        resetPreview(null)
        if (list.value.length) await select(newest(list.value).datasetId)
      }
    } catch (e) {
      error.value = errorText(e)
    }
  }

  function resetPreview(datasetId: string | null): void {
    previewFor = datasetId
    pageRequests.clear()
    previewColumns.value = []
    previewTotal.value = selected.value?.rows ?? 0
    previewRows.value = new Array<null>(previewTotal.value).fill(null)
  }

  /** Makes sure rows [from, to) are loaded, fetching the missing pages. */
  async function ensureRows(from: number, to: number): Promise<void> {
    const datasetId = previewFor
    if (!datasetId) return
    const firstPage = Math.floor(Math.max(0, from) / PREVIEW_PAGE)
    const lastPage = Math.floor(Math.max(0, to - 1) / PREVIEW_PAGE)
    const waits: Promise<void>[] = []
    for (let page = firstPage; page <= lastPage; page++) {
      if (page > 0 && page * PREVIEW_PAGE >= previewTotal.value) break
      let request = pageRequests.get(page)
      if (!request) {
        request = fetchPage(datasetId, page)
        pageRequests.set(page, request)
      }
      waits.push(request)
    }
    await Promise.all(waits)
  }

  async function fetchPage(datasetId: string, page: number): Promise<void> {
    try {
      const result = await api('datasets.preview', { datasetId, offset: page * PREVIEW_PAGE, limit: PREVIEW_PAGE })
      if (previewFor !== datasetId) return
      if (!previewColumns.value.length) previewColumns.value = result.columns
      const rows = previewRows.value.length === result.total ? previewRows.value.slice() : resize(previewRows.value, result.total)
      result.rows.forEach((row, i) => (rows[page * PREVIEW_PAGE + i] = row))
      previewTotal.value = result.total
      previewRows.value = rows
    } catch (e) {
      pageRequests.delete(page)
      error.value = errorText(e)
    }
  }

  function resize(rows: Array<PreviewCell[] | null>, total: number): Array<PreviewCell[] | null> {
    const next = new Array<PreviewCell[] | null>(total).fill(null)
    rows.slice(0, total).forEach((row, i) => (next[i] = row))
    return next
  }

  return {
    list,
    loaded,
    selectedId,
    selected,
    error,
    importing,
    exported,
    updating,
    previewColumns,
    previewRows,
    previewTotal,
    thumbnails,
    load,
    importPath,
    importUpload,
    cancelImport,
    importSheet,
    downloadParsed,
    downloadable: canDownload,
    exportTable,
    select,
    update,
    remove,
    ensureRows
  }
})
