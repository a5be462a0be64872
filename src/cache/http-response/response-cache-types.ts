import type { Cache } from '../cache-types.js'
import type { HeaderValue } from './cache-control.js'
import type {
  ResolvedResponseCacheRouteOptions,
  ResponseCacheRouteOptions,
} from './response-cache-options.js'

/**
 * A request as the response cache sees it; the framework adapters build one.
 *
 * @example
 * ```ts
 * const request: ResponseCacheRequest = {
 *   method: req.method,
 *   url: req.originalUrl, // '/products?page=2', or a full URL
 *   header: (name) => req.get(name),
 * }
 * ```
 */
export interface ResponseCacheRequest {
  /** `GET`, `HEAD`, ... (any case). */
  readonly method: string
  /** Path and query as received (`/products?page=2`), or an absolute URL (its host is used when no `Host` header). */
  readonly url: string
  /** One request header by lowercase name (a repeated header joined by `, `); `undefined` when absent. */
  header(name: string): string | undefined
  /**
   * For `HEAD`: the framework answers it by running the `GET` handler, and the response the
   * adapter captures still carries `GET`'s whole body (Hono drops it only after the middleware),
   * so a `HEAD` miss may fill the entry `GET` is served from. Leave it unset where the body is
   * dropped before the adapter sees it (Express's `res.send` for `HEAD`): a `HEAD` miss then
   * stores nothing.
   * @defaultValue false
   */
  readonly headHasGetBody?: boolean
}

/**
 * Response headers by lowercase name, as the framework holds them.
 *
 * @example
 * ```ts
 * const headers: ResponseHeaders = res.getHeaders()
 * ```
 */
export type ResponseHeaders = Readonly<Record<string, HeaderValue>>

/**
 * One response header to send: a value, or several for a repeated header.
 *
 * @example
 * ```ts
 * const entries: readonly HeaderEntry[] = served.headers // [['content-type', 'text/html'], ['age', '3']]
 * ```
 */
export type HeaderEntry = readonly [name: string, value: string | readonly string[]]

/**
 * How a request was served, as the status header says.
 *
 * @example
 * ```ts
 * const status = response.headers.get('x-cache') as CacheStatus // 'HIT'
 * ```
 */
export type CacheStatus = 'HIT' | 'MISS' | 'REFRESH' | 'BYPASS'

/**
 * A response the cache answers with (a hit or a 304); the adapter sends it as is.
 *
 * @example
 * ```ts
 * if (lookup.kind === 'serve') {
 *   const { status, headers, body }: ServedResponse = lookup.response
 *   res.writeHead(status, headers.flat() as string[]).end(body ?? undefined)
 * }
 * ```
 */
export interface ServedResponse {
  readonly status: number
  /** Every header to set, `content-length` included (except on a 304). */
  readonly headers: readonly HeaderEntry[]
  /** The body; `null` for a 304. Also given for `HEAD` (the framework drops it and keeps its length). */
  readonly body: Buffer | null
}

/**
 * Why a finished response was not stored.
 *
 * @example
 * ```ts
 * const reason: NotStoredReason = 'set-cookie'
 * responses.stats().notStoredReasons[reason]
 * ```
 */
export type NotStoredReason =
  /** Its status is not in `statuses`. */
  | 'status'
  /** The handler said `Cache-Control: no-store`. */
  | 'no-store'
  /** The handler said `Cache-Control: private`. */
  | 'private'
  /** The handler said `Cache-Control: no-cache` (a stored copy could not be revalidated). */
  | 'no-cache'
  /** `max-age=0` / `s-maxage=0`: stale at once. */
  | 'zero-ttl'
  /** It sets a cookie. */
  | 'set-cookie'
  /** `Vary: *`. */
  | 'vary-star'
  /** The body is larger than `maxBodyBytes`, or the cache refused the entry's size. */
  | 'too-large'
  /** A body the adapter does not buffer (`text/event-stream`, a web stream in Fastify). */
  | 'unsupported-body'
  /** The response did not complete (client gone, stream error). */
  | 'incomplete'
  /** Storing failed (see `onError`). */
  | 'error'

/**
 * Why a request skipped the cache (neither read nor stored).
 *
 * @example
 * ```ts
 * const reason: BypassReason = 'authorization'
 * responses.stats().bypassReasons[reason]
 * ```
 */
export type BypassReason =
  /** Not `GET` or `HEAD`. */
  | 'method'
  /** The request said `Cache-Control: no-store`. */
  | 'request-no-store'
  /** It carries `Authorization` and `cacheAuthorized` is off. */
  | 'authorization'
  /** A `Range` request (partial responses are not cached). */
  | 'range'
  /** The `bypass` option said so. */
  | 'bypass-option'
  /** Building its key failed (a throwing `key` function, see `onError`). */
  | 'error'

/**
 * Edits the adapter makes to the live (miss) response before its headers go out, so the client
 * sees what later hits will send: the merged `Vary`, an `ETag` when the whole body is known.
 *
 * @example
 * ```ts
 * const edits: HeaderEdits = capture.edits(res.statusCode, res.getHeaders(), body)
 * for (const name of edits.remove) res.removeHeader(name)
 * for (const [name, value] of edits.set) res.setHeader(name, value)
 * ```
 */
export interface HeaderEdits {
  readonly set: readonly (readonly [string, string])[]
  readonly remove: readonly string[]
}

/**
 * A finished response as the adapter captured it.
 *
 * @example
 * ```ts
 * const captured: CapturedResponse = { status: 200, headers: res.getHeaders(), body: Buffer.concat(chunks) }
 * await capture.finish(captured)
 * ```
 */
export interface CapturedResponse {
  readonly status: number
  /** The response headers when the first byte went out (before the adapter's edits). */
  readonly headers: ResponseHeaders
  /**
   * The headers already on the response when the cache middleware ran (set by middleware before
   * it). Those the handler left unchanged are not stored: that middleware sets them again on a hit
   * (a request id, CORS headers). Omit when unknown.
   */
  readonly initialHeaders?: ResponseHeaders
  /** The whole body, or `null` when `problem` says why it is not available. */
  readonly body: Buffer | null
  /** Why the body could not be captured. */
  readonly problem?: 'too-large' | 'unsupported-body' | 'incomplete'
}

/**
 * What {@link ResponseCapture.finish} did.
 *
 * @example
 * ```ts
 * const outcome: StoreOutcome = await capture.finish(captured)
 * if (outcome.stored) log.debug(`cached for ${outcome.ttlMs ?? 'the default'} ms`)
 * ```
 */
export type StoreOutcome =
  | { readonly stored: true; readonly ttlMs: number | undefined }
  | { readonly stored: false; readonly reason: NotStoredReason }

/**
 * Handed to the adapter on a miss it may store: it captures the handler's response and gives it to
 * `finish` (or calls `abandon` when the response never completes). Requests coalesced on this
 * miss wait for it.
 *
 * @example
 * ```ts
 * // An adapter for a framework that hands over the whole response at once:
 * if (lookup.kind === 'run' && lookup.capture !== null) {
 *   const capture: ResponseCapture = lookup.capture
 *   for (const name of capture.stripRequestHeaders) delete req.headers[name]
 *   const response = await runHandler(req)
 *   void capture.finish({ status: response.status, headers: response.headers, body: response.body })
 * }
 * ```
 */
export interface ResponseCapture {
  /** Buffer at most this many body bytes; past it, report `problem: 'too-large'`. */
  readonly maxBodyBytes: number
  /** Request headers to remove before the handler runs (conditionals: the full response is needed to store it). */
  readonly stripRequestHeaders: readonly string[]
  /**
   * The edits to make to the live response, given its headers and, when already known, its whole body.
   * Call once, before the headers go out.
   */
  edits(status: number, headers: ResponseHeaders, body: Buffer | null): HeaderEdits
  /** Decides whether the response may be stored and stores it. Never rejects. */
  finish(response: CapturedResponse): Promise<StoreOutcome>
  /** The response will not complete: release coalesced requests. Idempotent. */
  abandon(): void
}

/**
 * What the cache decided for a request:
 * - `pass`: not the cache's business (a `POST`); run the handler, touch nothing.
 * - `serve`: send `response` (a hit, or a 304); do not run the handler.
 * - `run`: run the handler, set `headers` (the status header) on the response, and if `capture` is
 *   not `null` capture the response for it (see {@link ResponseCapture}).
 *
 * @example
 * ```ts
 * const lookup: ResponseCacheLookup = await route.lookup(request)
 * if (lookup.kind === 'serve') return send(lookup.response)
 * if (lookup.kind === 'run') for (const [name, value] of lookup.headers) res.setHeader(name, value)
 * return runHandler()
 * ```
 */
export type ResponseCacheLookup =
  | { readonly kind: 'pass' }
  | { readonly kind: 'serve'; readonly status: 'HIT'; readonly response: ServedResponse }
  | {
      readonly kind: 'run'
      readonly status: Exclude<CacheStatus, 'HIT'>
      readonly headers: readonly (readonly [string, string])[]
      readonly capture: ResponseCapture | null
    }

/**
 * Counters of a response cache since creation (every route of it).
 *
 * @example
 * ```ts
 * const { hits, misses, notModified }: ResponseCacheStats = responses.stats()
 * const hitRate = hits / (hits + misses)
 * ```
 */
export interface ResponseCacheStats {
  /** Requests answered from the cache, 304s included. */
  readonly hits: number
  /** Of `hits`, those answered `304 Not Modified`. */
  readonly notModified: number
  /** Requests looked up and not found: the handler ran. */
  readonly misses: number
  /** Requests with `Cache-Control: no-cache` from the client: not looked up, the handler ran. */
  readonly refreshes: number
  /** Requests that skipped the cache (see `bypassReasons`). */
  readonly bypasses: number
  /** Of `hits`, those that waited for a concurrent miss of the same key instead of running the handler. */
  readonly coalesced: number
  /** Responses stored. */
  readonly stored: number
  /** Responses not stored (see `notStoredReasons`). */
  readonly notStored: number
  /** `bypasses` by reason. */
  readonly bypassReasons: Readonly<Record<BypassReason, number>>
  /** `notStored` by reason. */
  readonly notStoredReasons: Readonly<Record<NotStoredReason, number>>
  /** Errors swallowed so that the request was still served (see `onError`). */
  readonly errors: number
}

/**
 * One cached route: its options resolved once, and the per-request decision.
 *
 * @example
 * ```ts
 * const route = responses.route({ ttl: '30s', tags: ['products'] })
 * const lookup = await route.lookup({ method: 'GET', url: '/products', header: (n) => headers[n] })
 * if (lookup.kind === 'serve') send(lookup.response)
 * ```
 */
export interface ResponseCacheRoute {
  /** The route's options, resolved. */
  readonly options: ResolvedResponseCacheRouteOptions
  /** Decides how to serve a request; never rejects (a failing cache is a miss or a bypass). */
  lookup(request: ResponseCacheRequest): Promise<ResponseCacheLookup>
  /** The cache key of a request's first lookup (with the route's `vary` headers), for diagnostics. */
  keyOf(request: ResponseCacheRequest): string
}

/**
 * HTTP response caching on a {@link Cache}: the framework-agnostic engine behind the Express,
 * Fastify and Hono adapters of `valkit/http`. Responses live in the cache's L1 and in
 * Redis/Valkey, shared by every instance; `cache.invalidateTags` drops them everywhere.
 *
 * @example
 * ```ts
 * const responses = createResponseCache(cache.namespace('http'), { ttl: '1m', metrics: valkit.metrics })
 * app.get('/products', expressResponseCache(responses, { tags: ['products'] }), listProducts)
 * await cache.namespace('http').invalidateTags(['products'])
 * ```
 */
export interface ResponseCache {
  /** The cache entries are stored in. */
  readonly cache: Cache
  /**
   * A route with its own options (over this cache's defaults), validated now.
   * @throws ValkitError `VALKIT_INVALID_OPTION` naming the option's path.
   */
  route(options?: ResponseCacheRouteOptions, path?: string): ResponseCacheRoute
  /** Counters since creation, for every route. */
  stats(): ResponseCacheStats
}
