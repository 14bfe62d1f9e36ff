/**
 * BlockOptimizer's update on the webgpu backend in 1–3 GPU programs per weight tensor instead of 4–16 tf ops.
 * Why: every tf op is one compute dispatch with a fixed host cost (~0.1–0.25 ms of JavaScript and Dawn, whatever
 * its size), and on a small model the dispatches, not the arithmetic, are the time: adam on the digits MLP was 96
 * of a step's 175 dispatches. Same formulas as optimizer.ts (weight decay β added to the gradient, g̃ = g + β·w):
 *   sgd       w' = w − γ·g̃
 *   momentum  u' = μ·u + γ·g̃                      w' = w − u'
 *   adam      m' = β1·m + (1−β1)·g̃   v' = β2·v + (1−β2)·g̃²   w' = w − γ·(m'/c1) / (√(v'/c2) + ε)
 * A program cannot read and write one buffer (WebGPU forbids binding it read-only and read-write at once), so each
 * writes a new tensor, which the variable takes over with assign() (no copy). LARS (two norms per tensor) keeps
 * the tf-op path.
 */
import * as tf from '@tensorflow/tfjs'

/** The parts of tfjs-backend-webgpu's program interface these updates use (webgpu_program.ts). */
interface Program {
  variableNames: string[]
  outputShape: number[]
  shaderKey: string
  dispatchLayout: { x: number[] }
  dispatch: [number, number, number]
  workgroupSize: [number, number, number]
  size: boolean
  uniforms: string
  getUserCode(): string
}

interface WebGPUBackendLike {
  runWebGPUProgram(program: Program, inputs: tf.TensorInfo[], dtype: tf.DataType, uniforms: Array<{ type: 'float32'; data: number[] }>): tf.TensorInfo
}

const WORKGROUP = 64
/** One dispatch dimension holds at most 65,535 workgroups (WebGPU's default limit): larger tensors keep tf ops. */
const MAX_ELEMENTS = 65_535 * WORKGROUP

/** Whether the fused update runs here: the webgpu backend, a tensor small enough for one dispatch row. */
export function fusesUpdate(variable: tf.Variable): boolean {
  return tf.getBackend() === 'webgpu' && variable.dtype === 'float32' && variable.size <= MAX_ELEMENTS
}

/** An elementwise program over same-shape float32 inputs: `body` sets `result` from the inputs (lower case) and uniforms. */
function elementwise(key: string, inputs: string[], uniforms: string[], body: string, shape: number[]): Program {
  const size = shape.reduce((a, b) => a * b, 1)
  const reads = inputs.map((name) => `let ${name.toLowerCase()} = get${name}ByOutputIndex(index);`).join('\n          ')
  return {
    variableNames: inputs,
    outputShape: shape,
    shaderKey: `layerlab_${key}`,
    dispatchLayout: { x: shape.map((_, i) => i) },
    dispatch: [Math.ceil(size / WORKGROUP), 1, 1],
    workgroupSize: [WORKGROUP, 1, 1],
    size: true,
    uniforms: uniforms.map((name) => `${name} : f32,`).join(' '),
    getUserCode: () => `
      fn main(index : i32) {
        if (index < uniforms.size) {
          ${reads}
          ${body}
          setOutputAtIndex(index, result);
        }
      }`
  }
}

function run(program: Program, inputs: tf.Tensor[], uniforms: number[]): tf.Tensor {
  const backend = tf.backend() as unknown as WebGPUBackendLike
  const info = backend.runWebGPUProgram(
    program,
    inputs,
    'float32',
    uniforms.map((value) => ({ type: 'float32', data: [value] }))
  )
  return tf.engine().makeTensorFromTensorInfo(info)
}

/** Moves `next` into `variable` (assign keeps a reference) and drops this function's handle on it. */
function replace(variable: tf.Variable, next: tf.Tensor): void {
  variable.assign(next)
  next.dispose()
}

export function sgdUpdate(w: tf.Variable, g: tf.Tensor, rate: number, decay: number): void {
  const program = elementwise('sgd', ['W', 'G'], ['rate', 'decay'], 'let result = w - uniforms.rate * (g + uniforms.decay * w);', w.shape)
  replace(w, run(program, [w, g], [rate, decay]))
}

export function momentumUpdate(w: tf.Variable, g: tf.Tensor, velocity: tf.Variable, rate: number, decay: number, momentum: number): void {
  const u = run(
    elementwise(
      'momentum_u',
      ['U', 'W', 'G'],
      ['mu', 'rate', 'decay'],
      'let result = uniforms.mu * u + uniforms.rate * (g + uniforms.decay * w);',
      w.shape
    ),
    [velocity, w, g],
    [momentum, rate, decay]
  )
  const next = run(elementwise('momentum_w', ['W', 'U'], [], 'let result = w - u;', w.shape), [w, u], [])
  replace(velocity, u)
  replace(w, next)
}

export function adamUpdate(
  w: tf.Variable,
  g: tf.Tensor,
  moments: { first: tf.Variable; second: tf.Variable },
  constants: { rate: number; decay: number; beta1: number; beta2: number; epsilon: number; step: number }
): void {
  const { rate, decay, beta1, beta2, epsilon, step } = constants
  const m = run(
    elementwise(
      'adam_m',
      ['M', 'W', 'G'],
      ['beta', 'decay'],
      'let result = uniforms.beta * m + (1.0 - uniforms.beta) * (g + uniforms.decay * w);',
      w.shape
    ),
    [moments.first, w, g],
    [beta1, decay]
  )
  const v = run(
    elementwise(
      'adam_v',
      ['V', 'W', 'G'],
      ['beta', 'decay'],
      'let gd = g + uniforms.decay * w;\n          let result = uniforms.beta * v + (1.0 - uniforms.beta) * gd * gd;',
      w.shape
    ),
    [moments.second, w, g],
    [beta2, decay]
  )
  const next = run(
    elementwise(
      'adam_w',
      ['W', 'M', 'V'],
      ['rate', 'c1', 'c2', 'eps'],
      'let result = w - uniforms.rate * (m / uniforms.c1) / (sqrt(v / uniforms.c2) + uniforms.eps);',
      w.shape
    ),
    [w, m, v],
    [rate, 1 - Math.pow(beta1, step), 1 - Math.pow(beta2, step), epsilon]
  )
  replace(moments.first, m)
  replace(moments.second, v)
  replace(w, next)
}
