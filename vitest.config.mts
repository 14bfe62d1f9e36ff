import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

export default defineConfig({
  resolve: {
    alias: {
      '@contract': fileURLToPath(new URL('./main/shared/contract.ts', import.meta.url)),
      '@shared': fileURLToPath(new URL('./main/shared', import.meta.url))
    }
  },
  test: {
    include: ['test/unit/**/*.test.ts', 'test/e2e/**/*.test.ts'],
    // Throwaway servers for the run: PostgreSQL for the store tests (inject('postgresUrl')), redis-server for the
    // study queue (issue 19, inject('redisUrl')).
    globalSetup: ['test/setup/postgres.ts', 'test/setup/redis.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    // Two cores: training tests and browser tests would fight for them.
    fileParallelism: false,
    pool: 'forks'
  }
})
