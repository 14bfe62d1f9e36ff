/**
 * The CLI host. Every command goes through the same router as the desktop app and the web shell (so the same
 * validation and errors apply); this file only turns flags into requests and results into text or JSON.
 *
 * Exit codes: 0 done; 1 a user error (one line `error: …` on stderr, the stack only with --debug); 2 a usage error.
 */
import fs from 'node:fs'
import path from 'node:path'
import { spawn } from 'node:child_process'
import { pathToFileURL } from 'node:url'
import { Command, CommanderError, Option } from 'commander'
import {
  OPSETS,
  badRowsChoice,
  blockHead,
  blockLocalLoss,
  modelPreset,
  optimizerName,
  task as taskSchema,
  trainBackend,
  trainMode,
  type BadRowsChoice,
  type BlockHead,
  type BlockLocalLoss,
  type TrainBackend,
  type EventPayload,
  type ModelPreset,
  type OptimizerName,
  type Task,
  type TrainConfig,
  type TrainMode
} from '../shared/contract'
import { DEFAULT_WEIGHT_DECAY } from '../shared/blocks'
import { LabError } from '../shared/errors'
import { openLab, type Lab, type LabOptions } from '../lab'
import { version } from '../core/version'
import { dialectReport, errorText } from '../shared/format'
import { startServer } from './server'
import {
  freezeFraction,
  hiddenSizes,
  imageSize,
  nonNegativeInt,
  nonNegativeNumber,
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
import {
  type CliIo,
  describeDataset,
  describePrediction,
  describeRun,
  forTerminal,
  importProgressText,
  mainFigure,
  pct,
  progressBar,
  table,
  visible
} from './cliText'
import { addStudyCommands, describeStudy, studyJson } from './cliStudy'
import { addWorkerCommand } from './cliWorker'
import { call, datasetOf, modelOf, updateOrDiscard } from './cliRequests'

interface GlobalOptions {
  home?: string
  store?: string
  artifacts?: string
  json?: boolean
  debug?: boolean
}

const processIo: CliIo = {
  out: (text) => process.stdout.write(text),
  err: (text) => process.stderr.write(text),
  isTty: Boolean(process.stderr.isTTY)
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

/** The browser's arguments: an app window on the shell's private launch file (no secret on the command line). */
export function browserArgs(launchFile: string): string[] {
  return [`--app=${pathToFileURL(launchFile).href}`]
}

/** Where the built renderer is: next to out/main when built, else the project's out/renderer. */
export function rendererDir(): string {
  const candidates = [path.join(__dirname, '../renderer'), path.resolve(__dirname, '../../out/renderer')] as const
  return candidates.find((dir) => fs.existsSync(path.join(dir, 'index.html'))) ?? candidates[0]
}

export function buildProgram(io: CliIo, state: { lab?: Lab; keepAlive?: Promise<void> }): Command {
  const program = new Command()
  const opened = async (extra: Pick<LabOptions, 'queue'> = {}): Promise<Lab> => {
    const o = program.opts<GlobalOptions>()
    state.lab ??= await openLab({ home: o.home, store: o.store, artifacts: o.artifacts, debug: o.debug, ...extra })
    return state.lab
  }
  const json = () => Boolean(program.opts<GlobalOptions>().json)
  const print = (value: unknown, human: () => string) => io.out(json() ? JSON.stringify(value, null, 2) + '\n' : forTerminal(human()))
  /** A line for the analyst on stderr (what was set or assumed), left out under --json. */
  const note = (line: string) => {
    if (!json()) io.err(line)
  }

  program
    .name('layerlab')
    .description('LayerLab: import data, build a network, train it end-to-end or layer-wise, compare runs, export to ONNX.')
    .version(version, '-v, --version')
    .option('--home <dir>', 'data home (default: $LAYERLAB_HOME, else the per-user app-data folder shared with the desktop app)')
    .option(
      '--store <url>',
      'the history: postgres://user:password@host:port/db for a shared one, ?sslmode=require for TLS (default: $LAYERLAB_STORE, else the SQLite file in the data home)'
    )
    .option(
      '--artifacts <dir>',
      'where datasets, weights and ONNX files go (default: $LAYERLAB_ARTIFACTS, else the data home); with a shared store, a folder every machine mounts'
    )
    .option('--json', 'print one JSON value on stdout')
    .option('--debug', 'print stack traces of internal errors')
    .showHelpAfterError('(run layerlab --help for usage)')
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: (s) => io.err(forTerminal(s)) })
    .exitOverride()

  program
    .command('serve')
    .description('serve the app on loopback for a browser (the web shell) and print its URL')
    .option('--port <n>', 'port (default: a free one)', nonNegativeInt('--port'))
    .option('--host <host>', 'loopback address to listen on', '127.0.0.1')
    .option('--no-open', 'do not open a browser window')
    .option(
      '--max-upload-mb <n>',
      'the most one upload (a file or a folder) may hold (default: $LAYERLAB_MAX_UPLOAD_MB, else 1024)',
      positiveNumber('--max-upload-mb')
    )
    .option('--queue <url>', 'the study queue (redis://HOST:PORT) the app offers, lists the workers of and hears (default: $LAYERLAB_QUEUE)')
    .action(async (o: { port?: number; host: string; open: boolean; maxUploadMb?: number; queue?: string }) => {
      const lab = await opened(o.queue ? { queue: o.queue } : {})
      const maxUploadBytes = o.maxUploadMb !== undefined ? Math.round(o.maxUploadMb * 1024 * 1024) : undefined
      const shell = await startServer(lab, { host: o.host, port: o.port, rendererDir: rendererDir(), maxUploadBytes })
      if (json()) io.out(JSON.stringify({ url: shell.url, port: shell.port, home: lab.home, store: lab.store }) + '\n')
      else io.out(`LayerLab web shell: ${shell.url}\n`)
      if (o.open) {
        const browser = findBrowser()
        // Never the token on the browser's command line (every local user can read it): a private file with a single-use code.
        if (browser) spawn(browser, browserArgs(shell.launchFile()), { detached: true, stdio: 'ignore' }).unref()
        else note('no Chromium or Chrome found: open the URL above in a browser\n')
      }
      state.keepAlive = new Promise<void>((resolve) => {
        const stop = () => void shell.close().then(resolve)
        process.once('SIGINT', stop)
        process.once('SIGTERM', stop)
      })
    })

  program
    .command('import')
    .description('import a table (CSV/TSV, .csv.gz, Excel/ODS workbook, Parquet, JSON Lines) or a folder of images sorted into class folders')
    .argument('<path>', 'a .csv/.tsv/.csv.gz/.xlsx/.xls/.ods/.parquet/.jsonl file or a folder')
    .option('--name <name>', 'dataset name (default: the file or folder name)')
    .option('--target <column>', 'target column (default: detected, else the last column)')
    .addOption(
      new Option('--task <task>', 'predict classes or a number (default: numbers with fractions or over 20 distinct values: regression)').choices(
        taskSchema.options
      )
    )
    .option('--delimiter <c>', 'field delimiter: , ; tab | space … (default: detected)')
    .option('--encoding <e>', 'utf-8, utf-16le, windows-1252, … (default: detected)')
    .option('--quote <c>', 'quote character: \'"\', "\'", or "" for none (default: detected)')
    .option('--escape <c>', 'character before a quote inside quotes: the quote itself or \\ (default: detected)')
    .option('--skip <n>', 'lines above the table to skip (default: detected)', nonNegativeInt('--skip'))
    .option('--header', 'the first row names the columns (default: detected)')
    .option('--no-header', 'the first row is data')
    .addOption(new Option('--decimal <mark>', 'decimal mark (default: detected)').choices(['.', ',']))
    .option('--sheet <name>', 'workbooks: the sheet to read (default: the first one with data)')
    .addOption(
      new Option('--bad-rows <what>', 'rows that do not fit the table: set aside (skip), pad short ones, or refuse the file').choices(
        badRowsChoice.options
      )
    )
    .addOption(datesFlag())
    .option('--image-size <WxH>', 'resize images to WxH (default: the most common size, at most 64x64)', imageSize)
    .action(
      async (
        file: string,
        o: {
          name?: string
          target?: string
          task?: Task
          delimiter?: string
          encoding?: string
          quote?: string
          escape?: string
          skip?: number
          header?: boolean
          decimal?: '.' | ','
          sheet?: string
          badRows?: BadRowsChoice
          imageSize?: { width: number; height: number }
          dates?: DateChoice[]
        }
      ) => {
        const lab = await opened()
        const bar = progressBar(io, io.isTty && !json())
        const importId = `cli-${process.pid}-${Date.now()}`
        const stop = lab.events.subscribe((event, payload) => {
          if (event !== 'dataset.progress') return
          const p = payload as EventPayload<'dataset.progress'>
          if (p.importId !== importId) return
          bar.draw(importProgressText(p), p.totalBytes ? p.bytes / p.totalBytes : 0)
        })
        // Ctrl-C stops the import; nothing of it is kept.
        const onInterrupt = () => void call(lab, 'datasets.cancelImport', { importId }).catch(() => undefined)
        process.once('SIGINT', onInterrupt)
        try {
          const delimiter = o.delimiter === 'tab' || o.delimiter === '\\t' ? '\t' : o.delimiter === 'space' ? ' ' : o.delimiter
          let summary = await call(lab, 'datasets.import', {
            path: path.resolve(file),
            name: o.name,
            target: o.target,
            task: o.task,
            delimiter,
            encoding: o.encoding,
            quote: o.quote,
            escape: o.escape,
            skip: o.skip,
            header: o.header,
            decimalComma: o.decimal === undefined ? undefined : o.decimal === ',',
            sheet: o.sheet,
            badRows: o.badRows,
            imageSize: o.imageSize,
            importId
          })
          bar.done()
          // Date parts are a column choice like any other: stored with the dataset, the recipe fitted again. Which
          // columns hold dates is known only once the file is read: a refused choice takes the new dataset with it.
          if (o.dates?.length) summary = await updateOrDiscard(lab, summary.datasetId, { columns: o.dates })
          const dialect = summary.parse.csv ? dialectReport(summary.parse.csv) : null
          print({ ...summary, dialect }, () => describeDataset(summary))
        } finally {
          process.off('SIGINT', onInterrupt)
          stop()
        }
      }
    )

  const datasets = program.command('datasets').description('list imported datasets, or export one (datasets export ID --out FILE)')
  datasets
    .command('list', { isDefault: true })
    .description('list imported datasets')
    .action(async () => {
      const list = await call(await opened(), 'datasets.list', {})
      print(list, () => (list.length ? list.map(describeDataset).join('') : 'no datasets yet: layerlab import PATH\n'))
    })
  datasets
    .command('export')
    .description('write a table as LayerLab parsed it (every column, parsed values, the original names) to CSV or Parquet')
    .argument('<datasetId>')
    .requiredOption('--out <file>', 'FILE.csv or FILE.parquet')
    .option('--force', 'replace --out if it exists')
    .action(async (datasetId: string, o: { out: string; force?: boolean }) => {
      const result = await call(await opened(), 'datasets.export', { datasetId, out: path.resolve(o.out), overwrite: Boolean(o.force) })
      print(
        result,
        () =>
          `${visible(result.path)} (${result.format}, ${result.rows.toLocaleString('en')} rows × ${result.columns} columns, ${result.bytes.toLocaleString('en')} bytes)\n`
      )
    })

  program
    .command('train')
    .description('train a model on a dataset (a path is imported first)')
    .requiredOption('--data <path|id>', 'a dataset id, or a file/folder to import')
    .addOption(targetFlag())
    .addOption(taskFlag())
    .addOption(datesFlag())
    .addOption(lossFlag())
    .addOption(classWeightsFlag())
    .addOption(new Option('--preset <name>', 'model preset').choices(modelPreset.options))
    .option('--hidden <sizes>', 'hidden layer sizes of the mlp preset', hiddenSizes)
    .option('--model <spec.json>', 'a model spec file ({version, inputShape, layers}; optional partition)')
    .addOption(new Option('--mode <mode>', 'training mode').choices(trainMode.options).default(trainMode.options[0]))
    .option('--epochs <n>', 'epochs (layer-wise: per block)', positiveInt('--epochs'))
    .addOption(new Option('--head <design>', 'auxiliary head of every block (layer-wise, decoupled)').choices(blockHead.options))
    .addOption(
      new Option('--local-loss <kind>', 'local loss of every block besides its head (layer-wise, decoupled; default none)').choices(
        blockLocalLoss.options
      )
    )
    .option(
      '--local-loss-weight <w>',
      'weight of the local loss (block loss = head loss + w · local loss; default 1)',
      nonNegativeNumber('--local-loss-weight')
    )
    .option('--pipeline', 'decoupled: one worker thread per block, a bounded queue between them')
    .option('--freeze-out <t0>', 'end-to-end, decoupled: FreezeOut, the first block freezes after this fraction of the epochs', freezeFraction)
    .option('--batch-size <n>', 'batch size', positiveInt('--batch-size'))
    .addOption(new Option('--optimizer <name>', 'optimizer of every block').choices(optimizerName.options))
    .option('--lr <x>', 'learning rate of every block', positiveNumber('--lr'))
    .option('--momentum <x>', 'momentum of every block', unitInterval('--momentum'))
    .option('--weight-decay <x>', `L2 coefficient of every block (default ${DEFAULT_WEIGHT_DECAY})`, weightDecayRate)
    .option('--seed <n>', 'seed for initialisation and shuffling', nonNegativeInt('--seed'))
    .option('--name <name>', 'run name')
    .addOption(
      new Option(
        '--backend <name>',
        'where to train (auto: webgpu on a GPU for big enough models, else wasm; default $LAYERLAB_BACKEND or auto)'
      ).choices(trainBackend.options)
    )
    .action(
      async (o: {
        data: string
        target?: string
        task?: Task
        dates?: DateChoice[]
        loss?: TrainConfig['loss']
        classWeights?: TrainConfig['classWeights']
        preset?: ModelPreset
        hidden?: number[]
        model?: string
        mode: TrainMode
        epochs?: number
        head?: BlockHead
        localLoss?: BlockLocalLoss
        localLossWeight?: number
        pipeline?: boolean
        freezeOut?: number
        batchSize?: number
        optimizer?: OptimizerName
        lr?: number
        momentum?: number
        weightDecay?: number
        seed?: number
        name?: string
        backend?: TrainBackend
      }) => {
        const lab = await opened()
        const dataset = await datasetOf(lab, o, note)
        const { spec, partition } = await modelOf(lab, dataset.datasetId, o)
        for (const block of partition.blocks) if (o.epochs && o.mode === 'layer-wise') block.settings.epochs = o.epochs
        const config = {
          mode: o.mode,
          ...(o.pipeline ? { decoupled: { pipeline: true, queue: 2 } } : {}),
          ...(o.freezeOut !== undefined ? { freezeOut: { enabled: true, firstFreeze: o.freezeOut } } : {}),
          ...(o.epochs ? { epochs: o.epochs } : {}),
          ...(o.batchSize ? { batchSize: o.batchSize } : {}),
          ...(o.seed !== undefined ? { seed: o.seed } : {}),
          ...(o.loss ? { loss: o.loss } : {}),
          ...(o.classWeights ? { classWeights: o.classWeights } : {}),
          ...(o.backend ? { backend: o.backend } : {})
        }
        const bar = progressBar(io, io.isTty && !json())
        let runId = ''
        let lastStage = ''
        const stop = lab.events.subscribe((event, payload) => {
          if (event === 'train.backend') {
            // One line on stderr (stdout stays the result): where the run trains, and why not elsewhere.
            const b = payload as EventPayload<'train.backend'>
            if (b.runId === runId || !runId) io.err(`training on ${b.reason.startsWith(b.backend) ? b.reason : `${b.backend}: ${b.reason}`}\n`)
            return
          }
          if (event !== 'train.progress') return
          const p = payload as EventPayload<'train.progress'>
          if (p.runId !== runId) return
          const stage =
            p.phase === 'block' && p.block >= 0 ? `${p.blockName} (${p.block + 1}/${p.blockCount})` : p.phase === 'block' ? p.blockName : p.phase
          // One bar per block: a new stage starts a new line, so each finished block's bar stays on screen.
          if (lastStage && stage !== lastStage) bar.finish()
          lastStage = stage
          bar.draw(
            `${stage} epoch ${p.epoch}/${p.epochs} loss ${p.loss.toPrecision(4)} ${dataset.task === 'regression' ? `R² ${p.accuracy.toFixed(3)}` : `acc ${(p.accuracy * 100).toFixed(1)}%`} ${Math.round(p.samplesPerSec)}/s`,
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
        } else io.out(forTerminal(describeRun(run)))
        if (run.status === 'failed') throw new LabError(`run ${run.runId} failed: ${run.error ?? 'unknown error'}`)
      }
    )

  addStudyCommands(program, { io, opened, json, print, note })
  // Study queue (issue 19): `layerlab worker --queue redis://…`.
  addWorkerCommand(program, { io, open: opened, keepAlive: (until) => void (state.keepAlive = until) })

  program
    .command('runs')
    .description('list runs, newest first')
    .action(async () => {
      const runs = await call(await opened(), 'runs.list', {})
      print(runs, () =>
        runs.length
          ? table([
              ['RUN', 'NAME', 'DATASET', 'TASK', 'MODE', 'STATUS', 'BACKEND', 'TEST SCORE', 'CREATED'],
              ...runs.map((r) => [
                r.runId,
                r.name,
                r.datasetName,
                r.task,
                r.mode,
                r.status,
                r.backend,
                mainFigure(r),
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
    .option('--force', 'replace --out if it exists')
    .action(async (runId: string, o: { out: string; opset: number; blocks?: number; force?: boolean }) => {
      const result = await call(await opened(), 'export.onnx', {
        runId,
        out: path.resolve(o.out),
        opset: o.opset,
        blocks: o.blocks,
        overwrite: Boolean(o.force)
      })
      print(result, () => {
        const p = result.parity
        const agreement =
          p.relativeDiff !== undefined
            ? `${p.relativeDiff.toExponential(2)} of the target's std (${p.scale?.toPrecision(4)})`
            : `same class ${pct(p.argmaxAgreement)}`
        return `${result.path} (${result.bytes} bytes, opset ${result.opset})\nproof on ${p.samples} samples: max |diff| ${p.maxAbsDiff.toExponential(2)}, ${agreement} → ${p.pass ? 'pass' : 'FAIL'}\n`
      })
      if (!result.parity.pass) throw new LabError(`${result.path}: the ONNX model does not match tfjs (max |diff| ${result.parity.maxAbsDiff})`)
    })

  program
    .command('predict')
    .description('predict with an ONNX file or a run on a CSV or an image folder')
    .requiredOption('--model <file.onnx|runId>')
    .requiredOption('--data <path>')
    .option('--out <file.csv>', 'write the predictions as CSV')
    .option('--force', 'replace --out if it exists')
    .action(async (o: { model: string; data: string; out?: string; force?: boolean }) => {
      const model = fs.existsSync(o.model) ? path.resolve(o.model) : o.model
      const result = await call(await opened(), 'predict.run', {
        model,
        data: path.resolve(o.data),
        out: o.out ? path.resolve(o.out) : undefined,
        overwrite: Boolean(o.force)
      })
      print(result, () => describePrediction(result))
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
    // Messages name files and values from the user's data: one line, with terminal controls made visible.
    if (error instanceof LabError) io.err(`error: ${visible(error.message)}\n`)
    else io.err(debug && error instanceof Error && error.stack ? forTerminal(`${error.stack}\n`) : `error: ${visible(errorText(error))}\n`)
    return 1
  } finally {
    await state.lab?.close().catch(() => undefined)
  }
}
