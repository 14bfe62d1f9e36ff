/** Shared bits of the study tests: a lab over a temp home, a request helper, and a small fast model for digits. */
import type { Lab } from '../../../main/lab'
import { LabError } from '../../../main/shared/errors'
import type { Partition, RequestArgs, RequestName, RequestResult, ModelSpec } from '../../../main/shared/contract'

export async function call<K extends RequestName>(lab: Lab, name: K, args: RequestArgs<K>): Promise<RequestResult<K>> {
  const response = await lab.router.handle(name, args)
  if (!response.ok) throw new LabError(response.error.message, response.error.code)
  return response.result as RequestResult<K>
}

/** A small MLP and short training: these tests are about the study machinery, not accuracy. */
export async function smallBase(
  lab: Lab,
  datasetId: string
): Promise<{ spec: ModelSpec; partition: Partition; config: RequestArgs<'train.start'>['config'] }> {
  const { spec, partition } = await call(lab, 'models.default', { datasetId, hidden: [16, 16] })
  for (const block of partition.blocks) block.settings.epochs = 2
  return { spec, partition, config: { epochs: 3, fineTune: { enabled: true, epochs: 1, learningRateFactor: 0.1 } } }
}
