/**
 * `valkit/http`: framework adapters. HTTP response caching for Express, Fastify and Hono on a
 * valkit response cache (`createResponseCache` from `valkit/cache`). `express` and `hono` are
 * imported as types only, so neither becomes a dependency of valkit.
 *
 * @packageDocumentation
 */
export { expressResponseCache } from './express-response-cache.js'
export { fastifyResponseCache, type FastifyResponseCacheOptions } from './fastify-response-cache.js'
export { honoResponseCache } from './hono-response-cache.js'
export { expressRateLimit } from './ratelimit-express.js'
export { fastifyRateLimit } from './ratelimit-fastify.js'
export { honoRateLimit } from './ratelimit-hono.js'
export {
  apiKey,
  clientIp,
  ipKey,
  rateLimitKeys,
  type HttpRateLimitOptions,
  type RateLimitKeyExtractor,
  type RateLimitRequestView,
  type TrustProxy,
} from './ratelimit-http.js'
export { expressSession, type SessionRequest } from './session-express.js'
export { fastifySession } from './session-fastify.js'
export { honoSession, type SessionVariables } from './session-hono.js'
