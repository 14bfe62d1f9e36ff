/**
 * The runs of one model and mode of `npm run bench -- train-layerwise` in their own process, so the peak RSS is
 * theirs alone (the wasm heap never shrinks: another mode's runs in the same process would pass their peak on).
 * Usage: layerwiseChild.ts MODEL MODE SEEDS (comma-separated); prints one JSON line per seed with the run's test
 * accuracy and rows, wall time and the app's own cost figures (resources; peak RSS so far in this process).
 */
import * as tf from '@tensorflow/tfjs'
import { trainConfig } from '../main/shared/contract'
import { activateBackend, planBackend } from '../main/core/backend'
import { train } from '../main/train/engine'
import { blockStagePeak } from '../main/shared/cost'
import { LAYERWISE_MODES, layerwiseCase } from './layerwiseCases'

async function main(): Promise<void> {
  const [modelName, modeName, seedsText] = process.argv.slice(2) as [string, string, string]
  const mode = LAYERWISE_MODES.find((m) => m.name === modeName)
  if (!mode) throw new Error(`unknown mode ${modeName}`)
  const item = await layerwiseCase(modelName)
  await activateBackend(tf, planBackend({}))
  const blocks = item.partition.blocks.length
  const blockEpochs = Number(process.env.LAYERLAB_BENCH_BLOCK_EPOCHS ?? item.budget.blockEpochs)
  const { fineTune } = item.budget
  const partition = {
    blocks: item.partition.blocks.map((block) => ({
      ...block,
      settings: { ...block.settings, epochs: blockEpochs, patience: 0, head: mode.head ?? block.settings.head }
    }))
  }
  // Equal epoch budgets: K block stages + the fine-tune passes over the data, as end-to-end and decoupled epochs.
  const epochs = blocks * blockEpochs + fineTune
  for (const seed of seedsText.split(',').map(Number)) {
    const config = trainConfig.parse({
      mode: mode.mode,
      epochs,
      batchSize: 32,
      seed,
      patience: 0,
      fineTune: { enabled: true, epochs: fineTune, learningRateFactor: 0.1 }
    })
    const outcome = await train({ spec: item.spec, partition, config, data: item.data, cacheDir: null })
    outcome.model.dispose()
    const metrics = outcome.metrics as { testAccuracy: number; testRows: number }
    const r = outcome.resources
    console.log(
      JSON.stringify({
        seed,
        testAccuracy: metrics.testAccuracy,
        testRows: metrics.testRows,
        trainRows: item.data.train.n,
        epochs,
        wallMs: r.wallMs,
        stepPeakBytes: r.stepPeakBytes,
        blockStagePeakBytes: blockStagePeak(r) ?? r.stepPeakBytes,
        peakRssBytes: r.peakRssBytes,
        examples: r.examples
      })
    )
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    console.error(error instanceof Error ? error.message : String(error))
    process.exit(1)
  }
)
