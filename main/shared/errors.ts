import type { ApiErrorShape } from './contract'
import { errorText } from './format'

/**
 * An error meant for the user: its message is one line that names the file or thing and the problem.
 * Anything else thrown inside a service is a bug and reaches the user as `internal` (with the stack only under --debug).
 */
export class LabError extends Error {
  constructor(
    message: string,
    readonly code: ApiErrorShape['code'] = 'user_error'
  ) {
    super(message)
    this.name = 'LabError'
  }
}

export const notFound = (what: string, id: string): LabError => new LabError(`${what} ${id} not found`, 'not_found')

/** Turns anything thrown into the wire shape. */
export function toErrorShape(error: unknown, debug = false): ApiErrorShape {
  if (error instanceof LabError) return { code: error.code, message: error.message }
  const message = errorText(error)
  return { code: 'internal', message: debug && error instanceof Error && error.stack ? error.stack : `internal error: ${message}` }
}
