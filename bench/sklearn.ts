/**
 * The scikit-learn reference of the training bench: one long-lived `/usr/bin/python3 bench/sklearn_bench.py
 * --serve` (Debian's python3-sklearn) holding the same train part as LayerLab, so its start-up and warm-up are paid
 * once and its fits interleave with LayerLab's runs. Absent Python or scikit-learn gives a reason instead of figures.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import path from 'node:path'
import readline from 'node:readline'
import type { PreparedPart } from '../main/data/types'
import { TORCH_PYTHON } from './torch'

export interface SklearnCase {
  epochs: number
  batch: number
  seed: number
}

export interface SklearnResult {
  msPerEpoch: number
  epochs: number
  ms: number
  trainAccuracy: number
}

export class SklearnReference {
  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    private readonly lines: AsyncIterator<string>,
    readonly version: string
  ) {}

  /** Starts the reference on `part` (rows of `features` floats), or says why it cannot. */
  static async start(part: PreparedPart, features: number): Promise<SklearnReference | { skipped: string }> {
    const child = spawn(TORCH_PYTHON, [path.join(__dirname, 'sklearn_bench.py'), '--serve'], { stdio: ['pipe', 'pipe', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const spawnError = new Promise<string>((resolve) => child.on('error', (error) => resolve(error.message)))
    const lines = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]()
    const nextLine = () => Promise.race([lines.next().then((r) => (r.done ? null : r.value)), spawnError.then(() => null)])
    const first = await nextLine()
    if (!first) {
      child.kill()
      const reason = stderr.trim().split('\n').pop() || (await Promise.race([spawnError, Promise.resolve('no output')]))
      return { skipped: `scikit-learn reference skipped: ${TORCH_PYTHON} cannot run sklearn (${reason})` }
    }
    const ready = JSON.parse(first) as { sklearn: string }
    const x = Array.from({ length: part.n }, (_, i) => Array.from(part.x.subarray(i * features, (i + 1) * features)))
    child.stdin.write(JSON.stringify({ x, y: Array.from(part.y) }) + '\n')
    if (!(await nextLine())) {
      child.kill()
      return { skipped: `scikit-learn reference skipped: it stopped while loading the data (${stderr.trim().split('\n').pop()})` }
    }
    return new SklearnReference(child, lines, ready.sklearn)
  }

  async run(testCase: SklearnCase): Promise<SklearnResult> {
    this.child.stdin.write(JSON.stringify(testCase) + '\n')
    const next = await this.lines.next()
    if (next.done) throw new Error('scikit-learn reference stopped')
    return JSON.parse(next.value) as SklearnResult
  }

  close(): void {
    this.child.stdin.end()
    this.child.kill()
  }
}
