/**
 * One router for every host. A host hands it a request name and untrusted arguments; the router checks the
 * name, validates the arguments with the contract's zod schema, calls the handler, and always answers with an
 * ApiResponse — never a throw — so no host can crash on a bad request.
 */
import { z } from 'zod'
import { requests, type ApiResponse, type HandlerArgs, type RequestName, type RequestResult } from '../shared/contract'
import { LabError, toErrorShape } from '../shared/errors'

export type Handlers = { [K in RequestName]: (args: HandlerArgs<K>) => Promise<RequestResult<K>> | RequestResult<K> }

export interface Router {
  handle(name: string, args: unknown): Promise<ApiResponse<unknown>>
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => `${issue.path.length ? issue.path.join('.') : 'arguments'}: ${issue.message}`)
    .join('; ')
}

export function createRouter(handlers: Handlers, options: { debug?: boolean; onInternalError?: (error: unknown) => void } = {}): Router {
  return {
    async handle(name, rawArgs) {
      if (typeof name !== 'string' || !Object.hasOwn(requests, name)) {
        return { ok: false, error: { code: 'bad_request', message: `unknown request ${JSON.stringify(name)}` } }
      }
      const key = name as RequestName
      const parsed = requests[key].args.safeParse(rawArgs ?? {})
      if (!parsed.success) {
        return { ok: false, error: { code: 'bad_request', message: `${key}: ${describeIssues(parsed.error)}` } }
      }
      try {
        const handler = handlers[key] as (args: unknown) => Promise<unknown>
        return { ok: true, result: await handler(parsed.data) }
      } catch (error) {
        if (!(error instanceof LabError)) options.onInternalError?.(error)
        return { ok: false, error: toErrorShape(error, options.debug) }
      }
    }
  }
}
