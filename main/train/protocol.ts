/** Messages between TrainingService (main thread) and the training worker. */
import type { BlockResult, EpochRow, Evaluation, ModelSpec, Partition, RunMetrics, RunResources, TrainConfig } from '../shared/contract'
import type { BackendChoice } from '../core/backend'
import type { GpuAdapter } from '../core/webgpu'
import type { PreparedData } from '../data/types'
import type { Progress } from './hooks'

export interface WorkerJob {
  runId: string
  spec: ModelSpec
  partition: Partition
  config: TrainConfig
  /** Its Float32Array/Int32Array buffers are transferred: the worker owns them. */
  data: PreparedData
  weightsPath: string
  /** Int32 slot 0 set to 1 asks the worker to stop between batches (no event-loop turn needed). */
  cancelFlag: SharedArrayBuffer
  /** The backend the service planned (chooseBackend); the worker activates it, or its fallback. */
  backend: BackendChoice
}

/** A run for the worker (its data buffers transferred with it); a worker takes one at a time, and may take more. */
export type ToTrainWorker = { type: 'job'; job: WorkerJob }

/**
 * `finished` and `failed` are the last messages, sent after the worker released its GPU device: only then may the
 * host terminate the thread (see worker.ts).
 */
export type WorkerMessage =
  | { type: 'backend'; name: string; label: string; reason: string; adapter: GpuAdapter | null }
  | { type: 'progress'; progress: Progress }
  | { type: 'epoch'; row: EpochRow }
  | {
      type: 'finished'
      status: 'completed' | 'cancelled'
      metrics: RunMetrics | null
      evaluation: Evaluation | null
      blocks: BlockResult[]
      timing: { totalMs: number; msPerEpoch: number }
      peakRssBytes: number
      resources: RunResources
      weightsBytes: number
      prefixForwards: number
      /** The backend's label as the run records it ("wasm", "webgpu (NVIDIA H200, Vulkan)"). */
      backend: string
      /** The worker may take another run: wasm or cpu, and no tensor left behind (TrainingService keeps it). */
      reusable: boolean
    }
  | { type: 'failed'; error: string }
