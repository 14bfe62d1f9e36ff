// PLACEHOLDER — replaced by the training work (issue 4).
import type { HandlerArgs, RequestResult, RunSummary } from '../api/contract'
import type { Emit } from '../core/events'
import type { DatasetService } from '../data/service'
import type { RunStore } from '../store/runs'
import { LabError } from '../api/errors'

export class TrainingService {
  constructor(
    readonly datasets: DatasetService,
    readonly runs: RunStore,
    readonly home: string,
    readonly emit: Emit
  ) {}
  async defaultModel(_args: HandlerArgs<'models.default'>): Promise<RequestResult<'models.default'>> {
    throw new LabError('models are not implemented yet')
  }
  async describe(_args: HandlerArgs<'models.describe'>): Promise<RequestResult<'models.describe'>> {
    throw new LabError('models are not implemented yet')
  }
  /** Starts a run in a worker and returns at once. */
  async start(_args: HandlerArgs<'train.start'>): Promise<{ runId: string }> {
    throw new LabError('training is not implemented yet')
  }
  async cancel(_runId: string): Promise<void> {
    throw new LabError('training is not implemented yet')
  }
  /** Resolves when the run has ended (completed, cancelled or failed). */
  async waitFor(runId: string): Promise<RunSummary> {
    throw new LabError(`run ${runId} not found`, 'not_found')
  }
  /** Stops every worker (process exit). */
  async shutdown(): Promise<void> {}
}
