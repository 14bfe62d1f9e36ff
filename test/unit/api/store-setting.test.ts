/**
 * The desktop app's store setting through the router: app.info says which history is open and who chose it (never
 * with a password); app.setStore checks a URL by connecting before saving it (0600) in the home, and the next open
 * of that home (any host) uses it; a URL that cannot be reached is one line with host:port and is not saved.
 */
import fs from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import type { ApiResponse, RequestResult } from '../../../main/shared/contract'
import { openLab, type Lab } from '../../../main/lab'
import { SETTINGS_FILE } from '../../../main/core/settings'
import { removeHome, tempHome } from '../../fixtures/home'
import { freshPostgresDatabase, postgresPassword, postgresUrl } from '../../fixtures/postgres'

const opened: Lab[] = []
afterEach(async () => {
  while (opened.length) await opened.pop()!.close()
})

async function open(home: string): Promise<Lab> {
  const lab = await openLab({ home })
  opened.push(lab)
  return lab
}

async function info(lab: Lab): Promise<RequestResult<'app.info'>> {
  const response = (await lab.router.handle('app.info', {})) as ApiResponse<RequestResult<'app.info'>>
  if (!response.ok) throw new Error(response.error.message)
  return response.result
}

describe('store setting', () => {
  it('a URL that cannot be reached is refused in one line and not saved', async () => {
    const home = tempHome('layerlab-store-setting-')
    const lab = await open(home)
    expect((await info(lab)).store).toEqual({ kind: 'sqlite', location: path.join(home, 'layerlab.sqlite'), source: 'default', saved: null })
    const response = await lab.router.handle('app.setStore', { url: 'postgres://ana:hunter2-x@127.0.0.1:1/lab' })
    expect(response).toEqual({
      ok: false,
      error: {
        code: 'user_error',
        message: 'PostgreSQL store at 127.0.0.1:1: unreachable: connection refused (is PostgreSQL running and listening there?) (ECONNREFUSED)'
      }
    })
    expect(fs.existsSync(path.join(home, SETTINGS_FILE))).toBe(false)
    removeHome(home)
  })

  it.skipIf(!postgresUrl())('saves a reachable store for the next open of the home, and back to SQLite', async () => {
    const home = tempHome('layerlab-store-setting-')
    const url = await freshPostgresDatabase()
    const lab = await open(home)
    const saved = (await lab.router.handle('app.setStore', { url })) as ApiResponse<{ saved: string }>
    expect(saved.ok && saved.result.saved).toMatch(/^postgres:\/\/layerlab@127\.0\.0\.1:\d+\/t_/)
    const file = path.join(home, SETTINGS_FILE)
    expect(fs.statSync(file).mode & 0o777).toBe(0o600)
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual({ store: url })
    const before = await info(lab)
    expect(before.store).toMatchObject({ kind: 'sqlite', saved: saved.ok && saved.result.saved })
    expect(JSON.stringify(before)).not.toContain(postgresPassword())

    const next = await open(home)
    const after = await info(next)
    expect(after.store).toMatchObject({ kind: 'postgres', source: 'settings', location: saved.ok && saved.result.saved })
    expect(JSON.stringify(after)).not.toContain(postgresPassword())
    expect(await next.router.handle('app.setStore', { url: null })).toEqual({ ok: true, result: { saved: null } })
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual({})
    removeHome(home)
  })
})
