/** A study's statistics from its members: per configuration, the paired comparison of two, the best of a sweep. */
import type { StudyComparison, StudyConfig, StudyConfigStats, StudyStats, Task } from '../shared/contract'
import { errorMetricLabel, errorMetricValue, mainMetricOf, mainMetricValue } from '../shared/mainMetric'
import { CORRECTED_TEST_NAME, verdictText } from '../shared/studyText'
import type { StoredMember } from '../store/studies'
import { correctedResampledTTest, mean, summarise } from './stats'

const ratioOf = (members: StoredMember[]): number => (members.length ? mean(members.map((m) => m.testRows / Math.max(1, m.trainRows))) : 0)

/** The statistics of a study on data of `task`: its main metric (accuracy or R²) and error figure (loss or RMSE). */
export function studyStats(configs: StudyConfig[], members: StoredMember[], task: Task): StudyStats {
  const metric = mainMetricOf(task)
  // A member counts once it has the main metric (a run of another task, were the dataset's task changed, has not).
  const scored = members.filter((m) => m.status === 'completed' && mainMetricValue(task, m.metrics, 'test') !== null)
  const perConfig: StudyConfigStats[] = configs.map((config, configIndex) => {
    const mine = members.filter((m) => m.configIndex === configIndex)
    const done = scored.filter((m) => m.configIndex === configIndex)
    const ratio = ratioOf(done)
    const values = (pick: (m: StoredMember) => number | null) => done.map(pick).filter((v): v is number => v !== null && Number.isFinite(v))
    return {
      configIndex,
      name: config.name,
      mode: config.config.mode,
      n: done.length,
      total: mine.length,
      runs: mine.map((m) => m.runId).filter((id): id is string => id !== null),
      // Generalisation estimates get the resampling correction; costs (time, memory) are plain samples.
      test: summarise(
        values((m) => mainMetricValue(task, m.metrics, 'test')),
        ratio
      ),
      val: summarise(
        values((m) => mainMetricValue(task, m.metrics, 'val')),
        ratio
      ),
      error: summarise(
        values((m) => errorMetricValue(task, m.metrics)),
        ratio
      ),
      wallMs: summarise(values((m) => m.wallMs)),
      peakRssBytes: summarise(values((m) => m.peakRssBytes))
    }
  })

  let comparison: StudyComparison | null = null
  if (configs.length === 2) {
    const a = scored.filter((m) => m.configIndex === 0)
    const b = new Map(scored.filter((m) => m.configIndex === 1).map((m) => [m.memberIndex, m]))
    const pairs = a.filter((m) => b.has(m.memberIndex)).map((m) => ({ a: m, b: b.get(m.memberIndex)! }))
    if (pairs.length >= 2) {
      const differences = pairs.map((p) => mainMetricValue(task, p.b.metrics, 'test')! - mainMetricValue(task, p.a.metrics, 'test')!)
      const ratio = ratioOf(pairs.map((p) => p.a))
      const test = correctedResampledTTest(differences, ratio)
      const difference = { mean: test.mean, std: test.std, ci95: test.ci95 }
      comparison = {
        a: 0,
        b: 1,
        pairs: pairs.length,
        difference,
        test: CORRECTED_TEST_NAME,
        t: test.t,
        df: test.df,
        pValue: test.pValue,
        testTrainRatio: ratio,
        verdict: verdictText({ a: configs[0]!.name, b: configs[1]!.name, difference, pValue: test.pValue, pairs: pairs.length }, metric)
      }
    }
  }

  // Chosen on validation (the test part is only for reporting): the best mean validation score.
  let best: number | null = null
  for (const stats of perConfig) {
    if (stats.val.mean === null) continue
    const current = best === null ? null : perConfig[best]!.val.mean!
    if (current === null || (metric.higherIsBetter ? stats.val.mean > current : stats.val.mean < current)) best = stats.configIndex
  }
  if (configs.length < 2) best = null

  const failed = members.filter((m) => m.status === 'failed').length
  const coverage = `Statistics cover ${scored.length} of ${members.length} runs${failed ? `; ${failed} failed` : ''}${
    members.length - scored.length - failed > 0 ? `; ${members.length - scored.length - failed} not finished` : ''
  }.`
  return { task, metric, errorLabel: errorMetricLabel(task), configs: perConfig, comparison, best, coverage }
}
