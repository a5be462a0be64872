/**
 * `valkit/cache` query caching for PostgreSQL (`pg`): results cached in a valkit cache with a
 * tag per table they read, invalidated in every instance when a trigger NOTIFYs that the table
 * changed.
 *
 * @packageDocumentation
 */
export { createQueryCache } from './create-query-cache.js'
export {
  QUERY_CACHE_DEFAULTS,
  resolveQueryCacheOptions,
  type QueryCacheOptions,
  type QueryCacheReconnectOptions,
  type ResolvedQueryCacheOptions,
} from './query-cache-options.js'
export type {
  QueryCache,
  QueryCacheInstallOptions,
  QueryCacheQueryOptions,
  QueryCacheResult,
  QueryCacheStats,
  QueryCacheUninstallOptions,
} from './query-cache-types.js'
export type { InstallResult, UninstallResult } from './triggers.js'
export type {
  PgField,
  PgNotification,
  PgRawQueryConfig,
  PgResultLike,
  PgTypeParser,
  PgTypeParsers,
  QueryCacheClient,
  QueryCachePool,
  QueryCachePoolClient,
} from './pg-types.js'
