/** Messages between TrainingService (main thread) and the training worker. */
import type { BlockResult, EpochRow, Evaluation, ModelSpec, Partition, RunMetrics, RunResources, TrainConfig } from '../shared/contract'
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
  /** LAYERLAB_BACKEND-style preference; undefined lets planBackend choose. */
  backend?: string
}

export type WorkerMessage =
  | { type: 'backend'; name: string; reason: string }
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
      backend: string
    }
  | { type: 'failed'; error: string }
