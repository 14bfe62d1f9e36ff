/** What the CLI's commands share: a request through the router, and the dataset and model a command's flags name. */
import fs from 'node:fs'
import path from 'node:path'
import type {
  BlockHead,
  BlockLocalLoss,
  DatasetSummary,
  ModelPreset,
  ModelSpec,
  OptimizerName,
  Partition,
  RequestArgs,
  RequestName,
  RequestResult,
  Task
} from '../shared/contract'
import { LabError } from '../shared/errors'
import { INPUT_LIMITS, readInputFile } from '../core/inputFile'
import { errorText } from '../shared/format'
import { DATE_ORDER_TEXT, datePartsText } from '../shared/dates'
import type { DateChoice } from './cliFlags'
import type { Lab } from '../lab'

export async function call<K extends RequestName>(lab: Lab, name: K, args: RequestArgs<K>): Promise<RequestResult<K>> {
  const response = await lab.router.handle(name, args)
  if (!response.ok) throw new LabError(response.error.message, response.error.code)
  return response.result as RequestResult<K>
}

export interface ModelFlags {
  preset?: ModelPreset
  hidden?: number[]
  model?: string
  optimizer?: OptimizerName
  lr?: number
  momentum?: number
  /** L2 coefficient of every block: λ·w is added to each gradient (scikit-learn's alpha is divided by the batch size first). */
  weightDecay?: number
  /** The auxiliary head of every block (layer-wise, decoupled). */
  head?: BlockHead
  /** The local loss of every block (layer-wise, decoupled) and its weight. */
  localLoss?: BlockLocalLoss
  localLossWeight?: number
}

/** The flags of a command that trains on a dataset: --data, --target, --task, --dates. */
export interface DataFlags {
  data: string
  target?: string
  task?: Task
  dates?: DateChoice[]
}

/**
 * A dataset id, or a file or folder to import first; with `task`, the dataset's task set to it, and with `dates`
 * the date columns' parts (stored with the dataset, and said through `note`).
 */
export async function datasetOf(
  lab: Lab,
  { data, target, task, dates = [] }: DataFlags,
  note: (line: string) => void = () => undefined
): Promise<DatasetSummary> {
  const datasets = await call(lab, 'datasets.list', {})
  let dataset = datasets.find((d) => d.datasetId === data)
  // A file imported here is this command's own: a refused task or date choice removes it again.
  let imported = false
  if (!dataset) {
    if (!fs.existsSync(data)) throw new LabError(`${data}: no such file, folder or dataset id`)
    dataset = await call(lab, 'datasets.import', { path: path.resolve(data), target, task })
    imported = true
  }
  const update = (change: { task: Task } | { columns: DateChoice[] }) =>
    imported ? updateOrDiscard(lab, dataset!.datasetId, change) : call(lab, 'datasets.update', { datasetId: dataset!.datasetId, ...change })
  if (task && task !== dataset.task) {
    dataset = await update({ task })
    note(`dataset ${dataset.name}: task set to ${dataset.task}\n`)
  }
  if (dates.length) {
    dataset = await update({ columns: dates })
    for (const { name, dateOrder } of dates) {
      const date = dataset.columns.find((c) => c.name === name)?.date
      if (date)
        note(
          `dataset ${dataset.name}: date ${name} ${dateOrder ? `read as ${DATE_ORDER_TEXT[date.order]}, ` : ''}gives ${datePartsText(date.parts)}\n`
        )
    }
  }
  return dataset
}

/**
 * A change to a dataset this command has just imported; when it is refused (a --dates column that holds no dates,
 * or no such column) the dataset is deleted before the error goes on, so a refused command leaves nothing behind.
 */
export async function updateOrDiscard(lab: Lab, datasetId: string, change: { task?: Task; columns?: DateChoice[] }): Promise<DatasetSummary> {
  try {
    return await call(lab, 'datasets.update', { datasetId, ...change })
  } catch (error) {
    await call(lab, 'datasets.delete', { datasetId }).catch(() => undefined)
    throw error
  }
}

/** The model of --preset/--hidden or --model SPEC.json, with --optimizer/--lr/--momentum/--weight-decay/--head/--local-loss applied to every block. */
export async function modelOf(lab: Lab, datasetId: string, o: ModelFlags): Promise<{ spec: ModelSpec; partition: Partition }> {
  let { spec, partition } = await call(lab, 'models.default', { datasetId, preset: o.preset, hidden: o.hidden })
  if (o.model) {
    let parsed: { spec?: unknown; partition?: unknown } & Record<string, unknown>
    const text = (await readInputFile(o.model, { maxBytes: INPUT_LIMITS.modelSpec, what: 'a model spec' })).toString('utf8')
    try {
      parsed = JSON.parse(text)
    } catch (error) {
      throw new LabError(`${o.model}: ${errorText(error)}`)
    }
    const candidate = (parsed.spec ?? parsed) as typeof spec
    const described = await call(lab, 'models.describe', { spec: candidate, partition: parsed.partition })
    const [problem] = described.errors
    if (problem) throw new LabError(`${o.model}: ${problem.message}`)
    spec = candidate
    if (parsed.partition) partition = parsed.partition as typeof partition
    else {
      const one = partition.blocks[0]
      if (!one) throw new Error('models.default gave a partition without blocks')
      partition = { blocks: [{ ...one, start: 0, end: spec.layers.length }] }
    }
  }
  for (const block of partition.blocks) {
    if (o.optimizer) block.settings.optimizer = o.optimizer
    if (o.lr) block.settings.learningRate = o.lr
    if (o.momentum !== undefined) block.settings.momentum = o.momentum
    if (o.weightDecay !== undefined) block.settings.weightDecay = o.weightDecay
    if (o.head) block.settings.head = o.head
    if (o.localLoss) block.settings.localLoss = o.localLoss
    if (o.localLossWeight !== undefined) block.settings.localLossWeight = o.localLossWeight
  }
  return { spec, partition }
}
