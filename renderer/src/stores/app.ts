import { defineStore } from 'pinia'
import { ref } from 'vue'
import type { RequestResult } from '@contract'
import { api, errorMessage, transport } from '../api/bridge'

/** What the status bar shows: version, data home, training backend; and a start-up error if the API is unreachable. */
export const useAppStore = defineStore('app', () => {
  const info = ref<RequestResult<'app.info'> | null>(null)
  const error = ref<string | null>(null)
  const via = ref<'electron' | 'web'>('web')

  async function load(): Promise<void> {
    try {
      info.value = await api('app.info')
      via.value = transport()
      error.value = null
    } catch (e) {
      error.value = errorMessage(e)
    }
  }

  return { info, error, via, load }
})
