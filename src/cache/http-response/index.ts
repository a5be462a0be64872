/**
 * HTTP response caching on a valkit {@link Cache}, framework-agnostic: the engine behind the
 * Express, Fastify and Hono adapters of `valkit/http`. Key building, bypass rules, `Cache-Control`
 * and `Vary` handling, ETag / 304, coalescing of concurrent misses, and the storage format.
 *
 * @packageDocumentation
 */
export { createResponseCache } from './create-response-cache.js'
export {
  RESPONSE_CACHE_DEFAULTS,
  resolveResponseCacheOptions,
  resolveResponseCacheRouteOptions,
  type ResolvedResponseCacheOptions,
  type ResolvedResponseCacheRouteOptions,
  type ResponseCacheOptions,
  type ResponseCacheRouteOptions,
  type ResponseCacheTags,
} from './response-cache-options.js'
export type {
  BypassReason,
  CacheStatus,
  CapturedResponse,
  HeaderEdits,
  HeaderEntry,
  NotStoredReason,
  ResponseCache,
  ResponseCacheLookup,
  ResponseCacheRequest,
  ResponseCacheRoute,
  ResponseCacheStats,
  ResponseCapture,
  ResponseHeaders,
  ServedResponse,
  StoreOutcome,
} from './response-cache-types.js'
export {
  parseCacheControl,
  parseVary,
  requestDirectives,
  ifNoneMatchMatches,
  type CacheDirectives,
  type HeaderValue,
  type RequestCacheDirectives,
} from './cache-control.js'
export { decideStore, type StoreDecision } from './store-decision.js'
