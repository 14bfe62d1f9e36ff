/** What a training run tells its caller while it goes (the worker forwards these), and how it is stopped. */
import type * as tf from '@tensorflow/tfjs'
import type { EpochRow, EventPayload } from '../shared/contract'

export type Progress = Omit<EventPayload<'train.progress'>, 'runId'>

export interface TrainHooks {
  /** Called after every batch (throttle on the receiving side). */
  onProgress?(progress: Progress): void
  onEpoch?(row: EpochRow): void
  /** Checked between batches: true stops the run as cancelled. */
  shouldStop?(): boolean
  /** Layer-wise: the frozen prefix's output was computed for the stage of block `block` (0-based). */
  onPrefixComputed?(block: number): void
  /**
   * The model, before a stage trains. A caller given it here (or at onStageEnd) sees its weights as they are after
   * every epoch, at onEpoch; without either hook the fused dense path writes them into the model at the stage's end only.
   */
  onStageStart?(block: number, model: tf.LayersModel): void
  onStageEnd?(block: number, model: tf.LayersModel): void
}

/** Epoch rows of whole-model phases (end-to-end, fine-tune) carry this block index. */
export const WHOLE_MODEL_BLOCK = -1
