/**
 * The CLI host. Every command goes through the same router as the desktop app and the web shell (so the same
 * validation and errors apply); this file only turns flags into requests and results into text or JSON.
 *
 * Exit codes: 0 done; 1 a user error (one line `error: …` on stderr, the stack only with --debug); 2 a usage error.
 */
import fs from 'node:fs'
import path from 'node:path'
import { spawn } from 'node:child_process'
import { Command, CommanderError, Option } from 'commander'
import {
  OPSETS,
  modelPreset,
  optimizerName,
  sweepSpec,
  trainMode,
  type DatasetSummary,
  type EventPayload,
  type ModelSpec,
  type Partition,
  type SweepSpec,
  type ModelPreset,
  type OptimizerName,
  type RequestArgs,
  type RequestName,
  type RequestResult,
  type TrainMode
} from '../shared/contract'
import { LabError } from '../shared/errors'
import { openLab, type Lab } from '../lab'
import { version } from '../core/version'
import { errorText } from '../shared/format'
import { startServer } from './server'
import { hiddenSizes, imageSize, modeList, nonNegativeInt, positiveInt, positiveNumber, unitInterval } from './cliFlags'
import { type CliIo, describeDataset, describeRun, pct, progressBar, table } from './cliText'
import { describeStudy, studyJson } from './cliStudy'
import { studyProgressText } from '../shared/studyText'

interface GlobalOptions {
  home?: string
  json?: boolean
  debug?: boolean
}

const processIo: CliIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  isTty: Boolean(process.stderr.isTTY)
}

async function call<K extends RequestName>(lab: Lab, name: K, args: RequestArgs<K>): Promise<RequestResult<K>> {
  const response = await lab.router.handle(name, args)
  if (!response.ok) throw new LabError(response.error.message, response.error.code)
  return response.result as RequestResult<K>
}

function findBrowser(): string | null {
  const names = ['chromium', 'chromium-browser', 'google-chrome', 'google-chrome-stable']
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    for (const name of names) {
      const candidate = path.join(dir, name)
      if (fs.existsSync(candidate)) return candidate
    }
  }
  return null
}

interface ModelFlags {
  preset?: ModelPreset
  hidden?: number[]
  model?: string
  optimizer?: OptimizerName
  lr?: number
  momentum?: number
}

/** A dataset id, or a file or folder to import first. */
async function datasetOf(lab: Lab, data: string, target: string | undefined): Promise<DatasetSummary> {
  const datasets = await call(lab, 'datasets.list', {})
  const known = datasets.find((d) => d.datasetId === data)
  if (known) return known
  if (!fs.existsSync(data)) throw new LabError(`${data}: no such file, folder or dataset id`)
  return call(lab, 'datasets.import', { path: path.resolve(data), target })
}

/** The model of --preset/--hidden or --model SPEC.json, with --optimizer/--lr/--momentum applied to every block. */
async function modelOf(lab: Lab, datasetId: string, o: ModelFlags): Promise<{ spec: ModelSpec; partition: Partition }> {
  let { spec, partition } = await call(lab, 'models.default', { datasetId, preset: o.preset, hidden: o.hidden })
  if (o.model) {
    let parsed: { spec?: unknown; partition?: unknown } & Record<string, unknown>
    try {
      parsed = JSON.parse(fs.readFileSync(o.model, 'utf8'))
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
  }
  return { spec, partition }
}

/** A sweep file: read and checked here, so its errors name the file. */
function readSweep(file: string): SweepSpec {
  let raw: unknown
  try {
    raw = JSON.parse(fs.readFileSync(file, 'utf8'))
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

/** Where the built renderer is: next to out/main when built, else the project's out/renderer. */
export function rendererDir(): string {
  const candidates = [path.join(__dirname, '../renderer'), path.resolve(__dirname, '../../out/renderer')] as const
  return candidates.find((dir) => fs.existsSync(path.join(dir, 'index.html'))) ?? candidates[0]
}

export function buildProgram(io: CliIo, state: { lab?: Lab; keepAlive?: Promise<void> }): Command {
  const program = new Command()
  const opened = async (): Promise<Lab> => {
    const o = program.opts<GlobalOptions>()
    state.lab ??= await openLab({ home: o.home, debug: o.debug })
    return state.lab
  }
  const json = () => Boolean(program.opts<GlobalOptions>().json)
  const print = (value: unknown, human: () => string) => io.out(json() ? JSON.stringify(value, null, 2) + '\n' : human())

  program
    .name('layerlab')
    .description('LayerLab: import data, build a network, train it end-to-end or layer-wise, compare runs, export to ONNX.')
    .version(version, '-v, --version')
    .option('--home <dir>', 'data home (default: $LAYERLAB_HOME, else the per-user app-data folder shared with the desktop app)')
    .option('--json', 'print one JSON value on stdout')
    .option('--debug', 'print stack traces of internal errors')
    .showHelpAfterError('(run layerlab --help for usage)')
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(s) })
    .exitOverride()

  program
    .command('serve')
    .description('serve the app on loopback for a browser (the web shell) and print its URL')
    .option('--port <n>', 'port (default: a free one)', nonNegativeInt('--port'))
    .option('--host <host>', 'loopback address to listen on', '127.0.0.1')
    .option('--no-open', 'do not open a browser window')
    .action(async (o: { port?: number; host: string; open: boolean }) => {
      const lab = await opened()
      const shell = await startServer(lab, { host: o.host, port: o.port, rendererDir: rendererDir() })
      if (json()) io.out(JSON.stringify({ url: shell.url, port: shell.port, home: lab.home }) + '\n')
      else io.out(`LayerLab web shell: ${shell.url}\n`)
      if (o.open) {
        const browser = findBrowser()
        if (browser) spawn(browser, [`--app=${shell.url}`], { detached: true, stdio: 'ignore' }).unref()
        else if (!json()) io.err('no Chromium or Chrome found: open the URL above in a browser\n')
      }
      state.keepAlive = new Promise<void>((resolve) => {
        const stop = () => void shell.close().then(resolve)
        process.once('SIGINT', stop)
        process.once('SIGTERM', stop)
      })
    })

  program
    .command('import')
    .description('import a CSV/TSV table or a folder of images sorted into class folders')
    .argument('<path>', 'a .csv/.tsv file or a folder')
    .option('--name <name>', 'dataset name (default: the file or folder name)')
    .option('--target <column>', 'target column (default: detected, else the last column)')
    .option('--delimiter <c>', 'field delimiter: , ; tab | (default: detected)')
    .option('--encoding <e>', 'utf-8, utf-16le, windows-1252, … (default: detected)')
    .option('--image-size <WxH>', 'resize images to WxH (default: the most common size, at most 64x64)', imageSize)
    .action(
      async (
        file: string,
        o: { name?: string; target?: string; delimiter?: string; encoding?: string; imageSize?: { width: number; height: number } }
      ) => {
        const lab = await opened()
        const bar = progressBar(io, io.isTty && !json())
        const stop = lab.events.subscribe((event, payload) => {
          if (event !== 'dataset.progress') return
          const p = payload as EventPayload<'dataset.progress'>
          bar.draw(`${p.rows.toLocaleString('en')} rows`, p.totalBytes ? p.bytes / p.totalBytes : 0)
        })
        try {
          const delimiter = o.delimiter === 'tab' || o.delimiter === '\\t' ? '\t' : o.delimiter
          const summary = await call(lab, 'datasets.import', {
            path: path.resolve(file),
            name: o.name,
            target: o.target,
            delimiter,
            encoding: o.encoding,
            imageSize: o.imageSize
          })
          bar.done()
          print(summary, () => describeDataset(summary))
        } finally {
          stop()
        }
      }
    )

  program
    .command('datasets')
    .description('list imported datasets')
    .action(async () => {
      const list = await call(await opened(), 'datasets.list', {})
      print(list, () => (list.length ? list.map(describeDataset).join('') : 'no datasets yet: layerlab import PATH\n'))
    })

  program
    .command('train')
    .description('train a model on a dataset (a path is imported first)')
    .requiredOption('--data <path|id>', 'a dataset id, or a file/folder to import')
    .option('--target <column>', 'target column when importing')
    .addOption(new Option('--preset <name>', 'model preset').choices(modelPreset.options))
    .option('--hidden <sizes>', 'hidden layer sizes of the mlp preset', hiddenSizes)
    .option('--model <spec.json>', 'a model spec file ({version, inputShape, layers}; optional partition)')
    .addOption(new Option('--mode <mode>', 'training mode').choices(trainMode.options).default(trainMode.options[0]))
    .option('--epochs <n>', 'epochs (layer-wise: per block)', positiveInt('--epochs'))
    .option('--batch-size <n>', 'batch size', positiveInt('--batch-size'))
    .addOption(new Option('--optimizer <name>', 'optimizer of every block').choices(optimizerName.options))
    .option('--lr <x>', 'learning rate of every block', positiveNumber('--lr'))
    .option('--momentum <x>', 'momentum of every block', unitInterval('--momentum'))
    .option('--seed <n>', 'seed for initialisation and shuffling', nonNegativeInt('--seed'))
    .option('--name <name>', 'run name')
    .action(
      async (o: {
        data: string
        target?: string
        preset?: ModelPreset
        hidden?: number[]
        model?: string
        mode: TrainMode
        epochs?: number
        batchSize?: number
        optimizer?: OptimizerName
        lr?: number
        momentum?: number
        seed?: number
        name?: string
      }) => {
        const lab = await opened()
        const dataset = await datasetOf(lab, o.data, o.target)
        const { spec, partition } = await modelOf(lab, dataset.datasetId, o)
        for (const block of partition.blocks) if (o.epochs && o.mode === 'layer-wise') block.settings.epochs = o.epochs
        const config = {
          mode: o.mode,
          ...(o.epochs ? { epochs: o.epochs } : {}),
          ...(o.batchSize ? { batchSize: o.batchSize } : {}),
          ...(o.seed !== undefined ? { seed: o.seed } : {})
        }
        const bar = progressBar(io, io.isTty && !json())
        let runId = ''
        let lastStage = ''
        const stop = lab.events.subscribe((event, payload) => {
          if (event !== 'train.progress') return
          const p = payload as EventPayload<'train.progress'>
          if (p.runId !== runId) return
          const stage = p.phase === 'block' ? `${p.blockName} (${p.block + 1}/${p.blockCount})` : p.phase
          // One bar per block: a new stage starts a new line, so each finished block's bar stays on screen.
          if (lastStage && stage !== lastStage) bar.finish()
          lastStage = stage
          bar.draw(
            `${stage} epoch ${p.epoch}/${p.epochs} loss ${p.loss.toFixed(3)} acc ${(p.accuracy * 100).toFixed(1)}% ${Math.round(p.samplesPerSec)}/s`,
            (p.epoch - 1 + p.batch / Math.max(1, p.batches)) / p.epochs
          )
        })
        const onInterrupt = () => {
          if (runId) void call(lab, 'train.cancel', { runId }).catch(() => undefined)
        }
        process.once('SIGINT', onInterrupt)
        try {
          ;({ runId } = await call(lab, 'train.start', { datasetId: dataset.datasetId, spec, partition, config, name: o.name }))
          await call(lab, 'runs.wait', { runId })
        } finally {
          process.off('SIGINT', onInterrupt)
          stop()
          bar.done()
        }
        const run = await call(lab, 'runs.get', { runId })
        if (json()) {
          const { epochs: _epochs, ...rest } = run
          print({ ...rest, epochCount: _epochs.length }, () => '')
        } else io.out(describeRun(run))
        if (run.status === 'failed') throw new LabError(`run ${run.runId} failed: ${run.error ?? 'unknown error'}`)
      }
    )

  program
    .command('study')
    .description('train every configuration on repeated seeds or k-fold cross-validation and compare them with intervals and a paired test')
    .option('--data <path|id>', 'a dataset id, or a file/folder to import')
    .option('--target <column>', 'target column when importing')
    .option('--compare <modes>', 'configurations: training modes to compare', modeList, ['end-to-end', 'layer-wise'])
    .option('--sweep <spec.json>', 'a grid or random search over settings ({method, samples, params: {learningRate, epochs, hidden, …}})')
    .option('--seeds <k>', 'k fresh stratified 70/15/15 splits and seeds (default 5)', positiveInt('--seeds'))
    .option('--folds <k>', 'k-fold stratified cross-validation', positiveInt('--folds'))
    .option('--repeats <r>', 'repeat the k-fold cross-validation r times', positiveInt('--repeats'))
    .option('--first-seed <n>', 'seed of the first split (the rest follow)', nonNegativeInt('--first-seed'))
    .option('--workers <n>', 'training workers at once, each single-threaded (default: one per core)', positiveInt('--workers'))
    .option('--resume <studyId>', 'run the members an interrupted or cancelled study is missing')
    .addOption(new Option('--preset <name>', 'model preset').choices(modelPreset.options))
    .option('--hidden <sizes>', 'hidden layer sizes of the mlp preset', hiddenSizes)
    .option('--model <spec.json>', 'a model spec file ({version, inputShape, layers}; optional partition)')
    .option('--epochs <n>', 'epochs (end-to-end, and each block layer-wise)', positiveInt('--epochs'))
    .option('--batch-size <n>', 'batch size', positiveInt('--batch-size'))
    .addOption(new Option('--optimizer <name>', 'optimizer of every block').choices(optimizerName.options))
    .option('--lr <x>', 'learning rate of every block', positiveNumber('--lr'))
    .option('--momentum <x>', 'momentum of every block', unitInterval('--momentum'))
    .option('--name <name>', 'study name')
    .action(
      async (
        o: ModelFlags & {
          data?: string
          target?: string
          compare: TrainMode[]
          sweep?: string
          seeds?: number
          folds?: number
          repeats?: number
          firstSeed?: number
          workers?: number
          resume?: string
          epochs?: number
          batchSize?: number
          name?: string
        }
      ) => {
        const lab = await opened()
        let studyId: string
        if (o.resume) {
          ;({ studyId } = await call(lab, 'studies.resume', { studyId: o.resume, workers: o.workers }))
        } else {
          if (!o.data) throw new LabError('study: --data PATH|ID is required (or --resume STUDY_ID)')
          if (o.seeds !== undefined && o.folds !== undefined) throw new LabError('study: choose --seeds K or --folds K, not both')
          if (o.repeats !== undefined && o.folds === undefined)
            throw new LabError('study: --repeats repeats a k-fold cross-validation; add --folds K')
          const sweep = o.sweep ? readSweep(o.sweep) : undefined
          const dataset = await datasetOf(lab, o.data, o.target)
          const { spec, partition } = await modelOf(lab, dataset.datasetId, o)
          if (o.epochs) for (const block of partition.blocks) block.settings.epochs = o.epochs
          const config = { ...(o.epochs ? { epochs: o.epochs } : {}), ...(o.batchSize ? { batchSize: o.batchSize } : {}) }
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
            workers: o.workers
          }))
        }
        if (!json()) io.err(`study ${studyId}\n`)
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

  program
    .command('runs')
    .description('list runs, newest first')
    .action(async () => {
      const runs = await call(await opened(), 'runs.list', {})
      print(runs, () =>
        runs.length
          ? table([
              ['RUN', 'NAME', 'DATASET', 'MODE', 'STATUS', 'BACKEND', 'TEST ACC', 'CREATED'],
              ...runs.map((r) => [
                r.runId,
                r.name,
                r.datasetName,
                r.mode,
                r.status,
                r.backend,
                pct(r.metrics?.testAccuracy),
                r.createdAt.slice(0, 19).replace('T', ' ')
              ])
            ])
          : 'no runs yet: layerlab train --data PATH\n'
      )
    })

  program
    .command('show')
    .description('show a run with its per-epoch metrics and artifacts, or a study (st-…) with its statistics')
    .argument('<runId|studyId>')
    .action(async (id: string) => {
      if (id.startsWith('st-')) {
        const detail = await call(await opened(), 'studies.get', { studyId: id })
        return print(studyJson(detail), () => describeStudy(detail))
      }
      const run = await call(await opened(), 'runs.get', { runId: id })
      print(run, () => describeRun(run))
    })

  program
    .command('rm')
    .description('delete a run and its files')
    .argument('<runId>')
    .action(async (runId: string) => {
      await call(await opened(), 'runs.delete', { runId })
      print({ runId, deleted: true }, () => `deleted ${runId}\n`)
    })

  program
    .command('export')
    .description('export a run to ONNX and check it against onnxruntime')
    .argument('<runId>')
    .requiredOption('--out <file.onnx>', 'where to write the model')
    .option('--opset <n>', `ONNX opset, ${OPSETS.min}–${OPSETS.max}`, positiveInt('--opset'), OPSETS.default)
    .option('--blocks <k>', 'export only the first k blocks (a feature extractor)', positiveInt('--blocks'))
    .action(async (runId: string, o: { out: string; opset: number; blocks?: number }) => {
      const result = await call(await opened(), 'export.onnx', { runId, out: path.resolve(o.out), opset: o.opset, blocks: o.blocks })
      print(result, () => {
        const p = result.parity
        return `${result.path} (${result.bytes} bytes, opset ${result.opset})\nproof on ${p.samples} samples: max |diff| ${p.maxAbsDiff.toExponential(2)}, same class ${pct(p.argmaxAgreement)} → ${p.pass ? 'pass' : 'FAIL'}\n`
      })
      if (!result.parity.pass) throw new LabError(`${result.path}: the ONNX model does not match tfjs (max |diff| ${result.parity.maxAbsDiff})`)
    })

  program
    .command('predict')
    .description('predict with an ONNX file or a run on a CSV or an image folder')
    .requiredOption('--model <file.onnx|runId>')
    .requiredOption('--data <path>')
    .option('--out <file.csv>', 'write the predictions as CSV')
    .action(async (o: { model: string; data: string; out?: string }) => {
      const model = fs.existsSync(o.model) ? path.resolve(o.model) : o.model
      const result = await call(await opened(), 'predict.run', { model, data: path.resolve(o.data), out: o.out ? path.resolve(o.out) : undefined })
      print(result, () => {
        const head = result.rows
          .slice(0, 20)
          .map((r) => `${r.key}\t${r.prediction}`)
          .join('\n')
        const more = result.rows.length > 20 ? `\n… ${result.rows.length - 20} more` : ''
        const acc = result.accuracy === null ? '' : `\naccuracy ${pct(result.accuracy)} on ${result.rows.length} rows`
        const out = result.out ? `\nwrote ${result.out}` : ''
        return `${head}${more}${acc}${out}\n`
      })
    })

  return program
}

/** Runs the CLI; resolves to the exit code. */
export async function runCli(argv: string[], io: CliIo = processIo): Promise<number> {
  const state: { lab?: Lab; keepAlive?: Promise<void> } = {}
  const program = buildProgram(io, state)
  const debug = argv.includes('--debug')
  try {
    if (argv.length <= 2) {
      program.outputHelp()
      return 0
    }
    await program.parseAsync(argv)
    if (state.keepAlive) await state.keepAlive
    return 0
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return 0
      return 2
    }
    if (error instanceof LabError) io.err(`error: ${error.message}\n`)
    else io.err(debug && error instanceof Error && error.stack ? `${error.stack}\n` : `error: ${errorText(error)}\n`)
    return 1
  } finally {
    await state.lab?.close().catch(() => undefined)
  }
}
