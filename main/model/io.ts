/**
 * Weights on disk: "LLW1", a uint32 header length, a JSON header listing each weight (name, shape, offset in
 * floats), padding to 4 bytes, then little-endian float32 data. Names are `<layer name>/<weight>` (layer names
 * carry the spec index), so a file loads into any model built from the same spec, in any process.
 */
import fs from 'node:fs'
import os from 'node:os'
import * as tf from '@tensorflow/tfjs'
import { LabError } from '../shared/errors'
import { writeFileAtomicAsync } from '../core/atomicWrite'

const MAGIC = 'LLW1'
const LITTLE_ENDIAN = os.endianness() === 'LE'

interface WeightEntry {
  name: string
  shape: number[]
  offset: number
  length: number
}
interface Header {
  format: 'layerlab-weights'
  version: 1
  weights: WeightEntry[]
}

function weightKey(layerName: string, variableName: string): string {
  // tfjs makes variable names unique with a suffix ("kernel_3"): keep the weight's own name only.
  const own = variableName.split('/').pop()!.replace(/_\d+$/, '')
  return `${layerName}/${own}`
}

/** Every weight of the model (trainable and not: batch-norm statistics too) with its stable name. */
export function namedWeights(model: tf.LayersModel): Array<{ key: string; variable: tf.LayerVariable }> {
  const out: Array<{ key: string; variable: tf.LayerVariable }> = []
  for (const layer of model.layers) for (const variable of layer.weights) out.push({ key: weightKey(layer.name, variable.originalName), variable })
  return out
}

/** The weights file's bytes. Reads are asynchronous: a GPU backend cannot read its memory synchronously in Node. */
export async function encodeWeights(model: tf.LayersModel): Promise<Buffer> {
  const weights = namedWeights(model)
  const entries: WeightEntry[] = []
  const arrays: Float32Array[] = []
  let offset = 0
  const read = await Promise.all(weights.map(({ variable }) => variable.read().data()))
  for (const [i, { key, variable }] of weights.entries()) {
    const values = read[i] as Float32Array
    entries.push({ name: key, shape: variable.shape as number[], offset, length: values.length })
    arrays.push(values)
    offset += values.length
  }
  const header: Header = { format: 'layerlab-weights', version: 1, weights: entries }
  let headerBytes = Buffer.from(JSON.stringify(header), 'utf8')
  const pad = (4 - ((8 + headerBytes.length) % 4)) % 4
  headerBytes = Buffer.concat([headerBytes, Buffer.alloc(pad, 0x20)])
  const data = Buffer.alloc(offset * 4)
  let at = 0
  for (const values of arrays) {
    if (LITTLE_ENDIAN) Buffer.from(values.buffer, values.byteOffset, values.byteLength).copy(data, at)
    else for (let i = 0; i < values.length; i++) data.writeFloatLE(values[i]!, at + i * 4)
    at += values.length * 4
  }
  const prefix = Buffer.alloc(8)
  prefix.write(MAGIC, 0, 'ascii')
  prefix.writeUInt32LE(headerBytes.length, 4)
  return Buffer.concat([prefix, headerBytes, data])
}

/** Writes the weights to a temporary file and renames it over `file`: a reader never sees half a file. */
export async function saveWeights(model: tf.LayersModel, file: string): Promise<number> {
  const bytes = await encodeWeights(model)
  await writeFileAtomicAsync(file, bytes)
  return bytes.length
}

export function decodeWeights(bytes: Buffer, source: string): Map<string, { shape: number[]; values: Float32Array }> {
  if (bytes.length < 8 || bytes.toString('ascii', 0, 4) !== MAGIC) throw new LabError(`${source}: not a LayerLab weights file`)
  const headerLength = bytes.readUInt32LE(4)
  let header: Header
  try {
    header = JSON.parse(bytes.toString('utf8', 8, 8 + headerLength)) as Header
  } catch {
    throw new LabError(`${source}: the weights header is damaged`)
  }
  const dataStart = 8 + headerLength
  const out = new Map<string, { shape: number[]; values: Float32Array }>()
  for (const entry of header.weights) {
    const end = dataStart + (entry.offset + entry.length) * 4
    if (end > bytes.length) throw new LabError(`${source}: truncated (weight ${entry.name} ends past the file)`)
    const values = new Float32Array(entry.length)
    const start = dataStart + entry.offset * 4
    if (LITTLE_ENDIAN) new Uint8Array(values.buffer).set(bytes.subarray(start, start + entry.length * 4))
    else for (let i = 0; i < entry.length; i++) values[i] = bytes.readFloatLE(start + i * 4)
    out.set(entry.name, { shape: entry.shape, values })
  }
  return out
}

/** Loads a weights file into a model built from the same spec; names and shapes must all match. */
export async function loadWeights(model: tf.LayersModel, file: string): Promise<void> {
  let bytes: Buffer
  try {
    bytes = await fs.promises.readFile(file)
  } catch {
    throw new LabError(`${file}: weights file not found`, 'not_found')
  }
  const stored = decodeWeights(bytes, file)
  const targets = namedWeights(model)
  for (const { key, variable } of targets) {
    const entry = stored.get(key)
    if (!entry) throw new LabError(`${file}: no weight ${key} (the file belongs to another model)`)
    if (entry.shape.join(',') !== variable.shape.join(','))
      throw new LabError(`${file}: weight ${key} has shape [${entry.shape}] but the model needs [${variable.shape}]`)
  }
  for (const { key, variable } of targets) {
    const entry = stored.get(key)!
    const value = tf.tensor(entry.values, entry.shape)
    variable.write(value)
    value.dispose()
  }
}
