// PLACEHOLDER — replaced by the export work (issue 6).
import type { HandlerArgs, RequestResult } from '../api/contract'
import type { DatasetService } from '../data/service'
import type { RunStore } from '../store/runs'
import { LabError } from '../api/errors'

export class ExportService {
  constructor(
    readonly datasets: DatasetService,
    readonly runs: RunStore,
    readonly home: string
  ) {}
  async exportOnnx(_args: HandlerArgs<'export.onnx'>): Promise<RequestResult<'export.onnx'>> {
    throw new LabError('export is not implemented yet')
  }
  async predict(_args: HandlerArgs<'predict.run'>): Promise<RequestResult<'predict.run'>> {
    throw new LabError('predict is not implemented yet')
  }
}
