/**
 * The layer rule and the cycle check are lint rules (eslint.config.mjs): these tests prove they fire, by writing
 * deliberately bad modules into the source folders for the length of one lint run.
 */
import fs from 'node:fs'
import path from 'node:path'
import { ESLint } from 'eslint'
import { afterEach, describe, expect, it } from 'vitest'

const ROOT = path.resolve(__dirname, '../../..')
const written: string[] = []

function write(relative: string, text: string): string {
  const file = path.join(ROOT, relative)
  fs.writeFileSync(file, text)
  written.push(file)
  return file
}

afterEach(() => {
  for (const file of written.splice(0)) fs.rmSync(file, { force: true })
})

async function messages(files: string[]): Promise<{ file: string; rule: string | null; message: string }[]> {
  const eslint = new ESLint({ cwd: ROOT })
  const results = await eslint.lintFiles(files)
  return results.flatMap((result) => result.messages.map((m) => ({ file: path.relative(ROOT, result.filePath), rule: m.ruleId, message: m.message })))
}

describe('lint: layers and cycles', () => {
  it('refuses a host that reaches the database, and a store that imports a domain', async () => {
    const host = write('main/hosts/lintProbeHost.ts', "import { SqliteDb } from '../store/db'\n\nexport const probe = SqliteDb\n")
    const store = write('main/store/lintProbeStore.ts', "import { DatasetService } from '../data/service'\n\nexport const probe = DatasetService\n")
    const found = await messages([host, store])
    expect(found).toEqual([
      expect.objectContaining({
        file: 'main/hosts/lintProbeHost.ts',
        rule: 'import-x/no-restricted-paths',
        message: expect.stringContaining('layer rule: main/hosts may import only')
      }),
      expect.objectContaining({
        file: 'main/store/lintProbeStore.ts',
        rule: 'import-x/no-restricted-paths',
        message: expect.stringContaining('layer rule: main/store may import only')
      })
    ])
  })

  it('refuses the renderer importing main-side code other than shared/', async () => {
    const view = write('renderer/src/lintProbe.ts', "import { resolveHome } from '../../main/core/home'\n\nexport const probe = resolveHome\n")
    const found = await messages([view])
    expect(found.map((m) => m.rule)).toEqual(['import-x/no-restricted-paths'])
  })

  it('refuses an import cycle, even within one layer', async () => {
    const a = write('main/data/lintProbeA.ts', "import { b } from './lintProbeB'\n\nexport const a = (): number => b() + 1\n")
    const b = write('main/data/lintProbeB.ts', "import { a } from './lintProbeA'\n\nexport const b = (): number => a() - 1\n")
    const found = await messages([a, b])
    // import-x remembers the modules it has walked within one run, so on a cold cache it may report the cycle at
    // only one of its two ends; one report is enough to fail lint, and it must name a file of the cycle.
    const cycles = found.filter((m) => m.rule === 'import-x/no-cycle').map((m) => m.file)
    expect(cycles.length).toBeGreaterThan(0)
    for (const file of cycles) expect(['main/data/lintProbeA.ts', 'main/data/lintProbeB.ts']).toContain(file)
  })

  it('refuses a promise that nobody awaits', async () => {
    const file = write('main/core/lintProbeFloating.ts', 'export function probe(work: () => Promise<void>): void {\n  work()\n}\n')
    const found = await messages([file])
    expect(found.map((m) => m.rule)).toEqual(['@typescript-eslint/no-floating-promises'])
  })

  it('passes the modules that are there', async () => {
    const found = await messages(['main/lab.ts', 'main/hosts/server.ts', 'main/data/service.ts'])
    expect(found).toEqual([])
  })
})
