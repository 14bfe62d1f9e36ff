/** Types of scripts/build-kernels.mjs for the test that checks each kernel module against its .wat. */
export const FUSED_VARIANTS: Set<string>
export const SHARED_VARIANTS: Set<string>
export const SHARED_MAXIMUM_PAGES: number
export function fusedSource(text: string): string
export function sharedSource(text: string): string
export function assemble(watFile: string, options?: { fused?: boolean; shared?: boolean }): Promise<Buffer>
export function variantsOf(name: string): [string, { fused?: boolean; shared?: boolean }][]
export function moduleSource(name: string, built: [string, Buffer][]): string
