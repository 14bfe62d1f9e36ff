import { spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'

const ROOT = path.resolve(__dirname, '../../..')
const hasElectronBinary = fs.existsSync(path.join(ROOT, 'node_modules/electron/path.txt'))

describe.skipIf(hasElectronBinary)('npm start without the Electron binary', () => {
  it('says so in one line and starts the web shell instead, with no stack trace', async () => {
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'layerlab-start-'))
    const child = spawn(process.execPath, [path.join(ROOT, 'scripts/start.mjs'), '--no-open'], {
      env: { ...process.env, LAYERLAB_HOME: home },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => (out += String(d)))
    child.stderr.on('data', (d) => (err += String(d)))
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`no URL after 60 s: ${out} ${err}`)), 60_000)
        const poll = setInterval(() => {
          if (/http:\/\/127\.0\.0\.1:\d+\/\?token=/.test(out)) {
            clearInterval(poll)
            clearTimeout(timer)
            resolve()
          }
        }, 50)
      })
      const lines = out.trim().split('\n')
      expect(lines[0]).toBe('Electron binary not available on this machine: starting the LayerLab web shell instead.')
      expect(lines[1]).toMatch(/^LayerLab web shell: http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]+$/)
      expect(err).not.toMatch(/\n\s+at /)
    } finally {
      child.kill('SIGTERM')
    }
  })
})
