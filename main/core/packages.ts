/**
 * Packages that only some requests use, loaded by the first of them (ARCHITECTURE.md, "What the lab loads"). They
 * are required, not import()ed: the build keeps an external package's import() as Node's own, whose view of a
 * CommonJS package can lack its named exports (onnx-proto's `onnx` arrives only under `default`), while require
 * gives the package's exports as it wrote them, in the build and from source alike.
 */
import { createRequire } from 'node:module'

const localRequire = createRequire(__filename)
/** The package's exports, required on the call (Node caches them after the first). */
const onFirstUse =
  <T>(name: string) =>
  (): T =>
    localRequire(name) as T

export const onnxRuntime = onFirstUse<typeof import('onnxruntime-node')>('onnxruntime-node')
export const onnxProto = onFirstUse<typeof import('onnx-proto')>('onnx-proto')
export const bullmq = onFirstUse<typeof import('bullmq')>('bullmq')
export const ioredis = onFirstUse<typeof import('ioredis')>('ioredis')
