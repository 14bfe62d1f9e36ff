/**
 * vitest globalSetup: one throwaway redis-server for the run (test/fixtures/redis.ts), stopped at the end. Tests get
 * its URL with `inject('redisUrl')`: null where redis-server is missing, and then the queue tests skip and say so —
 * except where LAYERLAB_REQUIRE_REDIS=1 (set by .ci/run): there a missing Redis fails the run.
 */
import type { TestProject } from 'vitest/node'
import { redisMissing, startRedis } from '../fixtures/redis'

declare module 'vitest' {
  export interface ProvidedContext {
    /** redis://127.0.0.1:PORT of the tests' Redis, or null where there is none. */
    redisUrl: string | null
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const missing = redisMissing()
  if (missing) {
    if (process.env.LAYERLAB_REQUIRE_REDIS === '1') throw new Error(`queue tests required (LAYERLAB_REQUIRE_REDIS=1) but ${missing}`)
    console.log(`skipped: queue tests (${missing})`)
    project.provide('redisUrl', null)
    return async () => undefined
  }
  const redis = await startRedis()
  project.provide('redisUrl', redis.url)
  return () => redis.close()
}
