/**
 * What a run costs, measured while it trains and stored with it (issue 18): per stage, the tensor memory of its
 * heaviest training step, the process's peak RSS, its time and the examples it trained on; for the run, the same
 * totals and the backend's heap.
 *
 * The step peak is tf.profile's: after every kernel, the bytes of all live tensors (weights, optimizer tensors,
 * the batch's activations, what the gradient tape keeps for the backward pass, the gradients). A stage's steps all
 * have the same shapes, so the first batch of each epoch is measured (its size is the batch size unless the part
 * is smaller): one profiled step per epoch, the others run as they are. Where a stage's peak lies is what
 * layer-wise training changes: a block stage keeps one block's activations on the tape, end-to-end all of them.
 *
 * RSS is the whole process's resident memory (in the app: the main process that hosts the training worker), so
 * it includes code, the data set and allocator slack; it moves far less than the tensor figure. It is sampled at
 * most every RSS_SAMPLE_MS during a stage (and at every stage's end and the run's): one read costs ~70 µs in a
 * training process, ~1.5 ms in a profiled run at load 10 (issue 20: 0.5 ms of the article's 7 ms epoch when read
 * after each of its 7 batches; 1.4 % of a loaded small-CNN profile at one read per ~30 ms batch).
 */
import * as tf from '@tensorflow/tfjs'
import type { RunResources, StageResources } from '../shared/contract'

/** Least time between two RSS samples during a stage's batches. */
export const RSS_SAMPLE_MS = 100

export type StageInfo = Pick<StageResources, 'name' | 'phase' | 'block' | 'blocks'>

/** The backend's own heap where it has one in this process (wasm: its memory, which never shrinks); else null. */
export function backendHeapBytes(): number | null {
  const backend = tf.backend() as unknown as { wasm?: { HEAPU8?: Uint8Array } | null }
  return backend.wasm?.HEAPU8?.buffer.byteLength ?? null
}

/** Runs one training step under tf.profile: its result and the most tensor bytes live at any point of it. */
export async function profiledStep<T>(step: () => T): Promise<{ value: T; peakBytes: number }> {
  const before = tf.memory().numBytes
  let value: T | undefined
  const info = await tf.profile(() => {
    value = step()
    return [] as unknown as tf.TensorContainer
  })
  let peakBytes = before
  for (const kernel of info.kernels) peakBytes = Math.max(peakBytes, kernel.totalBytesSnapshot)
  return { value: value as T, peakBytes }
}

/** One stage's figures, filled in by its training loop. */
export class StageMeter {
  stepPeakBytes = 0
  peakRssBytes = 0
  examples = 0

  constructor(
    readonly info: StageInfo,
    private readonly run: ResourceMeter
  ) {}

  /** Runs the step, profiled when it is the one to measure (the first batch of an epoch). */
  async step<T>(measure: boolean, step: () => T): Promise<T> {
    if (!measure) return step()
    const { value, peakBytes } = await profiledStep(step)
    this.recordStep(peakBytes)
    return value
  }

  /** A step measured elsewhere (a pipeline worker reports its own). */
  recordStep(peakBytes: number): void {
    this.stepPeakBytes = Math.max(this.stepPeakBytes, peakBytes)
  }

  private rssSampledAt = -Infinity

  /** After each batch: the rows it trained on; samples the process's RSS where RSS_SAMPLE_MS have passed. */
  batch(rows: number): void {
    this.examples += rows
    const now = performance.now()
    if (now - this.rssSampledAt < RSS_SAMPLE_MS) return
    this.rssSampledAt = now
    this.peakRssBytes = Math.max(this.peakRssBytes, this.run.sampleRss())
  }

  result(ms: number): StageResources {
    return {
      ...this.info,
      stepPeakBytes: this.stepPeakBytes,
      peakRssBytes: Math.max(this.peakRssBytes, this.run.sampleRss()),
      ms,
      examples: this.examples
    }
  }
}

export class ResourceMeter {
  private readonly started = performance.now()
  private peakRss = process.memoryUsage.rss()
  private readonly stages: Array<{ meter: StageMeter; ms: number | null }> = []
  private ownHeap: number | null = backendHeapBytes()
  private otherHeaps: number | null = null

  /** Reads the process's RSS and keeps the peak. */
  sampleRss(): number {
    const rss = process.memoryUsage.rss()
    if (rss > this.peakRss) this.peakRss = rss
    return rss
  }

  /** The meter of a stage that starts now; `end` records its time. */
  stage(info: StageInfo): StageMeter {
    const meter = new StageMeter(info, this)
    this.stages.push({ meter, ms: null })
    return meter
  }

  end(meter: StageMeter, ms: number): void {
    const entry = this.stages.find((stage) => stage.meter === meter)
    if (entry) entry.ms = ms
    this.sampleHeap()
  }

  /** The heap of another worker (a pipeline's block), added to this one's. */
  addHeap(bytes: number | null): void {
    if (bytes !== null) this.otherHeaps = (this.otherHeaps ?? 0) + bytes
  }

  private sampleHeap(): void {
    const heap = backendHeapBytes()
    if (heap !== null && (this.ownHeap === null || heap > this.ownHeap)) this.ownHeap = heap
  }

  /**
   * The run's figures. The run's step peak is the heaviest stage's, or with `concurrentStages` (a pipeline, whose
   * blocks train at the same time in their own workers) the sum of the stages' peaks. With `sharedRows` the stages
   * train on the same passes over the data (decoupled), so the examples are the most any stage saw.
   */
  result(options: { concurrentStages?: boolean; sharedRows?: boolean; pipeline?: RunResources['pipeline'] } = {}): RunResources {
    this.sampleRss()
    this.sampleHeap()
    const stages = this.stages.map(({ meter, ms }) => meter.result(ms ?? 0))
    const peaks = stages.map((stage) => stage.stepPeakBytes)
    return {
      stepPeakBytes: options.concurrentStages ? peaks.reduce((a, b) => a + b, 0) : Math.max(0, ...peaks),
      peakRssBytes: this.peakRss,
      backendHeapBytes: this.ownHeap === null && this.otherHeaps === null ? null : (this.ownHeap ?? 0) + (this.otherHeaps ?? 0),
      wallMs: performance.now() - this.started,
      // Decoupled stages train on the same rows in the same passes: a row counts once, not once per block.
      examples: options.sharedRows ? Math.max(0, ...stages.map((s) => s.examples)) : stages.reduce((sum, stage) => sum + stage.examples, 0),
      stages,
      pipeline: options.pipeline ?? null
    }
  }
}
