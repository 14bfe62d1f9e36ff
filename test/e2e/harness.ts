/**
 * End-to-end harness: the real CLI starts the real web shell on a temporary data home; Playwright drives
 * Debian's Chromium against it. Screenshots land in test-results/screenshots/ for a person to look at.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core'

export const ROOT = path.resolve(__dirname, '../..')
export const SCREENSHOTS = path.join(ROOT, 'test-results', 'screenshots')

export function browserPath(): string {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].filter(
    Boolean
  ) as string[]
  const found = candidates.find((p) => fs.existsSync(p))
  if (!found) throw new Error('no Chromium found: apt-get install chromium (or set CHROMIUM_PATH)')
  return found
}

export interface Shell {
  url: string
  origin: string
  home: string
  process: ChildProcess
  stop(): Promise<void>
}

/** `env`: the shell's environment (default this process's), e.g. a Vulkan driver or none for the GPU probe. */
export async function startShell(
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'layerlab-e2e-')),
  env: NodeJS.ProcessEnv = process.env
): Promise<Shell> {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin/layerlab.cjs'), '--home', home, '--json', 'serve', '--no-open'], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...env }
  })
  let stderr = ''
  child.stderr!.on('data', (chunk) => (stderr += String(chunk)))
  const url = await new Promise<string>((resolve, reject) => {
    let out = ''
    const timer = setTimeout(() => reject(new Error(`web shell did not start: ${stderr}`)), 30_000)
    child.stdout!.on('data', (chunk) => {
      out += String(chunk)
      const line = out.split('\n').find((l) => l.startsWith('{'))
      if (line) {
        clearTimeout(timer)
        resolve((JSON.parse(line) as { url: string }).url)
      }
    })
    child.once('exit', (code) => reject(new Error(`web shell exited with ${code}: ${stderr}`)))
  })
  return {
    url,
    origin: new URL(url).origin,
    home,
    process: child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve()
        child.once('exit', () => resolve())
        child.kill('SIGTERM')
      })
  }
}

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: browserPath(),
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
      '--disable-quic'
    ]
  })
}

/** Opens a page that records console errors and uncaught exceptions. */
export async function openPage(browser: Browser, url: string): Promise<{ page: Page; errors: string[] }> {
  return visit(await browser.newPage({ viewport: { width: 1280, height: 800 } }), url)
}

async function visit(page: Page, url: string): Promise<{ page: Page; errors: string[] }> {
  const errors: string[] = []
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text())
  })
  page.on('pageerror', (error) => errors.push(error.message))
  await page.goto(url)
  return { page, errors }
}

/**
 * Opens a tab in `context`: tabs of one context share storage (localStorage, as two tabs of one browser do), where
 * openPage gives every page a fresh profile.
 */
export async function openTab(context: BrowserContext, url: string): Promise<{ page: Page; errors: string[] }> {
  return visit(await context.newPage(), url)
}

/** What most view tests start from: a web shell on a fresh home, Chromium, and one 1280×800 page on the shell. */
export interface AnalystSession {
  shell: Shell
  browser: Browser
  page: Page
  /** Console errors and uncaught exceptions of the page. */
  errors: string[]
}

export async function openAnalystSession(env?: NodeJS.ProcessEnv): Promise<AnalystSession> {
  const shell = await startShell(undefined, env)
  const browser = await launchBrowser()
  return { shell, browser, ...(await openPage(browser, shell.url)) }
}

/** Closes what openAnalystSession (or a test's own setup) opened; safe after a setup that failed half-way. */
export async function closeAnalystSession(session: { shell?: Shell; browser?: Browser }): Promise<void> {
  await session.browser?.close()
  await session.shell?.stop()
}

/** From an open session: the digits example imported in one click and its default model built (the Model view). */
export async function buildDigitsModel(page: Page): Promise<void> {
  await page.getByTestId('import-example-digits').click()
  await page.getByTestId('dataset-detail').waitFor({ timeout: 60_000 })
  await page.getByTestId('build-model').click()
  await page.getByTestId('layer-stack').waitFor({ timeout: 30_000 })
}

/** Types a number into a Naive UI number input (found by its test id) and commits it as an analyst would. */
export async function setNumber(page: Page, testId: string, value: string): Promise<void> {
  const input = page.getByTestId(testId).locator('input')
  await input.fill(value)
  await input.press('Enter')
  await input.blur()
}

/**
 * From any view: the digits example imported and its model built, short training set for both modes (this is about
 * studies, not accuracy), and the New study dialog opened from the Train view with those settings.
 */
export async function openNewStudyOnDigits(page: Page, epochs: { blockEpochs: number; fineTuneEpochs: number; epochs: number }): Promise<void> {
  await page.getByTestId('nav-datasets').click()
  await page.getByTestId('import-example-digits').click()
  await page.getByTestId('dataset-detail').waitFor({ timeout: 60_000 })
  await page.getByTestId('build-model').click()
  await page.getByTestId('view-model').waitFor()
  await page.getByTestId('nav-train').click()
  await page.getByTestId('view-train').waitFor()
  await page.getByTestId('mode-layer-wise').click()
  await setNumber(page, 'block-epochs', String(epochs.blockEpochs))
  await setNumber(page, 'fine-tune-epochs', String(epochs.fineTuneEpochs))
  await page.getByTestId('mode-end-to-end').click()
  await setNumber(page, 'epochs', String(epochs.epochs))
  await page.getByTestId('train-as-study').click()
  await page.getByTestId('new-study').waitFor()
}

/**
 * Starts keeping every text the element with this test id shows, as it changes; the returned function reads them.
 * For progress that can be over before a poll would look (a quick upload, a study of short runs in kept workers).
 */
export async function recordTexts(page: Page, testId: string): Promise<() => Promise<string[]>> {
  const key = `textsSeen_${testId}`
  await page.evaluate(
    ({ key, testId }) => {
      const seen: string[] = []
      ;(window as unknown as Record<string, string[]>)[key] = seen
      new MutationObserver(() => {
        const text = document.querySelector(`[data-testid="${testId}"]`)?.textContent?.trim()
        if (text && seen[seen.length - 1] !== text) seen.push(text)
      }).observe(document.body, { subtree: true, childList: true, characterData: true })
    },
    { key, testId }
  )
  return () => page.evaluate((key) => [...(window as unknown as Record<string, string[]>)[key]!], key)
}

export async function screenshot(page: Page, name: string): Promise<void> {
  fs.mkdirSync(SCREENSHOTS, { recursive: true })
  // Finished transitions: a shot taken right after a click would catch the menu's highlight mid-fade (300 ms).
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), animations: 'disabled' })
}

/** Calls the shell's API as the page does (token header, same origin); throws on an error answer. */
export async function callApi<T = unknown>(shell: Shell, name: string, args: unknown = {}): Promise<T> {
  const token = new URL(shell.url).searchParams.get('token')!
  const res = await fetch(`${shell.origin}/api/${name}`, {
    method: 'POST',
    body: JSON.stringify(args),
    headers: { 'x-layerlab-token': token, 'content-type': 'application/json' }
  })
  const body = (await res.json()) as { ok: boolean; result?: T; error?: { message: string } }
  if (!body.ok) throw new Error(`${name}: ${body.error?.message}`)
  return body.result as T
}

/** Waits until a run has ended (polling runs.get), so a test can go on with its results. */
export async function waitForRun(shell: Shell, runId: string, timeoutMs = 240_000): Promise<{ status: string }> {
  const start = Date.now()
  for (;;) {
    const run = await callApi<{ status: string }>(shell, 'runs.get', { runId })
    if (!['queued', 'running'].includes(run.status)) return run
    if (Date.now() - start > timeoutMs) throw new Error(`run ${runId} still ${run.status} after ${timeoutMs} ms`)
    await new Promise((r) => setTimeout(r, 500))
  }
}

/**
 * Sets the Train form to a run that outlasts any test that must see it running, however fast the machine (the fused
 * kernel trains an epoch of digits in milliseconds): the most epochs the form allows, one row per batch. The test
 * cancels it.
 */
export async function setLongRun(page: Page): Promise<void> {
  await page.getByTestId('block-epochs').locator('input').fill('10000')
  await page.getByTestId('block-epochs').locator('input').blur()
  await page.getByTestId('batch-size').locator('input').fill('1')
  await page.getByTestId('batch-size').locator('input').blur()
}
