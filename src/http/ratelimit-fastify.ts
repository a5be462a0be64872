import type { FastifyReply, FastifyRequest, onRequestAsyncHookHandler } from 'fastify'
import type { RateLimitDecision, RateLimiter } from '../ratelimit/index.js'
import {
  checkHttpOptions,
  evaluateRequest,
  type HttpRateLimitOptions,
  type RateLimitRequestView,
} from './ratelimit-http.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** The rate-limit decision of this request, when valkit's `fastifyRateLimit` checked it. */
    rateLimit?: RateLimitDecision
  }
}

function viewOf(request: FastifyRequest): RateLimitRequestView {
  return {
    method: request.method,
    url: request.url,
    header(name: string): string | undefined {
      const value = request.headers[name]
      return Array.isArray(value) ? value.join(', ') : value
    },
    remoteAddress: request.raw.socket?.remoteAddress,
  }
}

/**
 * A Fastify `onRequest` hook that rate-limits requests with a valkit {@link RateLimiter}
 * (add it with `app.addHook('onRequest', ...)` or per route as `onRequest`). Admitted requests
 * go on with the IETF `RateLimit-Policy` / `RateLimit` headers and `request.rateLimit`; a
 * concurrency lease is released when the response closes. Refusals answer at once: `429` with
 * `Retry-After` and a JSON body naming the rule, `403` for the deny list, `503` when the store is
 * down and the limiter fails closed.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify'
 * import { fastifyRateLimit, apiKey } from 'valkit/http'
 *
 * const app = Fastify()
 * app.addHook('onRequest', fastifyRateLimit(limiter, { key: apiKey({ header: 'authorization' }) }))
 * app.get('/v1/complete', async () => ({ ok: true }))
 * ```
 */
export function fastifyRateLimit(
  limiter: RateLimiter,
  options: HttpRateLimitOptions<FastifyRequest>,
): onRequestAsyncHookHandler {
  checkHttpOptions(limiter, options, 'fastifyRateLimit')
  return async function valkitRateLimit(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const verdict = await evaluateRequest(limiter, options, request, viewOf(request))
    for (const [name, value] of verdict.headers) void reply.header(name, value)
    if (verdict.decision !== null) request.rateLimit = verdict.decision
    if (verdict.status === null) {
      const lease = verdict.decision?.lease
      if (lease) reply.raw.once('close', () => void lease.release())
      return
    }
    await reply.code(verdict.status).type('application/json; charset=utf-8').send(verdict.body)
  }
}
