/**
 * Where a worker thread's code is: next to the bundle when built (out/main/<name>.js), else the TypeScript source
 * run through tsx (vitest, `tsx bench/…`): `--import tsx` does not reach a worker's entry on Node 20, `--require tsx/cjs` does.
 */
import fs from 'node:fs'
import path from 'node:path'

export function workerEntry(name: string): { file: string; execArgv?: string[] } {
  const built = [path.join(__dirname, `${name}.js`), path.join(__dirname, '..', `${name}.js`)].find((file) => fs.existsSync(file))
  if (built) return { file: built }
  const source = path.join(__dirname, `${name}.ts`)
  if (fs.existsSync(source)) return { file: source, execArgv: ['--require', 'tsx/cjs'] }
  throw new Error(`${name} not found next to ${__dirname} (${name}.js or ${name}.ts)`)
}
