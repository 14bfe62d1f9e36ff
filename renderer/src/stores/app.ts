import { defineStore } from 'pinia'
import { ref } from 'vue'
import type { RequestResult } from '@contract'
import { api, pickPath, transport } from '../api/bridge'
import { errorText } from '@shared/format'

/**
 * What the status bar shows (version, data home, training backend; a start-up error if the API is unreachable), and
 * what the host offers: the desktop app has native file dialogs, the web shell uploads instead.
 */
export const useAppStore = defineStore('app', () => {
  const info = ref<RequestResult<'app.info'> | null>(null)
  const error = ref<string | null>(null)
  const via = ref<'electron' | 'web'>('web')

  let loading: Promise<void> | null = null
  function load(): Promise<void> {
    loading = fetchInfo()
    return loading
  }
  async function fetchInfo(): Promise<void> {
    try {
      info.value = await api('app.info')
      via.value = transport()
      error.value = null
    } catch (e) {
      error.value = errorText(e)
    }
  }

  /** The data home, once app.info has answered (stores key what they remember by it); '' when it cannot be reached. */
  async function home(): Promise<string> {
    if (!info.value) await (loading ?? load())
    return info.value?.home ?? ''
  }

  const desktop = (): boolean => transport() === 'electron'

  /** Desktop only: a native open or save dialog; null when cancelled (or in the web shell). */
  function choosePath(kind: 'file' | 'folder' | 'save-onnx' | 'save-table'): Promise<string | null> {
    return pickPath(kind)
  }

  /** Saves the home's history store for the next start (null: the SQLite file); returns it without its password. */
  async function setStore(url: string | null): Promise<string | null> {
    const { saved } = await api('app.setStore', { url })
    await fetchInfo()
    return saved
  }

  return { info, error, via, load, home, desktop, choosePath, setStore }
})
