import { randomBytes } from 'node:crypto'

/** Short ids that a person can type: a prefix and 8 hex digits (4 billion per prefix). */
export const newId = (prefix: 'ds' | 'run' | 'art' | 'st'): string => `${prefix}-${randomBytes(4).toString('hex')}`

export const nowIso = (): string => new Date().toISOString()
