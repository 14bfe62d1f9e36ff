/**
 * Where a study's members train. The study service talks to a MemberPool only: it submits members and hears
 * what became of them. The local pool below runs them in this process's training workers, a few at a time;
 * a remote queue (workers on other machines) can stand in for it behind the same interface. Every event names
 * its member (study, configuration, member) and the run, so whoever records it can do so once.
 */
import os from 'node:os'
import type { ModelSpec, Partition, RunStatus, TrainConfig } from '../shared/contract'
import type { MemberKey } from '../store/studies'
import type { StartOptions, TrainingService } from '../train/service'
import { errorText } from '../shared/format'

export interface MemberJob {
  key: MemberKey
  datasetId: string
  name: string
  spec: ModelSpec
  partition: Partition
  /** With the member's split and seed. */
  config: TrainConfig
  tags: string[]
}

export type PoolEvent =
  | { type: 'started'; key: MemberKey; runId: string }
  | { type: 'ended'; key: MemberKey; runId: string; status: RunStatus; error: string | null }
  /** The member could not be started at all (no run exists for it). */
  | { type: 'failed'; key: MemberKey; error: string }
  /** A cancel took the member off the queue before it started: it stays to be run. */
  | { type: 'dropped'; key: MemberKey }

export interface MemberPool {
  /** How many members train at once. */
  readonly workers: number
  submit(job: MemberJob): void
  /** Drops the study's waiting members and cancels its training ones; resolves when those have ended. */
  cancel(studyId: string): Promise<void>
  subscribe(listener: (event: PoolEvent) => void): () => void
  /** Lets go of what the pool holds (a queue's connections) once its study has ended. */
  close?(): Promise<void>
}

export type PoolFactory = (workers: number) => MemberPool

/** One worker per core by default (each single-threaded, so they do not fight over the cores). */
export const defaultWorkers = (): number => Math.max(1, os.availableParallelism())

const keyText = (key: MemberKey): string => `${key.studyId}/${key.configIndex}/${key.memberIndex}`

interface Slot {
  job: MemberJob
  runId: string | null
  cancelled: boolean
  ended: Promise<void>
}

/**
 * The local pool: at most `workers` members train at once, each in its own training worker thread with one wasm
 * thread. A worker is started per member and ends with it, so nothing a run allocated outlives it.
 */
export class LocalPool implements MemberPool {
  private readonly waiting: MemberJob[] = []
  private readonly training = new Map<string, Slot>()
  private readonly listeners = new Set<(event: PoolEvent) => void>()

  constructor(
    private readonly trainer: Pick<TrainingService, 'start' | 'waitFor' | 'cancel'>,
    readonly workers: number,
    private readonly startOptions: StartOptions = { wasmThreads: 1 }
  ) {}

  submit(job: MemberJob): void {
    this.waiting.push(job)
    this.pump()
  }

  subscribe(listener: (event: PoolEvent) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }

  private emit(event: PoolEvent): void {
    for (const listener of this.listeners) listener(event)
  }

  private pump(): void {
    while (this.training.size < this.workers && this.waiting.length > 0) {
      const job = this.waiting.shift()!
      const slot: Slot = { job, runId: null, cancelled: false, ended: Promise.resolve() }
      this.training.set(keyText(job.key), slot)
      slot.ended = this.train(slot).finally(() => {
        this.training.delete(keyText(job.key))
        this.pump()
      })
    }
  }

  private async train(slot: Slot): Promise<void> {
    const { job } = slot
    try {
      const { runId } = await this.trainer.start(
        { datasetId: job.datasetId, spec: job.spec, partition: job.partition, config: job.config, name: job.name },
        { ...this.startOptions, tags: job.tags }
      )
      slot.runId = runId
      this.emit({ type: 'started', key: job.key, runId })
      if (slot.cancelled) await this.trainer.cancel(runId)
      const summary = await this.trainer.waitFor(runId)
      this.emit({ type: 'ended', key: job.key, runId, status: summary.status, error: summary.error })
    } catch (error) {
      this.emit({ type: 'failed', key: job.key, error: errorText(error) })
    }
  }

  async cancel(studyId: string): Promise<void> {
    const dropped = this.waiting.filter((job) => job.key.studyId === studyId)
    for (const job of dropped) this.waiting.splice(this.waiting.indexOf(job), 1)
    for (const job of dropped) this.emit({ type: 'dropped', key: job.key })
    const slots = [...this.training.values()].filter((slot) => slot.job.key.studyId === studyId)
    for (const slot of slots) {
      slot.cancelled = true
      if (slot.runId) await this.trainer.cancel(slot.runId).catch(() => undefined)
    }
    await Promise.all(slots.map((slot) => slot.ended))
  }
}
