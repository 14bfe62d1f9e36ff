import fs from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { openLab, type Lab } from '../../../main/lab'
import { startServer, type WebShell } from '../../../main/hosts/server'

describe('web shell server', () => {
  let lab: Lab
  let shell: WebShell
  const rendererDir = fs.mkdtempSync(path.join(os.tmpdir(), 'layerlab-renderer-'))

  beforeAll(async () => {
    fs.writeFileSync(path.join(rendererDir, 'index.html'), '<!doctype html><title>LayerLab</title>')
    lab = await openLab({ home: fs.mkdtempSync(path.join(os.tmpdir(), 'layerlab-srv-')) })
    shell = await startServer(lab, { rendererDir })
  })
  afterAll(async () => {
    await shell.close()
    await lab.close()
  })

  const post = (name: string, init: { headers?: Record<string, string>; body?: string } = {}) =>
    fetch(`${shell.origin}/api/${name}`, { method: 'POST', body: init.body ?? '{}', headers: init.headers })

  it('serves the page without the token and the API only with it', async () => {
    expect((await fetch(`${shell.origin}/`)).status).toBe(200)
    expect((await post('app.info')).status).toBe(403)
    expect((await post('app.info', { headers: { 'x-layerlab-token': 'x'.repeat(48) } })).status).toBe(403)
    const ok = await post('app.info', { headers: { 'x-layerlab-token': shell.token } })
    expect(ok.status).toBe(200)
    expect(await ok.json()).toMatchObject({ ok: true, result: { name: 'LayerLab', home: lab.home } })
  })

  it('refuses another origin and a foreign Host header (DNS rebinding)', async () => {
    expect((await post('app.info', { headers: { 'x-layerlab-token': shell.token, origin: 'http://attacker.example' } })).status).toBe(403)
    const rebind = await new Promise<number>((resolve) => {
      const req = http.request(
        {
          host: '127.0.0.1',
          port: shell.port,
          path: '/api/app.info',
          method: 'POST',
          headers: { host: 'attacker.example', 'x-layerlab-token': shell.token }
        },
        (res) => resolve(res.statusCode ?? 0)
      )
      req.end('{}')
    })
    expect(rebind).toBe(403)
  })

  it('answers a malformed request with a typed error, not a crash', async () => {
    const res = await post('runs.get', { headers: { 'x-layerlab-token': shell.token }, body: '{"runId": [1]}' })
    expect(await res.json()).toMatchObject({ ok: false, error: { code: 'bad_request' } })
    const notJson = await post('runs.get', { headers: { 'x-layerlab-token': shell.token }, body: '{nope' })
    expect(await notJson.json()).toMatchObject({ ok: false, error: { code: 'bad_request', message: 'request body is not JSON' } })
  })

  it('refuses the event socket without the token and delivers events with it', async () => {
    const refused = await new Promise<string>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${shell.port}/events`)
      ws.on('error', (error) => resolve(error.message))
      ws.on('open', () => resolve('open'))
    })
    expect(refused).toContain('403')
    const ws = new WebSocket(`ws://127.0.0.1:${shell.port}/events`, { headers: { origin: shell.origin, 'x-layerlab-token': shell.token } })
    await new Promise((resolve) => ws.once('open', resolve))
    const received = new Promise<unknown>((resolve) => ws.once('message', (data) => resolve(JSON.parse(String(data)))))
    lab.events.emit('dataset.progress', { path: '/x.csv', rows: 10, bytes: 5, totalBytes: 10 })
    await expect(received).resolves.toEqual({ event: 'dataset.progress', payload: { path: '/x.csv', rows: 10, bytes: 5, totalBytes: 10 } })
    ws.close()
  })

  it('keeps uploads inside the data home', async () => {
    const res = await fetch(`${shell.origin}/upload/b1/..%2F..%2Fescape.csv`, {
      method: 'POST',
      body: 'a,b\n1,2\n',
      headers: { 'x-layerlab-token': shell.token }
    })
    expect(res.status).toBe(400)
    const good = await fetch(`${shell.origin}/upload/b1/cats/a.csv`, {
      method: 'POST',
      body: 'a,b\n1,2\n',
      headers: { 'x-layerlab-token': shell.token }
    })
    const body = (await good.json()) as { result: { path: string } }
    expect(body.result.path).toBe(path.join(lab.home, 'uploads', 'b1', 'cats', 'a.csv'))
    expect(fs.readFileSync(body.result.path, 'utf8')).toBe('a,b\n1,2\n')
  })

  it('listens on loopback only', async () => {
    await expect(startServer(lab, { rendererDir, host: '0.0.0.0' })).rejects.toThrow('only listens on loopback')
  })
})
