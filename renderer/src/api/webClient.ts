/**
 * The web shell's transport: the same LabBridge as the preload, over HTTP (requests) and a WebSocket (events).
 *
 * It holds no secret. The first page load traded the token in the printed URL for an HttpOnly SameSite=Strict
 * cookie and dropped it from the address bar (main/hosts/webAuth.ts); the browser sends that cookie with every
 * request and the event socket of this origin, so a copied URL works in another tab of the same browser, and
 * script on the page cannot read the secret. Downloads go by short-lived, single-use links asked for on click.
 */
import type { ApiResponse, EventName, EventPayload, LabBridge, RequestArgs, RequestName, RequestResult } from '@contract'

/** What the server answers a browser without the cookie, in words that say what to do. */
const NOT_SIGNED_IN =
  'this browser is not signed in to this LayerLab web shell: open the URL that `layerlab serve` printed (it carries the token) once'

async function answer<T>(res: Response): Promise<ApiResponse<T>> {
  const body = (await res.json()) as ApiResponse<T>
  if (!body.ok && res.status === 403 && body.error.message.includes('token'))
    return { ok: false, error: { code: 'bad_request', message: NOT_SIGNED_IN } }
  return body
}

const unreachable = (error: unknown): ApiResponse<never> => ({
  ok: false,
  error: { code: 'internal', message: `LayerLab is not reachable (${error instanceof Error ? error.message : String(error)})` }
})

export function createWebClient(): LabBridge & {
  upload(batch: string, relativePath: string, body: Blob): Promise<{ dir: string; path: string }>
  download(artifactId: string): Promise<void>
} {
  const listeners = new Map<EventName, Set<(payload: unknown) => void>>()
  let retry = 500

  function connect(): void {
    const scheme = window.location.protocol === 'https:' ? 'wss' : 'ws'
    const socket = new WebSocket(`${scheme}://${window.location.host}/events`)
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
        const res = await fetch(`/api/${name}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(args ?? {}) })
        return await answer<RequestResult<K>>(res)
      } catch (error) {
        return unreachable(error)
      }
    },
    on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void) {
      const set = listeners.get(event) ?? new Set()
      set.add(listener as (payload: unknown) => void)
      listeners.set(event, set)
      return () => set.delete(listener as (payload: unknown) => void)
    },
    async upload(batch, relativePath, body) {
      const res = await fetch(`/upload/${batch}/${relativePath.split('/').map(encodeURIComponent).join('/')}`, { method: 'POST', body })
      const data = await answer<{ dir: string; path: string }>(res)
      if (!data.ok) throw new Error(data.error.message)
      return data.result
    },
    /** Asks for a single-use link and lets the browser save the file behind it. */
    async download(artifactId) {
      const res = await fetch(`/download/${encodeURIComponent(artifactId)}`, { method: 'POST' })
      const data = await answer<{ url: string }>(res)
      if (!data.ok) throw new Error(data.error.message)
      const link = document.createElement('a')
      link.href = data.result.url
      link.download = ''
      document.body.append(link)
      link.click()
      link.remove()
    }
  }
}
