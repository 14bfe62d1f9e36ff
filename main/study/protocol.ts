/**
 * A study's protocol as members: which rows (split) and which seed each member of every configuration uses, and
 * the checks that refuse a protocol that cannot work before anything runs.
 */
import type { SplitSpec, StudyProtocol, Task } from '../shared/contract'
import { LabError } from '../shared/errors'
import { smallestClass } from '../data/split'

export interface PlannedMember {
  memberIndex: number
  split: SplitSpec
  /** The model's seed (initialisation, shuffling); every configuration's member m has the same one. */
  seed: number
}

/** At most this many runs in one study (configurations × members). */
export const MAX_STUDY_RUNS = 2000

/**
 * seeds: member i splits the rows afresh (70/15/15, stratified for classification) with seed firstSeed + i and seeds the model with it.
 * cv: repeat r draws a fold assignment from seed + r (stratified for classification, plain k-fold of the rows
 * with a target value for regression: their classes are all one); member r·k + f tests on fold f.
 */
export function planMembers(protocol: StudyProtocol): PlannedMember[] {
  if (protocol.kind === 'seeds')
    return Array.from({ length: protocol.seeds }, (_, i) => ({
      memberIndex: i,
      split: { kind: 'holdout', seed: protocol.firstSeed + i },
      seed: protocol.firstSeed + i
    }))
  const members: PlannedMember[] = []
  for (let r = 0; r < protocol.repeats; r++)
    for (let f = 0; f < protocol.folds; f++) {
      const memberIndex = r * protocol.folds + f
      members.push({
        memberIndex,
        split: { kind: 'fold', folds: protocol.folds, fold: f, seed: protocol.seed + r },
        seed: protocol.seed + memberIndex
      })
    }
  return members
}

/** Refuses, in one line, a protocol that cannot give a spread or cannot cut the data as asked. */
export function checkProtocol(
  protocol: StudyProtocol,
  task: Task,
  classOfRow: Int32Array,
  labels: string[],
  datasetName: string,
  configCount: number
): void {
  if (protocol.kind === 'seeds' && protocol.seeds < 2)
    throw new LabError(
      `a study needs at least 2 seeds to measure how much a score varies; ${protocol.seeds} seed gives a single run (train it with layerlab train)`
    )
  if (protocol.kind === 'cv') {
    if (protocol.folds < 2) throw new LabError(`cross-validation needs at least 2 folds, got ${protocol.folds}`)
    const smallest = smallestClass(classOfRow)
    if (task === 'regression') {
      const rows = smallest?.count ?? 0
      if (protocol.folds > rows)
        throw new LabError(
          `${datasetName}: ${protocol.folds}-fold cross-validation needs at least ${protocol.folds} rows with a target value; the dataset has ${rows}`
        )
    } else if (smallest && protocol.folds > smallest.count) {
      const label = labels[smallest.label] ?? String(smallest.label)
      throw new LabError(
        `${datasetName}: ${protocol.folds}-fold stratified cross-validation needs at least ${protocol.folds} rows of every class; class "${label}" has ${smallest.count}: use at most ${smallest.count} folds`
      )
    }
  }
  const members = protocol.kind === 'seeds' ? protocol.seeds : protocol.folds * protocol.repeats
  if (members * configCount > MAX_STUDY_RUNS)
    throw new LabError(`the study would train ${members * configCount} runs (${configCount} configurations × ${members}); at most ${MAX_STUDY_RUNS}`)
}
