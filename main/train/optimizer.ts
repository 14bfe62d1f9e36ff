/**
 * One optimizer per block. tfjs has no parameter groups and its optimizers keep state by position, so each block
 * gets its own instance (a fresh one for every layer-wise stage) holding its own state per variable.
 *
 * Update, per weight tensor w with gradient g (weight decay β, learning rate γ from the schedule):
 *   g ← g + β·w                                   (L2 added to the gradient)
 *   LARS: g ← λ·g with λ = η‖w‖ / (‖g‖ + β‖w‖), η = 0.001 (λ = 1 where a norm is 0)
 *   sgd: w ← w − γ·g    momentum: v ← m·v + γ·g, w ← w − v    adam: w ← w − γ·m̂ / (√v̂ + ε)
 */
import * as tf from '@tensorflow/tfjs'
import type { BlockSettings } from '../api/contract'

export const LARS_ETA = 0.001
const ADAM_BETA1 = 0.9
const ADAM_BETA2 = 0.999
const ADAM_EPSILON = 1e-7

/** The learning-rate factor of a schedule at `epoch` (0-based) of `epochs`. */
export function scheduleFactor(schedule: BlockSettings['schedule'], epoch: number, epochs: number): number {
  if (schedule === 'step') return epoch >= 0.75 * epochs ? 0.01 : epoch >= 0.5 * epochs ? 0.1 : 1
  if (schedule === 'cosine') return 0.5 * (1 + Math.cos((Math.PI * epoch) / Math.max(1, epochs)))
  return 1
}

interface SlotState {
  first: tf.Variable
  second?: tf.Variable
}

export class BlockOptimizer {
  /** The learning rate of the current epoch (base rate × schedule factor). */
  learningRate: number
  private readonly slots = new Map<tf.Variable, SlotState>()
  private step = 0

  constructor(
    readonly settings: BlockSettings,
    /** Scales the block's own rate (the fine-tune's learningRateFactor). */
    readonly rateFactor = 1
  ) {
    this.learningRate = settings.learningRate * rateFactor
  }

  /** Sets the rate for `epoch` of a stage of `epochs` epochs from the block's schedule. */
  setEpoch(epoch: number, epochs: number): void {
    this.learningRate = this.settings.learningRate * this.rateFactor * scheduleFactor(this.settings.schedule, epoch, epochs)
  }

  private slot(variable: tf.Variable): SlotState {
    let state = this.slots.get(variable)
    if (!state) {
      state = { first: tf.variable(tf.zerosLike(variable), false) }
      if (this.settings.optimizer === 'adam') state.second = tf.variable(tf.zerosLike(variable), false)
      this.slots.set(variable, state)
    }
    return state
  }

  /** Applies one step to the given variables; gradients for variables of other blocks must not be passed here. */
  applyGradients(pairs: Array<{ variable: tf.Variable; gradient: tf.Tensor }>): void {
    this.step++
    const { optimizer, weightDecay, lars, momentum } = this.settings
    const rate = this.learningRate
    for (const { variable, gradient } of pairs) {
      const state = optimizer === 'sgd' ? undefined : this.slot(variable)
      tf.tidy(() => {
        let g: tf.Tensor = weightDecay > 0 ? tf.add(gradient, tf.mul(variable, weightDecay)) : gradient
        if (lars) {
          const weightNorm = tf.norm(variable)
          const gradNorm = tf.norm(g)
          const ratio = tf.div(tf.mul(weightNorm, LARS_ETA), tf.add(gradNorm, tf.mul(weightNorm, weightDecay)))
          const usable = tf.logicalAnd(tf.greater(weightNorm, 0), tf.greater(gradNorm, 0))
          g = tf.mul(g, tf.where(usable, ratio, tf.onesLike(ratio)))
        }
        if (optimizer === 'sgd') {
          variable.assign(tf.sub(variable, tf.mul(g, rate)))
        } else if (optimizer === 'momentum') {
          const velocity = tf.add(tf.mul(state!.first, momentum), tf.mul(g, rate))
          state!.first.assign(velocity)
          variable.assign(tf.sub(variable, velocity))
        } else {
          const m = tf.add(tf.mul(state!.first, ADAM_BETA1), tf.mul(g, 1 - ADAM_BETA1))
          const v = tf.add(tf.mul(state!.second!, ADAM_BETA2), tf.mul(tf.square(g), 1 - ADAM_BETA2))
          state!.first.assign(m)
          state!.second!.assign(v)
          const mHat = tf.div(m, 1 - Math.pow(ADAM_BETA1, this.step))
          const vHat = tf.div(v, 1 - Math.pow(ADAM_BETA2, this.step))
          variable.assign(tf.sub(variable, tf.mul(tf.div(mHat, tf.add(tf.sqrt(vHat), ADAM_EPSILON)), rate)))
        }
      })
    }
  }

  dispose(): void {
    for (const state of this.slots.values()) {
      state.first.dispose()
      state.second?.dispose()
    }
    this.slots.clear()
  }
}
