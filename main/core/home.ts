/**
 * The data home: the SQLite file and every artifact. CLI, web shell and desktop resolve it the same way, so
 * they share one history: --home, else LAYERLAB_HOME, else the per-user app-data folder Electron would use
 * (app.getPath('userData') for an app named "LayerLab"), computed here without importing electron.
 */
import os from 'node:os'
import path from 'node:path'
import fs from 'node:fs'

export function defaultHome(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): string {
  if (platform === 'win32') return path.join(env.APPDATA ?? path.join(os.homedir(), 'AppData', 'Roaming'), 'LayerLab')
  if (platform === 'darwin') return path.join(os.homedir(), 'Library', 'Application Support', 'LayerLab')
  return path.join(env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config'), 'LayerLab')
}

export function resolveHome(explicit?: string, env: NodeJS.ProcessEnv = process.env): string {
  const home = path.resolve(explicit || env.LAYERLAB_HOME || defaultHome(env))
  fs.mkdirSync(home, { recursive: true })
  return home
}
