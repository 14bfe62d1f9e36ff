import { kernelThreadReady, setKernelThreads, threadStats } from '../main/train/fast/kernels'
import { convForwardGemm, convInputGradGemm, convKernelGradGemm, denseGradientsGemm, type ConvGeometry } from '../main/train/fast/kernels/convTrain'
const rnd = (n: number) => Float32Array.from({ length: n }, (_, i) => Math.sin(i * 0.37))
async function main() {
  await kernelThreadReady()
  const cases: Array<[string, ConvGeometry]> = [
    ['conv1 32x28x28x1 k3 f16', { x: [32, 28, 28, 1], k: 3, f: 16, before: 1, outH: 28, outW: 28 }],
    ['conv2 32x14x14x16 k3 f32', { x: [32, 14, 14, 16], k: 3, f: 32, before: 1, outH: 14, outW: 14 }]
  ]
  const time = (fn: () => void, reps = 40) => { const t: number[] = []; for (let r = 0; r < reps; r++) { const s = performance.now(); fn(); t.push(performance.now() - s) } t.sort((a, b) => a - b); return [t[0]!, t[reps >> 1]!] }
  for (const [name, g] of cases) {
    const [n, h, w, c] = g.x
    const x = rnd(n * h * w * c), wt = rnd(g.k * g.k * c * g.f), dy = rnd(n * g.outH * g.outW * g.f)
    const macs = n * g.outH * g.outW * g.k * g.k * c * g.f
    for (const [op, fn] of [['forward', () => convForwardGemm(x, wt, g)], ['kernelGrad', () => convKernelGradGemm(x, dy, g)], ['inputGrad', () => convInputGradGemm(dy, wt, g)]] as const) {
      const out: string[] = []
      for (const threads of [1, 2, 1, 2]) {
        setKernelThreads(threads); const j = threadStats.jobs, wt0 = threadStats.waitedMs
        const [min, med] = time(fn as () => void)
        out.push(`${threads}t ${min.toFixed(2)}/${med.toFixed(2)} ms ${(2 * macs / min / 1e6).toFixed(1)} GF` + (threads === 2 ? ` (wait/job ${(((threadStats.waitedMs - wt0) / Math.max(1, threadStats.jobs - j)) * 1000).toFixed(0)} us)` : ''))
      }
      console.log(name, op, out.join(' | '))
    }
  }
  const [m, i, o] = [32, 1568, 64]
  const x = rnd(m * i), wt = rnd(i * o), dz = rnd(m * o)
  for (const threads of [1, 2, 1, 2]) { setKernelThreads(threads); const [min, med] = time(() => denseGradientsGemm(x, wt, dz, m, i, o, true)); console.log(`dense 32x1568x64 grads ${threads}t ${min.toFixed(3)}/${med.toFixed(3)} ms ${(4 * m * i * o / min / 1e6).toFixed(1)} GF`) }
}
main()
