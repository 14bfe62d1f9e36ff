/**
 * The renderer's one way to the main side. Stores call `api(...)`; components never do.
 * Transport: `window.lab` from the Electron preload, else the web shell's HTTP client.
 */
import type { EventName, EventPayload, LabBridge, RequestArgs, RequestName, RequestResult } from '@contract'
import { createWebClient } from './webClient'

export class ApiError extends Error {
  constructor(
    message: string,
    readonly code: string
  ) {
    super(message)
  }
}

type WebClient = ReturnType<typeof createWebClient>
let bridge: LabBridge | undefined
let web: WebClient | undefined

function current(): LabBridge {
  if (!bridge) {
    if (window.lab) bridge = window.lab
    else bridge = web = createWebClient()
  }
  return bridge
}

export async function api<K extends RequestName>(name: K, args?: RequestArgs<K>): Promise<RequestResult<K>> {
  const response = await current().invoke(name, args)
  if (!response.ok) throw new ApiError(response.error.message, response.error.code)
  return response.result
}

export function onEvent<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): () => void {
  return current().on(event, listener)
}

export const transport = (): 'electron' | 'web' => current().transport

/** Desktop: a native dialog. Web: null (the views offer upload instead). */
export async function pickPath(kind: 'file' | 'folder' | 'save-onnx'): Promise<string | null> {
  const b = current()
  return b.pickPath ? b.pickPath(kind) : null
}

/** Web shell only: uploads files into the data home; resolves to the folder (or file) path to import. */
export async function uploadFiles(files: Array<{ relativePath: string; file: Blob }>): Promise<{ dir: string; paths: string[] }> {
  current()
  if (!web) throw new ApiError('uploads exist only in the web shell', 'bad_request')
  const batch = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`
  const paths: string[] = []
  let dir = ''
  for (const { relativePath, file } of files) {
    const result = await web.upload(batch, relativePath, file)
    dir = result.dir
    paths.push(result.path)
  }
  return { dir, paths }
}

/** Web shell: whether files are offered as downloads (the desktop app writes them where the user chose). */
export function canDownload(): boolean {
  current()
  return web !== undefined
}

/** Web shell only: saves an artifact's file through a short-lived link. */
export async function downloadArtifact(artifactId: string): Promise<void> {
  current()
  if (!web) throw new ApiError('downloads exist only in the web shell', 'bad_request')
  await web.download(artifactId)
}
