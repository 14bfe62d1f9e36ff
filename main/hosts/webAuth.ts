/**
 * Who may use the web shell, and how a browser proves it.
 *
 * The per-launch token is the secret. It travels in a URL once: the URL the server prints (for the person who
 * started it) or the one-time launch code of the browser LayerLab opens itself. That first page load trades it for
 * an HttpOnly SameSite=Strict cookie and a redirect to the same page without it, so the token never stays in the
 * address bar, the history or a Referer, and a copied URL works in another tab of the same browser (the cookie
 * goes with it) but nowhere else. After that, an API call or the event socket is let in by the token in a header
 * (the CLI's tests, scripts) or by the cookie together with an Origin of ours (browsers send one on every POST
 * and socket; a request that carries the cookie without it is not from our page). A token in a query string is
 * never accepted for the API. Downloads go by short-lived, single-use links, so no secret sits in an href.
 *
 * Why not the command line: the browser's command line is readable by every local user (/proc/PID/cmdline), so
 * the browser is started on a private file (0600, in a 0700 folder) that holds a single-use launch code instead.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { randomBytes, timingSafeEqual } from 'node:crypto'
import type http from 'node:http'

/** How long a launch code or a download link stays usable. */
const LAUNCH_CODE_MS = 120_000
const DOWNLOAD_LINK_MS = 60_000

export function sameSecret(given: string | null | undefined, secret: string): boolean {
  if (!given) return false
  const a = Buffer.from(given)
  const b = Buffer.from(secret)
  return a.length === b.length && timingSafeEqual(a, b)
}

/** The value of one cookie in a Cookie header, or null. */
export function cookieValue(header: string | undefined, name: string): string | null {
  for (const part of (header ?? '').split(';')) {
    const at = part.indexOf('=')
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim()
  }
  return null
}

/** Single-use secrets that expire: launch codes and download links. */
class OneTimeCodes<T> {
  private readonly codes = new Map<string, { value: T; expires: number }>()

  constructor(private readonly lifetimeMs: number) {}

  issue(value: T): string {
    const now = Date.now()
    for (const [code, entry] of this.codes) if (entry.expires < now) this.codes.delete(code)
    const code = randomBytes(24).toString('hex')
    this.codes.set(code, { value, expires: now + this.lifetimeMs })
    return code
  }

  /** The value of a code still valid, which is used up by this call; null otherwise. */
  take(code: string): T | null {
    const entry = this.codes.get(code)
    if (!entry) return null
    this.codes.delete(code)
    return entry.expires >= Date.now() ? entry.value : null
  }
}

export class WebAuth {
  readonly token = randomBytes(24).toString('hex')
  private readonly launchCodes = new OneTimeCodes<string>(LAUNCH_CODE_MS)
  private readonly downloads = new OneTimeCodes<string>(DOWNLOAD_LINK_MS)
  private readonly launchDirs: string[] = []
  /** Cookies are not kept apart by port: two shells on one machine each need their own name. */
  cookieName = 'layerlab'

  setPort(port: number): void {
    this.cookieName = `layerlab_${port}`
  }

  /** The Set-Cookie header that lets this browser in from now on (for this browser session only). */
  cookie(): string {
    return `${this.cookieName}=${this.token}; HttpOnly; SameSite=Strict; Path=/`
  }

  /**
   * True when a first page load carries the token or a valid launch code in its query: the caller then sets the
   * cookie and redirects to the URL without it.
   */
  admitsPageLoad(url: URL): boolean {
    const token = url.searchParams.get('token')
    if (token !== null) return sameSecret(token, this.token)
    const launch = url.searchParams.get('launch')
    if (launch === null) return false
    const file = this.launchCodes.take(launch)
    if (file === null) return false
    fs.rmSync(file, { force: true })
    return true
  }

  /**
   * Whether an API request or the event socket carries the secret: the token header, or the cookie with an Origin
   * (the caller has checked that an Origin, when sent, is ours).
   */
  admitsRequest(req: http.IncomingMessage): boolean {
    if (sameSecret(req.headers['x-layerlab-token'] as string | undefined, this.token)) return true
    return req.headers.origin !== undefined && sameSecret(cookieValue(req.headers.cookie, this.cookieName), this.token)
  }

  /** A private HTML file that sends the browser to `origin` with a single-use launch code; its path. */
  launchFile(origin: string): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'layerlab-open-'))
    fs.chmodSync(dir, 0o700)
    this.launchDirs.push(dir)
    const file = path.join(dir, 'open.html')
    const code = this.launchCodes.issue(file)
    const target = `${origin}/?launch=${code}`
    const html = `<!doctype html><meta charset="utf-8"><meta name="referrer" content="no-referrer"><meta http-equiv="refresh" content="0; url=${target}"><title>LayerLab</title><a href="${target}">Open LayerLab</a>\n`
    fs.writeFileSync(file, html, { mode: 0o600 })
    return file
  }

  /** A short-lived, single-use link for one artifact. */
  downloadLink(artifactId: string): string {
    return `/files/${this.downloads.issue(artifactId)}`
  }

  /** The artifact a download link was issued for, once; null for an unknown, used or expired link. */
  takeDownload(code: string): string | null {
    return this.downloads.take(code)
  }

  /** Removes the launch files still there. */
  close(): void {
    for (const dir of this.launchDirs) fs.rmSync(dir, { recursive: true, force: true })
  }
}
