import { MAX_DURATION_MS } from '../../core/index.js'
import { deltaSeconds, headerText, parseCacheControl, parseVary } from './cache-control.js'
import type { ResolvedResponseCacheRouteOptions } from './response-cache-options.js'
import type { CapturedResponse, NotStoredReason } from './response-cache-types.js'

/**
 * Whether a finished response may be stored, and for how long.
 *
 * @example
 * ```ts
 * const decision: StoreDecision = decideStore(captured, route.options)
 * if (!decision.store) log.debug(`not cached: ${decision.reason}`)
 * ```
 */
export type StoreDecision =
  | {
      readonly store: true
      /** `undefined`: the cache's default TTL. */
      readonly ttlMs: number | undefined
      /** Request headers it varies on: the route's `vary` and the handler's `Vary`, sorted. */
      readonly vary: readonly string[]
    }
  | { readonly store: false; readonly reason: NotStoredReason }

const no = (reason: NotStoredReason): StoreDecision => ({ store: false, reason })

/**
 * Decides whether a response may be stored (RFC 9111 §3, for a shared cache), in this order:
 * status not in `statuses` → `status`; body not captured → its problem; `Set-Cookie` →
 * `set-cookie`; `Cache-Control: no-store` / `private` / `no-cache` → that directive;
 * `Vary: *` → `vary-star`; `text/event-stream` → `unsupported-body`; body above
 * `maxBodyBytes` → `too-large`; a TTL of zero → `zero-ttl`.
 *
 * TTL: with `ttlFromHeaders`, the handler's `s-maxage` (meant for shared caches such as this
 * one), else its `max-age`, else the route's `ttl`, else the cache's default; then bounded by
 * `maxTtl` (when the TTL is not the cache's default).
 *
 * @example
 * ```ts
 * decideStore({ status: 200, headers: { 'cache-control': 'max-age=30' }, body }, route)
 * // { store: true, ttlMs: 30_000, vary: [] }
 * ```
 */
export function decideStore(
  response: CapturedResponse,
  route: ResolvedResponseCacheRouteOptions,
): StoreDecision {
  const { headers } = response
  if (!route.statuses.has(response.status)) return no('status')
  if (response.problem !== undefined) return no(response.problem)
  if (response.body === null) return no('incomplete')
  if (headers['set-cookie'] !== undefined) return no('set-cookie')
  const directives = parseCacheControl(headers['cache-control'])
  if (directives.has('no-store')) return no('no-store')
  if (directives.has('private')) return no('private')
  if (directives.has('no-cache')) return no('no-cache')
  const handlerVary = parseVary(headers.vary)
  if (handlerVary[0] === '*') return no('vary-star')
  const contentType = headerText(headers['content-type'])?.toLowerCase()
  if (contentType?.startsWith('text/event-stream')) return no('unsupported-body')
  if (response.body.length > route.maxBodyBytes) return no('too-large')
  let ttlMs = route.ttlMs
  if (route.ttlFromHeaders) {
    const seconds = deltaSeconds(directives, 's-maxage') ?? deltaSeconds(directives, 'max-age')
    if (seconds !== undefined) ttlMs = Math.min(seconds * 1000, MAX_DURATION_MS)
  }
  if (ttlMs !== undefined) {
    ttlMs = Math.min(ttlMs, route.maxTtlMs)
    if (ttlMs <= 0) return no('zero-ttl')
  }
  const vary = mergeNames(route.vary, handlerVary)
  return { store: true, ttlMs, vary }
}

/** Two sorted lists of lowercase names merged, sorted, without duplicates. */
export function mergeNames(a: readonly string[], b: readonly string[]): readonly string[] {
  if (b.length === 0) return a
  if (a.length === 0) return b
  return [...new Set([...a, ...b])].sort()
}
