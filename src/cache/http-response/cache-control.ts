/**
 * `Cache-Control` (RFC 9111 §5.2) and `Vary` parsing, and the header-value helpers the response
 * cache shares. Pure functions, no I/O.
 */

/**
 * A header value as Node, Fastify and the Fetch API hand it over.
 *
 * @example
 * ```ts
 * const value: HeaderValue = res.getHeader('cache-control')
 * ```
 */
export type HeaderValue = string | number | readonly string[] | undefined

/**
 * Directives of one `Cache-Control` header: lowercase name → argument, or `true` without one.
 *
 * @example
 * ```ts
 * const directives: CacheDirectives = parseCacheControl('public, max-age=60')
 * directives.get('max-age') // '60'
 * ```
 */
export type CacheDirectives = ReadonlyMap<string, string | true>

const EMPTY: CacheDirectives = new Map()

/** A header value as one string (a list joined by `, `), or `undefined` when absent. */
export function headerText(value: HeaderValue): string | undefined {
  if (value === undefined) return undefined
  if (typeof value === 'number') return String(value)
  if (typeof value === 'string') return value
  return value.length === 0 ? undefined : value.join(', ')
}

/**
 * Splits a comma-separated header list, honouring quoted strings (`no-cache="a, b"` is one item).
 * Items are trimmed; empty ones are dropped.
 */
export function splitList(text: string): string[] {
  const items: string[] = []
  let start = 0
  let quoted = false
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i)
    if (ch === 0x22 /* " */) quoted = !quoted
    else if (ch === 0x5c /* \ */ && quoted) i++
    else if (ch === 0x2c /* , */ && !quoted) {
      const item = text.slice(start, i).trim()
      if (item !== '') items.push(item)
      start = i + 1
    }
  }
  const last = text.slice(start).trim()
  if (last !== '') items.push(last)
  return items
}

/**
 * Parses `Cache-Control` into its directives. Names are case-insensitive (lowercased here);
 * quoted arguments are unquoted; a repeated directive keeps its first value.
 *
 * @example
 * ```ts
 * parseCacheControl('public, max-age=60, no-cache="set-cookie"')
 * // Map { 'public' => true, 'max-age' => '60', 'no-cache' => 'set-cookie' }
 * ```
 */
export function parseCacheControl(value: HeaderValue): CacheDirectives {
  const text = headerText(value)
  if (text === undefined || text.trim() === '') return EMPTY
  const directives = new Map<string, string | true>()
  for (const item of splitList(text)) {
    const eq = item.indexOf('=')
    const name = (eq === -1 ? item : item.slice(0, eq)).trim().toLowerCase()
    if (name === '' || directives.has(name)) continue
    if (eq === -1) {
      directives.set(name, true)
      continue
    }
    let arg = item.slice(eq + 1).trim()
    if (arg.length >= 2 && arg.startsWith('"') && arg.endsWith('"')) {
      arg = arg.slice(1, -1).replace(/\\(.)/g, '$1')
    }
    directives.set(name, arg)
  }
  return directives
}

/**
 * A delta-seconds directive (`max-age`, `s-maxage`): its whole seconds, `undefined` when absent,
 * `0` when present but not a non-negative integer (RFC 9111 §1.2.2: an invalid value means stale).
 */
export function deltaSeconds(directives: CacheDirectives, name: string): number | undefined {
  const arg = directives.get(name)
  if (arg === undefined) return undefined
  if (arg === true || !/^\d+$/.test(arg)) return 0
  const seconds = Number(arg)
  return Number.isSafeInteger(seconds) ? seconds : Number.MAX_SAFE_INTEGER
}

/**
 * What the client's request headers ask of the cache.
 *
 * @example
 * ```ts
 * const { noStore, noCache }: RequestCacheDirectives = requestDirectives(req.headers['cache-control'], req.headers.pragma)
 * ```
 */
export interface RequestCacheDirectives {
  /** `no-store`: neither read nor write. */
  readonly noStore: boolean
  /** `no-cache` or `Pragma: no-cache`: do not answer from the cache (a fresh response may be stored). */
  readonly noCache: boolean
}

/**
 * Reads a request's `Cache-Control` and `Pragma`. `Pragma: no-cache` counts as `no-cache`
 * (HTTP/1.0 clients and some proxies still send it).
 *
 * @example
 * ```ts
 * requestDirectives('no-cache', undefined) // { noStore: false, noCache: true }
 * requestDirectives(undefined, 'no-cache') // { noStore: false, noCache: true }
 * ```
 */
export function requestDirectives(cacheControl: HeaderValue, pragma: HeaderValue): RequestCacheDirectives {
  const directives = parseCacheControl(cacheControl)
  const pragmaText = headerText(pragma)
  const pragmaNoCache =
    pragmaText !== undefined && splitList(pragmaText).some((p) => p.toLowerCase() === 'no-cache')
  return { noStore: directives.has('no-store'), noCache: directives.has('no-cache') || pragmaNoCache }
}

/**
 * The header names a `Vary` value lists, lowercased, deduplicated and sorted; `['*']` when it
 * contains `*` (the response varies on something no header describes).
 *
 * @example
 * ```ts
 * parseVary('Accept-Language, accept-encoding') // ['accept-encoding', 'accept-language']
 * parseVary('*') // ['*']
 * ```
 */
export function parseVary(value: HeaderValue): string[] {
  const text = headerText(value)
  if (text === undefined) return []
  const names = new Set<string>()
  for (const item of splitList(text)) {
    const name = item.toLowerCase()
    if (name === '*') return ['*']
    names.add(name)
  }
  return [...names].sort()
}

/** Opaque part of an entity tag, for the weak comparison of `If-None-Match` (RFC 9110 §8.8.3.2). */
function opaqueTag(tag: string): string {
  const t = tag.trim()
  return t.startsWith('W/') ? t.slice(2) : t
}

/**
 * Whether an `If-None-Match` header matches an entity tag (weak comparison; `*` matches any).
 *
 * @example
 * ```ts
 * ifNoneMatchMatches('W/"a", "b"', '"a"') // true
 * ifNoneMatchMatches('"c"', '"a"') // false
 * ```
 */
export function ifNoneMatchMatches(ifNoneMatch: string, etag: string): boolean {
  const wanted = opaqueTag(etag)
  for (const item of splitList(ifNoneMatch)) {
    if (item === '*' || opaqueTag(item) === wanted) return true
  }
  return false
}

/**
 * Whether a response with this `Last-Modified` is unmodified since an `If-Modified-Since` date
 * (both HTTP dates; an unparsable one is "modified").
 */
export function notModifiedSince(ifModifiedSince: string, lastModified: string): boolean {
  const since = Date.parse(ifModifiedSince)
  const modified = Date.parse(lastModified)
  return Number.isFinite(since) && Number.isFinite(modified) && modified <= since
}
