// PLACEHOLDER — replaced by the training / history work (issues 4, 5).
import type { Db } from './db'
import type { Artifact, HandlerArgs, RunDetail, RunSummary } from '../api/contract'
import { LabError } from '../api/errors'

export class RunStore {
  constructor(
    readonly db: Db,
    readonly home: string
  ) {}
  /** Marks runs left `running` by a dead process as `interrupted`; called at every open. */
  async recoverInterrupted(): Promise<number> {
    return 0
  }
  async list(): Promise<RunSummary[]> {
    return []
  }
  async get(runId: string): Promise<RunDetail> {
    throw new LabError(`run ${runId} not found`, 'not_found')
  }
  async update(args: HandlerArgs<'runs.update'>): Promise<RunSummary> {
    throw new LabError(`run ${args.runId} not found`, 'not_found')
  }
  async delete(runId: string): Promise<void> {
    throw new LabError(`run ${runId} not found`, 'not_found')
  }
  async addArtifact(_runId: string, _artifact: Omit<Artifact, 'artifactId' | 'createdAt'>): Promise<Artifact> {
    throw new Error('not implemented yet')
  }
}
