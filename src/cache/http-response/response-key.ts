import { createHash } from 'node:crypto'
import type { ResolvedResponseCacheRouteOptions } from './response-cache-options.js'
import type { ResponseCacheRequest } from './response-cache-types.js'

/** Keys longer than this are replaced by a hash (Redis keys stay short, L1 keys too). */
const MAX_READABLE_KEY = 300

/** Every response-cache key starts with this, so it cannot collide with other keys of the namespace. */
export const RESPONSE_KEY_PREFIX = 'res:'

/** Host, path and query of a request URL (a path, or an absolute URL). */
export function splitUrl(url: string): { host: string | undefined; path: string; query: string } {
  if (url.startsWith('/')) {
    const hash = url.indexOf('#')
    const bare = hash === -1 ? url : url.slice(0, hash)
    const q = bare.indexOf('?')
    return q === -1
      ? { host: undefined, path: bare, query: '' }
      : { host: undefined, path: bare.slice(0, q), query: bare.slice(q + 1) }
  }
  try {
    const parsed = new URL(url)
    return { host: parsed.host, path: parsed.pathname, query: parsed.search.slice(1) }
  } catch {
    return { host: undefined, path: url, query: '' }
  }
}

/**
 * The query in a canonical order: parameters sorted by name (repeated ones keep their relative
 * order), `ignore`d ones left out.
 *
 * @example
 * ```ts
 * canonicalQuery('b=2&a=1&utm_source=x', new Set(['utm_source'])) // 'a=1&b=2'
 * ```
 */
export function canonicalQuery(query: string, ignore: ReadonlySet<string>): string {
  if (query === '') return ''
  const params = new URLSearchParams(query)
  for (const name of ignore) params.delete(name)
  params.sort()
  return params.toString()
}

/**
 * The first part of a request's key: the user's `key`, or method + host + path + canonical query.
 * `HEAD` shares `GET`'s entries (it is answered from them).
 */
export function primaryKey(
  request: ResponseCacheRequest,
  options: ResolvedResponseCacheRouteOptions,
): string {
  if (options.key !== null) {
    const custom = options.key(request)
    if (typeof custom !== 'string' || custom === '') {
      throw new TypeError(
        `The response cache's key option returned ${typeof custom}, expected a non-empty string.`,
      )
    }
    return `u:${custom}`
  }
  const method = request.method.toUpperCase() === 'HEAD' ? 'GET' : request.method.toUpperCase()
  const { host: urlHost, path, query } = splitUrl(request.url)
  const host = options.includeHost ? (request.header('host') ?? urlHost ?? '').toLowerCase() : ''
  const canonical = canonicalQuery(query, options.ignoreQuery)
  return `${method} ${host}${path}${canonical === '' ? '' : `?${canonical}`}`
}

/** A request header's value as it goes into a key: list items trimmed, joined by `,`. */
function varyValue(value: string): string {
  return value
    .split(',')
    .map((v) => v.trim())
    .join(',')
}

/**
 * The full cache key of a response variant: the primary key plus, for each `vary` name, the
 * request's value of that header (`name!` when absent, which differs from an empty value).
 *
 * @example
 * ```ts
 * variantKey('GET shop.example/products', ['accept-language'], request)
 * // 'res:GET shop.example/products accept-language=fr'
 * ```
 */
export function variantKey(primary: string, vary: readonly string[], request: ResponseCacheRequest): string {
  let key = primary
  if (vary.length > 0) {
    const parts: string[] = []
    for (const name of vary) {
      const value = request.header(name)
      parts.push(value === undefined ? `${name}!` : `${name}=${encodeURIComponent(varyValue(value))}`)
    }
    key = `${primary} ${parts.join('&')}`
  }
  if (key.length > MAX_READABLE_KEY) {
    key = `h:${createHash('sha256').update(key).digest('base64url')}`
  }
  return RESPONSE_KEY_PREFIX + key
}
