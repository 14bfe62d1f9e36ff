/**
 * The web shell's transport: the same LabBridge as the preload, over HTTP (requests) and a WebSocket (events).
 * The per-launch token comes in the URL the server printed; it is kept for the tab's life in sessionStorage
 * and dropped from the address bar so it is not bookmarked or shared by accident.
 */
import type { ApiResponse, EventName, EventPayload, LabBridge, RequestArgs, RequestName, RequestResult } from '@contract'

const TOKEN_KEY = 'layerlab.token'

export function takeToken(): string {
  const url = new URL(window.location.href)
  const fromUrl = url.searchParams.get('token')
  if (fromUrl) {
    sessionStorage.setItem(TOKEN_KEY, fromUrl)
    url.searchParams.delete('token')
    window.history.replaceState(null, '', url.pathname + url.search + url.hash)
    return fromUrl
  }
  return sessionStorage.getItem(TOKEN_KEY) ?? ''
}

export function createWebClient(token: string): LabBridge & {
  upload(batch: string, relativePath: string, body: Blob): Promise<{ dir: string; path: string }>
  downloadUrl(artifactId: string): string
  tableUrl(datasetId: string, format: 'csv' | 'parquet'): string
} {
  const listeners = new Map<EventName, Set<(payload: unknown) => void>>()
  let socket: WebSocket | null = null
  let retry = 500

  function connect(): void {
    const scheme = window.location.protocol === 'https:' ? 'wss' : 'ws'
    socket = new WebSocket(`${scheme}://${window.location.host}/events?token=${encodeURIComponent(token)}`)
    socket.onopen = () => {
      retry = 500
    }
    socket.onmessage = (message) => {
      const { event, payload } = JSON.parse(String(message.data)) as { event: EventName; payload: unknown }
      listeners.get(event)?.forEach((listener) => listener(payload))
    }
    socket.onclose = () => {
      // The server went away (restart, sleep): reconnect with backoff so live curves resume.
      setTimeout(connect, retry)
      retry = Math.min(retry * 2, 10_000)
    }
  }
  connect()

  return {
    transport: 'web',
    async invoke<K extends RequestName>(name: K, args?: RequestArgs<K>): Promise<ApiResponse<RequestResult<K>>> {
      try {
        const res = await fetch(`/api/${name}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json', 'x-layerlab-token': token },
          body: JSON.stringify(args ?? {})
        })
        return (await res.json()) as ApiResponse<RequestResult<K>>
      } catch (error) {
        return {
          ok: false,
          error: { code: 'internal', message: `LayerLab is not reachable (${error instanceof Error ? error.message : String(error)})` }
        }
      }
    },
    on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void) {
      const set = listeners.get(event) ?? new Set()
      set.add(listener as (payload: unknown) => void)
      listeners.set(event, set)
      return () => set.delete(listener as (payload: unknown) => void)
    },
    async upload(batch, relativePath, body) {
      const res = await fetch(`/upload/${batch}/${relativePath.split('/').map(encodeURIComponent).join('/')}`, {
        method: 'POST',
        headers: { 'x-layerlab-token': token },
        body
      })
      const data = (await res.json()) as ApiResponse<{ dir: string; path: string }>
      if (!data.ok) throw new Error(data.error.message)
      return data.result
    },
    downloadUrl: (artifactId) => `/files/${encodeURIComponent(artifactId)}?token=${encodeURIComponent(token)}`,
    tableUrl: (datasetId, format) => `/files/dataset/${encodeURIComponent(datasetId)}.${format}?token=${encodeURIComponent(token)}`
  }
}
