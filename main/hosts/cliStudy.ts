/**
 * The CLI's study commands (`study`, `studies`) and what they print: a table of configurations with intervals,
 * the verdict, and the --json shape.
 */
import { Option, type Command } from 'commander'
import {
  blockHead,
  modelPreset,
  optimizerName,
  sweepSpec,
  type EventPayload,
  type StudyDetail,
  type SummaryStat,
  type SweepSpec,
  type Task,
  type TrainConfig,
  type TrainMode
} from '../shared/contract'
import { DEFAULT_WEIGHT_DECAY } from '../shared/blocks'
import { LabError } from '../shared/errors'
import { errorText } from '../shared/format'
import { CORRECTED_TEST_EXPLANATION, durationText, errorFigureText, meanWithInterval, studyProgressText } from '../shared/studyText'
import type { Lab, LabOptions } from '../lab'
import { parseQueueUrl } from '../core/queue'
import {
  hiddenSizes,
  modeList,
  nonNegativeInt,
  positiveInt,
  positiveNumber,
  unitInterval,
  weightDecayRate,
  classWeightsFlag,
  lossFlag,
  targetFlag,
  datesFlag,
  type DateChoice,
  taskFlag
} from './cliFlags'
import { type CliIo, progressBar, table } from './cliText'
import { type ModelFlags, call, datasetOf, modelOf } from './cliRequests'
import { INPUT_LIMITS, readInputFile } from '../core/inputFile'

/** The --json object of `layerlab study` and `layerlab show STUDY_ID` (documented in the README). */
export function studyJson(detail: StudyDetail) {
  const { stats } = detail
  const c = stats.comparison
  return {
    studyId: detail.studyId,
    metric: stats.metric.key,
    protocol: detail.protocol,
    status: detail.status,
    configs: stats.configs.map((config) => ({
      name: config.name,
      mode: config.mode,
      runs: config.runs,
      mean: config.test.mean,
      std: config.test.std,
      ci95: config.test.ci95
    })),
    ...(c
      ? { comparison: { difference: { mean: c.difference.mean, ci95: c.difference.ci95 }, test: c.test, pValue: c.pValue, verdict: c.verdict } }
      : {})
  }
}

const mib = (s: SummaryStat) => (s.mean === null ? '—' : `${(s.mean / 2 ** 20).toFixed(0)} MiB`)

export function describeStudy(detail: StudyDetail): string {
  const { stats } = detail
  const metric = stats.metric
  const lines = [
    `${detail.studyId}  ${detail.name}  ${detail.status}  ${detail.done}/${detail.total} runs  ${detail.workers} worker${detail.workers === 1 ? '' : 's'}`
  ]
  const order = detail.kind === 'sweep' ? [...stats.configs].sort((a, b) => (b.val.mean ?? -Infinity) - (a.val.mean ?? -Infinity)) : stats.configs
  const rows = [
    [
      'CONFIGURATION',
      'RUNS',
      `TEST ${metric.label.toUpperCase()} (95 % INTERVAL)`,
      `VALIDATION`,
      stats.errorLabel.toUpperCase(),
      'WALL TIME',
      'PEAK RSS'
    ],
    ...order.map((c) => [
      `${c.name}${stats.best === c.configIndex && detail.kind === 'sweep' ? '  ← best on validation' : ''}`,
      `${c.n}/${c.total}`,
      meanWithInterval(c.test.mean, c.test.ci95, metric),
      meanWithInterval(c.val.mean, c.val.ci95, metric),
      errorFigureText(stats.task, c.error.mean),
      durationText(c.wallMs.mean),
      mib(c.peakRssBytes)
    ])
  ]
  lines.push(
    ...table(rows)
      .trimEnd()
      .split('\n')
      .map((line) => `  ${line}`)
  )
  if (stats.comparison) {
    lines.push(`  ${stats.comparison.verdict}`)
    lines.push(`  test: ${stats.comparison.test}. ${CORRECTED_TEST_EXPLANATION}`)
  }
  if (detail.kind === 'sweep' && stats.best !== null) {
    const best = stats.configs[stats.best]!
    lines.push(`  best on validation: ${best.name}; on test ${meanWithInterval(best.test.mean, best.test.ci95, metric)}`)
  }
  lines.push(`  ${stats.coverage}`)
  for (const m of detail.members.filter((member) => member.status === 'failed'))
    lines.push(
      `  failed: ${detail.configs[m.configIndex]?.name ?? m.configIndex} seed ${m.seed}${m.runId ? ` (${m.runId})` : ''}: ${m.error ?? 'unknown error'}`
    )
  if (detail.error) lines.push(`  ${detail.error}`)
  return lines.join('\n') + '\n'
}

/** A sweep file: read and checked here, so its errors name the file. */
async function readSweep(file: string): Promise<SweepSpec> {
  const text = (await readInputFile(file, { maxBytes: INPUT_LIMITS.sweepSpec, what: 'a sweep spec' })).toString('utf8')
  let raw: unknown
  try {
    raw = JSON.parse(text)
  } catch (error) {
    throw new LabError(`${file}: ${errorText(error)}`)
  }
  const parsed = sweepSpec.safeParse(raw)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!
    throw new LabError(`${file}: ${issue.path.join('.') || '(root)'}: ${issue.message}`)
  }
  return parsed.data
}

/** Follows a study to its end: a progress bar for the whole study; Ctrl-C cancels it. */
async function followStudy(lab: Lab, io: CliIo, studyId: string, showBar: boolean): Promise<void> {
  const bar = progressBar(io, showBar)
  const stop = lab.events.subscribe((event, payload) => {
    if (event !== 'study.progress') return
    const p = payload as EventPayload<'study.progress'>
    if (p.studyId !== studyId) return
    bar.draw(studyProgressText(p), p.total ? (p.done + p.failed) / p.total : 0)
  })
  const onInterrupt = () => void call(lab, 'studies.cancel', { studyId }).catch(() => undefined)
  process.once('SIGINT', onInterrupt)
  try {
    await call(lab, 'studies.wait', { studyId })
  } finally {
    process.off('SIGINT', onInterrupt)
    stop()
    bar.done()
  }
}

/** What the study commands need from the program that holds them. */
export interface StudyCommandContext {
  io: CliIo
  opened: (options?: Pick<LabOptions, 'queue'>) => Promise<Lab>
  json: () => boolean
  print: (value: unknown, human: () => string) => void
  /** A line on stderr, left out under --json. */
  note: (line: string) => void
}

export function addStudyCommands(program: Command, { io, opened, json, print, note }: StudyCommandContext): void {
  program
    .command('study')
    .description('train every configuration on repeated seeds or k-fold cross-validation and compare them with intervals and a paired test')
    .option('--data <path|id>', 'a dataset id, or a file/folder to import')
    .addOption(targetFlag())
    .addOption(taskFlag())
    .addOption(datesFlag())
    .addOption(lossFlag())
    .addOption(classWeightsFlag())
    .option('--compare <modes>', 'configurations: training modes to compare', modeList, ['end-to-end', 'layer-wise'])
    .option('--sweep <spec.json>', 'a grid or random search over settings ({method, samples, params: {learningRate, epochs, hidden, …}})')
    .option('--seeds <k>', 'k fresh stratified 70/15/15 splits and seeds (default 5)', positiveInt('--seeds'))
    .option('--folds <k>', 'k-fold stratified cross-validation', positiveInt('--folds'))
    .option('--repeats <r>', 'repeat the k-fold cross-validation r times', positiveInt('--repeats'))
    .option('--first-seed <n>', 'seed of the first split (the rest follow)', nonNegativeInt('--first-seed'))
    .option('--workers <n>', 'training workers at once, each single-threaded (default: one per core)', positiveInt('--workers'))
    .option('--resume <studyId>', 'run the members an interrupted or cancelled study is missing')
    .option('--queue <url>', 'submit the members to queue workers (layerlab worker) at redis://HOST:PORT (rediss:// for TLS)')
    .addOption(new Option('--preset <name>', 'model preset').choices(modelPreset.options))
    .option('--hidden <sizes>', 'hidden layer sizes of the mlp preset', hiddenSizes)
    .option('--model <spec.json>', 'a model spec file ({version, inputShape, layers}; optional partition)')
    .option('--epochs <n>', 'epochs (end-to-end, and each block layer-wise)', positiveInt('--epochs'))
    .option('--batch-size <n>', 'batch size', positiveInt('--batch-size'))
    .addOption(new Option('--head <design>', 'auxiliary head of every block (layer-wise, decoupled)').choices(blockHead.options))
    .addOption(new Option('--optimizer <name>', 'optimizer of every block').choices(optimizerName.options))
    .option('--lr <x>', 'learning rate of every block', positiveNumber('--lr'))
    .option('--momentum <x>', 'momentum of every block', unitInterval('--momentum'))
    .option('--weight-decay <x>', `L2 coefficient of every block (default ${DEFAULT_WEIGHT_DECAY})`, weightDecayRate)
    .option('--name <name>', 'study name')
    .action(
      async (
        o: ModelFlags & {
          data?: string
          target?: string
          task?: Task
          dates?: DateChoice[]
          loss?: TrainConfig['loss']
          classWeights?: TrainConfig['classWeights']
          compare: TrainMode[]
          sweep?: string
          seeds?: number
          folds?: number
          repeats?: number
          firstSeed?: number
          workers?: number
          resume?: string
          queue?: string
          epochs?: number
          batchSize?: number
          name?: string
        }
      ) => {
        // The queue is the lab's for this command (its workers' progress is heard here); a bad URL is one line.
        if (o.queue) parseQueueUrl(o.queue)
        const lab = await opened(o.queue ? { queue: o.queue } : {})
        const queue = o.queue ? 'default' : undefined
        let studyId: string
        if (o.resume) {
          ;({ studyId } = await call(lab, 'studies.resume', { studyId: o.resume, workers: o.workers, queue }))
        } else {
          if (!o.data) throw new LabError('study: --data PATH|ID is required (or --resume STUDY_ID)')
          if (o.seeds !== undefined && o.folds !== undefined) throw new LabError('study: choose --seeds K or --folds K, not both')
          if (o.repeats !== undefined && o.folds === undefined)
            throw new LabError('study: --repeats repeats a k-fold cross-validation; add --folds K')
          const sweep = o.sweep ? await readSweep(o.sweep) : undefined
          const dataset = await datasetOf(lab, { ...o, data: o.data }, note)
          const { spec, partition } = await modelOf(lab, dataset.datasetId, o)
          if (o.epochs) for (const block of partition.blocks) block.settings.epochs = o.epochs
          const config = {
            ...(o.epochs ? { epochs: o.epochs } : {}),
            ...(o.batchSize ? { batchSize: o.batchSize } : {}),
            ...(o.loss ? { loss: o.loss } : {}),
            ...(o.classWeights ? { classWeights: o.classWeights } : {})
          }
          const protocol =
            o.folds !== undefined
              ? { kind: 'cv' as const, folds: o.folds, repeats: o.repeats ?? 1, seed: o.firstSeed ?? 1 }
              : { kind: 'seeds' as const, seeds: o.seeds ?? 5, firstSeed: o.firstSeed ?? 1 }
          ;({ studyId } = await call(lab, 'studies.start', {
            datasetId: dataset.datasetId,
            name: o.name,
            base: { spec, partition, config },
            compare: o.compare,
            sweep,
            protocol,
            workers: o.workers,
            queue
          }))
        }
        note(`study ${studyId}\n`)
        await followStudy(lab, io, studyId, io.isTty && !json())
        const detail = await call(lab, 'studies.get', { studyId })
        print(studyJson(detail), () => describeStudy(detail))
        if (detail.status === 'failed') throw new LabError(`study ${studyId} failed: ${detail.error ?? 'every member failed'}`)
      }
    )

  program
    .command('studies')
    .description('list studies, newest first')
    .action(async () => {
      const studies = await call(await opened(), 'studies.list', {})
      print(studies, () =>
        studies.length
          ? table([
              ['STUDY', 'NAME', 'STATUS', 'RUNS', 'WORKERS', 'CREATED'],
              ...studies.map((s) => [
                s.studyId,
                s.name,
                s.status,
                `${s.done}/${s.total}${s.failed ? ` (${s.failed} failed)` : ''}`,
                String(s.workers),
                s.createdAt.slice(0, 19).replace('T', ' ')
              ])
            ])
          : 'no studies yet: layerlab study --data PATH --seeds 10\n'
      )
    })
}
