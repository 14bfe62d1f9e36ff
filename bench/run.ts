/**
 * `npm run bench`: prints figures and writes bench/results/latest.json. Each section compares against a
 * reference measured in the same run. Not part of `npm test`: timings never decide a test.
 *
 *   npm run bench                 every section
 *   npm run bench -- csv train    only those sections (csv, train, inference, study, regression, store, queue); `train` also runs
 *                                 train-article (the article's job against scikit-learn, the fixed cost per run),
 *                                 train-cnn (the small CNN against PyTorch, conv kernels on and off), train-cold (a
 *                                 cold CLI run, whole processes, against a scikit-learn script), train-warm (a run's
 *                                 fixed cost in a kept training worker, through the router, against a new worker's) and
 *                                 train-layerwise (the modes at equal epoch budgets on three models, issue 18); each
 *                                 runs alone as `npm run bench -- train-article` / `-- train-cnn` / `-- train-cold` / `-- train-warm` / `-- train-layerwise`
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

type Section = { name: string; run: () => Promise<unknown[]> }

const sections: Section[] = [
  { name: 'csv', run: async () => (await import('./csv')).benchCsv() },
  { name: 'train', run: async () => (await import('./train')).benchTraining() },
  { name: 'train-article', run: async () => (await import('./article')).benchArticle() },
  { name: 'train-cnn', run: async () => (await import('./cnn')).benchCnn() },
  // A cold CLI run's fixed cost against the same job as one scikit-learn script, whole processes (issue 20).
  { name: 'train-cold', run: async () => (await import('./coldCli')).benchColdCli() },
  // A run's fixed cost inside a kept training worker, through the router, against a new worker's (issue 20).
  { name: 'train-warm', run: async () => (await import('./warmRun')).benchWarmRun() },
  { name: 'train-layerwise', run: async () => (await import('./layerwise')).benchLayerwise() },
  // The kernels' gemm and conv loops on one and two threads, and the cost of handing a job to the second.
  { name: 'kernel-threads', run: async () => (await import('./kernelThreads')).benchKernelThreads() },
  { name: 'inference', run: async () => (await import('./inference')).benchInference() },
  { name: 'study', run: async () => (await import('./study')).benchStudy() },
  { name: 'regression', run: async () => (await import('./regression')).benchRegression() },
  { name: 'store', run: async () => (await import('./store')).benchStore() },
  // Study queue (issue 19): 1, 2, 3 worker processes through Redis, and empty jobs per second.
  { name: 'queue', run: async () => (await import('./queue')).benchQueue() }
]

function format(value: unknown): string {
  if (typeof value !== 'number') return String(value)
  if (Number.isInteger(value)) return value.toLocaleString('en')
  return Math.abs(value) >= 100 ? value.toFixed(0) : value.toFixed(2)
}

function printTable(rows: unknown[]): void {
  const records = rows as Array<Record<string, unknown>>
  const [first] = records
  if (!first) return
  const keys = Object.keys(first)
  const cells = [
    keys,
    ...records.map((r) =>
      keys.map((k) => format(k.toLowerCase().includes('bytes') && typeof r[k] === 'number' ? `${((r[k] as number) / 2 ** 20).toFixed(0)} MiB` : r[k]))
    )
  ]
  const widths = keys.map((_, i) => Math.max(...cells.map((row) => String(row[i]).length)))
  for (const row of cells) console.log('  ' + row.map((c, i) => String(c).padEnd(widths[i]!)).join('  '))
}

async function main(): Promise<void> {
  const wanted = process.argv.slice(2).filter((a) => !a.startsWith('-'))
  // A section named `a-b` runs with `a` too.
  const chosen = wanted.length ? sections.filter((s) => wanted.includes(s.name) || wanted.includes(s.name.split('-')[0]!)) : sections
  const results: Record<string, unknown> = {
    date: new Date().toISOString(),
    machine: { cpus: os.cpus().length, model: os.cpus()[0]?.model, memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version },
    // The 1-, 5- and 15-minute load averages at the start (the machine may be shared): ratios, not times, carry over.
    loadAverage: os.loadavg().map((value) => Number(value.toFixed(2)))
  }
  for (const section of chosen) {
    console.log(`\n== ${section.name}`)
    try {
      const rows = await section.run()
      printTable(rows)
      results[section.name] = rows
    } catch (error) {
      console.log(`  skipped: ${error instanceof Error ? error.message.split('\n')[0] : String(error)}`)
      results[section.name] = { skipped: String(error) }
    }
  }
  const out = path.join(__dirname, 'results', wanted.length ? `latest-${wanted.join('-')}.json` : 'latest.json')
  fs.mkdirSync(path.dirname(out), { recursive: true })
  fs.writeFileSync(out, JSON.stringify(results, null, 2) + '\n')
  console.log(`\nwrote ${path.relative(process.cwd(), out)}`)
}

void main().then(() => process.exit(0))
