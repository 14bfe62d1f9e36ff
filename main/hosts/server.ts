/**
 * The web shell: the built renderer and the same router as the desktop app, over HTTP + WebSocket, on loopback.
 *
 * Why the guards: any web page the user visits can send requests to 127.0.0.1, and DNS rebinding can make a
 * foreign page look same-origin. So every API call, upload and the event socket need the per-launch secret
 * (webAuth.ts: the token header, or the cookie a first page load with the token set, with our Origin), a Host
 * header that names loopback, and — when the browser sends one — an Origin equal to ours. Static files carry no
 * data and are served without it; no page of ours may be framed by another (frame-ancestors 'none'). Paths from
 * the URL are decoded once, and a malformed one is a typed 400, never an internal error.
 */
import http from 'node:http'
import fs from 'node:fs'
import path from 'node:path'
import { pipeline } from 'node:stream/promises'
import { WebSocketServer, type WebSocket } from 'ws'
import type { Lab } from '../lab'
import { LabError } from '../shared/errors'
import type { RequestResult } from '../shared/contract'
import { WebAuth } from './webAuth'
import { DEFAULT_MAX_UPLOAD_BYTES, RefusedRequest, UploadStore, uploadLimitFromEnv } from './uploads'

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '::1'])
const MAX_JSON_BYTES = 4 * 1024 * 1024
/** Requests whose file argument may be an upload: the upload is removed when they end. */
const READS_UPLOAD: Record<string, string> = { 'datasets.import': 'path', 'predict.run': 'data' }
/** /download/dataset/<id>.<format>: a parsed table's export (artifact ids never contain a slash). */
const TABLE_DOWNLOAD = /^dataset\/([A-Za-z0-9_-]{1,64})\.(csv|parquet)$/
const TABLE_PREFIX = 'table:'

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm'
}

/** On every answer: never framed by another page, never sniffed, never a Referer (URLs may once hold a secret). */
const SAFETY_HEADERS = {
  'x-frame-options': 'DENY',
  'content-security-policy': "frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer'
} as const

export interface WebShell {
  /** The URL to print for the person who started the shell: it carries the token, once. */
  url: string
  origin: string
  port: number
  token: string
  /** The name of the cookie that a first page load sets. */
  cookieName: string
  /** The most bytes one upload may hold. */
  maxUploadBytes: number
  /** A private file (0600) that opens the shell with a single-use code: what to hand a browser's command line. */
  launchFile(): string
  close(): Promise<void>
}

export interface ServeOptions {
  host?: string
  port?: number
  rendererDir: string
  /** The most bytes one upload (a file, or a folder's files) may hold; LAYERLAB_MAX_UPLOAD_MB, else 1 GiB. */
  maxUploadBytes?: number
}

function sendJson(res: http.ServerResponse, status: number, body: unknown, extra: http.OutgoingHttpHeaders = {}): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { ...SAFETY_HEADERS, 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...extra })
  res.end(text)
}

const fail = (res: http.ServerResponse, status: number, code: string, message: string, extra: http.OutgoingHttpHeaders = {}) =>
  sendJson(res, status, { ok: false, error: { code, message } }, extra)

/** A path segment of the URL, decoded; a malformed percent-escape is the client's error (400), not ours. */
function decodePart(raw: string): string {
  try {
    return decodeURIComponent(raw)
  } catch {
    throw new RefusedRequest(`malformed URL: "${raw.slice(0, 80)}" has a bad percent-escape`, 400)
  }
}

/**
 * A Content-Disposition for any file name: an ASCII fallback (headers are Latin-1, so a name like "modèle-数字.onnx"
 * threw inside writeHead) and the exact name in RFC 5987's filename* form, which browsers prefer.
 */
export function attachment(name: string): string {
  const ascii = name.replace(/[^\x20-\x7e]/g, '_').replace(/["\\]/g, '_')
  const exact = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)
  return `attachment; filename="${ascii}"; filename*=UTF-8''${exact}`
}

async function readJsonBody(req: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > MAX_JSON_BYTES) throw new LabError('request body too large', 'bad_request')
    chunks.push(chunk as Buffer)
  }
  if (size === 0) return {}
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch {
    throw new LabError('request body is not JSON', 'bad_request')
  }
}

export async function startServer(lab: Lab, options: ServeOptions): Promise<WebShell> {
  const host = options.host ?? '127.0.0.1'
  if (!LOOPBACK_HOSTS.has(host)) throw new LabError(`--host ${host}: the web shell only listens on loopback (127.0.0.1, ::1, localhost)`)
  if (!fs.existsSync(path.join(options.rendererDir, 'index.html'))) {
    throw new LabError(`${options.rendererDir}: the renderer is not built (run npm run build)`)
  }
  const auth = new WebAuth()
  const rendererRoot = path.resolve(options.rendererDir)
  const uploads = new UploadStore(path.join(lab.home, 'uploads'), options.maxUploadBytes ?? uploadLimitFromEnv() ?? DEFAULT_MAX_UPLOAD_BYTES)
  await uploads.sweepStale()
  let allowedOrigins = new Set<string>()
  let allowedHosts = new Set<string>()

  /** Host and Origin checks, then the secret; shared by the API, uploads and the event socket. The refusal reason, or null. */
  function refuse(req: http.IncomingMessage): string | null {
    if (!hostAllowed(req)) return 'host not allowed'
    const origin = req.headers.origin
    if (origin !== undefined && !allowedOrigins.has(origin)) return 'origin not allowed'
    if (!auth.admitsRequest(req)) return 'missing or wrong token'
    return null
  }
  const hostAllowed = (req: http.IncomingMessage): boolean => Boolean(req.headers.host && allowedHosts.has(req.headers.host))

  async function serveStatic(url: URL, res: http.ServerResponse): Promise<void> {
    // A first load with the token (or the browser's launch code): trade it for the cookie, and drop it from the URL.
    if (url.searchParams.has('token') || url.searchParams.has('launch')) {
      const admitted = auth.admitsPageLoad(url)
      url.searchParams.delete('token')
      url.searchParams.delete('launch')
      res.writeHead(303, {
        ...SAFETY_HEADERS,
        location: url.pathname + url.search + url.hash,
        'cache-control': 'no-store',
        ...(admitted ? { 'set-cookie': auth.cookie() } : {})
      })
      res.end()
      return
    }
    const relative = url.pathname === '/' ? 'index.html' : decodePart(url.pathname.slice(1))
    const file = path.resolve(rendererRoot, relative)
    const inside = file.startsWith(rendererRoot + path.sep)
    const stats = inside ? await fs.promises.stat(file).catch(() => null) : null
    const target = stats?.isFile() ? file : path.join(rendererRoot, 'index.html')
    res.writeHead(200, {
      ...SAFETY_HEADERS,
      'content-type': MIME[path.extname(target)] ?? 'application/octet-stream',
      'cache-control': target.endsWith('index.html') ? 'no-store' : 'max-age=3600'
    })
    await pipeline(fs.createReadStream(target), res)
  }

  async function handleUpload(url: URL, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    // /upload/<batch>/<relative path>: a folder upload sends one request per file with the same batch.
    const [, , batch, ...rest] = url.pathname.split('/')
    const stored = await uploads.receive(decodePart(batch ?? ''), rest.map(decodePart).join('/'), req)
    sendJson(res, 200, { ok: true, result: stored })
  }

  /** POST /download/<artifactId>: a short-lived, single-use link to the artifact's file. */
  async function handleDownloadLink(url: URL, res: http.ServerResponse): Promise<void> {
    const artifactId = decodePart(url.pathname.slice('/download/'.length))
    const table = TABLE_DOWNLOAD.exec(artifactId)
    if (table) return handleTableLink(table[1]!, table[2] as 'csv' | 'parquet', res)
    const found = await lab.router.handle('artifacts.get', { artifactId })
    if (!found.ok) return sendJson(res, 404, found)
    sendJson(res, 200, { ok: true, result: { url: auth.downloadLink(artifactId) } })
  }

  /**
   * POST /download/dataset/<id>.csv|.parquet: the table as it was parsed, written into <home>/exports/ (replacing
   * the last such download), then a single-use link to that file like an artifact's.
   */
  async function handleTableLink(datasetId: string, format: 'csv' | 'parquet', res: http.ServerResponse): Promise<void> {
    const out = path.join(lab.home, 'exports', `${datasetId}.${format}`)
    await fs.promises.mkdir(path.dirname(out), { recursive: true })
    const exported = await lab.router.handle('datasets.export', { datasetId, out, format, overwrite: true })
    if (!exported.ok) return sendJson(res, exported.error.code === 'not_found' ? 404 : 400, exported)
    sendJson(res, 200, { ok: true, result: { url: auth.downloadLink(`${TABLE_PREFIX}${datasetId}.${format}`) } })
  }

  /** The file behind a download link: an artifact's, or a parsed table's export. */
  async function downloadFile(key: string): Promise<string | null> {
    if (key.startsWith(TABLE_PREFIX)) return path.join(lab.home, 'exports', key.slice(TABLE_PREFIX.length))
    const found = await lab.router.handle('artifacts.get', { artifactId: key })
    return found.ok ? (found.result as RequestResult<'artifacts.get'>).path : null
  }

  /** GET /files/<link>: the file of a link from /download, once. The link is the secret: no cookie needed. */
  async function handleDownload(url: URL, res: http.ServerResponse): Promise<void> {
    const artifactId = auth.takeDownload(decodePart(url.pathname.slice('/files/'.length)))
    if (!artifactId) return fail(res, 404, 'not_found', 'this download link has expired or was used: download again')
    const file = await downloadFile(artifactId)
    const stats = file ? await fs.promises.stat(file).catch(() => null) : null
    if (!file || !stats?.isFile()) return fail(res, 404, 'not_found', `artifact ${artifactId} not found`)
    res.writeHead(200, {
      ...SAFETY_HEADERS,
      'content-type': 'application/octet-stream',
      'content-length': stats.size,
      'cache-control': 'no-store',
      'content-disposition': attachment(path.basename(file))
    })
    await pipeline(fs.createReadStream(file), res)
  }

  async function handleApi(url: URL, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const name = decodePart(url.pathname.slice('/api/'.length))
    const args = await readJsonBody(req)
    const key = READS_UPLOAD[name]
    const batch = key && args && typeof args === 'object' ? uploads.batchOf((args as Record<string, unknown>)[key]) : null
    let response: unknown
    try {
      response = await lab.router.handle(name, args)
    } finally {
      // The import or predict has read the upload (or failed): its files are not needed any more. Removed before
      // the answer, so whoever hears the answer finds them gone.
      if (batch) await uploads.removeBatch(batch)
    }
    sendJson(res, 200, response)
  }

  const server = http.createServer((req, res) => {
    const work = async (): Promise<void> => {
      const url = new URL(req.url ?? '/', 'http://localhost')
      const route = url.pathname.split('/')[1]
      if (route !== 'api' && route !== 'upload' && route !== 'download' && route !== 'files') {
        if (req.method !== 'GET' && req.method !== 'HEAD') return fail(res, 405, 'bad_request', 'method not allowed')
        return serveStatic(url, res)
      }
      if (route === 'files') {
        if (!hostAllowed(req)) return fail(res, 403, 'bad_request', 'refused: host not allowed')
        if (req.method !== 'GET') return fail(res, 405, 'bad_request', 'method not allowed')
        return handleDownload(url, res)
      }
      const reason = refuse(req)
      if (reason) return fail(res, 403, 'bad_request', `refused: ${reason}`)
      if (req.method !== 'POST') return fail(res, 405, 'bad_request', 'method not allowed')
      if (route === 'upload') return handleUpload(url, req, res)
      if (route === 'download') return handleDownloadLink(url, res)
      return handleApi(url, req, res)
    }
    work().catch((error: unknown) => {
      if (res.headersSent) return res.destroy()
      // A refused upload may still be sending: Node reads the rest of it and drops it, and the client gets the answer.
      if (error instanceof RefusedRequest) return fail(res, error.status, error.code, error.message)
      if (error instanceof LabError) return fail(res, 400, error.code, error.message)
      console.error(`web shell: internal error: ${error instanceof Error ? error.message : String(error)}`)
      fail(res, 500, 'internal', 'internal error')
    })
  })

  const sockets = new WebSocketServer({ noServer: true })
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    const reason = url.pathname === '/events' ? refuse(req) : 'no such socket'
    if (reason) {
      socket.end(`HTTP/1.1 403 Forbidden\r\nconnection: close\r\n\r\n${reason}`)
      return
    }
    sockets.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      const unsubscribe = lab.events.subscribe((event, payload) => {
        if (ws.readyState === ws.OPEN) ws.send(JSON.stringify({ event, payload }))
      })
      ws.on('close', unsubscribe)
      ws.on('error', unsubscribe)
    })
  })

  await new Promise<void>((resolve, reject) => {
    server.once('error', (error: NodeJS.ErrnoException) =>
      reject(error.code === 'EADDRINUSE' ? new LabError(`port ${options.port} is already in use`) : error)
    )
    server.listen(options.port ?? 0, host, () => resolve())
  })
  const port = (server.address() as { port: number }).port
  auth.setPort(port)
  const urlHost = host === '::1' ? '[::1]' : host
  allowedHosts = new Set([`${urlHost}:${port}`, `127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`])
  allowedOrigins = new Set([...allowedHosts].map((h) => `http://${h}`))
  const origin = `http://${urlHost}:${port}`

  return {
    url: `${origin}/?token=${auth.token}`,
    origin,
    port,
    token: auth.token,
    cookieName: auth.cookieName,
    maxUploadBytes: uploads.maxBytes,
    launchFile: () => auth.launchFile(origin),
    close: async () => {
      await new Promise<void>((resolve) => {
        for (const client of sockets.clients) client.terminate()
        sockets.close()
        server.close(() => resolve())
        server.closeAllConnections()
      })
      auth.close()
      await uploads.close()
    }
  }
}
