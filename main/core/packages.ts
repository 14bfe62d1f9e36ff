/**
 * Packages that only some requests use, loaded by the first of them (ARCHITECTURE.md, "What the lab loads"). They
 * are required, not import()ed: the build keeps an external package's import() as Node's own, whose view of a
 * CommonJS package can lack its named exports (onnx-proto's `onnx` arrives only under `default`), while require
 * gives the package's exports as it wrote them, in the build and from source alike.
 */
import { createRequire } from 'node:module'

const localRequire = createRequire(__filename)

export const onnxRuntime = (): typeof import('onnxruntime-node') => localRequire('onnxruntime-node') as typeof import('onnxruntime-node')
export const onnxProto = (): typeof import('onnx-proto') => localRequire('onnx-proto') as typeof import('onnx-proto')
export const bullmq = (): typeof import('bullmq') => localRequire('bullmq') as typeof import('bullmq')
export const ioredis = (): typeof import('ioredis') => localRequire('ioredis') as typeof import('ioredis')
