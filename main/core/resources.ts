import path from 'node:path'
import fs from 'node:fs'

/** Where bundled files live: resources/ at the project root, from source and from out/main alike. */
export function resourcesDir(): string {
  let dir = __dirname
  for (let i = 0; i < 5; i++) {
    const candidate = path.join(dir, 'resources')
    if (fs.existsSync(path.join(candidate, 'examples'))) return candidate
    dir = path.dirname(dir)
  }
  return path.resolve('resources')
}
