/**
 * Studies on queue workers in the UI (issue 19): a web shell whose lab has a queue (LAYERLAB_QUEUE) offers it in the
 * New study dialog with the workers it sees; the study's view lists the workers and what they train; a second
 * LayerLab (another web shell on the same store) watches the same study live. Real Redis (test/fixtures/redis.ts),
 * real `layerlab worker` processes, real Chromium.
 *
 * The queue is paused (BullMQ's own pause, as an operator would) while the study is submitted and the second LayerLab
 * opens it, then resumed: a member on a warm training worker takes a tenth of a second, so without the pause the
 * whole study could end before a second page is open, and the checks would depend on the machine's speed.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { Queue } from 'bullmq'
import { Redis } from 'ioredis'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest'
import type { Browser } from 'playwright-core'
import { ROOT, launchBrowser, openNewStudyOnDigits, openPage, screenshot, setNumber, startShell, type Shell } from './harness'
import { startRedis, type TestRedis } from '../fixtures/redis'
import { queueNames } from '../../main/core/queue'

function startWorker(home: string, url: string): Promise<ChildProcess> {
  const child = spawn(process.execPath, [path.join(ROOT, 'bin/layerlab.cjs'), '--home', home, 'worker', '--queue', url], {
    stdio: ['ignore', 'ignore', 'pipe']
  })
  return new Promise((resolve, reject) => {
    let text = ''
    child.stderr!.on('data', (chunk) => {
      text += String(chunk)
      if (text.includes('taking members from')) resolve(child)
    })
    child.once('exit', (code) => reject(new Error(`worker exited ${code}: ${text}`)))
  })
}

describe.skipIf(!inject('redisUrl'))('Studies on queue workers (real Redis, worker processes, two web shells)', () => {
  let redis: TestRedis
  let home: string
  let shell: Shell
  let watcher: Shell
  let browser: Browser
  let workers: ChildProcess[] = []
  let queue: Queue

  beforeAll(async () => {
    redis = await startRedis()
    home = fs.mkdtempSync(path.join(os.tmpdir(), 'layerlab-e2e-queue-'))
    const env = { ...process.env, LAYERLAB_QUEUE: redis.url }
    shell = await startShell(home, env)
    watcher = await startShell(home, env)
    workers = await Promise.all([startWorker(home, redis.url), startWorker(home, redis.url)])
    browser = await launchBrowser()
    queue = new Queue(queueNames().queue, { connection: new Redis(redis.url, { maxRetriesPerRequest: null }) })
  })
  afterAll(async () => {
    await queue?.close()
    await browser?.close()
    for (const w of workers) w.kill('SIGINT')
    await Promise.all(workers.map((w) => new Promise((resolve) => (w.exitCode !== null ? resolve(null) : w.once('exit', resolve)))))
    await shell?.stop()
    await watcher?.stop()
    await redis?.close()
    fs.rmSync(home, { recursive: true, force: true })
  })

  it('submits a study to the queue from the dialog, lists the workers and what each trained, and a second LayerLab watches it live', async () => {
    const { page, errors } = await openPage(browser, shell.url)
    await openNewStudyOnDigits(page, { blockEpochs: 4, fineTuneEpochs: 2, epochs: 8 })
    await setNumber(page, 'protocol-k', '3')
    await page.getByTestId('study-where-queue').click()
    // The lab's queue, prefilled; the workers it sees now, named with their backend and capacity.
    await expect.poll(() => page.getByTestId('study-queue-url').locator('input').inputValue()).toBe(redis.url)
    await expect
      .poll(() => page.getByTestId('study-queue-workers').textContent(), { timeout: 20_000 })
      .toMatch(/^2 workers taking members now \(.* auto ×1, .* auto ×1\)/)
    await screenshot(page, 'queue-new-study')
    await queue.pause()
    await page.getByTestId('study-start').click()
    // Asking the queue and storing the study take a moment on a loaded machine.
    await page.getByTestId('study-panel').waitFor({ timeout: 120_000 })
    await expect(page.getByTestId('study-panel').textContent()).resolves.toContain(`members on queue workers at ${redis.url}`)

    // A second LayerLab on the same store: the study is there, running, with its members waiting on the queue.
    const second = await openPage(browser, watcher.url)
    await second.page.getByTestId('nav-experiments').click()
    const row = second.page.locator('[data-testid^="open-study-"]').first()
    await row.waitFor({ timeout: 30_000 })
    await row.click()
    await second.page.getByTestId('study-panel').waitFor()
    await expect.poll(() => second.page.getByTestId('study-status').textContent(), { timeout: 30_000 }).toBe('running')
    // Both workers live and idle: nothing is taken from a paused queue.
    await expect.poll(() => page.getByTestId('queue-workers').textContent(), { timeout: 30_000 }).toMatch(/pid \d+.*idle0.*pid \d+.*idle0/)
    await expect
      .poll(async () => {
        const counts = await queue.getJobCounts('waiting', 'active')
        return `${counts.waiting ?? 0} waiting, ${counts.active ?? 0} active`
      })
      .toBe('6 waiting, 0 active')
    await expect.poll(async () => (await page.getByTestId('study-members').textContent())!.match(/in the queue/g)?.length).toBe(6)
    await page.getByTestId('study-queue').scrollIntoViewIfNeeded()
    await screenshot(page, 'queue-study-waiting')

    // Resumed: the second page's view moves to the end without a reload.
    await queue.resume()
    await expect.poll(() => second.page.getByTestId('study-status').textContent(), { timeout: 300_000, interval: 250 }).toBe('completed')
    await expect(second.page.getByTestId('study-members').textContent()).resolves.toMatch(/pid \d+ · auto/)
    await second.page.getByTestId('study-members').scrollIntoViewIfNeeded()
    await screenshot(second.page, 'queue-study-second-lab')

    await expect.poll(() => page.getByTestId('study-status').textContent(), { timeout: 60_000 }).toBe('completed')
    await expect(page.getByTestId('study-panel').textContent()).resolves.toContain('Statistics cover 6 of 6 runs.')
    // Every member was trained by one of the two workers, each counted where it ran.
    const trained = (await page.getByTestId('worker-trained').allTextContents()).map(Number)
    expect(trained).toHaveLength(2)
    expect(trained.reduce((a, b) => a + b, 0)).toBe(6)
    await page.getByTestId('study-queue').scrollIntoViewIfNeeded()
    await screenshot(page, 'queue-study-done')
    expect(errors).toEqual([])
    expect(second.errors).toEqual([])
  })
})
