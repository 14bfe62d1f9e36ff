/**
 * Reading values back from the backend. In-process backends (wasm, cpu) read synchronously for a copy's cost; a
 * GPU backend cannot read synchronously at all in Node (tfjs-webgpu's readSync goes through an OffscreenCanvas),
 * and every read waits for the device's queue to drain. So on a GPU the training loop reads as little as it can,
 * asynchronously, and lets the queue run ahead of it in between.
 */
import * as tf from '@tensorflow/tfjs'
import { tensorsInProcess } from './fast/inProcess'

/** The values of tensors, read together (one wait for the device, not one per tensor), then disposed. */
export async function readAll(tensors: tf.Tensor[]): Promise<Array<Float32Array | Int32Array | Uint8Array>> {
  try {
    return (await Promise.all(tensors.map((tensor) => tensor.data()))) as Array<Float32Array | Int32Array | Uint8Array>
  } finally {
    tensors.forEach((tensor) => tensor.dispose())
  }
}

/** An epoch's sums up to some batch: what progress and the epoch row are computed from. */
export interface TallyRead {
  /** Σ batch mean loss × batch rows. */
  lossSum: number
  /** Σ the batches' tallies (objective.ts): hits for classification, squared errors for regression. */
  tally: number
  /** Rows and batches the sums cover. */
  seen: number
  batches: number
}

/**
 * Device backends: batches between two progress reports. A snapshot of the sums is taken halfway and read at the
 * report, 4 batches later (normally done by then): the loop never waits for the device except to stay at most 4
 * batches ahead of it, and progress lags by 4 batches. Measured on the digits MLP over SwiftShader: waiting for
 * the sums every batch was 1.45–1.66× slower per epoch than reading them every 8; reading only at the epoch's
 * end gained nothing over every 8.
 */
export const DEVICE_READ_EVERY = 8

/**
 * The running loss and tally sums of one epoch. A batch adds its mean loss and its tally, as numbers (the
 * hand-written dense step) or as scalar tensors, which the tally takes over (disposes). In-process: read at once,
 * every batch. Device: summed on the device, reported every DEVICE_READ_EVERY batches and after the last one.
 */
export interface EpochTally {
  add(loss: number | tf.Tensor, tally: number | tf.Tensor, count: number): void
  /** After batch `b` (0-based) of `batches`: the sums so far, or null where none is ready yet. The last batch's is exact. */
  after(b: number, batches: number): TallyRead | null | Promise<TallyRead | null>
  /** Waits for a read still under way and frees the sums (a cancelled epoch leaves one behind). */
  close(): Promise<void>
}

export function epochTally(): EpochTally {
  return tensorsInProcess() ? new HostTally() : new DeviceTally()
}

const valueOf = (value: number | tf.Tensor): number => {
  if (typeof value === 'number') return value
  const number = value.dataSync()[0]!
  value.dispose()
  return number
}

class HostTally implements EpochTally {
  private read: TallyRead = { lossSum: 0, tally: 0, seen: 0, batches: 0 }

  add(loss: number | tf.Tensor, tally: number | tf.Tensor, count: number): void {
    this.read = {
      lossSum: this.read.lossSum + valueOf(loss) * count,
      tally: this.read.tally + valueOf(tally),
      seen: this.read.seen + count,
      batches: this.read.batches + 1
    }
  }

  after(): TallyRead {
    return this.read
  }

  async close(): Promise<void> {}
}

class DeviceTally implements EpochTally {
  private lossSum: tf.Tensor = tf.scalar(0)
  private tally: tf.Tensor = tf.scalar(0)
  private seen = 0
  private batches = 0
  private pending: Promise<TallyRead> | null = null

  add(loss: number | tf.Tensor, tally: number | tf.Tensor, count: number): void {
    const [lossSum, tallySum] = tf.tidy(() => [tf.add(this.lossSum, tf.mul(loss, count)), tf.add(this.tally, tally)])
    for (const old of [this.lossSum, this.tally, loss, tally]) if (typeof old !== 'number') old.dispose()
    this.lossSum = lossSum!
    this.tally = tallySum!
    this.seen += count
    this.batches++
  }

  after(b: number, batches: number): Promise<TallyRead | null> | null {
    const done = b + 1
    if (done === batches) {
      const previous = this.pending
      const current = (this.pending = this.snapshot())
      return Promise.all([previous, current]).then(([, read]) => read)
    }
    if (done % DEVICE_READ_EVERY === DEVICE_READ_EVERY / 2) {
      this.pending = this.snapshot()
      return null
    }
    if (done % DEVICE_READ_EVERY === 0 && this.pending) {
      const due = this.pending
      this.pending = null
      return due
    }
    return null
  }

  /** Both sums in one 2-value tensor: one copy and one buffer map for the pair. */
  private snapshot(): Promise<TallyRead> {
    const both = tf.stack([this.lossSum, this.tally])
    const { seen, batches } = this
    return readAll([both]).then(([values]) => ({ lossSum: values![0]!, tally: values![1]!, seen, batches }))
  }

  async close(): Promise<void> {
    await this.pending?.catch(() => undefined)
    this.pending = null
    this.lossSum.dispose()
    this.tally.dispose()
  }
}
