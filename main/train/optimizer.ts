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
import type { BlockSettings } from '../shared/contract'
import { forNewTensor, tensorsInProcess, valuesInProcess } from './fast/inProcess'
import { adamUpdate, fusesUpdate, momentumUpdate, sgdUpdate } from './gpu/fusedUpdate'
import { UpdateKernel } from './fast/kernels/update'
import { tapeKernelsWanted } from './fast/kernels/convTrain'

export const LARS_ETA = 0.001
export const ADAM_BETA1 = 0.9
export const ADAM_BETA2 = 0.999
export const ADAM_EPSILON = 1e-7

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

/** Optimizer state kept in this process's memory (in-process path): first and second moments per weight tensor. */
interface InProcessSlot {
  first: Float32Array
  second?: Float32Array
}

export class BlockOptimizer {
  /** The learning rate of the current epoch (base rate × schedule factor). */
  learningRate: number
  private readonly slots = new Map<tf.Variable, SlotState>()
  private readonly inProcessSlots = new Map<tf.Variable, InProcessSlot>()
  /** The in-process update in wasm SIMD, where it runs (undefined: not tried yet; null: the loops below). */
  private updateKernel: UpdateKernel | null | undefined
  private step = 0
  /** Where the update runs: chosen once, so the state never has to move between paths mid-run. */
  readonly inProcess: boolean
  /** On webgpu: the update as 1–3 GPU programs per tensor (gpu/fusedUpdate.ts) rather than tf ops. */
  readonly fusedOnGpu: boolean

  constructor(
    readonly settings: BlockSettings,
    /** Scales the block's own rate (the fine-tune's learningRateFactor). */
    readonly rateFactor = 1,
    options: { inProcess?: boolean; fusedOnGpu?: boolean } = {}
  ) {
    this.learningRate = settings.learningRate * rateFactor
    this.inProcess = options.inProcess ?? tensorsInProcess()
    this.fusedOnGpu = options.fusedOnGpu ?? true
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

  /**
   * Counts one update of this block and returns its number (1 for the first: Adam's bias correction). The fused
   * dense path (fast/fusedDense.ts) keeps the moments in its own memory and updates there, but counts here.
   */
  countStep(): number {
    return ++this.step
  }

  /** Applies one step to the given variables; gradients for variables of other blocks must not be passed here. */
  applyGradients(pairs: Array<{ variable: tf.Variable; gradient: tf.Tensor }>): void {
    this.countStep()
    if (this.inProcess) {
      for (const { variable, gradient } of pairs) this.applyInProcess(variable, gradient)
      return
    }
    const { optimizer, weightDecay, lars, momentum } = this.settings
    const rate = this.learningRate
    for (const { variable, gradient } of pairs) {
      const state = optimizer === 'sgd' ? undefined : this.slot(variable)
      if (!lars && this.fusedOnGpu && fusesUpdate(variable)) {
        if (optimizer === 'sgd') sgdUpdate(variable, gradient, rate, weightDecay)
        else if (optimizer === 'momentum') momentumUpdate(variable, gradient, state!.first, rate, weightDecay, momentum)
        else
          adamUpdate(
            variable,
            gradient,
            { first: state!.first, second: state!.second! },
            { rate, decay: weightDecay, beta1: ADAM_BETA1, beta2: ADAM_BETA2, epsilon: ADAM_EPSILON, step: this.step }
          )
        continue
      }
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

  /**
   * The same update as the tensor path, on Float32Arrays, in one pass per weight tensor (sums of squares in
   * float64 for the LARS norms; divisions by the bias corrections as multiplications by their inverses).
   */
  private applyInProcess(variable: tf.Variable, gradient: tf.Tensor): void {
    const { optimizer, weightDecay, lars, momentum } = this.settings
    const rate = this.learningRate
    // Views into the wasm heap where tensors live there (no tensor is made before `next` is complete).
    const w = valuesInProcess(variable)
    const grad = valuesInProcess(gradient)
    const n = w.length
    let scale = 1
    if (lars) {
      let ww = 0
      let gg = 0
      for (let i = 0; i < n; i++) {
        const gi = grad[i]! + w[i]! * weightDecay
        ww += w[i]! * w[i]!
        gg += gi * gi
      }
      const weightNorm = Math.fround(Math.sqrt(ww))
      const gradNorm = Math.fround(Math.sqrt(gg))
      if (weightNorm > 0 && gradNorm > 0) scale = Math.fround((weightNorm * LARS_ETA) / (gradNorm + weightNorm * weightDecay))
    }
    this.updateKernel ??= tapeKernelsWanted() ? UpdateKernel.open() : null
    if (this.updateKernel) {
      const next = this.updateKernel.apply(variable, w, grad, {
        optimizer,
        rate,
        decay: weightDecay,
        scale,
        momentum,
        beta1: ADAM_BETA1,
        beta2: ADAM_BETA2,
        epsilon: ADAM_EPSILON,
        c1: 1 / (1 - Math.pow(ADAM_BETA1, this.step)),
        c2: 1 / (1 - Math.pow(ADAM_BETA2, this.step))
      })
      variable.assign(tf.tensor(forNewTensor(next), variable.shape, 'float32'))
      return
    }
    const next = new Float32Array(n)
    if (optimizer === 'sgd') {
      for (let i = 0; i < n; i++) next[i] = w[i]! - (grad[i]! + w[i]! * weightDecay) * scale * rate
    } else if (optimizer === 'momentum') {
      const velocity = this.inProcessSlot(variable, n).first
      for (let i = 0; i < n; i++) {
        velocity[i] = velocity[i]! * momentum + (grad[i]! + w[i]! * weightDecay) * scale * rate
        next[i] = w[i]! - velocity[i]!
      }
    } else {
      const slot = this.inProcessSlot(variable, n)
      const m = slot.first
      const v = slot.second!
      const firstInverse = 1 / (1 - Math.pow(ADAM_BETA1, this.step))
      const secondInverse = 1 / (1 - Math.pow(ADAM_BETA2, this.step))
      for (let i = 0; i < n; i++) {
        const gi = (grad[i]! + w[i]! * weightDecay) * scale
        const mi = m[i]! * ADAM_BETA1 + gi * (1 - ADAM_BETA1)
        const vi = v[i]! * ADAM_BETA2 + gi * gi * (1 - ADAM_BETA2)
        m[i] = mi
        v[i] = vi
        next[i] = w[i]! - ((mi * firstInverse) / (Math.sqrt(vi * secondInverse) + ADAM_EPSILON)) * rate
      }
    }
    variable.assign(tf.tensor(next, variable.shape, 'float32'))
  }

  private inProcessSlot(variable: tf.Variable, size: number): InProcessSlot {
    let slot = this.inProcessSlots.get(variable)
    if (!slot) {
      slot = { first: new Float32Array(size) }
      if (this.settings.optimizer === 'adam') slot.second = new Float32Array(size)
      this.inProcessSlots.set(variable, slot)
    }
    return slot
  }

  dispose(): void {
    this.inProcessSlots.clear()
    this.updateKernel = undefined
    for (const state of this.slots.values()) {
      state.first.dispose()
      state.second?.dispose()
    }
    this.slots.clear()
  }
}
