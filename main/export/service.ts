/**
 * Export a run's model to ONNX with a parity proof, and predict new data with an ONNX file.
 *
 * The ONNX file is self-contained: its metadata_props carry the labels and the data recipe, so `predict`
 * needs nothing but the file and the new data (a run id only locates the file).
 */
import fs from 'node:fs'
import path from 'node:path'
import type * as tf from '@tensorflow/tfjs'
import type { onnx } from 'onnx-proto'
import { OPSETS, type Artifact, type HandlerArgs, type RequestResult, type RunDetail } from '../shared/contract'
import type { DatasetService } from '../data/service'
import type { RunStore } from '../store/runs'
import type { PreparedData, PreparedPart } from '../data/types'
import type { NewData, Recipe } from '../data/recipe'
import { encodeNewData } from '../data/newData'
import { LabError } from '../shared/errors'
import { version } from '../core/version'
import { writeFileAtomic } from '../core/atomicWrite'
import { INPUT_LIMITS, readInputFile } from '../core/inputFile'
import { checkOutputPath } from '../core/outputFile'
import type { InputAffine } from './onnx'
import { writeCsv } from '../shared/csvWriter'
import { regressionFigures } from '../shared/task'
import { errorLine } from '../shared/format'
import { onnxProto, onnxRuntime } from '../core/packages'

/**
 * What the exported graph's output is: predict turns logits into probabilities, reads a value (regression: the
 * number in the target's unit) as it is, and refuses features.
 */
export type OnnxOutputKind = 'probabilities' | 'logits' | 'features' | 'value'

export type RunModelLoader = (runs: RunStore, runId: string) => Promise<{ model: tf.LayersModel; detail: RunDetail }>

// onnxruntime-node, onnx-proto and tfjs (through runModel.ts, onnx.ts and parity.ts) are loaded by the first export
// or prediction, not with the lab: together ~120 ms of every CLI command's start and the app's, which most never use.
const loadRunModel: RunModelLoader = async (runs, runId) => (await import('./runModel')).loadRunModel(runs, runId)
export type NewDataEncoder = (recipe: Recipe, dataPath: string, options: { scale: boolean }) => Promise<NewData>

export interface ExportDeps {
  loadRunModel: RunModelLoader
  encodeNewData: NewDataEncoder
}

/** The recipe as stored in the ONNX metadata: the dataset's recipe plus whether its affine step is in the graph. */
export type OnnxRecipe = Recipe & { affineInModel: boolean }

/**
 * The ONNX file's name, after its run, so downloads of several runs do not all arrive as "model.onnx":
 * "digits · layer-wise · 12-01 07:10:32" → "digits-layer-wise-12-01-07-10-32.onnx"; the first k blocks add "-blocks-k".
 */
export function onnxFileName(runName: string, blocks?: number): string {
  const slug =
    runName
      .normalize('NFKD')
      .replace(/[\u0300-\u036f]/g, '')
      .replace(/[^\w-]+/g, '-')
      .replace(/-{2,}/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 80)
      .replace(/-+$/, '') || 'model'
  return `${slug}${blocks != null ? `-blocks-${blocks}` : ''}.onnx`
}

/** At most this many test samples go through the parity check (images make big batches). */
export const PARITY_SAMPLES = 512
const PREDICT_BATCH = 256

/** Whether the first `layerCount` layers end in a softmax, i.e. the exported output is class probabilities. */
function endsWithSoftmax(model: tf.LayersModel, layerCount: number): boolean {
  const layers = model.layers.filter((l) => l.getClassName() !== 'InputLayer')
  for (const layer of layers.slice(0, layerCount).reverse()) {
    const cls = layer.getClassName()
    // Dropout is the identity at inference: look past it.
    if (cls === 'Dropout') continue
    if (cls === 'Softmax') return true
    const config = layer.getConfig() as { activation?: unknown }
    return config.activation === 'softmax'
  }
  return false
}

/** Un-does prepared = (raw - offset) * scale, so the model with the affine step inside gets raw rows. */
export function unscale(x: Float32Array, affine: InputAffine): Float32Array {
  const f = affine.offset.length
  const out = new Float32Array(x.length)
  for (let i = 0; i < x.length; i++) {
    const scale = affine.scale[i % f]!
    const offset = affine.offset[i % f]!
    // A constant feature (scale 0) prepares to 0 from any raw value: its offset is one such value.
    out[i] = scale === 0 ? offset : x[i]! / scale + offset
  }
  return out
}

function firstSamples(part: PreparedPart, inputShape: number[], max: number): { x: Float32Array; n: number } {
  const per = inputShape.reduce((a, b) => a * b, 1)
  const n = Math.min(part.n, max)
  return { x: part.x.subarray(0, n * per), n }
}

/** The test part for the proof; validation or train when a small dataset has no test rows. */
function proofPart(prepared: PreparedData): PreparedPart {
  if (prepared.test.n > 0) return prepared.test
  if (prepared.val.n > 0) return prepared.val
  return prepared.train
}

export interface OnnxFileInfo {
  proto: onnx.ModelProto
  metadata: Record<string, string>
  labels: string[]
  recipe: OnnxRecipe
  output: OnnxOutputKind | null
  /** Input dims without the batch dimension. */
  inputShape: number[]
}

/** Reads an ONNX file exported by LayerLab: its labels, recipe and input shape. Only a regular file within the limit is read. */
export async function readOnnxFile(file: string): Promise<OnnxFileInfo & { bytes: Uint8Array }> {
  const bytes: Uint8Array = await readInputFile(file, { maxBytes: INPUT_LIMITS.onnxModel, what: 'an ONNX model' })
  const { onnx: messages } = onnxProto()
  let proto: onnx.ModelProto
  try {
    proto = messages.ModelProto.decode(bytes)
  } catch (error) {
    throw new LabError(`${file}: not an ONNX model (${errorLine(error)})`)
  }
  if (!proto.graph?.input?.length) throw new LabError(`${file}: not an ONNX model (no graph input)`)
  const metadata: Record<string, string> = {}
  for (const entry of proto.metadataProps) if (entry.key) metadata[entry.key] = entry.value ?? ''
  if (!metadata.labels || !metadata.recipe) throw new LabError(`${file}: has no LayerLab metadata (labels, recipe); export it from LayerLab`)
  let labels: unknown
  let recipe: unknown
  try {
    labels = JSON.parse(metadata.labels)
    recipe = JSON.parse(metadata.recipe)
  } catch {
    throw new LabError(`${file}: its labels or recipe metadata is not valid JSON`)
  }
  if (!Array.isArray(labels) || !labels.every((l) => typeof l === 'string')) throw new LabError(`${file}: its labels metadata is not a list of names`)
  if (!recipe || typeof recipe !== 'object' || !('kind' in recipe)) throw new LabError(`${file}: its recipe metadata is not a LayerLab recipe`)
  const dims = proto.graph.input?.[0]?.type?.tensorType?.shape?.dim ?? []
  const inputShape = dims.slice(1).map((d) => Number(d.dimValue ?? 0))
  const output = (['probabilities', 'logits', 'features', 'value'] as const).find((k) => k === metadata.output) ?? null
  return { bytes, proto, metadata, labels, recipe: recipe as unknown as OnnxRecipe, output, inputShape }
}

function softmaxRows(values: Float32Array, width: number): Float32Array {
  const out = new Float32Array(values.length)
  for (let s = 0; s < values.length / width; s++) {
    let max = -Infinity
    for (let j = 0; j < width; j++) max = Math.max(max, values[s * width + j]!)
    let sum = 0
    for (let j = 0; j < width; j++) sum += out[s * width + j] = Math.exp(values[s * width + j]! - max)
    for (let j = 0; j < width; j++) out[s * width + j]! /= sum
  }
  return out
}

/** For files without an `output` key: a row that is a distribution (≥ 0, sums to 1) is taken as probabilities. */
function looksLikeProbabilities(values: Float32Array, width: number): boolean {
  for (let s = 0; s < values.length / width; s++) {
    let sum = 0
    for (let j = 0; j < width; j++) {
      const v = values[s * width + j]!
      if (v < 0 || v > 1) return false
      sum += v
    }
    if (Math.abs(sum - 1) > 1e-3) return false
  }
  return true
}

/** A prefix export of all blocks is the whole model too: the recorded output kind decides when it is there. */
function isWholeModel(artifact: Artifact): boolean {
  return artifact.info.output != null ? artifact.info.output !== 'features' : artifact.info.blocks == null
}

export class ExportService {
  private readonly deps: ExportDeps

  constructor(
    readonly datasets: DatasetService,
    readonly runs: RunStore,
    readonly home: string,
    deps: Partial<ExportDeps> = {}
  ) {
    this.deps = { loadRunModel: deps.loadRunModel ?? loadRunModel, encodeNewData: deps.encodeNewData ?? encodeNewData }
  }

  async exportOnnx(args: HandlerArgs<'export.onnx'>): Promise<RequestResult<'export.onnx'>> {
    const { runId } = args
    const opset = args.opset
    const runName = (await this.runs.summary(runId)).name
    const defaultFile = path.join(this.home, 'runs', runId, onnxFileName(runName || runId, args.blocks))
    // Checked before any work: a path into the data home's own files or over a file nobody asked to replace is refused.
    const file = args.out ? checkOutputPath(args.out, { home: this.home, overwrite: args.overwrite ?? false, allowed: [defaultFile] }) : defaultFile
    const { model, detail } = await this.deps.loadRunModel(this.runs, args.runId)
    try {
      const layers = model.layers.filter((l) => l.getClassName() !== 'InputLayer')
      const blocks = detail.partition.blocks
      let upToLayer = layers.length
      if (args.blocks != null) {
        const last = blocks[args.blocks - 1]
        if (!last) throw new LabError(`run ${runId}: has ${blocks.length} blocks, cannot export the first ${args.blocks}`)
        upToLayer = last.end
        if (upToLayer < 1 || upToLayer > layers.length)
          throw new LabError(`run ${runId}: block ${args.blocks} ends at layer ${upToLayer}, the model has ${layers.length}`)
      }
      const featureExtractor = upToLayer < layers.length
      const recipe = await this.datasets.getRecipe(detail.datasetId, detail.config.split)
      // Tables carry their standardisation into the graph by default, so the file takes raw rows.
      const bake = (args.bakeNormalization ?? recipe.kind === 'table') && recipe.affine != null
      const inputAffine = bake && recipe.affine ? recipe.affine : undefined
      const dataset = await this.datasets.get(detail.datasetId)
      const scale = detail.task === 'regression' && recipe.kind === 'table' ? recipe.targetScale : undefined
      if (detail.task === 'regression' && !scale)
        throw new LabError(`run ${runId}: its dataset has no target scale to export a regression model with`)
      // The target's standardisation goes into the graph like the features': the file outputs the number itself.
      const outputAffine = scale && !featureExtractor ? { scale: scale.std, offset: scale.mean } : undefined
      const output: OnnxOutputKind = featureExtractor
        ? 'features'
        : outputAffine
          ? 'value'
          : endsWithSoftmax(model, upToLayer)
            ? 'probabilities'
            : 'logits'
      const onnxRecipe: OnnxRecipe = { ...recipe, affineInModel: bake }
      const [{ exportToOnnx }, { checkParity }] = await Promise.all([import('./onnx'), import('./parity')])
      const bytes = exportToOnnx(model, {
        opset,
        inputAffine,
        outputAffine,
        upToLayer,
        graphName: featureExtractor ? `${detail.name} (blocks 1-${args.blocks})` : detail.name || runId,
        producerVersion: version,
        metadata: {
          labels: JSON.stringify(recipe.labels),
          recipe: JSON.stringify(onnxRecipe),
          run_id: runId,
          dataset_hash: dataset.contentHash,
          output,
          task: detail.task,
          target: dataset.target ?? '',
          ...(scale ? { target_scale: JSON.stringify({ formula: 'output * std + mean', ...scale, inModel: outputAffine !== undefined }) } : {}),
          layers: String(upToLayer),
          ...(args.blocks != null ? { blocks: String(args.blocks) } : {}),
          input_layout: recipe.kind === 'images' ? 'NHWC' : 'NC',
          // For tools outside LayerLab: what the graph input expects.
          preprocessing: JSON.stringify({
            layout: recipe.kind === 'images' ? 'NHWC' : 'NC',
            inputRange: recipe.kind === 'images' ? [0, 1] : null,
            featureNames: recipe.kind === 'table' ? recipe.featureNames : undefined,
            normalization: bake ? 'inside the model' : recipe.affine ? { formula: '(x - offset) * scale', ...recipe.affine } : null
          })
        }
      })

      const prepared = await this.datasets.loadPrepared(detail.datasetId, detail.config.split)
      const part = firstSamples(proofPart(prepared), prepared.inputShape, PARITY_SAMPLES)
      const feed = inputAffine ? unscale(part.x, inputAffine) : part.x
      const proof = await checkParity(model, bytes, feed, prepared.inputShape, { inputAffine, outputAffine, upToLayer, featureExtractor })
      const parity = {
        maxAbsDiff: proof.maxAbsDiff,
        argmaxAgreement: proof.argmaxAgreement,
        samples: proof.samples,
        pass: proof.pass,
        ...(proof.relativeDiff !== undefined ? { relativeDiff: proof.relativeDiff, scale: proof.scale } : {})
      }

      // The run's own default file is LayerLab's to replace; a file the person named only when they asked.
      writeFileAtomic(file, bytes, { overwrite: !args.out || args.overwrite === true || file === defaultFile })
      const artifact = await this.runs.addArtifact(runId, {
        kind: 'onnx',
        path: file,
        bytes: bytes.length,
        info: { opset, parity, blocks: args.blocks ?? null, layers: upToLayer, bakeNormalization: bake, output }
      })
      return { artifactId: artifact.artifactId, path: file, bytes: bytes.length, opset, parity }
    } finally {
      model.dispose()
    }
  }

  /** The newest whole-model ONNX artifact of a run whose file still exists; exports one when there is none. */
  private async onnxForRun(runId: string): Promise<string> {
    const detail = await this.runs.get(runId)
    const usable = detail.artifacts
      .filter((a: Artifact) => a.kind === 'onnx' && isWholeModel(a) && fs.existsSync(a.path))
      .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
    const [newest] = usable
    if (newest) return newest.path
    const exported = await this.exportOnnx({ runId, opset: OPSETS.default })
    return exported.path
  }

  async predict(args: HandlerArgs<'predict.run'>): Promise<RequestResult<'predict.run'>> {
    const out = args.out ? checkOutputPath(args.out, { home: this.home, overwrite: args.overwrite ?? false }) : null
    // Run ids never contain a path separator or end in .onnx.
    const looksLikeFile = args.model.toLowerCase().endsWith('.onnx') || /[\\/]/.test(args.model) || fs.existsSync(args.model)
    const file = looksLikeFile ? path.resolve(args.model) : await this.onnxForRun(args.model)
    const info = await readOnnxFile(file)
    if (info.output === 'features')
      throw new LabError(`${file}: is a feature extractor (the first ${info.metadata.blocks ?? '?'} blocks); it does not predict`)
    const { labels, recipe } = info
    const data = await this.deps.encodeNewData(recipe, args.data, { scale: !recipe.affineInModel })
    if (data.inputShape.join('x') !== info.inputShape.join('x')) {
      throw new LabError(`${args.data}: encodes to inputs of shape [${data.inputShape.join(', ')}], the model takes [${info.inputShape.join(', ')}]`)
    }
    const regression = info.output === 'value'
    const width = regression ? 1 : labels.length
    const outputs = await runOnnx(file, info, data, width)
    if (regression) return this.predictedValues(outputs, data, recipe.kind === 'images' ? 'path' : 'row', args.out)
    if (info.output === 'logits' || (info.output == null && !looksLikeProbabilities(outputs, width))) outputs.set(softmaxRows(outputs, width))
    const probabilities = outputs

    let correct = 0
    let withTruth = 0
    const rows = Array.from({ length: data.n }, (_, s) => {
      const p = Array.from(probabilities.subarray(s * width, (s + 1) * width))
      let best = 0
      for (let j = 1; j < p.length; j++) if (p[j]! > p[best]!) best = j
      const truth = data.truth[s] ?? null
      if (truth != null) {
        withTruth++
        if (truth === labels[best]) correct++
      }
      // keys has one entry per sample, and best indexes a row of labels.length probabilities.
      return { key: data.keys[s]!, prediction: labels[best]!, probabilities: p, truth }
    })

    if (out) {
      const header = [recipe.kind === 'images' ? 'path' : 'row', 'prediction', ...labels.map((l) => `p_${l}`)]
      writeFileAtomic(
        out,
        writeCsv(
          header,
          rows.map((r) => [r.key, r.prediction, ...r.probabilities])
        ),
        { overwrite: args.overwrite ?? false }
      )
    }
    const accuracy = withTruth > 0 ? correct / withTruth : null
    return { task: 'classification', labels, rows, accuracy, rmse: null, mae: null, r2: null, scoredRows: withTruth, out }
  }

  /** Regression's answer: one number per row (the graph already gives the target's unit), and figures where the file has the target. */
  private predictedValues(values: Float32Array, data: NewData, keyName: string, outFile: string | undefined): RequestResult<'predict.run'> {
    const truthValues = data.truthValues
    const scored: number[] = []
    const rows = Array.from({ length: data.n }, (_, s) => {
      const truth = truthValues && !Number.isNaN(truthValues[s]!) ? truthValues[s]! : null
      if (truth !== null) scored.push(s)
      // keys and values have one entry per sample; the figures use the numbers as written.
      return { key: data.keys[s]!, prediction: float32Text(values[s]!), probabilities: [] as number[], truth }
    })
    const figures = scored.length
      ? regressionFigures(
          scored.map((s) => truthValues![s]!),
          scored.map((s) => rows[s]!.prediction)
        )
      : null
    let out: string | null = null
    if (outFile) {
      out = path.resolve(outFile)
      writeFileAtomic(
        out,
        writeCsv(
          [keyName, 'prediction'],
          rows.map((r) => [r.key, r.prediction])
        )
      )
    }
    return {
      task: 'regression',
      labels: [],
      rows,
      accuracy: null,
      rmse: figures?.rmse ?? null,
      mae: figures?.mae ?? null,
      r2: figures?.r2 ?? null,
      scoredRows: scored.length,
      out
    }
  }
}

/** The ONNX file's outputs over the new data, `width` per sample, in batches. */
async function runOnnx(file: string, info: OnnxFileInfo & { bytes: Uint8Array }, data: NewData, width: number): Promise<Float32Array> {
  const per = info.inputShape.reduce((a, b) => a * b, 1)
  const ort = onnxRuntime()
  const session = await ort.InferenceSession.create(info.bytes)
  const outputs = new Float32Array(data.n * width)
  try {
    const [inputName] = session.inputNames
    const [outputName] = session.outputNames
    if (inputName === undefined || outputName === undefined) throw new LabError(`${file}: not an ONNX model with one input and one output`)
    for (let start = 0; start < data.n; start += PREDICT_BATCH) {
      const count = Math.min(PREDICT_BATCH, data.n - start)
      const feed = new ort.Tensor('float32', data.x.slice(start * per, (start + count) * per), [count, ...info.inputShape])
      const result = await session.run({ [inputName]: feed })
      const output = result[outputName]
      if (!output) throw new LabError(`${file}: gave no output "${outputName}"`)
      const values = output.data as Float32Array
      if (values.length !== count * width)
        throw new LabError(
          `${file}: gives ${values.length / count} outputs per sample, ${width === 1 ? 'a regression model gives 1' : `for ${width} labels`}`
        )
      outputs.set(values, start * width)
    }
  } finally {
    await session.release()
  }
  return outputs
}

/** A float32 output as the shortest number that reads back to it (210.03955 rather than 210.03955078125). */
function float32Text(value: number): number {
  for (let digits = 6; digits < 9; digits++) {
    const short = Number(value.toPrecision(digits))
    if (Math.fround(short) === value) return short
  }
  return value
}
