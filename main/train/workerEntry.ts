/**
 * Where a worker thread's code is: next to the bundle when built (out/main/<name>.js), else the TypeScript source
 * run through tsx (vitest, `node --import tsx`). `--import tsx` does not reach a worker's entry on Node 20,
 * `--require tsx/cjs` does.
 */
import fs from 'node:fs'
import path from 'node:path'

export function workerEntryFor(dir: string, built: string, source: string): { file: string; execArgv?: string[] } {
  // The bundler may place the calling module in out/main/chunks/, one level below the worker entry.
  const bundled = [path.join(dir, built), path.join(dir, '..', built)].find((file) => fs.existsSync(file))
  if (bundled) return { file: bundled }
  const typescript = path.join(dir, source)
  if (fs.existsSync(typescript)) return { file: typescript, execArgv: ['--require', 'tsx/cjs'] }
  throw new Error(`worker not found next to ${dir} (${built} or ${source})`)
}
