import { loadDigits } from '/work/main/test/unit/train/digits'
import { train } from '/work/main/main/train/engine'
import { defaultModel } from '/work/main/main/model/presets'
import { trainConfig } from '/work/main/main/api/contract'
import * as tf from '@tensorflow/tfjs'
import { activateBackend, planBackend } from '/work/main/main/core/backend'
async function main() {
  const b = await activateBackend(tf, planBackend({}))
  console.log(b)
  const data = loadDigits()
  console.log(data.train.n, data.val.n, data.test.n)
  const { spec, partition } = defaultModel({ inputShape: [64], classes: 10 })
  const mode = (process.argv[2] ?? 'end-to-end') as any
  const config = trainConfig.parse({ mode })
  const t = Date.now()
  const out = await train({ spec, partition, config, data }, { onEpoch: (r) => console.log(JSON.stringify(r)) })
  console.log(out.status, out.metrics, out.blocks, out.timing, out.prefixForwards, Date.now() - t)
}
main()
