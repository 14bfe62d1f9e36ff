/**
 * The PyTorch reference of the training bench: one long-lived `/usr/bin/python3 bench/torch_bench.py --serve`
 * (Debian's python3-torch), so torch's start-up and warm-up are paid once and its epochs interleave with
 * LayerLab's in the same run. Absent Python or torch gives a reason instead of figures.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import path from 'node:path'
import readline from 'node:readline'

export const TORCH_PYTHON = '/usr/bin/python3'

export interface TorchCase {
  model: 'digits-mlp' | 'mlp-64-256-256-10' | 'small-cnn' | 'cnn-medium'
  batch: number
  epochs: number
  rows?: number
  /** Held-out rows scored after every epoch (with a copy of the best weights kept), as LayerLab's epochs do. */
  validation?: number
}

export interface TorchResult {
  msPerEpoch: number
  times: number[]
  torch: string
  threads: number
}

export class TorchReference {
  private constructor(
    private readonly child: ChildProcessWithoutNullStreams,
    private readonly lines: AsyncIterator<string>,
    readonly version: string,
    readonly threads: number
  ) {}

  /** Starts the reference, or says why it cannot (no /usr/bin/python3, no torch for it). */
  static async start(): Promise<TorchReference | { skipped: string }> {
    const child = spawn(TORCH_PYTHON, [path.join(__dirname, 'torch_bench.py'), '--serve'], { stdio: ['pipe', 'pipe', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const spawnError = new Promise<string>((resolve) => child.on('error', (error) => resolve(error.message)))
    const lines = readline.createInterface({ input: child.stdout })[Symbol.asyncIterator]()
    const first = await Promise.race([lines.next().then((r) => (r.done ? null : r.value)), spawnError.then(() => null)])
    if (!first) {
      child.kill()
      const reason = stderr.trim().split('\n').pop() || (await Promise.race([spawnError, Promise.resolve('no output')]))
      return { skipped: `PyTorch reference skipped: ${TORCH_PYTHON} cannot run torch (${reason})` }
    }
    const ready = JSON.parse(first) as { torch: string; threads: number }
    return new TorchReference(child, lines, ready.torch, ready.threads)
  }

  async run(testCase: TorchCase): Promise<TorchResult> {
    this.child.stdin.write(JSON.stringify(testCase) + '\n')
    const next = await this.lines.next()
    if (next.done) throw new Error('PyTorch reference stopped')
    return JSON.parse(next.value) as TorchResult
  }

  close(): void {
    this.child.stdin.end()
    this.child.kill()
  }
}
