import { ValkitError } from '../../core/index.js'
import type { Cache } from '../cache-types.js'
import { ResponseCacheCounters } from './response-cache-counters.js'
import {
  resolveResponseCacheOptions,
  resolveResponseCacheRouteOptions,
  type ResolvedResponseCacheOptions,
  type ResponseCacheOptions,
  type ResponseCacheRouteOptions,
} from './response-cache-options.js'
import { CacheRoute, type RouteContext } from './response-cache-route.js'
import type { ResponseCache, ResponseCacheRoute, ResponseCacheStats } from './response-cache-types.js'
import type { ResponseFlight } from './response-flight.js'

class ResponseCacheEngine implements ResponseCache, RouteContext {
  readonly counters: ResponseCacheCounters
  readonly flights = new Map<string, ResponseFlight>()

  constructor(
    readonly cache: Cache,
    readonly options: ResolvedResponseCacheOptions,
  ) {
    this.counters = new ResponseCacheCounters(options.metrics, cache.name)
  }

  route(options: ResponseCacheRouteOptions = {}, path = 'responseCache.route'): ResponseCacheRoute {
    return new CacheRoute(this, resolveResponseCacheRouteOptions(options, this.options.route, path))
  }

  stats(): ResponseCacheStats {
    return this.counters.snapshot()
  }

  error(err: unknown): void {
    this.counters.error()
    try {
      this.options.onError?.(err)
    } catch {
      // A throwing onError must not fail the request either.
    }
  }
}

/**
 * Creates an HTTP response cache on a {@link Cache}: the engine the `valkit/http` adapters
 * (Express, Fastify, Hono) use. Responses are stored in the cache (L1 + Redis/Valkey), so every
 * instance shares them and `cache.invalidateTags` drops them everywhere. Options here are the
 * defaults of every route; they are validated once (`VALKIT_INVALID_OPTION` naming the path).
 *
 * A response is stored when the request is a `GET` without `Authorization` (see
 * `cacheAuthorized`), `Range` or client `no-store`, and the response has a status in `statuses`,
 * no `Set-Cookie`, no `no-store` / `private` / `no-cache`, no `Vary: *`, and a body within
 * `maxBodyBytes`. `HEAD` is answered from `GET`'s entries. Hits carry `Age`, an `ETag` and the
 * status header; `If-None-Match` / `If-Modified-Since` get a 304. Concurrent misses of one key in
 * one process run the handler once (`coalesce`). A cache that fails never fails a request.
 *
 * @throws ValkitError `VALKIT_INVALID_ARGUMENT` when `cache` is not a cache; `VALKIT_INVALID_OPTION`.
 *
 * @example
 * ```ts
 * import { createCache, createResponseCache } from 'valkit/cache'
 * import { expressResponseCache } from 'valkit/http'
 *
 * const cache = createCache(valkit, { namespace: 'http' })
 * const responses = createResponseCache(cache, { ttl: '1m', vary: ['accept-language'], metrics: valkit.metrics })
 * app.get('/products', expressResponseCache(responses, { ttl: '30s', tags: ['products'] }), listProducts)
 * // after a product changes, in any instance:
 * await cache.invalidateTags(['products'])
 * ```
 */
export function createResponseCache(cache: Cache, options: ResponseCacheOptions = {}): ResponseCache {
  if (
    typeof cache !== 'object' ||
    cache === null ||
    typeof cache.get !== 'function' ||
    typeof cache.set !== 'function'
  ) {
    throw new ValkitError(
      'VALKIT_INVALID_ARGUMENT',
      'createResponseCache() needs a cache made by createCache(valkit, options) as its first argument.',
    )
  }
  return new ResponseCacheEngine(cache, resolveResponseCacheOptions(options))
}
