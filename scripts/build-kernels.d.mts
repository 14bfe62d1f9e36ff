/** Types of scripts/build-kernels.mjs for the test that checks each kernel module against its .wat. */
export function assemble(watFile: string): Promise<Buffer>
export function moduleSource(name: string, bytes: Buffer): string
