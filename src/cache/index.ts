/**
 * `valkit/cache`: a tiered cache (in-process L1 + Redis/Valkey L2) with tags, one loader per key
 * across instances, stale-while-revalidate and grace, cross-instance L1 invalidation and a cache
 * that keeps serving while Redis is down; and the helpers built on it: HTTP responses,
 * PostgreSQL query results, LLM responses and agent context.
 *
 * @packageDocumentation
 */
export { createCache } from './create-cache.js'
export {
  CACHE_DEFAULTS,
  resolveCacheOptions,
  type CacheL1Options,
  type CacheLeaseOptions,
  type CacheLoaderTimeoutOptions,
  type CacheOptions,
  type ResolvedCacheOptions,
} from './cache-options.js'
export type {
  Cache,
  CacheGetOptions,
  CacheSchema,
  CacheSetManyEntry,
  CacheSetOptions,
  CacheStats,
  ClearOptions,
  ClearProgress,
  GetOrSetOptions,
  LoaderContext,
} from './cache-types.js'
export * from './http-response/index.js'
export * from './llm/index.js'
export * from './agent-context/index.js'
export * from './query/index.js'
