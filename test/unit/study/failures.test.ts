/**
 * A member that fails is shown failed with its reason, the others go on, and the statistics say how many members
 * they cover. The pool is the real local pool behind a wrapper that refuses one member, as a remote queue that
 * lost a worker would report it.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { trainConfig } from '../../../main/shared/contract'
import { StudyStore } from '../../../main/store/studies'
import { TrainingService } from '../../../main/train/service'
import { StudyService } from '../../../main/study/service'
import { LocalPool, type MemberJob, type MemberPool, type PoolEvent } from '../../../main/study/pool'
import { defaultModel } from '../../../main/model/presets'
import { openTestServices, type TestServices } from '../../fixtures/home'
import { DIGITS_CSV } from '../../fixtures/digits'

class RefusingPool implements MemberPool {
  private readonly inner: LocalPool
  private readonly listeners = new Set<(event: PoolEvent) => void>()
  constructor(
    training: TrainingService,
    readonly workers: number,
    private readonly refuse: (job: MemberJob) => boolean
  ) {
    this.inner = new LocalPool(training, workers)
    this.inner.subscribe((event) => this.listeners.forEach((l) => l(event)))
  }
  submit(job: MemberJob): void {
    if (this.refuse(job))
      queueMicrotask(() => this.listeners.forEach((l) => l({ type: 'failed', key: job.key, error: 'worker lost: out of memory' })))
    else this.inner.submit(job)
  }
  cancel(studyId: string): Promise<void> {
    return this.inner.cancel(studyId)
  }
  subscribe(listener: (event: PoolEvent) => void): () => void {
    this.listeners.add(listener)
    return () => this.listeners.delete(listener)
  }
}

let services: TestServices
let training: TrainingService
let studies: StudyService
let datasetId: string

beforeAll(async () => {
  services = await openTestServices('layerlab-study-fail-')
  datasetId = (await services.datasets.import({ path: DIGITS_CSV })).datasetId
  training = new TrainingService(services.datasets, services.runs, services.home, () => undefined)
  studies = new StudyService({
    store: new StudyStore(services.db),
    runs: services.runs,
    datasets: services.datasets,
    training,
    emit: () => undefined,
    createPool: (workers) => new RefusingPool(training, workers, (job) => job.key.configIndex === 1 && job.key.memberIndex === 1)
  })
})
afterAll(async () => {
  await studies.shutdown()
  await training.shutdown()
  await services.close()
})

describe('a failed member', () => {
  it('is failed with its reason; the study completes on the rest and says what its statistics cover', async () => {
    const { spec, partition } = defaultModel({ inputShape: [61], classes: 10 }, { hidden: [8] })
    for (const block of partition.blocks) block.settings.epochs = 1
    const config = trainConfig.parse({ epochs: 2, fineTune: { enabled: false, epochs: 1, learningRateFactor: 0.1 } })
    const { studyId } = await studies.start({
      datasetId,
      base: { spec, partition, config },
      protocol: { kind: 'seeds', seeds: 3, firstSeed: 1 },
      workers: 2
    })
    expect((await studies.wait(studyId)).status).toBe('completed')
    const detail = await studies.get(studyId)
    const failed = detail.members.filter((m) => m.status === 'failed')
    expect(failed).toEqual([expect.objectContaining({ configIndex: 1, memberIndex: 1, error: 'worker lost: out of memory', runId: null })])
    expect(detail.failed).toBe(1)
    expect(detail.stats.configs.map((c) => [c.n, c.total])).toEqual([
      [3, 3],
      [2, 3]
    ])
    expect(detail.stats.comparison!.pairs).toBe(2)
    expect(detail.stats.coverage).toBe('Statistics cover 5 of 6 runs; 1 failed.')
  })
})
