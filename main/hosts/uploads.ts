/**
 * The web shell's uploads: files a browser sends so that an import or a predict can read them from disk.
 *
 * An upload is a batch (one file, or every file of a folder, one request each) under <home>/uploads/<batch>/. It is
 * streamed to disk and held to a size limit while it streams (a request that declares more is refused before a byte
 * is read): a 200 MB POST was once written whole, and uploads stayed for ever. A batch is removed when the import
 * or predict that reads it ends (done or failed), when an upload into it fails, when the server closes (batches
 * nobody imported), and at start when a dead server left one older than a day.
 */
import fs from 'node:fs'
import path from 'node:path'
import type http from 'node:http'
import { LabError } from '../shared/errors'
import { formatBytes } from '../shared/format'

const MiB = 1024 * 1024
/** The most one upload (a file, or a folder's files together) may hold unless the server is told otherwise. */
export const DEFAULT_MAX_UPLOAD_BYTES = 1024 * MiB
/** Most file systems stop a name at 255 bytes and a path at 4096. */
const MAX_NAME_BYTES = 255
const MAX_PATH_BYTES = 1024
const MAX_DEPTH = 32
const STALE_MS = 24 * 3600 * 1000

/** A refused request with the HTTP status it is answered with (a LabError: the message is for the user). */
export class RefusedRequest extends LabError {
  constructor(
    message: string,
    readonly status: number
  ) {
    super(message, 'bad_request')
  }
}

/** The upload limit from LAYERLAB_MAX_UPLOAD_MB, when set. */
export function uploadLimitFromEnv(env: NodeJS.ProcessEnv = process.env): number | undefined {
  const raw = env.LAYERLAB_MAX_UPLOAD_MB
  if (raw === undefined || raw === '') return undefined
  const mb = Number(raw)
  if (!Number.isFinite(mb) || mb <= 0) throw new LabError(`LAYERLAB_MAX_UPLOAD_MB=${raw}: give a positive number of megabytes`)
  return Math.round(mb * MiB)
}

/**
 * A relative upload path, cleaned so that it cannot leave the upload folder and can be created on disk: no `..`,
 * no control characters, each name at most 255 bytes, the whole at most 1024. Null when it cannot be used.
 */
export function safeRelativePath(raw: string): string | null {
  const parts = raw.split(/[\\/]+/).filter((part) => part && part !== '.')
  if (parts.length === 0 || parts.length > MAX_DEPTH) return null
  if (parts.some((part) => part === '..' || /[\u0000-\u001f\u007f]/.test(part) || Buffer.byteLength(part) > MAX_NAME_BYTES)) return null
  const joined = parts.join(path.sep)
  return Buffer.byteLength(joined) > MAX_PATH_BYTES ? null : joined
}

export class UploadStore {
  /** Bytes received so far per batch this server created. */
  private readonly batches = new Map<string, number>()

  constructor(
    readonly root: string,
    readonly maxBytes: number
  ) {}

  /** Streams one file of a batch to disk within the limit; a failed upload removes its whole batch. */
  async receive(batch: string, relativeRaw: string, req: http.IncomingMessage): Promise<{ dir: string; path: string }> {
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(batch)) throw new RefusedRequest('bad upload path: the batch name is not valid', 400)
    const relative = safeRelativePath(relativeRaw)
    if (!relative) throw new RefusedRequest(`bad upload path: "${relativeRaw.slice(0, 80)}" is empty, leaves the folder or is too long`, 400)
    const name = path.basename(relative)
    const used = this.batches.get(batch) ?? 0
    const declared = Number(req.headers['content-length'])
    const tooBig = (bytes: number) =>
      new RefusedRequest(
        `upload ${name}: ${formatBytes(bytes)} is more than the upload limit of ${formatBytes(this.maxBytes)} (serve --max-upload-mb, or LAYERLAB_MAX_UPLOAD_MB)`,
        413
      )
    if (Number.isFinite(declared) && used + declared > this.maxBytes) {
      // The folder cannot be imported whole any more: its earlier files go too.
      await this.removeBatch(batch)
      throw tooBig(used + declared)
    }
    const dir = path.join(this.root, batch)
    const file = path.join(dir, relative)
    this.batches.set(batch, used)
    try {
      await fs.promises.mkdir(path.dirname(file), { recursive: true })
      await this.stream(req, file, (received) => {
        this.batches.set(batch, used + received)
        return used + received > this.maxBytes ? tooBig(used + received) : null
      })
    } catch (error) {
      await this.removeBatch(batch)
      if (error instanceof LabError) throw error
      const code = (error as NodeJS.ErrnoException).code
      throw new RefusedRequest(`upload ${name}: cannot be stored (${code ?? String(error)})`, code === 'ENOSPC' ? 507 : 400)
    }
    return { dir, path: file }
  }

  /**
   * Writes the request's body to a file while `check` allows. A refused body is not read on into the file, but the
   * request is left to drain (not destroyed), so the client still reads the answer that says why.
   */
  private stream(req: http.IncomingMessage, file: string, check: (received: number) => Error | null): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const out = fs.createWriteStream(file)
      let received = 0
      let failed = false
      const stop = (error: Error) => {
        if (failed) return
        failed = true
        out.destroy()
        req.resume()
        reject(error)
      }
      req.on('data', (chunk: Buffer) => {
        if (failed) return
        received += chunk.length
        const refusal = check(received)
        if (refusal) return stop(refusal)
        if (!out.write(chunk)) {
          req.pause()
          out.once('drain', () => req.resume())
        }
      })
      req.once('end', () => {
        if (!failed) out.end()
      })
      req.once('aborted', () => stop(new RefusedRequest('upload: the browser stopped sending', 400)))
      req.once('error', stop)
      out.once('error', stop)
      out.once('finish', () => {
        if (!failed) resolve()
      })
    })
  }

  /** The batch a path lies in, or null for a path outside the uploads. */
  batchOf(file: unknown): string | null {
    if (typeof file !== 'string' || !file) return null
    const relative = path.relative(this.root, path.resolve(file))
    if (!relative || relative.startsWith('..') || path.isAbsolute(relative)) return null
    return relative.split(path.sep)[0] ?? null
  }

  async removeBatch(batch: string): Promise<void> {
    this.batches.delete(batch)
    await fs.promises.rm(path.join(this.root, batch), { recursive: true, force: true })
  }

  /** Removes what servers that died left behind (a day old: never an upload in progress). */
  async sweepStale(): Promise<void> {
    const entries = await fs.promises.readdir(this.root).catch(() => [] as string[])
    const dayAgo = Date.now() - STALE_MS
    for (const entry of entries) {
      const stats = await fs.promises.stat(path.join(this.root, entry)).catch(() => null)
      if (stats && stats.mtimeMs < dayAgo) await fs.promises.rm(path.join(this.root, entry), { recursive: true, force: true })
    }
  }

  /** Removes the batches of this server that no import or predict read. */
  async close(): Promise<void> {
    for (const batch of [...this.batches.keys()]) await this.removeBatch(batch)
  }
}
