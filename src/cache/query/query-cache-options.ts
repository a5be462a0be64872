import {
  invalidOption,
  parseDuration,
  type Duration,
  type Logger,
  type MetricsRegistry,
} from '../../core/index.js'
import type { Cache } from '../cache-types.js'
import { isIdentifier } from './identifiers.js'
import type { PgTypeParsers, QueryCacheClient, QueryCachePool } from './pg-types.js'

/**
 * How the LISTEN connection is re-established after it is lost.
 *
 * @example
 * ```ts
 * createQueryCache({ cache, pool, reconnect: { initialDelay: '250ms', maxDelay: '30s' } })
 * ```
 */
export interface QueryCacheReconnectOptions {
  /**
   * Delay before the first attempt; each failed attempt doubles it (with full jitter).
   * @defaultValue '100ms'
   */
  readonly initialDelay?: Duration
  /**
   * Longest delay between two attempts.
   * @defaultValue '10s'
   */
  readonly maxDelay?: Duration
}

/**
 * Options of {@link createQueryCache}. Resolved once, when the query cache is created.
 *
 * @example
 * ```ts
 * const options: QueryCacheOptions = {
 *   cache: createCache(valkit, { namespace: 'pg' }),
 *   pool,
 *   valkit,
 *   ttl: '10m',
 *   functionSchema: 'app',
 * }
 * const queries = createQueryCache(options)
 * ```
 */
export interface QueryCacheOptions {
  /** The cache results are stored in (`createCache(valkit, ...)`, or one of its namespaces). */
  readonly cache: Cache
  /** The user's `pg.Pool`: queries run through it and, by default, the listener's client comes from it. */
  readonly pool: QueryCachePool
  /**
   * The NOTIFY channel; also the name of the per-table triggers and (with `_notify`) of the
   * trigger function. Instances that share a database and a cache use the same channel.
   * A letter or `_`, then letters, digits, `_` or `$`; at most 56 bytes.
   * @defaultValue 'valkit_query_cache'
   */
  readonly channel?: string
  /**
   * Schema of the trigger function `<channel>_notify()`. Since PostgreSQL 15, `public` is not
   * writable by every role: name a schema the installing role may create in.
   * @defaultValue 'public'
   */
  readonly functionSchema?: string
  /**
   * `false`: `query()` refuses a table whose trigger is missing (call `install()` from a
   * migration or at deploy). `true`: it installs the trigger on first use, which needs DDL
   * rights and briefly locks the table against writes.
   * @defaultValue false
   */
  readonly autoInstall?: boolean
  /**
   * What `query()` does while the LISTEN connection is down (before it is first established,
   * and while it reconnects), when this instance cannot hear about writes. `'bypass'`: read
   * PostgreSQL, neither serve nor store cached results. `'cache'`: keep serving and storing;
   * results may be stale until the listener is back (then everything is invalidated).
   * @defaultValue 'bypass'
   */
  readonly whileNotListening?: 'bypass' | 'cache'
  /**
   * Whether this instance, when it first LISTENs, invalidates every table carrying the trigger.
   * Writes made while no instance listened (every instance stopped, a migration run meanwhile)
   * were never notified; with `false` their tables' results stay cached until their TTL (or an
   * `invalidate()`). `true` costs a cold cache for those tables at each start.
   * @defaultValue false
   */
  readonly invalidateOnStart?: boolean
  /**
   * Time to live of a cached result (milliseconds or `'30s'`), overridable per query.
   * @defaultValue the cache's `ttl`
   */
  readonly ttl?: Duration
  /**
   * Notifications arriving within this window are invalidated together (one `invalidateTags`).
   * @defaultValue '5ms'
   */
  readonly coalesce?: Duration
  /** Backoff of the listener's reconnection. */
  readonly reconnect?: QueryCacheReconnectOptions
  /**
   * Interval of a `SELECT 1` on the listener's connection; when one is still unanswered at the
   * next tick, the connection counts as lost (a silently dead TCP connection would otherwise
   * hide missed notifications). `false` turns it off.
   * @defaultValue '10s'
   */
  readonly heartbeat?: Duration | false
  /**
   * `lock_timeout` of `install()` / `uninstall()`: `CREATE TRIGGER` waits for the table's lock,
   * and writers queue behind it while it waits.
   * @defaultValue '5s'
   */
  readonly lockTimeout?: Duration
  /**
   * Makes the listener's dedicated connection. Give a direct connection to the primary when the
   * pool goes through PgBouncer in transaction mode (LISTEN needs a session) or to a replica.
   * @defaultValue `() => pool.connect()` (one client of the pool, held while listening)
   */
  readonly connectListener?: () => Promise<QueryCacheClient>
  /**
   * Type parsers for cached rows.
   * @defaultValue the pool's `types` option, else `pg.types` (loaded on first use)
   */
  readonly types?: PgTypeParsers
  /**
   * Where metrics (`valkit_cache_query_*`) and log lines go: pass your valkit instance.
   * @defaultValue none (no metrics, no logs)
   */
  readonly valkit?: { readonly metrics: MetricsRegistry; readonly logger: Logger }
}

/**
 * {@link QueryCacheOptions} after validation, with every default applied.
 *
 * @example
 * ```ts
 * const { channel, coalesceMs }: ResolvedQueryCacheOptions = resolveQueryCacheOptions({ cache, pool })
 * ```
 */
export interface ResolvedQueryCacheOptions {
  readonly cache: Cache
  readonly pool: QueryCachePool
  readonly channel: string
  readonly functionSchema: string
  readonly autoInstall: boolean
  readonly whileNotListening: 'bypass' | 'cache'
  readonly invalidateOnStart: boolean
  readonly ttlMs: number | undefined
  readonly coalesceMs: number
  readonly reconnect: { readonly initialDelayMs: number; readonly maxDelayMs: number }
  readonly heartbeatMs: number | false
  readonly lockTimeoutMs: number
  readonly connectListener: (() => Promise<QueryCacheClient>) | undefined
  readonly types: PgTypeParsers | undefined
  readonly metrics: MetricsRegistry | undefined
  readonly logger: Logger | undefined
}

/**
 * Defaults of {@link QueryCacheOptions}.
 *
 * @example
 * ```ts
 * QUERY_CACHE_DEFAULTS.channel // 'valkit_query_cache'
 * ```
 */
export const QUERY_CACHE_DEFAULTS = Object.freeze({
  channel: 'valkit_query_cache',
  functionSchema: 'public',
  autoInstall: false,
  whileNotListening: 'bypass' as const,
  invalidateOnStart: false,
  coalesceMs: 5,
  reconnect: Object.freeze({ initialDelayMs: 100, maxDelayMs: 10_000 }),
  heartbeatMs: 10_000,
  lockTimeoutMs: 5_000,
})

/** Longest channel: `<channel>_notify` must fit PostgreSQL's 63-byte names. */
const MAX_CHANNEL_BYTES = 56

function hasMethods(value: unknown, names: readonly string[]): boolean {
  if (typeof value !== 'object' || value === null) return false
  const record = value as Record<string, unknown>
  return names.every((n) => typeof record[n] === 'function')
}

function got(value: unknown): string {
  if (value === null) return 'got null'
  return typeof value === 'string' ? `got ${JSON.stringify(value.slice(0, 80))}` : `got ${typeof value}`
}

function positiveDuration(value: unknown, path: string): number {
  const ms = parseDuration(value, path)
  if (ms <= 0) throw invalidOption(path, `got ${String(value)}`, 'a duration > 0')
  return ms
}

/**
 * Validates query cache options and applies defaults.
 *
 * @throws ValkitError `VALKIT_INVALID_OPTION` naming the option's path (`queryCache.channel`).
 *
 * @example
 * ```ts
 * const resolved = resolveQueryCacheOptions({ cache, pool, coalesce: '10ms' })
 * resolved.coalesceMs // 10
 * ```
 */
export function resolveQueryCacheOptions(
  options: QueryCacheOptions,
  path = 'queryCache',
): ResolvedQueryCacheOptions {
  if (typeof options !== 'object' || options === null) {
    throw invalidOption(path, got(options), 'an object with at least `cache` and `pool`')
  }
  const d = QUERY_CACHE_DEFAULTS
  const { cache, pool } = options
  if (!hasMethods(cache, ['getOrSet', 'invalidateTags'])) {
    throw invalidOption(`${path}.cache`, got(cache), 'a cache made by createCache(valkit, options)')
  }
  if (!hasMethods(pool, ['query', 'connect'])) {
    throw invalidOption(`${path}.pool`, got(pool), 'a pg.Pool (new pg.Pool(config))')
  }
  const channel = options.channel ?? d.channel
  if (!isIdentifier(channel) || Buffer.byteLength(channel) > MAX_CHANNEL_BYTES) {
    throw invalidOption(
      `${path}.channel`,
      got(channel),
      `a letter or _ then letters, digits, _ or $, at most ${MAX_CHANNEL_BYTES} bytes`,
    )
  }
  const functionSchema = options.functionSchema ?? d.functionSchema
  if (!isIdentifier(functionSchema)) {
    throw invalidOption(
      `${path}.functionSchema`,
      got(functionSchema),
      'a schema name: a letter or _ then letters, digits, _ or $, at most 63 bytes',
    )
  }
  const autoInstall = options.autoInstall ?? d.autoInstall
  if (typeof autoInstall !== 'boolean')
    throw invalidOption(`${path}.autoInstall`, got(autoInstall), 'a boolean')
  const whileNotListening = options.whileNotListening ?? d.whileNotListening
  if (whileNotListening !== 'bypass' && whileNotListening !== 'cache') {
    throw invalidOption(`${path}.whileNotListening`, got(whileNotListening), "'bypass' or 'cache'")
  }
  const invalidateOnStart = options.invalidateOnStart ?? d.invalidateOnStart
  if (typeof invalidateOnStart !== 'boolean') {
    throw invalidOption(`${path}.invalidateOnStart`, got(invalidateOnStart), 'a boolean')
  }
  const ttlMs = options.ttl === undefined ? undefined : positiveDuration(options.ttl, `${path}.ttl`)
  const coalesceMs =
    options.coalesce === undefined ? d.coalesceMs : parseDuration(options.coalesce, `${path}.coalesce`)
  const r = options.reconnect ?? {}
  if (typeof r !== 'object' || r === null) throw invalidOption(`${path}.reconnect`, got(r), 'an object')
  const initialDelayMs =
    r.initialDelay === undefined
      ? d.reconnect.initialDelayMs
      : positiveDuration(r.initialDelay, `${path}.reconnect.initialDelay`)
  const maxDelayMs =
    r.maxDelay === undefined
      ? Math.max(d.reconnect.maxDelayMs, initialDelayMs)
      : positiveDuration(r.maxDelay, `${path}.reconnect.maxDelay`)
  if (maxDelayMs < initialDelayMs) {
    throw invalidOption(
      `${path}.reconnect.maxDelay`,
      `${maxDelayMs} ms is below initialDelay`,
      'a duration >= initialDelay',
    )
  }
  const heartbeatMs =
    options.heartbeat === false
      ? false
      : options.heartbeat === undefined
        ? d.heartbeatMs
        : positiveDuration(options.heartbeat, `${path}.heartbeat`)
  const lockTimeoutMs =
    options.lockTimeout === undefined
      ? d.lockTimeoutMs
      : positiveDuration(options.lockTimeout, `${path}.lockTimeout`)
  const connectListener = options.connectListener
  if (connectListener !== undefined && typeof connectListener !== 'function') {
    throw invalidOption(
      `${path}.connectListener`,
      got(connectListener),
      'a function returning a connected client',
    )
  }
  const types = options.types
  if (types !== undefined && !hasMethods(types, ['getTypeParser'])) {
    throw invalidOption(`${path}.types`, got(types), 'pg.types or an object with getTypeParser(oid, format)')
  }
  const valkit = options.valkit
  if (valkit !== undefined && (typeof valkit !== 'object' || valkit === null || !('metrics' in valkit))) {
    throw invalidOption(`${path}.valkit`, got(valkit), 'the valkit instance (createValkit(...))')
  }
  return Object.freeze({
    cache,
    pool,
    channel,
    functionSchema,
    autoInstall,
    whileNotListening,
    invalidateOnStart,
    ttlMs,
    coalesceMs,
    reconnect: Object.freeze({ initialDelayMs, maxDelayMs }),
    heartbeatMs,
    lockTimeoutMs,
    connectListener,
    types,
    metrics: valkit?.metrics,
    logger: valkit?.logger,
  })
}
