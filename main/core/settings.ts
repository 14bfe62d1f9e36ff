/**
 * Settings of a data home, in <home>/settings.json: today only the history store the desktop app's setting chose.
 * In the home, not in one host, so that the CLI and the web shell opened on the same home use the same history.
 * The file may hold a store password: it is written readable by its owner only (0600).
 */
import fs from 'node:fs'
import path from 'node:path'
import { LabError } from '../shared/errors'
import { errorText } from '../shared/format'

export const SETTINGS_FILE = 'settings.json'

export interface HomeSettings {
  /** A postgres:// URL; absent: the SQLite file in the home. */
  store?: string
}

export function readSettings(home: string): HomeSettings {
  const file = path.join(home, SETTINGS_FILE)
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch {
    return {}
  }
  try {
    const parsed = JSON.parse(text) as unknown
    if (!parsed || typeof parsed !== 'object') return {}
    const store = (parsed as { store?: unknown }).store
    return typeof store === 'string' && store.trim() ? { store } : {}
  } catch (error) {
    throw new LabError(`${file}: not valid JSON (${errorText(error)}); fix or delete it`)
  }
}

export function writeSettings(home: string, settings: HomeSettings): void {
  const file = path.join(home, SETTINGS_FILE)
  const temp = `${file}.${process.pid}.tmp`
  fs.writeFileSync(temp, JSON.stringify(settings, null, 2) + '\n', { mode: 0o600 })
  fs.renameSync(temp, file)
}
