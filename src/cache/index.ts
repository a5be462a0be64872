/**
 * `valkit/cache`: a tiered cache (in-process L1 + Redis/Valkey L2) with tags, in-process
 * coalescing of loaders, cross-instance L1 invalidation and a cache that keeps serving while
 * Redis is down.
 *
 * @packageDocumentation
 */
export { createCache } from './create-cache.js'
export {
  CACHE_DEFAULTS,
  resolveCacheOptions,
  type CacheL1Options,
  type CacheOptions,
  type ResolvedCacheOptions,
} from './cache-options.js'
export type { Cache, CacheSetOptions, CacheStats, ClearOptions, ClearProgress } from './cache-types.js'
