/**
 * The web shell: the built renderer and the same router as the desktop app, over HTTP + WebSocket, on loopback.
 *
 * Why the guards: any web page the user visits can send requests to 127.0.0.1, and DNS rebinding can make a
 * foreign page look same-origin. So every API call and the event socket need the per-launch token (only the
 * URL we print carries it), a Host header that names loopback, and — when the browser sends one — an Origin
 * equal to ours. Static files carry no data and are served without the token, so the printed URL can load them.
 */
import http from 'node:http'
import fs from 'node:fs'
import path from 'node:path'
import { randomBytes, timingSafeEqual } from 'node:crypto'
import { pipeline } from 'node:stream/promises'
import { WebSocketServer, type WebSocket } from 'ws'
import type { Lab } from '../lab'
import { LabError } from '../shared/errors'
import type { RequestResult } from '../shared/contract'

const LOOPBACK_HOSTS = new Set(['127.0.0.1', 'localhost', '::1'])
const MAX_JSON_BYTES = 4 * 1024 * 1024

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

export interface WebShell {
  url: string
  origin: string
  port: number
  token: string
  close(): Promise<void>
}

export interface ServeOptions {
  host?: string
  port?: number
  rendererDir: string
}

function sameSecret(given: string | null | undefined, token: string): boolean {
  if (!given) return false
  const a = Buffer.from(given)
  const b = Buffer.from(token)
  return a.length === b.length && timingSafeEqual(a, b)
}

function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body)
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' })
  res.end(text)
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

/** A relative upload path, cleaned so that it cannot leave the upload folder. */
function safeRelativePath(raw: string): string | null {
  const parts = raw.split(/[\\/]+/).filter((part) => part && part !== '.')
  if (parts.length === 0 || parts.some((part) => part === '..' || part.includes('\0'))) return null
  return parts.join(path.sep)
}

export async function startServer(lab: Lab, options: ServeOptions): Promise<WebShell> {
  const host = options.host ?? '127.0.0.1'
  if (!LOOPBACK_HOSTS.has(host)) throw new LabError(`--host ${host}: the web shell only listens on loopback (127.0.0.1, ::1, localhost)`)
  if (!fs.existsSync(path.join(options.rendererDir, 'index.html'))) {
    throw new LabError(`${options.rendererDir}: the renderer is not built (run npm run build)`)
  }
  const token = randomBytes(24).toString('hex')
  const rendererRoot = path.resolve(options.rendererDir)
  const uploadsRoot = path.join(lab.home, 'uploads')
  let allowedOrigins = new Set<string>()
  let allowedHosts = new Set<string>()

  /** Host and Origin checks shared by the API and the event socket. Returns the refusal reason, or null. */
  function refuse(req: http.IncomingMessage, url: URL): string | null {
    if (!req.headers.host || !allowedHosts.has(req.headers.host)) return 'host not allowed'
    const origin = req.headers.origin
    if (origin !== undefined && !allowedOrigins.has(origin)) return 'origin not allowed'
    const given = (req.headers['x-layerlab-token'] as string | undefined) ?? url.searchParams.get('token')
    if (!sameSecret(given, token)) return 'missing or wrong token'
    return null
  }

  async function serveStatic(url: URL, res: http.ServerResponse): Promise<void> {
    const relative = url.pathname === '/' ? 'index.html' : decodeURIComponent(url.pathname.slice(1))
    const file = path.resolve(rendererRoot, relative)
    const inside = file.startsWith(rendererRoot + path.sep)
    const target = inside && fs.existsSync(file) && fs.statSync(file).isFile() ? file : path.join(rendererRoot, 'index.html')
    res.writeHead(200, {
      'content-type': MIME[path.extname(target)] ?? 'application/octet-stream',
      'x-content-type-options': 'nosniff',
      'cache-control': target.endsWith('index.html') ? 'no-store' : 'max-age=3600'
    })
    await pipeline(fs.createReadStream(target), res)
  }

  async function handleUpload(url: URL, req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    // /upload/<batch>/<relative path>: a folder upload sends one request per file with the same batch.
    const [, , batch, ...rest] = url.pathname.split('/')
    const relative = safeRelativePath(decodeURIComponent(rest.join('/')))
    if (!batch || !/^[A-Za-z0-9_-]{1,64}$/.test(batch) || !relative)
      return sendJson(res, 400, { ok: false, error: { code: 'bad_request', message: 'bad upload path' } })
    const batchDir = path.join(uploadsRoot, batch)
    const file = path.join(batchDir, relative)
    await fs.promises.mkdir(path.dirname(file), { recursive: true })
    await pipeline(req, fs.createWriteStream(file))
    sendJson(res, 200, { ok: true, result: { dir: batchDir, path: file } })
  }

  /** /files/dataset/<id>.csv|.parquet: the table as it was parsed, written into <home>/exports/ and sent. */
  async function handleTableDownload(url: URL, res: http.ServerResponse): Promise<void> {
    const match = /^\/files\/dataset\/([A-Za-z0-9_-]{1,64})\.(csv|parquet)$/.exec(url.pathname)
    if (!match) return sendJson(res, 400, { ok: false, error: { code: 'bad_request', message: 'bad download path' } })
    const [, datasetId, format] = match as unknown as [string, string, 'csv' | 'parquet']
    const out = path.join(lab.home, 'exports', `${datasetId}.${format}`)
    await fs.promises.mkdir(path.dirname(out), { recursive: true })
    const exported = await lab.router.handle('datasets.export', { datasetId, out, format })
    if (!exported.ok) return sendJson(res, exported.error.code === 'not_found' ? 404 : 400, exported)
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-disposition': `attachment; filename="${datasetId}.${format}"` })
    await pipeline(fs.createReadStream(out), res)
  }

  async function handleDownload(url: URL, res: http.ServerResponse): Promise<void> {
    const artifactId = decodeURIComponent(url.pathname.slice('/files/'.length))
    const found = await lab.router.handle('artifacts.get', { artifactId })
    const row = found.ok ? (found.result as RequestResult<'artifacts.get'>) : null
    if (!row || !fs.existsSync(row.path))
      return sendJson(res, 404, { ok: false, error: { code: 'not_found', message: `artifact ${artifactId} not found` } })
    res.writeHead(200, {
      'content-type': 'application/octet-stream',
      'content-disposition': `attachment; filename="${path.basename(row.path).replace(/"/g, '')}"`
    })
    await pipeline(fs.createReadStream(row.path), res)
  }

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    const isApi = url.pathname.startsWith('/api/') || url.pathname.startsWith('/upload/') || url.pathname.startsWith('/files/')
    const work = async (): Promise<void> => {
      if (!isApi) {
        if (req.method !== 'GET' && req.method !== 'HEAD')
          return sendJson(res, 405, { ok: false, error: { code: 'bad_request', message: 'method not allowed' } })
        return serveStatic(url, res)
      }
      const reason = refuse(req, url)
      if (reason) return sendJson(res, 403, { ok: false, error: { code: 'bad_request', message: `refused: ${reason}` } })
      if (url.pathname.startsWith('/files/dataset/') && req.method === 'GET') return handleTableDownload(url, res)
      if (url.pathname.startsWith('/files/') && req.method === 'GET') return handleDownload(url, res)
      if (req.method !== 'POST') return sendJson(res, 405, { ok: false, error: { code: 'bad_request', message: 'method not allowed' } })
      if (url.pathname.startsWith('/upload/')) return handleUpload(url, req, res)
      const name = decodeURIComponent(url.pathname.slice('/api/'.length))
      const args = await readJsonBody(req)
      sendJson(res, 200, await lab.router.handle(name, args))
    }
    work().catch((error: unknown) => {
      const message = error instanceof LabError ? error.message : 'internal error'
      if (!res.headersSent)
        sendJson(res, error instanceof LabError ? 400 : 500, {
          ok: false,
          error: { code: error instanceof LabError ? error.code : 'internal', message }
        })
      else res.destroy()
    })
  })

  const sockets = new WebSocketServer({ noServer: true })
  server.on('upgrade', (req, socket, head) => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    const reason = url.pathname === '/events' ? refuse(req, url) : 'no such socket'
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
  const urlHost = host === '::1' ? '[::1]' : host
  allowedHosts = new Set([`${urlHost}:${port}`, `127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`])
  allowedOrigins = new Set([...allowedHosts].map((h) => `http://${h}`))
  const origin = `http://${urlHost}:${port}`

  return {
    url: `${origin}/?token=${token}`,
    origin,
    port,
    token,
    close: () =>
      new Promise<void>((resolve) => {
        for (const client of sockets.clients) client.terminate()
        sockets.close()
        server.close(() => resolve())
        server.closeAllConnections()
      })
  }
}
