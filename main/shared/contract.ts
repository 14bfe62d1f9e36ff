/**
 * The one API contract of LayerLab.
 *
 * Every request the renderer (or any host) can make is listed in `requests`: its name, the zod schema of its
 * arguments (validated at run time where a request enters, see router.ts) and the schema of its result (used for
 * types only). Every event the main side pushes is listed in `events`. Hosts, preload, web client and stores all
 * take their types from here, so a request name or argument that does not exist cannot be written.
 *
 * This file is imported by the renderer too: it must only depend on zod.
 */
import { z } from 'zod'

// ---------------------------------------------------------------- shared domain schemas

export const columnType = z.enum(['number', 'integer', 'boolean', 'category', 'text', 'date'])
export type ColumnType = z.infer<typeof columnType>

/**
 * The features a date column gives the model: the year, the month and the day of the week (one-hot), the day of the
 * month, and a trend in days since the first training date. A date column is never dropped silently: it has
 * these parts, or the user excludes it.
 */
export const datePart = z.enum(['year', 'month', 'weekday', 'day', 'days'])
export type DatePart = z.infer<typeof datePart>
export { DEFAULT_DATE_PARTS } from './importFacts'
/** How a column's text reads as dates: year-month-day, day/month/year, month/day/year, or with month names. */
export const dateOrder = z.enum(['ymd', 'dmy', 'mdy', 'dMy', 'Mdy'])
export type DateOrder = z.infer<typeof dateOrder>
/** The orders a user may choose for a date column whose values never told the day from the month. */
export const chosenDateOrder = z.enum(['dmy', 'mdy'])
export type ChosenDateOrder = z.infer<typeof chosenDateOrder>

export const columnProfile = z.object({
  name: z.string(),
  type: columnType,
  missing: z.number().int(),
  distinct: z.number().int(),
  /** feature: fed to the model; target: the label; excluded: left out (reason says why). */
  role: z.enum(['feature', 'target', 'excluded']),
  excludedReason: z.enum(['constant', 'id', 'text', 'user']).optional(),
  min: z.number().optional(),
  max: z.number().optional(),
  mean: z.number().optional(),
  std: z.number().optional(),
  /** Counts over equal-width bins between min and max (numbers only). */
  histogram: z.array(z.number()).optional(),
  top: z.array(z.object({ value: z.string(), count: z.number().int() })).optional(),
  /**
   * Date columns: how the text was read (ambiguous: no value told day from month, so the usual order was taken),
   * the first and last date (ISO), and the parts the model gets (empty when the column is excluded).
   */
  date: z.object({ order: dateOrder, ambiguous: z.boolean(), first: z.string(), last: z.string(), parts: z.array(datePart) }).optional()
})
export type ColumnProfile = z.infer<typeof columnProfile>

/** What a model predicts from a dataset: one of its classes, or a number (see shared/task.ts for the rule). */
export const task = z.enum(['classification', 'regression'])
export type Task = z.infer<typeof task>

export const classCount = z.object({ label: z.string(), count: z.number().int() })
export type ClassCount = z.infer<typeof classCount>

export const skippedFile = z.object({ path: z.string(), reason: z.string() })
export type SkippedFile = z.infer<typeof skippedFile>

/** How missing numbers are filled in and numbers scaled; fitted on the train part only. */
export const imputation = z.enum(['mean', 'median'])
export type Imputation = z.infer<typeof imputation>
export const scaling = z.enum(['standard', 'minmax'])
export type Scaling = z.infer<typeof scaling>
export const preparation = z.object({ impute: imputation, scaling })
export type Preparation = z.infer<typeof preparation>
/** What a new table dataset starts with. */
export const DEFAULT_PREPARATION: Preparation = { impute: 'mean', scaling: 'standard' }

/** The CSV dialect an import detected (or was given). */
export const csvDialect = z.object({
  encoding: z.string(),
  bom: z.boolean(),
  delimiter: z.string(),
  /** The quote character ('' for none); escape is the character before a quote inside quotes (often the quote itself). */
  quote: z.string(),
  escape: z.string(),
  header: z.boolean(),
  /** Rows the header spans: 0 (no header), 1, or 2 (a title row over merged cells, then the names). */
  headerRows: z.number().int(),
  /** Lines above the table (a title, notes) that were skipped, the second header row's title line included. */
  skippedLines: z.number().int(),
  decimalComma: z.boolean(),
  /** The sample mixes line ends (\r\n with bare \n or \r): the parser must accept every kind, not just the first seen. */
  mixedLineEnds: z.boolean(),
  compression: z.enum(['none', 'gzip']),
  /** Every line ended with the delimiter: the empty, nameless last column was dropped. */
  droppedTrailingColumn: z.boolean(),
  /** Column names: from the header, or col_1.. without one. */
  names: z.array(z.string())
})
export type CsvDialect = z.infer<typeof csvDialect>

/** A user's choice for one column, kept across refits. */
export const columnOverride = z.object({
  type: columnType.optional(),
  include: z.boolean().optional(),
  /** Date columns: the parts the model gets (default DEFAULT_DATE_PARTS). */
  dateParts: z.array(datePart).optional(),
  /** Date columns none of whose values told day from month: the order the user chose (the column was read again). */
  dateOrder: chosenDateOrder.optional()
})
export type ColumnOverride = z.infer<typeof columnOverride>

/** Table file formats an import reads. */
export const tableFormat = z.enum(['csv', 'parquet', 'jsonl', 'workbook'])
export type TableFormat = z.infer<typeof tableFormat>

/** A row of the file that did not fit the table (a missing or extra separator, a broken quote): set aside, not imported. */
export const setAsideRow = z.object({ line: z.number().int(), problem: z.string(), text: z.string() })
export type SetAsideRow = z.infer<typeof setAsideRow>

/** What an import does with rows that do not fit: set them aside (default), pad short ones with missing values, or refuse the file. */
export const badRowsChoice = z.enum(['skip', 'pad', 'refuse'])
export type BadRowsChoice = z.infer<typeof badRowsChoice>

/** Where a table came from: its format, and for workbooks the sheet read and the sheets there were. */
export const tableSource = z.object({
  format: tableFormat,
  sheet: z.string().optional(),
  sheets: z.array(z.object({ name: z.string(), rows: z.number().int(), columns: z.number().int() })).optional(),
  /** Workbooks: the 1-based sheet row of the header, and the title rows skipped above it. */
  headerRow: z.number().int().optional(),
  titleRows: z.array(z.number().int()).optional(),
  /** Columns read as dates (workbooks and Parquet know them; CSV columns when every value reads as one date format). */
  dateColumns: z.array(z.string()).optional(),
  /** Text columns read as numbers after removing currency signs, thousands separators or percent signs. */
  messyNumbers: z.array(z.string()).optional(),
  /** Rows set aside: how many in all, and the first ones (at most SET_ASIDE_LISTED) with their line and text. */
  setAside: z.object({ total: z.number().int(), rows: z.array(setAsideRow) }).optional(),
  /** A second table further down the file (a line of another width after a blank line): not imported. */
  moreTables: z.object({ line: z.number().int() }).optional()
})
export type TableSource = z.infer<typeof tableSource>
export { SET_ASIDE_LISTED } from './importFacts'

/** What was detected or chosen at import, plus the user's later column choices. */
export const parseSettings = z.object({
  kind: z.enum(['table', 'images']),
  csv: csvDialect.optional(),
  table: tableSource.optional(),
  /** The settings the user gave at import (the rest was detected). */
  requested: z.record(z.string(), z.unknown()).optional(),
  image: z.object({ width: z.number().int(), height: z.number().int(), colorMode: z.enum(['grayscale', 'rgb']) }).optional(),
  overrides: z.record(z.string(), columnOverride),
  preparation,
  /** The task the user chose; absent: the one the target suggests (datasets from before tasks: classification). */
  task: task.optional()
})
export type ParseSettings = z.infer<typeof parseSettings>

export const datasetSummary = z.object({
  datasetId: z.string(),
  name: z.string(),
  kind: z.enum(['table', 'images']),
  sourcePath: z.string(),
  contentHash: z.string(),
  rows: z.number().int(),
  columns: z.array(columnProfile),
  target: z.string().nullable(),
  /** Classification or regression; datasets imported before tasks existed are classification. */
  task,
  /** Why this task: the user's choice, or what the target's values suggest (one line). */
  taskReason: z.string(),
  /** A problem with the target for its task, in one line (too many classes for the rows), or null. */
  targetWarning: z.string().nullable(),
  /** The task the target's values suggest (what the import chose before any change). */
  suggestedTask: task,
  /** Rows without a target value: left out of training and evaluation. */
  unlabeledRows: z.number().int(),
  /** Classification: rows per class. Regression: empty (the target's profile is in `columns`). */
  classes: z.array(classCount),
  skipped: z.array(skippedFile),
  /** Images only: the size every image was resized to. */
  image: z.object({ width: z.number().int(), height: z.number().int(), channels: z.number().int() }).optional(),
  /** Rows in train / validation / test after the stored stratified split. */
  split: z.object({ train: z.number().int(), val: z.number().int(), test: z.number().int(), seed: z.number().int() }),
  /** Number of model inputs after preparation (one-hot expands categories). */
  featureCount: z.number().int(),
  parse: parseSettings,
  createdAt: z.string()
})
export type DatasetSummary = z.infer<typeof datasetSummary>

/** What the profile of an import holds: stored with the dataset, shown in its summary. */
export type DatasetProfile = Pick<DatasetSummary, 'columns' | 'classes' | 'skipped' | 'featureCount' | 'image'> &
  Partial<Pick<DatasetSummary, 'task' | 'taskReason' | 'targetWarning' | 'suggestedTask' | 'unlabeledRows'>>

// ---------------------------------------------------------------- model spec

export const activationName = z.enum(['relu', 'sigmoid', 'tanh', 'softmax', 'elu', 'leakyRelu', 'relu6', 'linear'])
export type ActivationName = z.infer<typeof activationName>
/** leakyRelu takes a slope (alpha): it exists only as an activation layer, never inside a dense or conv layer. */
export const LAYER_ACTIVATIONS = activationName.options.filter((name) => name !== 'leakyRelu')
export type LayerActivation = Exclude<ActivationName, 'leakyRelu'>

const padding = z.enum(['same', 'valid'])
const positiveInt = z.number().int().positive()

export const layerSpec = z.discriminatedUnion('type', [
  z.object({ type: z.literal('dense'), units: positiveInt, activation: activationName.default('linear') }),
  z.object({
    type: z.literal('conv2d'),
    filters: positiveInt,
    kernelSize: positiveInt,
    strides: positiveInt.default(1),
    padding: padding.default('same'),
    activation: activationName.default('linear')
  }),
  z.object({ type: z.literal('maxPooling2d'), poolSize: positiveInt.default(2), strides: positiveInt.optional(), padding: padding.default('valid') }),
  z.object({
    type: z.literal('averagePooling2d'),
    poolSize: positiveInt.default(2),
    strides: positiveInt.optional(),
    padding: padding.default('valid')
  }),
  z.object({ type: z.literal('globalAveragePooling2d') }),
  z.object({ type: z.literal('flatten') }),
  z.object({ type: z.literal('dropout'), rate: z.number().min(0).lt(1) }),
  z.object({ type: z.literal('batchNormalization'), momentum: z.number().min(0).max(1).default(0.99), epsilon: z.number().positive().default(1e-3) }),
  z.object({ type: z.literal('activation'), activation: activationName, alpha: z.number().optional() })
])
export type LayerSpec = z.infer<typeof layerSpec>
export type LayerType = LayerSpec['type']

export const modelSpec = z.object({
  version: z.literal(1),
  /** Without the batch dimension: [features] for tables, [h, w, c] for images. */
  inputShape: z.array(positiveInt).min(1).max(3),
  layers: z.array(layerSpec).min(1)
})
export type ModelSpec = z.infer<typeof modelSpec>

/** The built-in models: the article's MLP and a small CNN for images. */
export const modelPreset = z.enum(['mlp', 'small-cnn', 'cnn-medium'])
export type ModelPreset = z.infer<typeof modelPreset>

export const optimizerName = z.enum(['sgd', 'momentum', 'adam'])
export type OptimizerName = z.infer<typeof optimizerName>

export const blockHead = z.enum(['auto', 'linear', 'mlp', 'conv'])
export type BlockHead = z.infer<typeof blockHead>

export const blockLocalLoss = z.enum(['none', 'predsim'])
export type BlockLocalLoss = z.infer<typeof blockLocalLoss>

export const blockSettings = z.object({
  optimizer: optimizerName.default('adam'),
  learningRate: z.number().positive().max(10).default(0.001),
  momentum: z.number().min(0).lt(1).default(0.9),
  weightDecay: z.number().min(0).max(1).default(0),
  /** Layer-wise mode: epochs of this block's stage. */
  epochs: positiveInt.max(10000).default(30),
  /** Stop the stage when the head's validation accuracy has not improved for this many epochs (0: never). */
  patience: z.number().int().min(0).default(5),
  freezeAfter: z.boolean().default(true),
  schedule: z.enum(['constant', 'step', 'cosine']).default('constant'),
  /** LARS trust ratio per layer: lr_layer = lr · η‖w‖ / (‖g‖ + β‖w‖). */
  lars: z.boolean().default(false),
  /**
   * Auxiliary head this block trains against (layer-wise, decoupled): see train/heads.ts. auto: dense(C) on the
   * block's output, image outputs average-pooled only as far as 2,048 values. linear / mlp: dense(C) /
   * dense(64, relu) → dense(C), image outputs pooled to 2×2 first. conv: conv3×3 (2× channels) + relu → pool to
   * at most 4×4 → dense(C).
   */
  head: blockHead.default('auto'),
  /**
   * A local loss this block trains on besides its head's (layer-wise, decoupled; classification): see
   * train/localLoss.ts. predsim: the batch's similarity matrix of a projection of the block's output matched to the
   * labels' (Nøkland & Eidnes 2019). Off by default: it did not pay on the image presets (README, Local losses).
   */
  localLoss: blockLocalLoss.default('none'),
  /** The local loss's weight: the block's loss is head loss + weight · local loss. */
  localLossWeight: z.number().min(0).max(1000).default(1)
})
export type BlockSettings = z.infer<typeof blockSettings>

export const block = z.object({
  name: z.string().min(1).max(60),
  color: z.string().regex(/^#[0-9a-fA-F]{6}$/),
  /** Layers [start, end) of the model spec. */
  start: z.number().int().min(0),
  end: z.number().int().positive(),
  settings: blockSettings
})
export type Block = z.infer<typeof block>

export const partition = z.object({ blocks: z.array(block).min(1) })
export type Partition = z.infer<typeof partition>

/**
 * end-to-end: all layers at once. layer-wise: greedy, one block after another against its head, then a fine-tune.
 * decoupled (DGL, Belilovsky et al. 2020): every block updates on every batch against its own head, on the
 * previous block's output, with no gradient crossing blocks, so blocks can train at the same time.
 */
export const trainMode = z.enum(['end-to-end', 'layer-wise', 'decoupled'])
export type TrainMode = z.infer<typeof trainMode>

/** The training backends a run can ask for (core/backend.ts decides what auto means on this machine). */
export const trainBackend = z.enum(['auto', 'webgpu', 'wasm', 'cpu'])
export type TrainBackend = z.infer<typeof trainBackend>

/**
 * Which rows a run trains, validates and tests on, when not the dataset's stored 70/15/15 split: a fresh stratified
 * 70/15/15 split from another seed, or fold `fold` of a stratified k-fold assignment from `seed` as the test part
 * (validation: 15 % of the other rows). The recipe (imputation, scaling) is fitted on the run's own train rows.
 */
export const splitSpec = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('holdout'), seed: z.number().int().min(0) }).strict(),
  z
    .object({ kind: z.literal('fold'), folds: z.number().int().min(2).max(100), fold: z.number().int().min(0), seed: z.number().int().min(0) })
    .strict()
    .refine((s) => s.fold < s.folds, { message: 'fold must be below folds', path: ['fold'] })
])
export type SplitSpec = z.infer<typeof splitSpec>

export const trainConfig = z.object({
  mode: trainMode.default('end-to-end'),
  /** End-to-end and decoupled epochs (passes over the data); layer-wise uses each block's own epochs. */
  epochs: positiveInt.max(10000).default(60),
  batchSize: positiveInt.max(65536).default(32),
  seed: z.number().int().min(0).default(42),
  /** End-to-end early stopping on validation accuracy (0: never); the best weights are restored. */
  patience: z.number().int().min(0).default(10),
  /** Layer-wise: fine-tune the whole model end-to-end after the greedy stages. */
  fineTune: z
    .object({ enabled: z.boolean().default(true), epochs: positiveInt.default(10), learningRateFactor: z.number().positive().max(1).default(0.1) })
    .default({ enabled: true, epochs: 10, learningRateFactor: 0.1 }),
  /** Gradual unfreezing (ULMFiT) in end-to-end mode: one more block from the top trains each epoch. */
  gradualUnfreeze: z.boolean().default(false),
  /**
   * Progressive freezing (FreezeOut, Brock et al. 2017), end-to-end and decoupled: block j of K anneals its rate
   * on a cosine to zero and freezes after the fraction t_j = firstFreeze + (1 − firstFreeze)·j/(K − 1) of the
   * epochs, lower blocks first; a frozen block runs forward only.
   */
  freezeOut: z
    .object({ enabled: z.boolean().default(false), firstFreeze: z.number().min(0.1).max(1).default(0.8) })
    .default({ enabled: false, firstFreeze: 0.8 }),
  /**
   * Decoupled mode: pipeline runs one worker thread per block, a bounded queue of `queue` activations between
   * neighbours; off trains the blocks one after another on one thread (the same model, batch for batch).
   */
  decoupled: z
    .object({ pipeline: z.boolean().default(false), queue: z.number().int().min(1).max(64).default(2) })
    .default({ pipeline: false, queue: 2 }),
  /** Image augmentation on training batches: small random rotations (±10°) and shifts (±2 px). */
  augment: z.boolean().default(false),
  /** With augment: also flip images horizontally at random (not for digits or letters). */
  augmentFlip: z.boolean().default(false),
  /** Regression: the loss on the standardised target (Huber: quadratic within 1 std of the truth, linear beyond). */
  loss: z.enum(['mse', 'huber']).default('mse'),
  /** Classification: weigh each row by the inverse of its class's frequency in the train part (balanced). */
  classWeights: z.enum(['none', 'balanced']).default('none'),
  /**
   * Where the run trains. auto: webgpu on a hardware GPU for models with enough work per batch, else wasm (cpu
   * for strided convs); LAYERLAB_BACKEND, when set, decides auto's answer. webgpu also takes a software adapter.
   */
  backend: trainBackend.default('auto'),
  /** Rows other than the stored split (study members); absent: the dataset's stored split. */
  split: splitSpec.optional()
})
export type TrainConfig = z.infer<typeof trainConfig>

// ---------------------------------------------------------------- runs

export const runStatus = z.enum(['queued', 'running', 'completed', 'cancelled', 'failed', 'interrupted'])
export type RunStatus = z.infer<typeof runStatus>

export const classificationMetrics = z.object({
  testAccuracy: z.number(),
  testLoss: z.number(),
  valAccuracy: z.number(),
  trainAccuracy: z.number(),
  /** Rows the test and validation figures are measured on: an accuracy says little without them (absent on older runs). */
  testRows: z.number().int().optional(),
  valRows: z.number().int().optional()
})
export type ClassificationMetrics = z.infer<typeof classificationMetrics>

/** Regression figures in the target's own unit (de-standardised); R² is 1 − SSE/SST over each part's own mean. */
export const regressionMetrics = z.object({
  testR2: z.number(),
  testRmse: z.number(),
  testMae: z.number(),
  /** Mean absolute percentage error; null when a test target is 0. */
  testMape: z.number().nullable(),
  valR2: z.number(),
  valRmse: z.number(),
  trainR2: z.number(),
  /** The training loss (MSE or Huber) on the test part, in the target's unit squared. */
  testLoss: z.number(),
  /** Rows each figure is computed on. */
  testRows: z.number().int(),
  valRows: z.number().int(),
  trainRows: z.number().int()
})
export type RegressionMetrics = z.infer<typeof regressionMetrics>

/** A run's figures: which kind follows from its task (shared/task.ts reads them). */
export const runMetrics = z.union([classificationMetrics, regressionMetrics])
export type RunMetrics = z.infer<typeof runMetrics>

export const epochRow = z.object({
  block: z.number().int(),
  /** The stage: a block's greedy stage, the fine-tune, or the whole model end-to-end. */
  phase: z.enum(['block', 'finetune', 'end-to-end']),
  epoch: z.number().int(),
  /** Regression: in the target's unit squared. */
  loss: z.number(),
  /** The epoch's score: accuracy for classification, R² for regression (shared/task.ts: epochScoreLabel). */
  accuracy: z.number(),
  valLoss: z.number().nullable(),
  valAccuracy: z.number().nullable(),
  learningRate: z.number(),
  samplesPerSec: z.number()
})
export type EpochRow = z.infer<typeof epochRow>

export const blockResult = z.object({
  name: z.string(),
  layers: z.array(z.number().int()),
  epochs: z.number().int(),
  /** The head's best validation score: accuracy for classification, R² for regression. */
  headValAccuracy: z.number().nullable(),
  ms: z.number()
})
export type BlockResult = z.infer<typeof blockResult>

/** What one stage of a run cost (see train/meter.ts). */
export const stageResources = z.object({
  name: z.string(),
  phase: z.enum(['block', 'finetune', 'end-to-end', 'decoupled']),
  /** The block it trains (−1: the whole model). */
  block: z.number().int(),
  /** How many blocks' weights it trains. */
  blocks: z.number().int(),
  /** Tensor bytes live at the heaviest moment of its heaviest training step (weights, activations, tape, gradients). */
  stepPeakBytes: z.number(),
  /** The process's resident memory at its highest during the stage. */
  peakRssBytes: z.number(),
  ms: z.number(),
  /** Rows its training steps ran on (epochs × training rows, fewer when it stopped early). */
  examples: z.number().int()
})
export type StageResources = z.infer<typeof stageResources>

/** What a run cost, stored with it: the figures that show what layer-wise training saves (or does not). */
export const runResources = z.object({
  /** The heaviest stage's step peak (a pipeline: the sum over its blocks, which train at the same time). */
  stepPeakBytes: z.number(),
  peakRssBytes: z.number(),
  /** The backend's own heap at its highest (wasm), summed over a pipeline's workers; null where there is none. */
  backendHeapBytes: z.number().nullable(),
  wallMs: z.number(),
  examples: z.number().int(),
  stages: z.array(stageResources),
  /** Decoupled on worker threads: how many workers, the queue bound, and what was seen of both. */
  pipeline: z
    .object({ workers: z.number().int(), queue: z.number().int(), maxStepsInFlight: z.number().int(), maxQueued: z.number().int() })
    .nullable()
})
export type RunResources = z.infer<typeof runResources>

export const classificationEvaluation = z.object({
  labels: z.array(z.string()),
  confusion: z.array(z.array(z.number().int())),
  perClass: z.array(z.object({ label: z.string(), precision: z.number(), recall: z.number(), f1: z.number(), support: z.number().int() })),
  /**
   * Test rows the model got wrong (at most MAX_MISCLASSIFIED, in test order): the dataset row, the true and predicted
   * class, and the probability the model gave its prediction (runs recorded before it was kept have none).
   */
  misclassified: z.array(z.object({ row: z.number().int(), label: z.string(), predicted: z.string(), confidence: z.number().optional() }))
})
export type ClassificationEvaluation = z.infer<typeof classificationEvaluation>

/** Regression on the test part, in the target's unit: what the plots draw. */
export const regressionEvaluation = z.object({
  target: z.string(),
  /** Test rows in all (the figures), and the points kept for the plots (all of them up to a cap, evenly spaced). */
  rows: z.number().int(),
  points: z.array(z.object({ row: z.number().int(), actual: z.number(), predicted: z.number() })),
  /** Residuals (actual − predicted) over every test row, in equal-width bins from `from` to `to`. */
  residualHistogram: z.object({ from: z.number(), to: z.number(), counts: z.array(z.number().int()) }),
  /** The test rows with the largest |residual| (at most 50), worst first. */
  worst: z.array(z.object({ row: z.number().int(), actual: z.number(), predicted: z.number() }))
})
export type RegressionEvaluation = z.infer<typeof regressionEvaluation>

export const evaluation = z.union([classificationEvaluation, regressionEvaluation])
export type Evaluation = z.infer<typeof evaluation>

export const artifact = z.object({
  artifactId: z.string(),
  kind: z.enum(['weights', 'onnx']),
  path: z.string(),
  bytes: z.number().int(),
  createdAt: z.string(),
  info: z.record(z.string(), z.unknown())
})
export type Artifact = z.infer<typeof artifact>

export const runSummary = z.object({
  runId: z.string(),
  name: z.string(),
  datasetId: z.string(),
  datasetName: z.string(),
  /** Runs from before tasks existed are classification. */
  task,
  mode: trainMode,
  status: runStatus,
  backend: z.string(),
  seed: z.number().int(),
  metrics: runMetrics.nullable(),
  tags: z.array(z.string()),
  notes: z.string(),
  error: z.string().nullable(),
  createdAt: z.string(),
  startedAt: z.string().nullable(),
  endedAt: z.string().nullable()
})
export type RunSummary = z.infer<typeof runSummary>

export const runDetail = runSummary.extend({
  spec: modelSpec,
  partition,
  config: trainConfig,
  epochs: z.array(epochRow),
  blocks: z.array(blockResult),
  evaluation: evaluation.nullable(),
  artifacts: z.array(artifact),
  timing: z.object({ totalMs: z.number(), msPerEpoch: z.number() }).nullable(),
  peakRssBytes: z.number().nullable(),
  /** Runs before issue 18 have none. */
  resources: runResources.nullable()
})
export type RunDetail = z.infer<typeof runDetail>

export const parity = z.object({
  maxAbsDiff: z.number(),
  /** Classification: the share of samples with the same class; regression: 1 (no classes). */
  argmaxAgreement: z.number(),
  samples: z.number().int(),
  pass: z.boolean(),
  /** Regression: maxAbsDiff divided by the target's standard deviation, the figure held to the tolerance. */
  relativeDiff: z.number().optional(),
  /** Regression: the target's standard deviation the difference is measured against. */
  scale: z.number().optional()
})
export type Parity = z.infer<typeof parity>

// ---------------------------------------------------------------- studies

/**
 * How a study evaluates each configuration: `seeds` fresh stratified 70/15/15 splits (seed i splits the rows and
 * seeds the model), or stratified k-fold cross-validation repeated `repeats` times (each repeat a new fold draw).
 * Member m of every configuration uses the same rows and seed, so configurations are compared pair by pair.
 */
export const studyProtocol = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('seeds'), seeds: positiveInt.max(100), firstSeed: z.number().int().min(0).default(1) }).strict(),
  z
    .object({ kind: z.literal('cv'), folds: positiveInt.max(50), repeats: positiveInt.max(20).default(1), seed: z.number().int().min(0).default(1) })
    .strict()
])
export type StudyProtocol = z.infer<typeof studyProtocol>

/** A sweep's values for one setting: a list, or (random search) a range, log-uniform when `log`. */
const sweepNumbers = z.union([
  z.array(z.number().positive()).min(1).max(50),
  z.object({ min: z.number().positive(), max: z.number().positive(), log: z.boolean().default(false) }).strict()
])
const sweepIntegers = z.union([z.array(positiveInt).min(1).max(50), z.object({ min: positiveInt, max: positiveInt }).strict()])

/**
 * A grid (every combination) or random search (`samples` draws from `seed`) over settings of the base
 * configuration. learningRate: every block's rate; blockLearningRates: one rate per block; hidden: the MLP's
 * hidden sizes (the partition becomes one block per hidden layer); boundaries: the layers where blocks 2, 3, … start.
 */
export const sweepSpec = z
  .object({
    method: z.enum(['grid', 'random']).default('grid'),
    samples: positiveInt.max(200).optional(),
    seed: z.number().int().min(0).default(0),
    params: z
      .object({
        learningRate: sweepNumbers.optional(),
        epochs: sweepIntegers.optional(),
        hidden: z.array(z.array(positiveInt).min(1).max(16)).min(1).max(50).optional(),
        blockLearningRates: z.array(z.array(z.number().positive()).min(1)).min(1).max(50).optional(),
        boundaries: z.array(z.array(positiveInt).max(32)).min(1).max(50).optional(),
        mode: z.array(trainMode).min(1).max(2).optional()
      })
      .strict()
  })
  .strict()
export type SweepSpec = z.infer<typeof sweepSpec>

/** One configuration of a study: a model, its partition and its training settings (mode included). */
export const studyConfig = z.object({
  name: z.string(),
  spec: modelSpec,
  partition,
  config: trainConfig,
  /** The settings a sweep chose for this point (shown in its table and plot); empty for a comparison. */
  settings: z.record(z.string(), z.union([z.number(), z.string()]))
})
export type StudyConfig = z.infer<typeof studyConfig>

export const studyStatus = z.enum(['running', 'completed', 'cancelled', 'failed', 'interrupted'])
export type StudyStatus = z.infer<typeof studyStatus>
export const memberStatus = z.enum(['pending', 'queued', 'running', 'completed', 'cancelled', 'failed', 'interrupted'])
export type MemberStatus = z.infer<typeof memberStatus>

/** Mean, standard deviation and 95 % interval of one quantity over the members that have it (n of them). */
export const summaryStat = z.object({
  n: z.number().int(),
  mean: z.number().nullable(),
  std: z.number().nullable(),
  ci95: z.tuple([z.number(), z.number()]).nullable()
})
export type SummaryStat = z.infer<typeof summaryStat>

export const studyConfigStats = z.object({
  configIndex: z.number().int(),
  name: z.string(),
  mode: trainMode,
  /** Members that finished with metrics, of `total`. */
  n: z.number().int(),
  total: z.number().int(),
  runs: z.array(z.string()),
  test: summaryStat,
  val: summaryStat,
  /** The error figure beside the main metric: test loss (classification) or test RMSE in the target's unit (regression). */
  error: summaryStat,
  wallMs: summaryStat,
  peakRssBytes: summaryStat
})
export type StudyConfigStats = z.infer<typeof studyConfigStats>

export const studyComparison = z.object({
  /** The difference is configuration b − configuration a, member by member. */
  a: z.number().int(),
  b: z.number().int(),
  pairs: z.number().int(),
  difference: z.object({ mean: z.number(), std: z.number(), ci95: z.tuple([z.number(), z.number()]).nullable() }),
  test: z.string(),
  t: z.number().nullable(),
  df: z.number().int(),
  pValue: z.number(),
  /** Mean test rows / training rows of the pairs: the Nadeau–Bengio correction's factor. */
  testTrainRatio: z.number(),
  verdict: z.string()
})
export type StudyComparison = z.infer<typeof studyComparison>

export const studyStats = z.object({
  /** The dataset's task: it decides the main metric, and whether a member's score has a binomial (Wilson) interval. */
  task,
  metric: z.object({ key: z.string(), label: z.string(), higherIsBetter: z.boolean(), percent: z.boolean() }),
  /** What `error` of each configuration is: "test loss" or "test RMSE". */
  errorLabel: z.string(),
  configs: z.array(studyConfigStats),
  comparison: studyComparison.nullable(),
  /** The configuration with the best mean validation score (chosen on validation, reported on test). */
  best: z.number().int().nullable(),
  /** "Covers 18 of 20 runs; 2 failed." */
  coverage: z.string()
})
export type StudyStats = z.infer<typeof studyStats>

export const studySummary = z.object({
  studyId: z.string(),
  name: z.string(),
  datasetId: z.string(),
  datasetName: z.string(),
  /** The dataset's task: classification (accuracy, stratified folds) or regression (R², plain folds). */
  task,
  kind: z.enum(['compare', 'sweep']),
  protocol: studyProtocol,
  status: studyStatus,
  workers: z.number().int(),
  /** The queue its members were submitted to, without credentials (redis://host:port); null: this machine's pool. */
  queue: z.string().nullable(),
  total: z.number().int(),
  done: z.number().int(),
  failed: z.number().int(),
  error: z.string().nullable(),
  createdAt: z.string(),
  endedAt: z.string().nullable()
})
export type StudySummary = z.infer<typeof studySummary>

export const studyMember = z.object({
  configIndex: z.number().int(),
  memberIndex: z.number().int(),
  split: splitSpec,
  seed: z.number().int(),
  runId: z.string().nullable(),
  status: memberStatus,
  error: z.string().nullable(),
  trainRows: z.number().int(),
  testRows: z.number().int(),
  test: z.number().nullable(),
  val: z.number().nullable(),
  /** The queue worker that trains or trained its run ("host pid 1234 (wasm)"); null for this machine's own pool. */
  worker: z.string().nullable(),
  /** Which try its run is (1 first; more after a lost worker); 0 when it has not started on a queue. */
  attempt: z.number().int()
})
export type StudyMember = z.infer<typeof studyMember>

/** An earlier try of a member whose worker was lost (killed, cut off, handed back): its run stays, as interrupted. */
export const memberAttempt = z.object({
  configIndex: z.number().int(),
  memberIndex: z.number().int(),
  attempt: z.number().int(),
  runId: z.string().nullable(),
  worker: z.string(),
  status: runStatus.nullable(),
  error: z.string().nullable()
})
export type MemberAttempt = z.infer<typeof memberAttempt>

export const studyDetail = studySummary.extend({
  configs: z.array(studyConfig),
  members: z.array(studyMember),
  /** Tries that did not count: runs whose queue worker was lost, each retried (never in the statistics). */
  attempts: z.array(memberAttempt),
  stats: studyStats,
  /** Whole-study progress while running: the estimated time left. */
  etaMs: z.number().nullable()
})
export type StudyDetail = z.infer<typeof studyDetail>

// ---------------------------------------------------------------- study queue (issue 19)

/** A study member, as a queue job names it. */
export const memberKey = z
  .object({
    studyId: z
      .string()
      .max(64)
      .regex(/^st-[A-Za-z0-9_-]+$/),
    configIndex: z.number().int().nonnegative(),
    memberIndex: z.number().int().nonnegative()
  })
  .strict()

/**
 * The one job kind a queue worker takes: train one study member. Data only (a spec, a partition, settings), checked
 * against these schemas by the worker before anything runs; a job of any other shape fails without running.
 */
export const memberJob = z
  .object({
    key: memberKey,
    datasetId: z.string().min(1).max(64),
    name: z.string().max(200),
    spec: modelSpec,
    partition,
    config: trainConfig,
    tags: z.array(z.string().max(120)).max(20)
  })
  .strict()
export type MemberJobPayload = z.infer<typeof memberJob>

/** A queue worker as its heartbeat in Redis describes it. */
export const queueWorker = z.object({
  workerId: z.string(),
  name: z.string(),
  host: z.string(),
  pid: z.number().int(),
  backend: z.string(),
  concurrency: z.number().int(),
  startedAt: z.string(),
  seenAt: z.string(),
  running: z.array(
    z.object({
      studyId: z.string(),
      configIndex: z.number().int(),
      memberIndex: z.number().int(),
      runId: z.string().nullable(),
      name: z.string(),
      attempt: z.number().int()
    })
  )
})
export type QueueWorker = z.infer<typeof queueWorker>

// ---------------------------------------------------------------- requests

/** The ONNX opsets the exporter writes (IR 8); 13 by default, the oldest one with Softmax on an axis of choice. */
export const OPSETS = { min: 13, max: 17, default: 13 } as const

const none = z.object({}).strict().default({})
const datasetRef = z.object({ datasetId: z.string().min(1) }).strict()
const runRef = z.object({ runId: z.string().min(1) }).strict()
const ok = z.object({ ok: z.literal(true) })

export const requests = {
  'app.info': {
    args: none,
    result: z.object({
      name: z.literal('LayerLab'),
      version: z.string(),
      home: z.string(),
      backend: z.object({ name: z.string(), reason: z.string() }),
      /**
       * The GPU adapter for webgpu training: its label ("webgpu (NVIDIA H200, Vulkan)") and name ("NVIDIA H200"),
       * when it is used (reason); or null and why not.
       */
      gpu: z.object({ label: z.string().nullable(), name: z.string().nullable(), software: z.boolean(), reason: z.string() }),
      examples: z.array(z.object({ name: z.string(), path: z.string(), description: z.string() })),
      /**
       * The history this lab is open on (never with its password): `location` is the SQLite file or
       * postgres://user@host:port/db; `source` who chose it; `saved` the home's saved setting (may differ from the open
       * one until the next start, or where --store or LAYERLAB_STORE wins).
       */
      store: z.object({
        kind: z.enum(['sqlite', 'postgres']),
        location: z.string(),
        source: z.enum(['option', 'env', 'settings', 'default']),
        saved: z.string().nullable()
      })
    })
  },
  /**
   * Saves the history store of this data home for the next start (the desktop app's setting): a postgres:// URL,
   * checked by connecting and migrating first; null for the SQLite file in the home. Returns the saved one, shown
   * without its password.
   */
  'app.setStore': {
    args: z.object({ url: z.string().max(2000).nullable() }).strict(),
    result: z.object({ saved: z.string().nullable() })
  },
  'datasets.list': { args: none, result: z.array(datasetSummary) },
  'datasets.get': { args: datasetRef, result: datasetSummary },
  'datasets.import': {
    args: z
      .object({
        path: z.string().min(1),
        name: z.string().max(120).optional(),
        target: z.string().optional(),
        delimiter: z.string().min(1).max(3).optional(),
        encoding: z.string().optional(),
        header: z.boolean().optional(),
        decimalComma: z.boolean().optional(),
        /** Default: what the target suggests (shared/task.ts). */
        task: task.optional(),
        /** The quote character; '' for none. */
        quote: z.string().max(1).optional(),
        escape: z.string().max(1).optional(),
        /** Lines above the table to skip. */
        skip: z.number().int().min(0).max(10_000).optional(),
        /** Workbooks: the sheet to read (default: the first one with data). */
        sheet: z.string().max(200).optional(),
        badRows: badRowsChoice.optional(),
        /** Names this import for datasets.cancelImport and its progress events (the caller picks it). */
        importId: z.string().min(1).max(80).optional(),
        imageSize: z.object({ width: positiveInt.max(512), height: positiveInt.max(512) }).optional(),
        colorMode: z.enum(['auto', 'grayscale', 'rgb']).optional()
      })
      .strict(),
    result: datasetSummary
  },
  'datasets.preview': {
    args: z.object({ datasetId: z.string(), offset: z.number().int().min(0), limit: z.number().int().min(1).max(1000) }).strict(),
    result: z.object({ columns: z.array(z.string()), rows: z.array(z.array(z.union([z.string(), z.number(), z.null()]))), total: z.number().int() })
  },
  'datasets.update': {
    args: z
      .object({
        datasetId: z.string(),
        target: z.string().optional(),
        /** Predict classes or a number; the split and recipe are fitted again. */
        task: task.optional(),
        /** Per column: its type, whether it is a feature, and for a date column the parts the model gets (none: excluded). */
        columns: z
          .array(
            z.object({
              name: z.string(),
              type: columnType.optional(),
              include: z.boolean().optional(),
              dateParts: z.array(datePart).optional(),
              /** A date column whose values never told day from month: read it again in this order. */
              dateOrder: chosenDateOrder.optional()
            })
          )
          .optional(),
        /** Tables: how missing numbers are imputed and numbers scaled; the recipe is fitted again on the train part. */
        preparation: preparation.partial().strict().optional()
      })
      .strict(),
    result: datasetSummary
  },
  'datasets.thumbnails': {
    args: z.object({ datasetId: z.string(), perClass: z.number().int().min(1).max(64).default(8) }).strict(),
    result: z.array(z.object({ label: z.string(), images: z.array(z.object({ row: z.number().int(), dataUrl: z.string() })) }))
  },
  /** Thumbnails of chosen rows of an image dataset (a run's misclassified test images), in the order asked. */
  'datasets.rowThumbnails': {
    args: z.object({ datasetId: z.string(), rows: z.array(z.number().int().min(0)).min(1).max(200) }).strict(),
    result: z.array(z.object({ row: z.number().int(), dataUrl: z.string() }))
  },
  'datasets.delete': { args: datasetRef, result: ok },
  /** Stops a running import (named by the importId it was given); nothing of it is kept. Ok also when it had ended. */
  'datasets.cancelImport': { args: z.object({ importId: z.string().min(1) }).strict(), result: ok },
  /** Writes the table as LayerLab parsed it (every column, parsed values, the original names) to a CSV or Parquet file. */
  'datasets.export': {
    args: z
      .object({
        datasetId: z.string().min(1),
        out: z.string().min(1),
        format: z.enum(['csv', 'parquet']).optional(),
        /** Replace an existing file (the CLI's --force; the app's save dialog has asked). */
        overwrite: z.boolean().optional()
      })
      .strict(),
    result: z.object({
      path: z.string(),
      rows: z.number().int(),
      columns: z.number().int(),
      bytes: z.number().int(),
      format: z.enum(['csv', 'parquet'])
    })
  },
  'models.default': {
    args: z.object({ datasetId: z.string(), preset: modelPreset.optional(), hidden: z.array(positiveInt).max(16).optional() }).strict(),
    result: z.object({ spec: modelSpec, partition })
  },
  'models.describe': {
    /** task: check the output layer for it (absent: a softmax output or a single linear one both pass). */
    args: z.object({ spec: z.unknown(), partition: z.unknown().optional(), task: task.optional() }).strict(),
    result: z.object({
      layers: z.array(z.object({ index: z.number().int(), type: z.string(), outputShape: z.array(z.number().nullable()), params: z.number().int() })),
      totalParams: z.number().int(),
      errors: z.array(z.object({ layer: z.number().int().nullable(), message: z.string() }))
    })
  },
  'train.start': {
    args: z.object({ datasetId: z.string(), spec: modelSpec, partition, config: trainConfig, name: z.string().max(120).optional() }).strict(),
    result: z.object({ runId: z.string() })
  },
  'train.cancel': { args: runRef, result: ok },
  /** Resolves when the run has ended (at once for a run that already has); the CLI waits on its own runs with it. */
  'runs.wait': { args: runRef, result: runSummary },
  'runs.list': { args: none, result: z.array(runSummary) },
  'runs.get': { args: runRef, result: runDetail },
  'runs.update': {
    args: z
      .object({
        runId: z.string(),
        name: z.string().max(120).optional(),
        tags: z.array(z.string().max(40)).max(20).optional(),
        notes: z.string().max(10000).optional()
      })
      .strict(),
    result: runSummary
  },
  'runs.delete': { args: runRef, result: ok },
  /** One artifact by id, with its run: the web shell's download looks its file up here. */
  'artifacts.get': { args: z.object({ artifactId: z.string().min(1) }).strict(), result: artifact.extend({ runId: z.string() }) },
  'export.onnx': {
    args: z
      .object({
        runId: z.string(),
        opset: z.number().int().min(OPSETS.min).max(OPSETS.max).default(OPSETS.default),
        /** Export only the first k blocks, as a feature extractor. */
        blocks: positiveInt.optional(),
        bakeNormalization: z.boolean().optional(),
        /** Where to write the file (default: the run's folder). Never one of the data home's own files. */
        out: z.string().optional(),
        /** Replace `out` when it exists (the CLI's --force; the app asks first). */
        overwrite: z.boolean().optional()
      })
      .strict(),
    result: z.object({ artifactId: z.string(), path: z.string(), bytes: z.number().int(), opset: z.number().int(), parity })
  },
  'predict.run': {
    args: z.object({ model: z.string(), data: z.string(), out: z.string().optional(), overwrite: z.boolean().optional() }).strict(),
    result: z.object({
      task,
      /** Classification: the class names; regression: empty. */
      labels: z.array(z.string()),
      /** Regression: prediction and truth are numbers in the target's unit, and probabilities is empty. */
      rows: z.array(
        z.object({
          key: z.string(),
          prediction: z.union([z.string(), z.number()]),
          probabilities: z.array(z.number()),
          truth: z.union([z.string(), z.number()]).nullable()
        })
      ),
      accuracy: z.number().nullable(),
      /** Regression, where the file has the target column: figures over the rows that have a value. */
      rmse: z.number().nullable(),
      mae: z.number().nullable(),
      r2: z.number().nullable(),
      /** Rows the figures (accuracy or RMSE/MAE/R²) are computed on. */
      scoredRows: z.number().int(),
      out: z.string().nullable()
    })
  },
  'studies.start': {
    args: z
      .object({
        datasetId: z.string().min(1),
        name: z.string().max(120).optional(),
        /** The model and settings every configuration starts from. */
        base: z.object({ spec: modelSpec, partition, config: trainConfig }).strict(),
        /** A comparison: one configuration per mode (default: end-to-end and layer-wise). Ignored with a sweep. */
        compare: z.array(trainMode).min(1).max(2).optional(),
        sweep: sweepSpec.optional(),
        protocol: studyProtocol,
        /** Training workers run at once, each single-threaded (default: one per core). */
        workers: positiveInt.max(64).optional(),
        /** Submit the members to queue workers: a redis:// or rediss:// URL, or 'default' for the lab's own queue. */
        queue: z.string().min(1).max(2000).optional()
      })
      .strict(),
    result: z.object({ studyId: z.string() })
  },
  /** The bundled example as a study: digits, MLP 100-100, end-to-end vs layer-wise, 10 seeds. */
  'studies.example': {
    args: z
      .object({ workers: positiveInt.max(64).optional() })
      .strict()
      .default({}),
    result: z.object({ studyId: z.string() })
  },
  'studies.list': { args: none, result: z.array(studySummary) },
  'studies.get': { args: z.object({ studyId: z.string().min(1) }).strict(), result: studyDetail },
  'studies.cancel': { args: z.object({ studyId: z.string().min(1) }).strict(), result: ok },
  /** Runs the members an interrupted (or cancelled) study is missing; finished members are kept. */
  'studies.resume': {
    args: z.object({ studyId: z.string().min(1), workers: positiveInt.max(64).optional(), queue: z.string().min(1).max(2000).optional() }).strict(),
    result: z.object({ studyId: z.string() })
  },
  /** Resolves when the study has ended (the CLI waits on its own studies with it). */
  'studies.wait': { args: z.object({ studyId: z.string().min(1) }).strict(), result: studySummary },
  /** Deletes the study and its member runs. */
  'studies.delete': { args: z.object({ studyId: z.string().min(1) }).strict(), result: ok },
  /** The queue workers alive now and what they train (the lab's queue, or the one given). */
  'queue.workers': {
    args: z
      .object({ queue: z.string().min(1).max(2000).optional() })
      .strict()
      .default({}),
    result: z.object({ queue: z.string().nullable(), workers: z.array(queueWorker), error: z.string().nullable() })
  },
  /**
   * A queue worker host trains a member here: a member already completed in the store is answered from it without
   * training; else an earlier try whose worker was lost is kept as interrupted (with its worker) and a new run starts.
   */
  'queue.trainMember': {
    args: z
      .object({
        job: memberJob,
        worker: z.string().min(1).max(300),
        /** Runs the live workers hold now (their heartbeats): a member whose try is one of them is not lost. */
        liveRuns: z.array(z.string()).max(10_000)
      })
      .strict(),
    result: z.object({
      runId: z.string(),
      attempt: z.number().int(),
      ended: z.object({ status: runStatus, error: z.string().nullable() }).nullable(),
      /** The member's current try is still alive elsewhere (a job Redis lost and got again): try again later. */
      busy: z.boolean()
    })
  },
  /** Resolves when the member's run has ended and its end is recorded. */
  'queue.memberWait': {
    args: z.object({ key: memberKey, runId: z.string().min(1) }).strict(),
    result: z.object({ status: runStatus, error: z.string().nullable() })
  },
  /** A worker gives a member back (its run stops and is marked interrupted; the member goes to another worker). */
  'queue.handBack': {
    args: z.object({ key: memberKey, runId: z.string().min(1), reason: z.string().max(300) }).strict(),
    result: ok
  }
} as const

export type Requests = typeof requests
export type RequestName = keyof Requests
/** What a caller passes (defaults may be left out). */
export type RequestArgs<K extends RequestName> = z.input<Requests[K]['args']>
/** What a handler receives (defaults filled in). */
export type HandlerArgs<K extends RequestName> = z.output<Requests[K]['args']>
export type RequestResult<K extends RequestName> = z.infer<Requests[K]['result']>
/** What predict.run answers (the CLI and the Export view show it). */
export type PredictResult = RequestResult<'predict.run'>

// ---------------------------------------------------------------- events

export const events = {
  /** bytes of totalBytes read so far (for gzip: of the compressed file), rows so far; phase says what is being done. */
  'dataset.progress': z.object({
    path: z.string(),
    importId: z.string().optional(),
    phase: z.enum(['reading', 'profiling', 'fitting']).optional(),
    rows: z.number().int(),
    bytes: z.number(),
    totalBytes: z.number()
  }),
  'train.progress': z.object({
    runId: z.string(),
    phase: z.enum(['block', 'finetune', 'end-to-end']),
    block: z.number().int(),
    blockName: z.string(),
    blockCount: z.number().int(),
    epoch: z.number().int(),
    epochs: z.number().int(),
    batch: z.number().int(),
    batches: z.number().int(),
    loss: z.number(),
    /** The running score of the epoch so far: accuracy, or R² for regression (as in epoch rows). */
    accuracy: z.number(),
    samplesPerSec: z.number(),
    etaMs: z.number()
  }),
  /** The backend a run trains on, once it is running; `reason` says why (and why not another one). */
  'train.backend': z.object({ runId: z.string(), backend: z.string(), reason: z.string() }),
  'train.epoch': epochRow.extend({ runId: z.string() }),
  'train.finished': z.object({ runId: z.string(), status: runStatus, metrics: runMetrics.nullable(), error: z.string().nullable() }),
  /** A study's whole progress: sent when a member starts or ends. */
  'study.progress': z.object({
    studyId: z.string(),
    status: studyStatus,
    total: z.number().int(),
    done: z.number().int(),
    failed: z.number().int(),
    running: z.number().int(),
    etaMs: z.number().nullable()
  })
} as const

export type Events = typeof events
export type EventName = keyof Events
export type EventPayload<K extends EventName> = z.infer<Events[K]>

// ---------------------------------------------------------------- transport

/** A failed request, as every transport carries it. `code` tells the renderer how to show it. */
export const apiErrorShape = z.object({
  code: z.enum(['bad_request', 'not_found', 'user_error', 'conflict', 'internal']),
  message: z.string()
})
export type ApiErrorShape = z.infer<typeof apiErrorShape>

export type ApiResponse<T> = { ok: true; result: T } | { ok: false; error: ApiErrorShape }

/** What `window.lab` (preload) and the web client both implement. */
export interface LabBridge {
  readonly transport: 'electron' | 'web'
  invoke<K extends RequestName>(name: K, args?: RequestArgs<K>): Promise<ApiResponse<RequestResult<K>>>
  /** Subscribes to an event; returns the function that unsubscribes. */
  on<E extends EventName>(event: E, listener: (payload: EventPayload<E>) => void): () => void
  /** Desktop only: a native dialog; resolves to the chosen path, or null when cancelled. */
  pickPath?(kind: 'file' | 'folder' | 'save-onnx' | 'save-table'): Promise<string | null>
}
