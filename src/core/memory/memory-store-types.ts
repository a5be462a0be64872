/** Why an entry left a memory store. */
export type EvictionReason =
  /** Evicted by the LRU policy because the store reached `maxEntries`. */
  | 'lru'
  /** Evicted by the LFU policy because the store reached `maxEntries`. */
  | 'lfu'
  /** Its TTL passed (found on access, by the sweeper, or `expire(key, 0)`). */
  | 'expired'
  /** Removed by `delete()` or `clear()`. */
  | 'deleted'
  /** Evicted to stay under `maxBytes`, or dropped because a new value for its key was too large. */
  | 'size'

/** Called synchronously after an entry left the store. Errors it throws become process warnings. */
export type EvictListener<V> = (key: string, value: V, reason: EvictionReason) => void

/** Options of {@link MemoryStore.set}. */
export interface MemorySetOptions {
  /** Time to live in ms (> 0); omitted or `Infinity` means no expiry. */
  ttlMs?: number
  /** Size of the value in bytes; omitted means the store's `sizeOf` estimate. */
  sizeBytes?: number
}

/** Counters of a memory store, as plain data. */
export interface MemoryStoreStats {
  /** `get` calls that found a live entry. */
  hits: number
  /** `get` calls that found nothing (or an expired entry). */
  misses: number
  /** Successful writes (`set`, `incrBy`). */
  sets: number
  /** Entries evicted by the policy or the byte bound (reasons `lru`, `lfu`, `size`). */
  evictions: number
  /** Entries removed because their TTL passed. */
  expirations: number
  /** `set` calls refused because the value alone exceeds `maxBytes`. */
  rejected: number
  /** Entries held now (may include expired entries not yet swept). */
  entries: number
  /** Bytes held now. */
  bytes: number
}

/**
 * An in-process key-value store with TTLs, bounded by entries and bytes: the primitive under
 * every capability's memory backend (embedded default, and fallback while Redis is down).
 *
 * Expired entries are removed lazily on access and by an incremental sweeper. All methods are
 * synchronous; times are milliseconds of the store's clock.
 */
export interface MemoryStore<V = unknown> extends Iterable<[string, V]> {
  /** The value, or `undefined`; a hit counts as a use for the eviction policy. */
  get(key: string): V | undefined
  /** The value without counting a use (no recency or frequency update, no hit/miss stats). */
  peek(key: string): V | undefined
  /**
   * Stores a value. Returns `false` (and stores nothing, dropping any previous value of the key)
   * when the value alone is larger than `maxBytes`.
   * @throws ValkitError `VALKIT_INVALID_ARGUMENT` for a non-string key or an invalid `ttlMs`/`sizeBytes`.
   */
  set(key: string, value: V, options?: MemorySetOptions): boolean
  /** Removes a key; `true` if it existed (and had not expired). */
  delete(key: string): boolean
  /** Whether a live entry exists (no use counted). */
  has(key: string): boolean
  /** Milliseconds left to live; `-1` if the key has no TTL, `-2` if it does not exist (like `PTTL`). */
  ttl(key: string): number
  /** Sets a key's TTL; `ttlMs <= 0` removes the key now. Returns `false` if the key does not exist. */
  expire(key: string, ttlMs: number): boolean
  /** Removes a key's TTL; `true` if it had one. */
  persist(key: string): boolean
  /**
   * Adds `n` to a numeric counter, creating it at `n` if missing. `ttlMs` is applied only when the
   * counter has no TTL yet (like `INCRBY` + `PEXPIRE NX`), so a window's expiry is not pushed back.
   * @throws ValkitError `VALKIT_INVALID_ARGUMENT` if the key holds a non-number or `n` is not finite.
   */
  incrBy(key: string, n: number, ttlMs?: number): number
  /** Live keys, optionally matching a Redis-style glob (`*`, `?`, `[a-z]`, `\\x`). */
  keys(pattern?: string): IterableIterator<string>
  /** Live `[key, value]` pairs, optionally matching a glob. No use is counted. */
  entries(pattern?: string): IterableIterator<[string, V]>
  /** Removes every entry (listeners see reason `deleted`). */
  clear(): void
  /** Removes up to `limit` expired entries now; returns how many. The sweeper calls this. */
  sweep(limit?: number): number
  /** Subscribes to removals; returns the unsubscribe function. */
  onEvict(listener: EvictListener<V>): () => void
  /** Counters and current totals. */
  stats(): MemoryStoreStats
  /** Stops the sweeper timer. The store stays usable, with lazy expiry only. */
  close(): void
  /** Entries held (may include expired entries not yet swept). */
  readonly size: number
  /** Bytes held. */
  readonly bytes: number
}
