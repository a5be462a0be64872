import { invalidOption, parseDuration, type Duration, type MetricsRegistry } from '../../core/index.js'
import { bool, fn, got, headerName, headerNames, statuses, strings, tags, ttl } from './option-checks.js'
import type { ResponseCacheRequest } from './response-cache-types.js'

/**
 * Tags of a cached response: a list, or a function of the request returning one.
 *
 * @example
 * ```ts
 * const tags: ResponseCacheTags = (request) => [`org:${new URL(request.url, 'http://x').searchParams.get('org')}`]
 * ```
 */
export type ResponseCacheTags = readonly string[] | ((request: ResponseCacheRequest) => readonly string[])

/**
 * Options of one cached route (a middleware call, a Fastify route's `config.responseCache`).
 * Every one also works as a default on {@link ResponseCacheOptions}; a route's value wins.
 *
 * @example
 * ```ts
 * const options: ResponseCacheRouteOptions = {
 *   ttl: '30s',
 *   vary: ['accept-language'],
 *   tags: (request) => [`page:${request.url}`],
 *   ignoreQuery: ['utm_source'],
 * }
 * app.get('/products', expressResponseCache(responses, options), listProducts)
 * ```
 */
export interface ResponseCacheRouteOptions {
  /**
   * Time to live of a stored response (ms or `'30s'`), used when the handler's `Cache-Control`
   * gives none (see `ttlFromHeaders`).
   * @defaultValue the cache's `ttl`
   */
  readonly ttl?: Duration
  /**
   * Upper bound of any TTL, including one taken from the handler's `max-age` / `s-maxage`.
   * @defaultValue no bound
   */
  readonly maxTtl?: Duration
  /**
   * Take the TTL from the handler's `Cache-Control: s-maxage` (first) or `max-age` when present.
   * `false`: `ttl` always decides (`no-store`, `private`, `no-cache`, `max-age=0` still prevent storing).
   * @defaultValue true
   */
  readonly ttlFromHeaders?: boolean
  /**
   * Tags of stored responses, so `cache.invalidateTags([tag])` drops them in every instance.
   * @defaultValue none
   */
  readonly tags?: ResponseCacheTags
  /**
   * Request headers the response depends on: their values are part of the key and their names
   * are added to the response's `Vary`. A handler's own `Vary` is honoured as well.
   * @defaultValue none
   */
  readonly vary?: readonly string[]
  /**
   * Statuses that may be stored (200-599, not 206 or 304), e.g. `[200, 203, 204, 301, 404]`.
   * @defaultValue [200]
   */
  readonly statuses?: readonly number[]
  /**
   * Largest body stored, in bytes; a larger one is sent but not kept (and no longer buffered).
   * @defaultValue 1_048_576 (1 MiB)
   */
  readonly maxBodyBytes?: number
  /**
   * Builds the key's first part instead of method + host + path + sorted query (values of the
   * `vary` headers are still appended). Must be stable for requests that get the same response.
   * @defaultValue method, host (see `includeHost`), path and query
   */
  readonly key?: (request: ResponseCacheRequest) => string
  /**
   * Requests for which this returns `true` are neither answered from nor stored in the cache.
   * @defaultValue none
   */
  readonly bypass?: (request: ResponseCacheRequest) => boolean
  /**
   * Query parameters left out of the key (`['utm_source', 'fbclid']`).
   * @defaultValue none
   */
  readonly ignoreQuery?: readonly string[]
  /**
   * Whether the `Host` header is part of the key (a multi-tenant app served by host name needs it).
   * @defaultValue true
   */
  readonly includeHost?: boolean
  /**
   * Requests with an `Authorization` header bypass the cache unless this is `true` (the key does
   * not include who asks: set it only when the response is the same for every caller, or add
   * `'authorization'` to `vary`).
   * @defaultValue false
   */
  readonly cacheAuthorized?: boolean
  /**
   * `'honor'`: a request's `Cache-Control: no-store` skips the cache, `no-cache` (or
   * `Pragma: no-cache`) skips the read and stores the fresh response. `'ignore'`: clients cannot
   * force a handler run (worth it for expensive routes).
   * @defaultValue 'honor'
   */
  readonly requestCacheControl?: 'honor' | 'ignore'
  /**
   * Response headers never stored (per-request ones such as `x-request-id`), besides those valkit
   * never stores: hop-by-hop headers, `content-length`, `date`, `age`, the status header.
   * @defaultValue none
   */
  readonly excludeHeaders?: readonly string[]
  /**
   * A response header in which the handler may name more tags (comma-separated, e.g. from the rows
   * it read); the header is removed from the response. `false`: no such header.
   * @defaultValue false
   */
  readonly tagsHeader?: string | false
  /**
   * Concurrent misses of one key in this process wait for the first one's response instead of
   * each running the handler.
   * @defaultValue true
   */
  readonly coalesce?: boolean
  /**
   * Longest a coalesced request waits for the first one before running the handler itself.
   * @defaultValue '10s'
   */
  readonly coalesceTimeout?: Duration
}

/**
 * Options of {@link createResponseCache}: route defaults plus the engine's own settings.
 *
 * @example
 * ```ts
 * const responses = createResponseCache(cache, {
 *   ttl: '1m',
 *   statusHeader: 'x-valkit-cache',
 *   metrics: valkit.metrics,
 *   onError: (err) => log.warn({ err }, 'response cache'),
 * })
 * ```
 */
export interface ResponseCacheOptions extends ResponseCacheRouteOptions {
  /**
   * Response header telling how a request was served: `HIT`, `MISS`, `REFRESH` (client
   * `no-cache`: handler ran, response stored) or `BYPASS`. `false`: no header.
   * @defaultValue 'x-cache'
   */
  readonly statusHeader?: string | false
  /**
   * Give stored responses without an `ETag` a strong one (a hash of the body), so clients can
   * revalidate with `If-None-Match` and get a 304.
   * @defaultValue true
   */
  readonly etag?: boolean
  /**
   * Registry for the `valkit_cache_http_*` metrics, usually `valkit.metrics`.
   * @defaultValue none (only `stats()`)
   */
  readonly metrics?: MetricsRegistry
  /**
   * Called with errors the cache swallowed (a failed store, a throwing `key`/`tags` function); the
   * request itself is always served.
   * @defaultValue none
   */
  readonly onError?: (error: unknown) => void
}

/**
 * {@link ResponseCacheRouteOptions} after validation, with defaults applied.
 *
 * @example
 * ```ts
 * const route = responses.route({ ttl: '30s' })
 * route.options.ttlMs // 30000
 * ```
 */
export interface ResolvedResponseCacheRouteOptions {
  /** `undefined`: the cache's own default TTL. */
  readonly ttlMs: number | undefined
  readonly maxTtlMs: number
  readonly ttlFromHeaders: boolean
  readonly tags: ResponseCacheTags | null
  /** Lowercase, sorted, deduplicated. */
  readonly vary: readonly string[]
  readonly statuses: ReadonlySet<number>
  readonly maxBodyBytes: number
  readonly key: ((request: ResponseCacheRequest) => string) | null
  readonly bypass: ((request: ResponseCacheRequest) => boolean) | null
  readonly ignoreQuery: ReadonlySet<string>
  readonly includeHost: boolean
  readonly cacheAuthorized: boolean
  readonly requestCacheControl: 'honor' | 'ignore'
  /** Lowercase. */
  readonly excludeHeaders: ReadonlySet<string>
  /** Lowercase, or `null`. */
  readonly tagsHeader: string | null
  readonly coalesce: boolean
  readonly coalesceTimeoutMs: number
}

/**
 * {@link ResponseCacheOptions} after validation.
 *
 * @example
 * ```ts
 * resolveResponseCacheOptions({ statusHeader: false }).statusHeader // null
 * ```
 */
export interface ResolvedResponseCacheOptions {
  readonly route: ResolvedResponseCacheRouteOptions
  /** Lowercase, or `null`. */
  readonly statusHeader: string | null
  readonly etag: boolean
  readonly metrics: MetricsRegistry | null
  readonly onError: ((error: unknown) => void) | null
}

/**
 * Defaults of {@link ResponseCacheOptions}.
 *
 * @example
 * ```ts
 * RESPONSE_CACHE_DEFAULTS.maxBodyBytes // 1048576
 * ```
 */
export const RESPONSE_CACHE_DEFAULTS = Object.freeze({
  ttlFromHeaders: true,
  statuses: Object.freeze([200]),
  maxBodyBytes: 1024 * 1024,
  includeHost: true,
  cacheAuthorized: false,
  requestCacheControl: 'honor',
  coalesce: true,
  coalesceTimeoutMs: 10_000,
  statusHeader: 'x-cache',
  etag: true,
})

/**
 * Validates route options, filling what they leave out from `base` (the engine's resolved defaults).
 *
 * @throws ValkitError `VALKIT_INVALID_OPTION` naming the option's path (`responseCache.ttl`).
 *
 * @example
 * ```ts
 * const base = resolveResponseCacheOptions({ ttl: '1m' }).route
 * resolveResponseCacheRouteOptions({ statuses: [200, 404] }, base, 'products').ttlMs // 60000
 * ```
 */
export function resolveResponseCacheRouteOptions(
  options: ResponseCacheRouteOptions = {},
  base: ResolvedResponseCacheRouteOptions = BASE_ROUTE,
  path = 'responseCache',
): ResolvedResponseCacheRouteOptions {
  if (typeof options !== 'object' || options === null) {
    throw invalidOption(path, `got ${got(options)}`, 'an object')
  }
  const o = options
  const requestCacheControl = o.requestCacheControl ?? base.requestCacheControl
  if (requestCacheControl !== 'honor' && requestCacheControl !== 'ignore') {
    throw invalidOption(
      `${path}.requestCacheControl`,
      `got ${got(requestCacheControl)}`,
      "'honor' or 'ignore'",
    )
  }
  const maxBodyBytes = o.maxBodyBytes ?? base.maxBodyBytes
  if (typeof maxBodyBytes !== 'number' || !Number.isSafeInteger(maxBodyBytes) || maxBodyBytes < 0) {
    throw invalidOption(`${path}.maxBodyBytes`, `got ${got(maxBodyBytes)}`, 'an integer >= 0')
  }
  let tagsHeader = base.tagsHeader
  if (o.tagsHeader === false) tagsHeader = null
  else if (o.tagsHeader !== undefined) tagsHeader = headerName(o.tagsHeader, `${path}.tagsHeader`)
  const coalesceTimeoutMs =
    o.coalesceTimeout === undefined
      ? base.coalesceTimeoutMs
      : parseDuration(o.coalesceTimeout, `${path}.coalesceTimeout`)
  const vary = headerNames(o.vary, `${path}.vary`)
  const exclude = headerNames(o.excludeHeaders, `${path}.excludeHeaders`)
  const ignore = strings(o.ignoreQuery, `${path}.ignoreQuery`)
  return Object.freeze({
    ttlMs: ttl(o.ttl, `${path}.ttl`) ?? base.ttlMs,
    maxTtlMs: ttl(o.maxTtl, `${path}.maxTtl`) ?? base.maxTtlMs,
    ttlFromHeaders: bool(o.ttlFromHeaders, `${path}.ttlFromHeaders`, base.ttlFromHeaders),
    tags: tags(o.tags, `${path}.tags`) ?? base.tags,
    vary: vary === undefined ? base.vary : Object.freeze(vary),
    statuses: statuses(o.statuses, `${path}.statuses`) ?? base.statuses,
    maxBodyBytes,
    key: fn(o.key, `${path}.key`, base.key),
    bypass: fn(o.bypass, `${path}.bypass`, base.bypass),
    ignoreQuery: ignore === undefined ? base.ignoreQuery : new Set(ignore),
    includeHost: bool(o.includeHost, `${path}.includeHost`, base.includeHost),
    cacheAuthorized: bool(o.cacheAuthorized, `${path}.cacheAuthorized`, base.cacheAuthorized),
    requestCacheControl,
    excludeHeaders: exclude === undefined ? base.excludeHeaders : new Set(exclude),
    tagsHeader,
    coalesce: bool(o.coalesce, `${path}.coalesce`, base.coalesce),
    coalesceTimeoutMs,
  })
}

const d = RESPONSE_CACHE_DEFAULTS
const BASE_ROUTE: ResolvedResponseCacheRouteOptions = Object.freeze({
  ttlMs: undefined,
  maxTtlMs: Infinity,
  ttlFromHeaders: d.ttlFromHeaders,
  tags: null,
  vary: Object.freeze([]),
  statuses: new Set(d.statuses),
  maxBodyBytes: d.maxBodyBytes,
  key: null,
  bypass: null,
  ignoreQuery: new Set<string>(),
  includeHost: d.includeHost,
  cacheAuthorized: d.cacheAuthorized,
  requestCacheControl: d.requestCacheControl,
  excludeHeaders: new Set<string>(),
  tagsHeader: null,
  coalesce: d.coalesce,
  coalesceTimeoutMs: d.coalesceTimeoutMs,
})

/**
 * Validates the options of {@link createResponseCache} and applies defaults.
 *
 * @throws ValkitError `VALKIT_INVALID_OPTION` naming the option's path (`responseCache.statuses[0]`).
 *
 * @example
 * ```ts
 * const resolved = resolveResponseCacheOptions({ ttl: '30s', vary: ['Accept-Language'] })
 * resolved.route.vary // ['accept-language']
 * ```
 */
export function resolveResponseCacheOptions(
  options: ResponseCacheOptions = {},
  path = 'responseCache',
): ResolvedResponseCacheOptions {
  const route = resolveResponseCacheRouteOptions(options, BASE_ROUTE, path)
  let statusHeader: string | null = d.statusHeader
  if (options.statusHeader === false) statusHeader = null
  else if (options.statusHeader !== undefined) {
    statusHeader = headerName(options.statusHeader, `${path}.statusHeader`)
  }
  const metrics = options.metrics ?? null
  if (metrics !== null && (typeof metrics !== 'object' || typeof metrics.counter !== 'function')) {
    throw invalidOption(`${path}.metrics`, `got ${got(metrics)}`, 'a metrics registry such as valkit.metrics')
  }
  return Object.freeze({
    route,
    statusHeader,
    etag: bool(options.etag, `${path}.etag`, d.etag),
    metrics,
    onError: fn(options.onError, `${path}.onError`, null),
  })
}
