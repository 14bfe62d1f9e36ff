/**
 * A stage of a dense-only chain trained inside one wasm instance (kernels/denseTrain.wat): the weights, the
 * optimizer's moments, the activations and the gradients live in its memory from the stage's start to its end,
 * and a batch is about twenty calls into it (gather, per layer one matrix product forward with bias and
 * activation, the loss in JavaScript over a view of the logits, per layer the activation gradient, the bias and
 * kernel gradients and the input gradient, then one update per weight tensor). Validation runs forward through the
 * same kernels. No tensor is made on the way.
 *
 * Why: the tape-free tfjs step of denseChain.ts still costs ~25 kernel dispatches, a dozen tensor allocations and
 * a copy per weight tensor per batch, which dominate the arithmetic at these sizes (issue 20's note has the
 * profile). tfjs stays the model API: the weights are read from the tf variables when the stage opens and written
 * back when it ends (the best epoch's, when early stopping kept one) and after every epoch where a hook holds the
 * model, so hooks, export, other backends and every other layer type see the model as before.
 *
 * The same chains as denseChain.ts: dense layers with relu, relu6, sigmoid or linear hidden activations, the last
 * one's softmax (or linear output) left as logits, a rank-1 input, and groups whose variables are the chain's.
 */
import * as tf from '@tensorflow/tfjs'
import { ADAM_BETA1, ADAM_BETA2, ADAM_EPSILON, LARS_ETA, type BlockOptimizer } from '../optimizer'
import { type Features, sizeOf } from '../features'
import { FeatureFile } from '../featureFile'
import { type Assessment, meanRecall } from '../evaluate'
import { type Objective, lossAndGradient, regressionLoss } from '../objective'
import { rSquared } from '../../shared/task'
import type { Chain } from '../forward'
import { denseChainOf } from './denseChain'
import { type DenseTrainKernel, type DenseTrainVariant, denseTrainKernel } from './kernels'

/** Rows per validation chunk (and the row capacity of the activation buffers when the batch is smaller). */
const EVAL_ROWS = 256
/** A part is copied into the kernel's memory once per stage up to this size; bigger parts are copied per batch. */
const COPY_PART_BYTES = 64 * 2 ** 20
/** Slack after every buffer: the kernels' last vectors may read or write up to 3 floats past a buffer's end. */
const SLACK = 16
const ACTIVATION_CODE = { linear: 0, relu: 1, relu6: 2, sigmoid: 3 } as const

export interface FusedGroup {
  optimizer: BlockOptimizer
  variables: tf.Variable[]
}

export interface FusedStage {
  chain: Chain
  train: Features
  val: Features
  batchSize: number
  objective: Objective
  groups: FusedGroup[]
  /** The variables the best-epoch snapshot restores: must be exactly the chain's kernels and biases. */
  restorable: tf.Variable[]
}

/** One weight tensor in the kernel's memory, with its gradient and optimizer state. */
interface Tensor {
  variable: tf.Variable
  layer: number
  size: number
  at: number
  grad: number
  /** Momentum's velocity or Adam's first moment (0 for sgd). */
  first: number
  /** Adam's second moment (0 otherwise). */
  second: number
  /** The group that trains it; null: no group does (it keeps its value). */
  group: FusedGroup | null
}

interface Layer {
  inputs: number
  units: number
  activation: keyof typeof ACTIVATION_CODE
  kernel: Tensor
  bias: Tensor
  /** The kernel transposed (units × inputs), for the input gradient; 0 for the first layer (its input is data). */
  transposed: number
  /** This layer's output, [rows, units]. */
  out: number
}

/** The weights of a stage at one moment (the best epoch's), in the order of the stage's `restorable`. */
export type FusedSnapshot = Float32Array[]

export class FusedDenseChain {
  private readonly heap: Float32Array
  private readonly index: Int32Array
  private readonly targets: Int32Array | Float32Array
  private readonly dOut: Float32Array
  private readonly tensors = new Map<tf.Variable, Tensor>()

  private constructor(
    private readonly kernel: DenseTrainKernel,
    readonly variant: DenseTrainVariant,
    private readonly stage: FusedStage,
    private readonly layers: Layer[],
    tensors: Tensor[],
    private readonly input: number,
    private readonly gradients: [number, number],
    indexAt: number,
    private readonly trainCopy: number | null,
    private readonly valCopy: number | null,
    private readonly rows: number
  ) {
    this.heap = new Float32Array(kernel.memory.buffer)
    this.index = new Int32Array(kernel.memory.buffer, indexAt, stage.batchSize)
    this.targets = stage.objective.task === 'regression' ? new Float32Array(stage.batchSize) : new Int32Array(stage.batchSize)
    const last = layers[layers.length - 1]!
    this.dOut = new Float32Array(kernel.memory.buffer, gradients[0], rows * last.units)
    for (const tensor of tensors) this.tensors.set(tensor.variable, tensor)
  }

  /**
   * The stage in a fresh kernel instance, or null where it does not apply (another layer type, an input of rank
   * > 1, groups or restorable variables that are not the chain's, no wasm SIMD). `variant` forces the kernel build.
   */
  static open(stage: FusedStage, variant?: DenseTrainVariant): FusedDenseChain | null {
    const dense = denseChainOf(stage.chain.layers, stage.chain.specs, stage.train.shape)
    if (!dense) return null
    const weights = dense.flatMap((layer) => [layer.kernel, layer.bias])
    const owner = new Map<tf.Variable, FusedGroup>()
    for (const group of stage.groups) for (const variable of group.variables) owner.set(variable, group)
    if (stage.restorable.length !== weights.length || !stage.restorable.every((variable) => weights.includes(variable))) return null
    if ([...owner.keys()].some((variable) => !weights.includes(variable))) return null
    const loaded = denseTrainKernel(variant)
    if (!loaded) return null
    const { kernel } = loaded

    const inSize = sizeOf(stage.train.shape)
    const rows = Math.max(stage.batchSize, Math.min(EVAL_ROWS, Math.max(stage.val.n, 1)))
    let next = 64
    const alloc = (floats: number) => {
      const at = next
      next += Math.ceil((floats * 4 + SLACK) / 16) * 16
      return at
    }
    const widest = Math.max(inSize, ...dense.map((layer) => layer.kernel.shape[1]!))
    const input = alloc(rows * inSize)
    const gradients: [number, number] = [alloc(rows * widest), alloc(rows * widest)]
    const indexAt = alloc(stage.batchSize)
    const order: Tensor[] = []
    const tensor = (variable: tf.Variable, layer: number): Tensor => {
      const size = variable.size
      const group = owner.get(variable) ?? null
      const kind = group?.optimizer.settings.optimizer
      const made: Tensor = {
        variable,
        layer,
        size,
        at: alloc(size),
        grad: alloc(size),
        first: kind === 'momentum' || kind === 'adam' ? alloc(size) : 0,
        second: kind === 'adam' ? alloc(size) : 0,
        group
      }
      order.push(made)
      return made
    }
    const layers: Layer[] = dense.map((layer, i) => {
      const [inputs, units] = layer.kernel.shape as [number, number]
      return {
        inputs,
        units,
        activation: layer.activation,
        kernel: tensor(layer.kernel, i),
        bias: tensor(layer.bias, i),
        transposed: i > 0 ? alloc(inputs * units) : 0,
        out: alloc(rows * units)
      }
    })
    const copied = (features: Features) => features.x instanceof Float32Array && features.n * inSize * 4 <= COPY_PART_BYTES
    const trainCopy = copied(stage.train) ? alloc(stage.train.n * inSize) : null
    const valCopy = copied(stage.val) && stage.val.n > 0 ? alloc(stage.val.n * inSize) : null

    const missing = Math.ceil(next / 65536) - kernel.memory.buffer.byteLength / 65536
    if (missing > 0) kernel.memory.grow(missing)
    const heap = new Float32Array(kernel.memory.buffer)
    for (const item of order) heap.set(item.variable.dataSync() as Float32Array, item.at / 4)
    if (trainCopy !== null) heap.set(stage.train.x as Float32Array, trainCopy / 4)
    if (valCopy !== null) heap.set((stage.val.x as Float32Array).subarray(0, stage.val.n * inSize), valCopy / 4)
    return new FusedDenseChain(kernel, loaded.variant, stage, layers, order, input, gradients, indexAt, trainCopy, valCopy, rows)
  }

  /**
   * A model's dense-only chain ready to score parts (engine.ts's final test, validation and train scores): its
   * weights read from the tf variables now, nothing trained, no part copied in (each chunk is). Null where open
   * would decline the chain. Why: through tfjs's layers these three parts cost the article's job ~30 ms per run
   * (issue 20), here about a tenth.
   */
  static scorer(chain: Chain, objective: Objective, inputShape: number[]): FusedDenseChain | null {
    const dense = denseChainOf(chain.layers, chain.specs, inputShape)
    if (!dense) return null
    const none: Features = { x: new Float32Array(0), y: new Int32Array(0), n: 0, shape: inputShape }
    const weights = dense.flatMap((layer) => [layer.kernel, layer.bias])
    return FusedDenseChain.open({ chain, train: none, val: none, batchSize: EVAL_ROWS, objective, groups: [], restorable: weights })
  }

  /** Bytes of the kernel's memory this stage uses (weights, state, buffers, copied parts). */
  get memoryBytes(): number {
    return this.kernel.memory.buffer.byteLength
  }

  /**
   * What one training step of `batchSize` rows works in, beyond the weights themselves: the batch's input, every
   * layer's output, the two gradient buffers, the transposed kernels, and per weight tensor its gradient and
   * optimizer moments. Not counted: the kernel's copy of the weights (the tf variables hold the same values, and
   * the step figure counts those as the tfjs paths' does), the copied train and validation parts (data, which the
   * tfjs paths keep outside tensors too) and the rows beyond the batch that validation chunks use. Added to the
   * tensors live in tfjs, this is the same quantity as tf.profile's step peak on the other paths (meter.ts).
   */
  get stepBytes(): number {
    const batch = this.stage.batchSize
    const floats = (n: number) => Math.ceil((n * 4 + SLACK) / 16) * 16
    const inSize = sizeOf(this.stage.train.shape)
    const widest = Math.max(inSize, ...this.layers.map((layer) => layer.units))
    let bytes = floats(batch * inSize) + 2 * floats(batch * widest) + floats(batch)
    for (const layer of this.layers) {
      bytes += floats(batch * layer.units) + (layer.transposed ? floats(layer.inputs * layer.units) : 0)
      for (const tensor of [layer.kernel, layer.bias]) bytes += floats(tensor.size) * (1 + (tensor.first ? 1 : 0) + (tensor.second ? 1 : 0))
    }
    return bytes
  }

  /** Runs `count` rows through the chain from the kernel's memory at `from` (a byte offset) into the last layer's output. */
  private forward(from: number, count: number): number {
    const { kernel } = this
    let x = from
    for (const layer of this.layers) {
      const code = ACTIVATION_CODE[layer.activation]
      // relu and relu6 are stored through the tile; sigmoid needs exp, which wasm lacks.
      kernel.gemm(
        layer.out,
        x,
        layer.kernel.at,
        layer.bias.at,
        count,
        layer.units,
        layer.inputs,
        layer.inputs * 4,
        4,
        layer.units * 4,
        layer.units * 4,
        2,
        code === 3 ? 0 : code
      )
      if (code === 3) {
        const values = this.heap.subarray(layer.out / 4, layer.out / 4 + count * layer.units)
        for (let i = 0; i < values.length; i++) values[i] = 1 / (1 + Math.exp(-values[i]!))
      }
      x = layer.out
    }
    return x
  }

  /** Copies the rows order[from..from+count) of the train part into the input buffer, and their targets. */
  private gather(order: Int32Array, from: number, count: number): void {
    const { train } = this.stage
    const inSize = sizeOf(train.shape)
    for (let k = 0; k < count; k++) this.targets[k] = train.y[order[from + k]!]!
    if (this.trainCopy !== null) {
      this.index.set(order.subarray(from, from + count))
      this.kernel.gatherRows(this.input, this.trainCopy, this.index.byteOffset, count, inSize * 4)
      return
    }
    const base = this.input / 4
    for (let k = 0; k < count; k++) {
      const row = order[from + k]!
      if (train.x instanceof FeatureFile) train.x.readRow(row, this.heap, base + k * inSize)
      else this.heap.set(train.x.subarray(row * inSize, (row + 1) * inSize), base + k * inSize)
    }
  }

  /**
   * One training step on the rows order[from..from+count): forward, loss, backward, then each active group's
   * update. Returns the batch's mean loss and its tally (objective.ts's BatchResult).
   */
  step(order: Int32Array, from: number, count: number, active: FusedGroup[]): readonly [number, number] {
    const { kernel, layers, heap } = this
    this.gather(order, from, count)
    const logits = this.forward(this.input, count)
    const last = layers[layers.length - 1]!
    const result = lossAndGradient(
      this.stage.objective,
      heap.subarray(logits / 4, logits / 4 + count * last.units),
      this.targets.subarray(0, count),
      count,
      this.dOut
    )
    const training = new Set(active)
    const trains = (item: Tensor) => item.group !== null && training.has(item.group)
    let lowest = layers.length
    layers.forEach((layer, i) => {
      if (i < lowest && (trains(layer.kernel) || trains(layer.bias))) lowest = i
    })
    // dy of the layer being visited (the loss gradient for the last one), and the buffer its dx goes to.
    let [dy, dx] = this.gradients
    for (let i = layers.length - 1; i >= lowest; i--) {
      const layer = layers[i]!
      const input = i === 0 ? this.input : layers[i - 1]!.out
      const code = ACTIVATION_CODE[layer.activation]
      if (code !== 0) kernel.activationGradient(dy, layer.out, count * layer.units, code)
      if (trains(layer.bias)) kernel.columnSum(layer.bias.grad, dy, count, layer.units)
      // dW = xᵀ·dz: x read transposed (its rows are the product's k).
      if (trains(layer.kernel))
        kernel.gemm(layer.kernel.grad, input, dy, 0, layer.inputs, layer.units, count, 4, layer.inputs * 4, layer.units * 4, layer.units * 4, 0, 0)
      if (i > lowest) {
        // dx = dz·Wᵀ, before this step's update changes W.
        kernel.transpose(layer.transposed, layer.kernel.at, layer.inputs, layer.units)
        kernel.gemm(dx, dy, layer.transposed, 0, count, layer.inputs, layer.units, layer.units * 4, 4, layer.inputs * 4, layer.inputs * 4, 0, 0)
        ;[dy, dx] = [dx, dy]
      }
    }
    for (const group of active) {
      const step = group.optimizer.countStep()
      for (const variable of group.variables) this.update(this.tensors.get(variable)!, group.optimizer, step)
    }
    return [result.loss, result.tally]
  }

  /** optimizer.ts's update of one weight tensor, in the kernel (whole vectors: the slack takes the rest). */
  private update(item: Tensor, optimizer: BlockOptimizer, step: number): void {
    const { kernel } = this
    const { optimizer: kind, weightDecay, lars, momentum } = optimizer.settings
    const rate = optimizer.learningRate
    const n = Math.ceil(item.size / 4) * 4
    let scale = 1
    if (lars) {
      const weightNorm = Math.fround(Math.sqrt(kernel.sumSquares(item.at, item.size)))
      const gradNorm = Math.fround(Math.sqrt(kernel.decayedSumSquares(item.grad, item.at, item.size, weightDecay)))
      if (weightNorm > 0 && gradNorm > 0) scale = Math.fround((weightNorm * LARS_ETA) / (gradNorm + weightNorm * weightDecay))
    }
    if (kind === 'sgd') kernel.sgd(item.at, item.grad, n, rate, weightDecay, scale)
    else if (kind === 'momentum') kernel.momentum(item.at, item.grad, item.first, n, rate, weightDecay, scale, momentum)
    else {
      const c1 = 1 / (1 - Math.pow(ADAM_BETA1, step))
      const c2 = 1 / (1 - Math.pow(ADAM_BETA2, step))
      kernel.adam(item.at, item.grad, item.first, item.second, n, rate, weightDecay, scale, ADAM_BETA1, ADAM_BETA2, ADAM_EPSILON, c1, c2)
    }
  }

  /**
   * The chain scored over a part (the stage's validation part), as evaluate.ts's assess with logits; with
   * `probabilities` as assess does a whole model ending in its softmax (the loss is −log of the clipped
   * probability, and each row's top probability is its confidence).
   */
  assess(features: Features, probabilities = false): Assessment {
    const { objective } = this.stage
    const inSize = sizeOf(features.shape)
    const last = this.layers[this.layers.length - 1]!
    const width = last.units
    const regression = objective.task === 'regression'
    const predicted = regression ? new Float32Array(features.n) : new Int32Array(features.n)
    const confidence = probabilities && !regression ? new Float32Array(features.n) : undefined
    const labels = features.y
    let lossSum = 0
    let correct = 0
    for (let start = 0; start < features.n; start += this.rows) {
      const count = Math.min(this.rows, features.n - start)
      let from: number
      if (features === this.stage.val && this.valCopy !== null) from = this.valCopy + start * inSize * 4
      else {
        const rows =
          features.x instanceof FeatureFile ? features.x.readRows(start, count) : features.x.subarray(start * inSize, (start + count) * inSize)
        this.heap.set(rows, this.input / 4)
        from = this.input
      }
      const out = this.forward(from, count) / 4
      const { heap } = this
      for (let r = 0; r < count; r++) {
        const row = out + r * width
        if (regression) {
          predicted[start + r] = heap[row]!
          continue
        }
        let max = -Infinity
        let best = 0
        for (let c = 0; c < width; c++)
          if (heap[row + c]! > max) {
            max = heap[row + c]!
            best = c
          }
        let sum = 0
        for (let c = 0; c < width; c++) sum += Math.exp(heap[row + c]! - max)
        const label = labels[start + r]!
        if (confidence) {
          // evaluate.ts clips the softmax's probability to [1e-7, 1] before its log.
          lossSum -= Math.log(Math.min(1, Math.max(1e-7, Math.exp(heap[row + label]! - max) / sum)))
          confidence[start + r] = 1 / sum
        } else lossSum += Math.log(sum) - (heap[row + label]! - max)
        predicted[start + r] = best
        if (best === label) correct++
      }
    }
    if (regression) {
      const { loss } = regressionLoss(
        objective.regressionLoss,
        predicted as Float32Array,
        labels as Float32Array,
        features.n,
        new Float32Array(features.n)
      )
      const score = rSquared(labels, predicted)
      return { score, loss, predicted, balancedScore: score }
    }
    return {
      score: features.n ? correct / features.n : 0,
      loss: features.n ? lossSum / features.n : 0,
      predicted,
      balancedScore: meanRecall(labels as Int32Array, predicted as Int32Array),
      ...(confidence ? { confidence } : {})
    }
  }

  /** A copy of the weights now (for the best epoch), in the order of the stage's restorable variables. */
  snapshot(): FusedSnapshot {
    return this.stage.restorable.map((variable) => {
      const item = this.tensors.get(variable)!
      return this.heap.slice(item.at / 4, item.at / 4 + item.size)
    })
  }

  /**
   * Writes the weights into the tf variables: the snapshot's where given, else the current ones. The trainer does
   * this at the stage's end, and after every epoch where its hooks hold the model (they see it as on the other paths).
   */
  writeBack(snapshot: FusedSnapshot | null): void {
    this.stage.restorable.forEach((variable, i) => {
      const item = this.tensors.get(variable)!
      const values = snapshot ? snapshot[i]! : this.heap.slice(item.at / 4, item.at / 4 + item.size)
      tf.tidy(() => variable.assign(tf.tensor(values, variable.shape, 'float32')))
    })
  }
}
