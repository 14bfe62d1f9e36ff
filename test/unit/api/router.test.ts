import { describe, expect, it } from 'vitest'
import { createRouter, type Handlers } from '../../../main/api/router'
import { LabError } from '../../../main/shared/errors'

const internalErrors: unknown[] = []
const handlers = {
  'runs.get': async ({ runId }: { runId: string }) => {
    if (runId === 'boom') throw new Error('kaboom')
    if (runId === 'gone') throw new LabError('run gone not found', 'not_found')
    return { runId }
  }
} as unknown as Handlers
const router = createRouter(handlers, { onInternalError: (e) => internalErrors.push(e) })

describe('router', () => {
  it('refuses an unknown request name with a typed error', async () => {
    await expect(router.handle('runs.explode', {})).resolves.toEqual({
      ok: false,
      error: { code: 'bad_request', message: 'unknown request "runs.explode"' }
    })
    await expect(router.handle('__proto__', {})).resolves.toMatchObject({ ok: false, error: { code: 'bad_request' } })
  })

  it('validates arguments with the contract before any handler runs', async () => {
    const response = await router.handle('runs.get', { runId: 42 })
    expect(response).toMatchObject({ ok: false, error: { code: 'bad_request' } })
    expect(!response.ok && response.error.message).toContain('runId')
    await expect(router.handle('runs.get', { runId: 'a', extra: 1 })).resolves.toMatchObject({ ok: false, error: { code: 'bad_request' } })
  })

  it('passes user errors through and hides internal ones behind one line', async () => {
    await expect(router.handle('runs.get', { runId: 'gone' })).resolves.toEqual({
      ok: false,
      error: { code: 'not_found', message: 'run gone not found' }
    })
    const response = await router.handle('runs.get', { runId: 'boom' })
    expect(response).toEqual({ ok: false, error: { code: 'internal', message: 'internal error: kaboom' } })
    expect(internalErrors).toHaveLength(1)
  })

  it('answers a valid request', async () => {
    await expect(router.handle('runs.get', { runId: 'r1' })).resolves.toEqual({ ok: true, result: { runId: 'r1' } })
  })
})
