import type { Context, MiddlewareHandler } from 'hono'
import type { ContentfulStatusCode } from 'hono/utils/http-status'
import type { RateLimiter } from '../ratelimit/index.js'
import {
  checkHttpOptions,
  evaluateRequest,
  type HttpRateLimitOptions,
  type RateLimitRequestView,
} from './ratelimit-http.js'

/** The socket's peer on @hono/node-server (`c.env.incoming`); other runtimes pass it via `ipKey` options or headers. */
function peerOf(c: Context): string | undefined {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined
  return env?.incoming?.socket?.remoteAddress
}

function viewOf(c: Context): RateLimitRequestView {
  const url = new URL(c.req.url)
  return {
    method: c.req.method,
    url: url.pathname + url.search,
    header: (name) => c.req.header(name),
    remoteAddress: peerOf(c),
  }
}

/**
 * Hono middleware that rate-limits requests with a valkit {@link RateLimiter}. Admitted requests
 * go on (`c.get('rateLimit')` holds the decision) and their response gets the IETF
 * `RateLimit-Policy` / `RateLimit` headers; a concurrency lease is released when the handler is
 * done. Refusals answer at once: `429` with `Retry-After` and a JSON body naming the rule, `403`
 * for the deny list, `503` when the store is down and the limiter fails closed. The client
 * address is the socket's peer on `@hono/node-server`; elsewhere key by header or API key.
 *
 * @example
 * ```ts
 * import { Hono } from 'hono'
 * import { honoRateLimit } from 'valkit/http'
 *
 * const app = new Hono()
 * app.use('/api/*', honoRateLimit(limiter, { key: (c) => ({ user: c.req.header('x-user-id') }) }))
 * ```
 */
export function honoRateLimit(
  limiter: RateLimiter,
  options: HttpRateLimitOptions<Context>,
): MiddlewareHandler {
  checkHttpOptions(limiter, options, 'honoRateLimit')
  return async (c, next) => {
    const verdict = await evaluateRequest<Context>(limiter, options, c, viewOf(c))
    if (verdict.status !== null) {
      const headers: Record<string, string> = {}
      for (const [name, value] of verdict.headers) headers[name] = value
      return c.json(verdict.body as object, verdict.status as ContentfulStatusCode, headers)
    }
    if (verdict.decision !== null) c.set('rateLimit' as never, verdict.decision as never)
    try {
      await next()
    } finally {
      await verdict.decision?.lease?.release()
    }
    for (const [name, value] of verdict.headers) c.header(name, value)
    return undefined
  }
}
