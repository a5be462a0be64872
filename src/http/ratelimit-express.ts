import type { NextFunction, Request, RequestHandler, Response } from 'express'
import type { RateLimiter } from '../ratelimit/index.js'
import {
  checkHttpOptions,
  evaluateRequest,
  type HttpRateLimitOptions,
  type RateLimitRequestView,
} from './ratelimit-http.js'

/** The request as the key extractors see it. */
function viewOf(req: Request): RateLimitRequestView {
  return {
    method: req.method,
    url: req.originalUrl || req.url,
    header(name: string): string | undefined {
      const value = req.headers[name]
      return Array.isArray(value) ? value.join(', ') : value
    },
    remoteAddress: req.socket?.remoteAddress,
  }
}

/**
 * Express middleware that rate-limits the routes it is mounted on with a valkit
 * {@link RateLimiter}: one check (every rule, one round trip) per request. Admitted requests go
 * on with the IETF `RateLimit-Policy` / `RateLimit` headers set and the decision in
 * `res.locals.rateLimit`; a concurrency lease is released when the response closes. Refusals
 * answer at once: `429` with `Retry-After` and a JSON body naming the rule (`blocked` and
 * `too-large` also 429), `403` for the deny list, `503` when the store is down and the limiter
 * fails closed. Options are checked now (`VALKIT_INVALID_OPTION`).
 *
 * @example
 * ```ts
 * import express from 'express'
 * import { createRateLimiter } from 'valkit/ratelimit'
 * import { expressRateLimit, ipKey } from 'valkit/http'
 *
 * const limiter = createRateLimiter(valkit, {
 *   name: 'search',
 *   rules: { ip: { algorithm: 'sliding-window-log', limit: 30, window: '1m', by: 'ip' } },
 * })
 * const app = express()
 * app.get('/search', expressRateLimit(limiter, { key: ipKey({ trustProxy: 1 }) }), (req, res) => {
 *   res.json(search(req.query))
 * })
 * ```
 */
export function expressRateLimit(
  limiter: RateLimiter,
  options: HttpRateLimitOptions<Request>,
): RequestHandler {
  checkHttpOptions(limiter, options, 'expressRateLimit')
  return (req: Request, res: Response, next: NextFunction): void => {
    evaluateRequest(limiter, options, req, viewOf(req)).then((verdict) => {
      for (const [name, value] of verdict.headers) res.setHeader(name, value)
      if (verdict.decision !== null) res.locals.rateLimit = verdict.decision
      if (verdict.status === null) {
        const lease = verdict.decision?.lease
        if (lease) res.once('close', () => void lease.release())
        next()
        return
      }
      res.status(verdict.status).json(verdict.body)
    }, next)
  }
}
