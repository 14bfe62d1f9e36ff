/**
 * Training speed per backend present (wasm, cpu): the digits MLP(100,100) and the small CNN on generated 28×28
 * images, end-to-end and layer-wise, a few epochs each, in this process (the worker adds only its start-up).
 * msPerEpoch is the mean over all epochs of the run (layer-wise: the block stages and the fine-tune).
 */
import { createRequire } from 'node:module'
import * as tf from '@tensorflow/tfjs'
import { trainConfig, type ModelSpec, type Partition, type TrainConfig } from '../main/api/contract'
import type { PreparedData } from '../main/data/types'
import { defaultModel } from '../main/model/presets'
import { train } from '../main/train/engine'
import { loadDigits, makeStripeImages } from '../test/unit/train/digits'
import { peakRss } from './memory'

export interface TrainBenchRow {
  model: string
  mode: TrainConfig['mode']
  backend: string
  msPerEpoch: number
  samplesPerSec: number
  peakRssBytes: number
}

function backendsPresent(): string[] {
  const present = ['cpu']
  try {
    createRequire(__filename).resolve('@tensorflow/tfjs-backend-wasm')
    present.unshift('wasm')
  } catch {
    // wasm not installed: cpu only.
  }
  return present
}

async function measure(name: string, data: PreparedData, spec: ModelSpec, partition: Partition, mode: TrainConfig['mode'], epochs: number): Promise<TrainBenchRow> {
  const stagePartition: Partition = { blocks: partition.blocks.map((block) => ({ ...block, settings: { ...block.settings, epochs, patience: 0 } })) }
  const config = trainConfig.parse({ mode, epochs, patience: 0, fineTune: { enabled: true, epochs, learningRateFactor: 0.1 } })
  const { value: outcome, peakRssBytes } = await peakRss(() => train({ spec, partition: stagePartition, config, data }))
  outcome.model.dispose()
  const msPerEpoch = outcome.timing.msPerEpoch
  return { model: name, mode, backend: tf.getBackend(), msPerEpoch, samplesPerSec: data.train.n / (msPerEpoch / 1000), peakRssBytes }
}

export async function benchTraining(): Promise<TrainBenchRow[]> {
  const rows: TrainBenchRow[] = []
  const digits = loadDigits()
  const mlp = defaultModel({ inputShape: [64], classes: 10 })
  const images = makeStripeImages(600, 28, 11)
  const cnn = defaultModel({ inputShape: [28, 28, 1], classes: 2 }, { preset: 'small-cnn' })
  for (const backend of backendsPresent()) {
    if (backend === 'wasm') createRequire(__filename)('@tensorflow/tfjs-backend-wasm')
    await tf.setBackend(backend)
    await tf.ready()
    // Warm-up (kernel set-up, JIT): the first epochs on a fresh backend are slower than the steady state.
    await measure('warm-up', digits, mlp.spec, mlp.partition, 'end-to-end', 1)
    await measure('warm-up', images, cnn.spec, cnn.partition, 'end-to-end', 1)
    for (const mode of ['end-to-end', 'layer-wise'] as const) {
      rows.push(await measure('digits MLP(100,100)', digits, mlp.spec, mlp.partition, mode, 3))
      // The pure-JS cpu backend is far slower on convs: one epoch each is enough to see it.
      rows.push(await measure('small CNN 28×28', images, cnn.spec, cnn.partition, mode, backend === 'cpu' ? 1 : 2))
    }
  }
  return rows
}

if (require.main === module) {
  void benchTraining().then((rows) => console.table(rows))
}
