import type { FastifyReply, FastifyRequest } from 'fastify'
import { tokenMatches } from './admin-token.js'

/** The JSON body of a refused request, shaped like a `ValkitError`. */
export interface UnauthorizedBody {
  readonly error: { readonly code: 'VALKIT_UNAUTHORIZED'; readonly message: string }
}

const NO_TOKEN_CONFIGURED =
  'The admin API is disabled: no admin token is configured. Set the `adminToken` option, ' +
  'VALKIT_ADMIN_TOKEN or VALKIT_ADMIN_TOKEN_FILE (`valkit serve` generates one and prints the file it wrote).'

/**
 * A Fastify `onRequest` hook that admits a request only with `Authorization: Bearer <token>`
 * matching `token` (constant-time compare). Without a configured token it refuses everything.
 * Refusals are 401 with a `VALKIT_UNAUTHORIZED` body and a `WWW-Authenticate` header.
 */
export function createAuthHook(token: string | undefined) {
  return async function authHook(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    let message: string | undefined
    if (token === undefined) {
      message = NO_TOKEN_CONFIGURED
    } else {
      const header = request.headers.authorization
      const match = typeof header === 'string' ? /^Bearer[ ]+(\S+)\s*$/i.exec(header) : null
      if (!match?.[1]) {
        message = 'Missing admin token: send `Authorization: Bearer <token>`.'
      } else if (!tokenMatches(token, match[1])) {
        message = 'The admin token is not valid.'
      }
    }
    if (message === undefined) return
    const body: UnauthorizedBody = { error: { code: 'VALKIT_UNAUTHORIZED', message } }
    await reply
      .code(401)
      .header('www-authenticate', 'Bearer realm="valkit"')
      .header('cache-control', 'no-store')
      .send(body)
  }
}
