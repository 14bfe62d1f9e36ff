/** Types of scripts/build-kernels.mjs for the test that checks each kernel module against its .wat. */
export const FUSED_VARIANTS: Set<string>
export function fusedSource(text: string): string
export function assemble(watFile: string, options?: { fused?: boolean }): Promise<Buffer>
export function moduleSource(name: string, bytes: Buffer, fusedBytes?: Buffer): string
