// PLACEHOLDER — replaced by the datasets work (issue 3). Signatures are the contract with the rest of main/.
import type { Db } from '../store/db'
import type { Emit } from '../core/events'
import type { DatasetSummary, HandlerArgs, RequestResult } from '../api/contract'
import type { PreparedData } from './types'
import type { Recipe } from './recipe'
import { LabError } from '../api/errors'

const todo = (): never => {
  throw new LabError('datasets are not implemented yet')
}

export class DatasetService {
  constructor(
    readonly db: Db,
    readonly home: string,
    readonly emit: Emit
  ) {}
  async import(_args: HandlerArgs<'datasets.import'>): Promise<DatasetSummary> {
    return todo()
  }
  async list(): Promise<DatasetSummary[]> {
    return []
  }
  async get(_datasetId: string): Promise<DatasetSummary> {
    return todo()
  }
  async preview(_args: HandlerArgs<'datasets.preview'>): Promise<RequestResult<'datasets.preview'>> {
    return todo()
  }
  async update(_args: HandlerArgs<'datasets.update'>): Promise<DatasetSummary> {
    return todo()
  }
  async thumbnails(_args: HandlerArgs<'datasets.thumbnails'>): Promise<RequestResult<'datasets.thumbnails'>> {
    return todo()
  }
  async delete(_datasetId: string): Promise<void> {
    return todo()
  }
  async loadPrepared(_datasetId: string): Promise<PreparedData> {
    return todo()
  }
  async getRecipe(_datasetId: string): Promise<Recipe> {
    return todo()
  }
}
