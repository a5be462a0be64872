import type { Duration } from '../core/index.js'
import type { CacheLoaderTimeoutOptions } from './cache-options.js'

/**
 * Checks a value read from Redis/Valkey: anything with a `parse(value)` that returns the value
 * or throws (a zod schema, for one), or a Standard Schema (`~standard.validate`, synchronous).
 * A value that fails is counted as `invalid` and treated as a miss.
 */
export type CacheSchema<T> =
  | { parse(value: unknown): T }
  | {
      readonly '~standard': {
        validate(
          value: unknown,
        ):
          | { readonly value: T; readonly issues?: undefined }
          | { readonly issues: readonly unknown[] }
          | Promise<unknown>
      }
    }

/** Options of a read (`get`, `getMany`). */
export interface CacheGetOptions<T> {
  /** Validates values read from L2 (see {@link CacheSchema}). @defaultValue none */
  readonly schema?: CacheSchema<T>
}

/** Options of one write (`set`, `getOrSet`). */
export interface CacheSetOptions {
  /**
   * Time to live of this value (milliseconds or `'30s'`); `> 0`. Jitter applies.
   * @defaultValue the cache's `ttl`
   */
  readonly ttl?: Duration
  /**
   * Tags of this value: `invalidateTags([tag])` deletes every value carrying it, in every instance.
   * @defaultValue none
   */
  readonly tags?: readonly string[]
}

/** What a `getOrSet` loader is given. */
export interface LoaderContext<T> {
  /** The cache key (without the namespace). */
  readonly key: string
  /** Aborted when the hard loader timeout passes: stop the work, its result will not be used. */
  readonly signal: AbortSignal
  /** The stale value kept for this key (grace / stale-while-revalidate), if there is one. */
  readonly stale: T | undefined
}

/** Options of {@link Cache.getOrSet}; each overrides the cache's option of the same name for this call. */
export interface GetOrSetOptions<T> {
  /**
   * Time to live of the loaded value, or a function choosing it from the value.
   * @defaultValue the cache's `ttl`
   */
  readonly ttl?: Duration | ((value: T) => Duration)
  /**
   * Tags of the loaded value, or a function choosing them from the value. A load that overlaps
   * an `invalidateTags` of one of them (in any instance) returns its value but does not store it.
   * @defaultValue none
   */
  readonly tags?: readonly string[] | ((value: T) => readonly string[])
  /** Serve a value this long past its TTL while it is refreshed in the background. @defaultValue the cache's */
  readonly staleWhileRevalidate?: Duration
  /** Keep a value this long past its TTL, to serve when the loader fails. @defaultValue the cache's */
  readonly grace?: Duration
  /** Soft and hard loader deadlines. @defaultValue the cache's `loaderTimeout` */
  readonly timeout?: CacheLoaderTimeoutOptions
  /** Take the cross-process lease on a miss (only when the cache has one). @defaultValue true */
  readonly lease?: boolean
  /** Validates a value read from L2; a failing one is reloaded. @defaultValue none */
  readonly schema?: CacheSchema<T>
}

/** One value of {@link Cache.setMany}. */
export interface CacheSetManyEntry extends CacheSetOptions {
  readonly key: string
  readonly value: unknown
}

/** Progress of a {@link Cache.clear} call. */
export interface ClearProgress {
  /** Keys looked at so far (on every master). */
  readonly scanned: number
  /** Keys deleted so far. */
  readonly deleted: number
}

/** Options of {@link Cache.clear} and {@link Cache.invalidatePattern}. */
export interface ClearOptions {
  /** Called after each SCAN page. */
  readonly onProgress?: (progress: ClearProgress) => void
}

/** What {@link Cache.stats} returns: counters since creation, for the whole cache (every namespace). */
export interface CacheStats {
  /** Reads answered by the in-process tier. */
  readonly hitsL1: number
  /** Reads answered by Redis/Valkey. */
  readonly hitsL2: number
  /** Reads that found nothing (including corrupted and unreachable-L2 reads). */
  readonly misses: number
  /** Loader runs of `getOrSet` (coalesced callers share one). */
  readonly loaderRuns: number
  /** `getOrSet` callers that joined a loader run already in flight. */
  readonly coalesced: number
  /** Values written (`set`, and `getOrSet` after a loader run). */
  readonly sets: number
  /** Keys deleted, tags invalidated and clears, by this instance. */
  readonly invalidations: number
  /** L1 entries dropped because another instance changed them. */
  readonly remoteInvalidations: number
  /** L2 values that failed to decode (corrupted, tampered, unknown key): counted as misses. */
  readonly corrupt: number
  /** Loaded values larger than `maxEntryBytes`, served without caching. */
  readonly oversize: number
  /** L2 operations that failed (server down, timeout); the cache went on without L2. */
  readonly l2Errors: number
  /** L2 deletions that could not be sent while Redis was away, replayed after recovery. */
  readonly replayed: number
  /** Stale values served by `getOrSet` (stale-while-revalidate, grace after a failure or timeout). */
  readonly staleServed: number
  /** Background refreshes started by stale-while-revalidate. */
  readonly refreshes: number
  /** L2 values that failed a read's schema: counted as misses. */
  readonly invalid: number
  /** Loaded values not stored because an invalidation overlapped the load (or its lease was lost). */
  readonly discarded: number
  /** Times a `getOrSet` waited for another instance's loader (the lease was held). */
  readonly leaseWaits: number
  /** Loader runs given up at the hard timeout. */
  readonly loaderTimeouts: number
  /** L1 entries evicted by its bounds (entries, bytes), not counting expiry and deletes. */
  readonly evictions: number
  /** L1 entries now. */
  readonly l1Entries: number
  /** L1 bytes now. */
  readonly l1Bytes: number
  /**
   * Values of this cache's namespaces in L2, as of the last completed count (an incremental
   * SCAN, 10 pages of 1000 keys every 5 s); `null` before the first count or without L2.
   */
  readonly l2Entries: number | null
}

/**
 * A tiered cache bound to one namespace: an in-process L1 in front of Redis/Valkey (L2),
 * kept coherent across instances by invalidation messages. Made by `createCache`.
 *
 * While Redis/Valkey is unreachable no method fails because of it: reads use L1 and the
 * loader, writes act on L1 (L2 deletions are replayed after recovery).
 */
export interface Cache {
  /** The namespace's full name (`parent:child` for a sub-namespace). */
  readonly name: string
  /**
   * The value, from L1 or L2, or `undefined`.
   *
   * @example
   * ```ts
   * const user = await cache.get<User>(`user:${id}`)
   * ```
   */
  get<T = unknown>(key: string, options?: CacheGetOptions<T>): Promise<T | undefined>
  /**
   * Stores a value in L1 and L2 (one round trip, tags included) and drops it from every other
   * instance's L1.
   * @throws ValkitError `VALKIT_VALUE_TOO_LARGE` above `maxEntryBytes`; `VALKIT_INVALID_ARGUMENT`
   *   for a value the codec cannot encode or an invalid option.
   *
   * @example
   * ```ts
   * await cache.set(`user:${id}`, user, { ttl: '10m', tags: [`org:${user.orgId}`] })
   * ```
   */
  set(key: string, value: unknown, options?: CacheSetOptions): Promise<void>
  /**
   * The cached value, or the loader's result stored for next time. Concurrent callers of one
   * key in this process share one loader run (before the first Redis read); across instances,
   * one instance takes the key's lease and the others wait for its value (`lease` option). A
   * loader error is not cached: it rejects every caller sharing that run, unless a stale value
   * is kept (`grace`), which is then served. While Redis is down the loader's result is served
   * and kept in L1.
   *
   * @example
   * ```ts
   * const user = await cache.getOrSet(`user:${id}`, () => db.users.find(id), { ttl: '10m', tags: ['users'] })
   * const page = await cache.getOrSet('home', ({ signal }) => fetchPage({ signal }), {
   *   staleWhileRevalidate: '1m',
   *   timeout: { soft: '200ms', hard: '5s' },
   *   ttl: (page) => (page.draft ? '10s' : '10m'),
   * })
   * ```
   */
  getOrSet<T>(
    key: string,
    loader: (context: LoaderContext<T>) => T | Promise<T>,
    options?: GetOrSetOptions<T>,
  ): Promise<T>
  /** Values of several keys, in order: L1 first, then one MGET for the rest. */
  getMany<T = unknown>(keys: readonly string[], options?: CacheGetOptions<T>): Promise<(T | undefined)[]>
  /**
   * Stores several values (each with its own TTL and tags) in L1 and L2, in one round trip.
   * @throws ValkitError as {@link Cache.set}; nothing is stored when one entry is invalid.
   *
   * @example
   * ```ts
   * await cache.setMany(users.map((u) => ({ key: `user:${u.id}`, value: u, tags: [`org:${u.orgId}`] })))
   * ```
   */
  setMany(entries: readonly CacheSetManyEntry[]): Promise<void>
  /** Deletes a key in L1, L2 and every other instance's L1. */
  delete(key: string): Promise<void>
  /** Whether a (non-negative) value is cached, in L1 or L2. */
  has(key: string): Promise<boolean>
  /**
   * Deletes every value carrying one of these tags, in L2 and in every instance's L1: `has()`
   * is `false` for them as soon as the promise resolves.
   *
   * @example
   * ```ts
   * await cache.invalidateTags([`org:${orgId}`])
   * ```
   */
  invalidateTags(tags: readonly string[]): Promise<void>
  /**
   * Deletes every key of this namespace matching a Redis glob (`*`, `?`, `[a-z]`, `\\x`), in L2
   * (SCAN + UNLINK) and in every instance's L1. Resolves with the number of L2 keys deleted;
   * rejects with `VALKIT_UNAVAILABLE` (after dropping the L1 matches) when L2 cannot be reached.
   *
   * @example
   * ```ts
   * await cache.invalidatePattern('user:42:*')
   * ```
   */
  invalidatePattern(pattern: string, options?: ClearOptions): Promise<{ deleted: number }>
  /**
   * Deletes every key of this namespace and its sub-namespaces (SCAN + UNLINK on every master),
   * in L2 and in every instance's L1. Resolves with the number of L2 keys deleted; rejects with
   * `VALKIT_UNAVAILABLE` (after clearing L1) when L2 cannot be reached.
   */
  clear(options?: ClearOptions): Promise<{ deleted: number }>
  /**
   * A cache bound to a sub-namespace (`parent:name`), sharing this cache's L1, options and
   * connection. The same object for the same name.
   *
   * @example
   * ```ts
   * const tenantCache = cache.namespace(`tenant-${tenantId}`)
   * ```
   */
  namespace(name: string): Cache
  /** Resolves once this namespace's invalidation channel is subscribed (at once without L2). */
  ready(): Promise<void>
  /** Counters of the whole cache (every namespace of one `createCache`). */
  stats(): CacheStats
  /**
   * Root cache: unsubscribes, drops L1 and detaches from the supervisor. Sub-namespace:
   * unsubscribes its channel. Idempotent; valkit itself stays open.
   */
  close(): Promise<void>
}
