// `npm start`: the desktop app where Electron's binary is present; otherwise the web shell, said in one line.
// Electron ≥ 42 downloads its binary on first launch; on offline or firewalled machines it cannot, and we
// must not show its stack trace.
import { spawn, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const built = ['out/main/index.js', 'out/main/cli.js', 'out/renderer/index.html'].every((f) => fs.existsSync(path.join(root, f)))
if (!built) {
  const build = spawnSync(process.execPath, [path.join(root, 'node_modules/electron-vite/bin/electron-vite.js'), 'build'], {
    cwd: root,
    stdio: 'inherit'
  })
  if (build.status !== 0) process.exit(build.status ?? 1)
}

function electronBinary() {
  const pathFile = path.join(root, 'node_modules/electron/path.txt')
  if (!fs.existsSync(pathFile)) return null
  const binary = path.join(root, 'node_modules/electron/dist', fs.readFileSync(pathFile, 'utf8').trim())
  return fs.existsSync(binary) ? binary : null
}

const extra = process.argv.slice(2)
const binary = electronBinary()
const child = binary
  ? spawn(binary, [root, ...extra], { stdio: 'inherit' })
  : (console.log('Electron binary not available on this machine: starting the LayerLab web shell instead.'),
    spawn(process.execPath, [path.join(root, 'bin/layerlab.cjs'), 'serve', ...extra], { stdio: 'inherit' }))
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => child.kill(signal))
child.on('exit', (code) => process.exit(code ?? 0))
