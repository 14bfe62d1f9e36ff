/**
 * New data for a trained model: a CSV or an image folder read and prepared with the recipe the model was trained
 * with (from the ONNX file's metadata), giving the same numbers as the stored dataset's rows.
 */
import { LabError } from '../shared/errors'
import { INPUT_LIMITS, inspectInput } from '../core/inputFile'
import { fileLabel, readCsv, sniffCsv } from './csv'
import { encodeImageFolder } from './images'
import { type NewData, type Recipe, type TableRecipe, applyAffine, columnEncoder } from './recipe'
import { categoryKey, isMissing, parseNumber } from './values'

/** Reads a NEW csv or image folder and applies the recipe (scale=false: stop before the affine step). */
export async function encodeNewData(recipe: Recipe, dataPath: string, options: { scale: boolean }): Promise<NewData> {
  // A pipe or a device given as the data would block the reader or never end: only a CSV file or a folder is read.
  const stat = await inspectInput(dataPath, 'file-or-directory', { maxBytes: INPUT_LIMITS.predictTable, what: 'a table to predict on' })
  if (recipe.kind === 'images') {
    if (!stat.isDirectory()) throw new LabError(`${fileLabel(dataPath)}: the model takes images: give a folder of images`)
    // Images have no affine step: pixels are always scaled to [0, 1] as the model was trained on.
    return encodeImageFolder(recipe, dataPath)
  }
  if (stat.isDirectory()) throw new LabError(`${fileLabel(dataPath)}: the model takes a table: give a CSV file, not a folder`)
  return encodeNewTable(recipe, dataPath, options.scale)
}

async function encodeNewTable(recipe: TableRecipe, file: string, scale: boolean): Promise<NewData> {
  const label = fileLabel(file)
  const settings = await sniffCsv(file)
  const positionOf = (name: string): number => {
    const exact = settings.names.indexOf(name)
    return exact >= 0 ? exact : settings.names.findIndex((candidate) => candidate.toLowerCase() === name.toLowerCase())
  }
  const positions = recipe.columns.map((column) => positionOf(column.name))
  const missing = recipe.columns.filter((_, c) => positions[c]! < 0).map((column) => `"${column.name}"`)
  if (missing.length) {
    const shown = settings.names.slice(0, 8).join(', ') + (settings.names.length > 8 ? ', …' : '')
    const named = missing.length > 10 ? `${missing.slice(0, 10).join(', ')} and ${missing.length - 10} more` : missing.join(', ')
    throw new LabError(`${label}: missing column${missing.length > 1 ? 's' : ''} ${named} that the model needs (the file has ${shown})`)
  }
  const regression = recipe.task === 'regression'
  const targetPosition = positionOf(recipe.target)
  const encoders = recipe.columns.map(columnEncoder)
  const width = recipe.inputShape[0]
  const chunkRows = 4096
  const chunks: Float32Array[] = []
  let chunk = new Float32Array(chunkRows * width)
  let inChunk = 0
  const truth: (string | null)[] = []
  const truthValues: number[] = []
  const pass = await readCsv(file, settings, (fields) => {
    let at = inChunk * width
    // readCsv holds every row to the first one's field count, which settings.names (so each position) came from;
    // positions and encoders run in step with recipe.columns.
    recipe.columns.forEach((column, c) => {
      const trimmed = fields[positions[c]!]!.trim()
      let value: number | string | null
      if (isMissing(trimmed)) value = column.date ? null : column.encoding === 'numeric' ? NaN : null
      // A date part's encoder reads the text itself, in the order the training column was read in.
      else if (column.date) value = trimmed
      else if (column.encoding === 'numeric') value = parseNumber(trimmed, settings.decimalComma)
      else value = categoryKey(trimmed, settings.decimalComma)
      const encoder = encoders[c]!
      encoder.encode(value, chunk, at)
      at += encoder.width
    })
    if (targetPosition >= 0) {
      const trimmed = fields[targetPosition]!.trim()
      truth.push(isMissing(trimmed) ? null : categoryKey(trimmed, settings.decimalComma))
      if (regression) truthValues.push(isMissing(trimmed) ? NaN : parseNumber(trimmed, settings.decimalComma))
    } else {
      truth.push(null)
      if (regression) truthValues.push(NaN)
    }
    if (++inChunk === chunkRows) {
      chunks.push(chunk)
      chunk = new Float32Array(chunkRows * width)
      inChunk = 0
    }
  })
  const x = new Float32Array(pass.rows * width)
  chunks.forEach((full, i) => x.set(full, i * chunkRows * width))
  x.set(chunk.subarray(0, inChunk * width), chunks.length * chunkRows * width)
  if (scale && recipe.affine) applyAffine(x, recipe.affine)
  const keys = Array.from({ length: pass.rows }, (_, i) => String(i + 1))
  return { x, n: pass.rows, inputShape: recipe.inputShape, keys, truth, truthValues: regression ? Float64Array.from(truthValues) : null }
}
