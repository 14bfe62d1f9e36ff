/**
 * The taped training step's loss where tensors live in this process (objective.ts hostTensorLoss: one custom-gradient
 * op over lossAndGradient's loops, issue 20) gives tfjs's own loss ops' value, tally and gradient with respect to the
 * output, to float32 rounding: cross-entropy with and without class weights, MSE and Huber, on the wasm and the cpu
 * backend, and with the loss scaled before the gradient (dy ≠ 1).
 */
import * as tf from '@tensorflow/tfjs'
import '@tensorflow/tfjs-backend-wasm'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { activateBackend, planBackend } from '../../../main/core/backend'
import { seededRandom } from '../../../main/core/random'
import {
  type Objective,
  type TensorLoss,
  balancedWeights,
  classificationObjective,
  hostTensorLoss,
  tensorLoss,
  tfjsTensorLoss
} from '../../../main/train/objective'

const ROWS = 29
const CLASSES = 7
const random = seededRandom(11)
const logits = Float32Array.from({ length: ROWS * CLASSES }, () => random() * 12 - 6)
const labels = Int32Array.from({ length: ROWS }, () => Math.floor(random() * CLASSES))
const predictions = Float32Array.from({ length: ROWS }, () => random() * 6 - 3)
const truth = Float32Array.from({ length: ROWS }, () => random() * 4 - 2)

const regression = (loss: 'mse' | 'huber'): Objective => ({ task: 'regression', outputs: 1, classWeights: null, regressionLoss: loss, lossScale: 1 })
const cases: Array<{ name: string; objective: Objective }> = [
  { name: 'softmax cross-entropy', objective: classificationObjective(CLASSES) },
  { name: 'balanced cross-entropy', objective: { ...classificationObjective(CLASSES), classWeights: balancedWeights(labels, CLASSES) } },
  { name: 'MSE', objective: regression('mse') },
  { name: 'Huber', objective: regression('huber') }
]

type LossOf = (objective: Objective, out: tf.Tensor, targets: tf.Tensor) => TensorLoss

/** The loss, tally and d(scale · loss)/d(out) through `lossOf`. */
function throughTape(lossOf: LossOf, objective: Objective, scale: number) {
  return tf.tidy(() => {
    const classification = objective.task === 'classification'
    const out = classification ? tf.tensor2d(logits, [ROWS, CLASSES]) : tf.tensor2d(predictions, [ROWS, 1])
    const targets = classification ? tf.tensor1d(labels, 'int32') : tf.tensor1d(truth)
    let tally = 0
    const { value, grad } = tf.valueAndGrad((x: tf.Tensor) => {
      const result = lossOf(objective, x, targets)
      tally = result.tally().dataSync()[0]!
      return tf.mul(result.loss, scale) as tf.Scalar
    })(out)
    return { loss: value.dataSync()[0]! / scale, tally, gradient: Float32Array.from(grad.dataSync()) }
  })
}

for (const backend of ['wasm', 'cpu'] as const) {
  describe(`the host loss on the tape (${backend})`, () => {
    let previous = ''
    beforeAll(async () => {
      previous = tf.getBackend()
      await activateBackend(tf, planBackend({ prefer: backend }))
      expect(tf.getBackend()).toBe(backend)
    })
    afterAll(async () => {
      if (previous) await tf.setBackend(previous)
    })

    for (const { name, objective } of cases)
      it(`${name}: tfjs's value, tally and gradient`, () => {
        for (const scale of [1, 0.37]) {
          const ours = throughTape(hostTensorLoss, objective, scale)
          const theirs = throughTape(tfjsTensorLoss, objective, scale)
          expect(ours.loss).toBeCloseTo(theirs.loss, 5)
          expect(ours.tally).toBeCloseTo(theirs.tally, objective.task === 'classification' ? 10 : 4)
          expect(ours.gradient.length).toBe(theirs.gradient.length)
          const largest = Math.max(...theirs.gradient.map(Math.abs))
          expect(largest).toBeGreaterThan(0)
          for (let i = 0; i < ours.gradient.length; i++) expect(Math.abs(ours.gradient[i]! - theirs.gradient[i]!)).toBeLessThan(1e-6 * largest + 1e-8)
        }
      })

    it('is what the taped step uses here, unless LAYERLAB_TAPE_KERNELS=0', () => {
      const objective = classificationObjective(CLASSES)
      const host = throughTape(hostTensorLoss, objective, 1)
      const ops = throughTape(tfjsTensorLoss, objective, 1)
      // The two differ in the last bits somewhere: which one ran shows.
      expect(Array.from(host.gradient)).not.toEqual(Array.from(ops.gradient))
      expect(Array.from(throughTape(tensorLoss, objective, 1).gradient)).toEqual(Array.from(host.gradient))
      process.env.LAYERLAB_TAPE_KERNELS = '0'
      try {
        expect(Array.from(throughTape(tensorLoss, objective, 1).gradient)).toEqual(Array.from(ops.gradient))
      } finally {
        delete process.env.LAYERLAB_TAPE_KERNELS
      }
    })
  })
}
