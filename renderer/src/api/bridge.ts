/**
 * The renderer's one way to the main side. Stores call `api(...)`; components never do.
 * Transport: `window.lab` from the Electron preload, else the web shell's HTTP client.
 */
import type { EventName, EventPayload, LabBridge, RequestArgs, RequestName, RequestResult } from '@contract'
import { createWebClient } from './webClient'
import { uploadChoice, uploadedTarget, type UploadChoice } from '@shared/uploads'

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
export async function pickPath(kind: 'file' | 'folder' | 'save-onnx' | 'save-table'): Promise<string | null> {
  const b = current()
  return b.pickPath ? b.pickPath(kind) : null
}

export interface UploadProgress {
  files: number
  totalFiles: number
  bytes: number
  totalBytes: number
}

/** Files sent at once: enough to keep the connection busy with many small images, few enough not to flood the server. */
const UPLOAD_CONCURRENCY = 4

/**
 * Web shell only: uploads files into the data home and resolves to the path of what the user picked (the one file,
 * or the chosen folder: see shared/uploads.ts), so the request that follows gets the same path the CLI would.
 */
export async function uploadFiles(
  files: Array<{ relativePath: string; file: Blob }>,
  onProgress?: (progress: UploadProgress) => void
): Promise<{ target: string; choice: UploadChoice }> {
  current()
  const client = web
  if (!client) throw new ApiError('uploads exist only in the web shell', 'bad_request')
  const choice = uploadChoice(files.map((f) => f.relativePath))
  const batch = `${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`
  const progress: UploadProgress = { files: 0, totalFiles: files.length, bytes: 0, totalBytes: files.reduce((a, f) => a + f.file.size, 0) }
  onProgress?.({ ...progress })
  const stored: Array<{ dir: string; path: string }> = new Array(files.length)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < files.length) {
      const index = next++
      const item = files[index]!
      stored[index] = await client.upload(batch, item.relativePath, item.file)
      progress.files++
      progress.bytes += item.file.size
      onProgress?.({ ...progress })
    }
  }
  await Promise.all(Array.from({ length: Math.min(UPLOAD_CONCURRENCY, files.length) }, worker))
  const [first] = stored
  if (!first) throw new ApiError('nothing to upload', 'bad_request')
  return { target: uploadedTarget(choice, first.dir, first.path), choice }
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

/** Web shell only: saves a dataset's parsed table through a short-lived link (the desktop saves through a dialog). */
export async function downloadTable(datasetId: string, format: 'csv' | 'parquet'): Promise<void> {
  current()
  if (!web) throw new ApiError('downloads exist only in the web shell', 'bad_request')
  await web.download(`dataset/${datasetId}.${format}`)
}
