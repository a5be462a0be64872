import {
  invalidOption,
  parseDuration,
  resolveCodecOptions,
  type CodecOptions,
  type Duration,
  type EvictionPolicyName,
  type ResolvedCodecOptions,
} from '../core/index.js'

/** Options of the in-process tier (L1). */
export interface CacheL1Options {
  /**
   * Most entries L1 holds; one more evicts one by `policy`.
   * @defaultValue 10_000
   */
  readonly maxEntries?: number
  /**
   * Most bytes L1 holds (a value counts its encoded size, or an estimate when L2 is off).
   * @defaultValue 33_554_432 (32 MiB)
   */
  readonly maxBytes?: number
  /**
   * `'lru'` evicts the least recently used entry, `'lfu'` the least frequently used one.
   * @defaultValue 'lru'
   */
  readonly policy?: EvictionPolicyName
}

/** Loader deadlines of `getOrSet`. */
export interface CacheLoaderTimeoutOptions {
  /**
   * When a stale value is at hand (grace or stale-while-revalidate) and the loader has not
   * answered within this time, the caller gets the stale value; the loader goes on in the
   * background and its result is stored when it arrives.
   * @defaultValue none
   */
  readonly soft?: Duration
  /**
   * The loader is given up after this time: its `signal` is aborted, the caller gets the stale
   * value if one is at hand, else `VALKIT_TIMEOUT`; a late result is not stored.
   * @defaultValue none
   */
  readonly hard?: Duration
}

/** The cross-process stampede lease of `getOrSet`. */
export interface CacheLeaseOptions {
  /**
   * How long a lease is held at most: a loader that takes longer loses it (another instance
   * may then load too). Set it above the loader's usual time; with `loaderTimeout.hard` it is
   * at least that.
   * @defaultValue '5s'
   */
  readonly ttl?: Duration
  /**
   * How long an instance waits for another instance's loader before running its own.
   * @defaultValue the lease's ttl
   */
  readonly wait?: Duration
}

/** Options of {@link createCache}. Resolved once, when the cache is created. */
export interface CacheOptions {
  /**
   * Name of this cache's key space: the Cluster hash tag of all its keys (`{prefix}:v1:cache:{name}:...`)
   * and the scope of `clear()`. Letters, digits and `_ - . /`; `namespace(name)` adds sub-namespaces.
   * @defaultValue 'default'
   */
  readonly namespace?: string
  /**
   * The in-process tier, or `false` to read every value from Redis/Valkey.
   * @defaultValue `{ maxEntries: 10_000, maxBytes: 32 MiB, policy: 'lru' }`
   */
  readonly l1?: false | CacheL1Options
  /**
   * Whether Redis/Valkey is used as the shared tier (L2). `false` makes a process-local cache.
   * @defaultValue true
   */
  readonly l2?: boolean
  /**
   * Default time to live of a value (milliseconds or `'30s'`, `'5m'`, `'1h'`); `> 0`.
   * @defaultValue '5m'
   */
  readonly ttl?: Duration
  /**
   * Fraction (0..1) by which each TTL is randomly shortened, so keys written together do not all
   * expire together. `0.1` turns a 5 min TTL into 4.5-5 min.
   * @defaultValue 0.1
   */
  readonly jitter?: number
  /**
   * How long `getOrSet` remembers that its loader returned `undefined` (negative caching);
   * `0` turns it off (the loader runs again on the next call).
   * @defaultValue 0
   */
  readonly negativeTtl?: Duration
  /**
   * How values are encoded for L2: serializer, compression threshold, encryption (see the codec).
   * @defaultValue `{ serializer: 'json', compression: 'deflate', compressThresholdBytes: 1024 }`
   */
  readonly codec?: CodecOptions
  /**
   * Largest encoded value accepted; `set` of a larger one throws `VALKIT_VALUE_TOO_LARGE`,
   * `getOrSet` serves it without caching it.
   * @defaultValue 1_048_576 (1 MiB)
   */
  readonly maxEntryBytes?: number
  /**
   * How long after its TTL a value may still be served by `getOrSet` while one loader refreshes
   * it in the background (stale-while-revalidate). `0` turns it off.
   * @defaultValue 0
   */
  readonly staleWhileRevalidate?: Duration
  /**
   * How long after its TTL a value is kept to be served by `getOrSet` when the loader fails or
   * times out (grace). `0` turns it off.
   * @defaultValue 0
   */
  readonly grace?: Duration
  /**
   * Soft and hard deadlines of `getOrSet` loaders.
   * @defaultValue none
   */
  readonly loaderTimeout?: CacheLoaderTimeoutOptions
  /**
   * One loader per key across every instance: on an L2 miss, `getOrSet` takes a lease in
   * Redis/Valkey (with a fencing token); the other instances wait for the value, woken by the
   * invalidation message, not by polling. `false`: one loader per key per process.
   * @defaultValue `{ ttl: '5s' }`
   */
  readonly lease?: false | CacheLeaseOptions
}

/** {@link CacheOptions} after validation, with every default applied. */
export interface ResolvedCacheOptions {
  readonly namespace: string
  readonly l1:
    false | { readonly maxEntries: number; readonly maxBytes: number; readonly policy: EvictionPolicyName }
  readonly l2: boolean
  readonly ttlMs: number
  readonly jitter: number
  readonly negativeTtlMs: number
  readonly codec: ResolvedCodecOptions
  readonly maxEntryBytes: number
  readonly staleWhileRevalidateMs: number
  readonly graceMs: number
  /** `0`: no deadline. */
  readonly softTimeoutMs: number
  /** `0`: no deadline. */
  readonly hardTimeoutMs: number
  readonly lease: false | { readonly ttlMs: number; readonly waitMs: number }
}

/** Defaults of {@link CacheOptions}. */
export const CACHE_DEFAULTS = Object.freeze({
  namespace: 'default',
  l1: Object.freeze({ maxEntries: 10_000, maxBytes: 32 * 1024 * 1024, policy: 'lru' }),
  l2: true,
  ttlMs: 5 * 60_000,
  jitter: 0.1,
  negativeTtlMs: 0,
  maxEntryBytes: 1024 * 1024,
  staleWhileRevalidateMs: 0,
  graceMs: 0,
  lease: Object.freeze({ ttlMs: 5000 }),
})

const NAMESPACE = /^[A-Za-z0-9_\-./]{1,128}$/

/**
 * Checks a namespace name (also used by `cache.namespace(name)`).
 * @throws ValkitError `VALKIT_INVALID_OPTION` naming `path`.
 */
export function checkNamespace(name: unknown, path: string): string {
  if (typeof name !== 'string' || !NAMESPACE.test(name)) {
    throw invalidOption(
      path,
      `got ${typeof name === 'string' ? JSON.stringify(name.slice(0, 40)) : typeof name}`,
      "1-128 letters, digits or '_', '-', '.', '/' (no ':', braces or spaces)",
    )
  }
  return name
}

function positiveInteger(value: unknown, path: string, fallback: number): number {
  if (value === undefined) return fallback
  if (value === Infinity) return Infinity
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw invalidOption(path, `got ${describe(value)}`, 'an integer >= 1')
  }
  return value
}

function describe(value: unknown): string {
  return typeof value === 'number' ? String(value) : typeof value
}

/** Parses a TTL given per call or as an option: a Duration `> 0`. */
export function parseTtl(value: unknown, path: string): number {
  const ms = parseDuration(value, path)
  if (ms <= 0) throw invalidOption(path, `got ${String(value)}`, 'a duration > 0')
  return ms
}

/**
 * Validates cache options and applies defaults.
 *
 * @throws ValkitError `VALKIT_INVALID_OPTION` naming the option's path (`cache.l1.maxEntries`).
 */
export function resolveCacheOptions(options: CacheOptions = {}, path = 'cache'): ResolvedCacheOptions {
  if (typeof options !== 'object' || options === null) {
    throw invalidOption(path, `got ${options === null ? 'null' : typeof options}`, 'an object')
  }
  const d = CACHE_DEFAULTS
  const namespace = checkNamespace(options.namespace ?? d.namespace, `${path}.namespace`)
  let l1: ResolvedCacheOptions['l1']
  const l1Options = options.l1
  if (l1Options === false) l1 = false
  else if (l1Options === undefined) l1 = d.l1
  else if (typeof l1Options !== 'object' || l1Options === null) {
    throw invalidOption(`${path}.l1`, `got ${String(l1Options)}`, 'false or an object')
  } else {
    const policy = l1Options.policy ?? d.l1.policy
    if (policy !== 'lru' && policy !== 'lfu') {
      throw invalidOption(`${path}.l1.policy`, `got ${JSON.stringify(policy)}`, "'lru' or 'lfu'")
    }
    l1 = Object.freeze({
      maxEntries: positiveInteger(l1Options.maxEntries, `${path}.l1.maxEntries`, d.l1.maxEntries),
      maxBytes: positiveInteger(l1Options.maxBytes, `${path}.l1.maxBytes`, d.l1.maxBytes),
      policy,
    })
  }
  const l2 = options.l2 ?? d.l2
  if (typeof l2 !== 'boolean') throw invalidOption(`${path}.l2`, `got ${typeof l2}`, 'a boolean')
  if (!l2 && l1 === false) {
    throw invalidOption(`${path}.l1`, 'both tiers are off', 'l1 or l2 (or both) turned on')
  }
  const ttlMs = options.ttl === undefined ? d.ttlMs : parseTtl(options.ttl, `${path}.ttl`)
  const jitter = options.jitter ?? d.jitter
  if (typeof jitter !== 'number' || !(jitter >= 0 && jitter <= 1)) {
    throw invalidOption(`${path}.jitter`, `got ${String(jitter)}`, 'a number from 0 to 1')
  }
  const negativeTtlMs =
    options.negativeTtl === undefined
      ? d.negativeTtlMs
      : parseDuration(options.negativeTtl, `${path}.negativeTtl`)
  const codec = resolveCodecOptions(options.codec ?? {}, `${path}.codec`)
  const maxEntryBytes = positiveInteger(options.maxEntryBytes, `${path}.maxEntryBytes`, d.maxEntryBytes)
  if (maxEntryBytes === Infinity) {
    throw invalidOption(`${path}.maxEntryBytes`, 'got Infinity', 'an integer >= 1')
  }
  const staleWhileRevalidateMs =
    options.staleWhileRevalidate === undefined
      ? d.staleWhileRevalidateMs
      : parseDuration(options.staleWhileRevalidate, `${path}.staleWhileRevalidate`)
  const graceMs = options.grace === undefined ? d.graceMs : parseDuration(options.grace, `${path}.grace`)
  const timeouts = resolveLoaderTimeout(options.loaderTimeout, `${path}.loaderTimeout`)
  const lease = resolveLease(options.lease, timeouts.hardTimeoutMs, `${path}.lease`)
  return Object.freeze({
    namespace,
    l1,
    l2,
    ttlMs,
    jitter,
    negativeTtlMs,
    codec,
    maxEntryBytes,
    staleWhileRevalidateMs,
    graceMs,
    ...timeouts,
    lease,
  })
}

function objectOption(value: unknown, path: string): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidOption(path, `got ${value === null ? 'null' : typeof value}`, 'an object')
  }
}

/** Resolves `loaderTimeout` (also given per call to `getOrSet` as `timeout`). @internal */
export function resolveLoaderTimeout(
  value: CacheLoaderTimeoutOptions | undefined,
  path: string,
): { softTimeoutMs: number; hardTimeoutMs: number } {
  if (value === undefined) return { softTimeoutMs: 0, hardTimeoutMs: 0 }
  objectOption(value, path)
  const softTimeoutMs = value.soft === undefined ? 0 : parseTtl(value.soft, `${path}.soft`)
  const hardTimeoutMs = value.hard === undefined ? 0 : parseTtl(value.hard, `${path}.hard`)
  if (softTimeoutMs > 0 && hardTimeoutMs > 0 && softTimeoutMs >= hardTimeoutMs) {
    throw invalidOption(
      `${path}.soft`,
      `got ${softTimeoutMs} ms >= hard ${hardTimeoutMs} ms`,
      'less than hard',
    )
  }
  return { softTimeoutMs, hardTimeoutMs }
}

function resolveLease(
  value: false | CacheLeaseOptions | undefined,
  hardTimeoutMs: number,
  path: string,
): ResolvedCacheOptions['lease'] {
  if (value === false) return false
  const given = value ?? {}
  objectOption(given, path)
  let ttlMs = given.ttl === undefined ? CACHE_DEFAULTS.lease.ttlMs : parseTtl(given.ttl, `${path}.ttl`)
  // A loader that may legitimately run until its hard deadline keeps its lease that long.
  if (given.ttl === undefined && hardTimeoutMs > 0) ttlMs = Math.max(ttlMs, hardTimeoutMs + 1000)
  const waitMs = given.wait === undefined ? ttlMs : parseDuration(given.wait, `${path}.wait`)
  return Object.freeze({ ttlMs, waitMs })
}
