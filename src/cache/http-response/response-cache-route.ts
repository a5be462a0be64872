import { requestDirectives } from './cache-control.js'
import { Capture, type CaptureContext } from './response-capture.js'
import type { ResolvedResponseCacheRouteOptions } from './response-cache-options.js'
import type {
  BypassReason,
  CacheStatus,
  ResponseCacheLookup,
  ResponseCacheRequest,
  ResponseCacheRoute,
} from './response-cache-types.js'
import { ResponseFlight, tick, type FlightResult } from './response-flight.js'
import { primaryKey, variantKey } from './response-key.js'
import { serveStored } from './serve-response.js'
import { unpackEntry, type StoredResponse } from './stored-response.js'

/** What a route needs from its response cache. @internal */
export interface RouteContext extends CaptureContext {
  readonly flights: Map<string, ResponseFlight>
}

const PASS: ResponseCacheLookup = Object.freeze({ kind: 'pass' })

/**
 * One cached route: the per-request decision (bypass, lookup through the vary marker, coalescing
 * of concurrent misses, 304s) over the options resolved once.
 *
 * @internal
 */
export class CacheRoute implements ResponseCacheRoute {
  constructor(
    private readonly ctx: RouteContext,
    readonly options: ResolvedResponseCacheRouteOptions,
  ) {}

  keyOf(request: ResponseCacheRequest): string {
    return variantKey(primaryKey(request, this.options), this.options.vary, request)
  }

  async lookup(request: ResponseCacheRequest): Promise<ResponseCacheLookup> {
    const method = request.method.toUpperCase()
    if (method !== 'GET' && method !== 'HEAD') {
      this.ctx.counters.bypass('method')
      return PASS
    }
    const o = this.options
    let primary: string
    let firstKey: string
    let refresh = false
    try {
      if (!o.cacheAuthorized && request.header('authorization') !== undefined)
        return this.bypass('authorization')
      if (request.header('range') !== undefined) return this.bypass('range')
      if (o.bypass?.(request) === true) return this.bypass('bypass-option')
      if (o.requestCacheControl === 'honor') {
        const directives = requestDirectives(request.header('cache-control'), request.header('pragma'))
        if (directives.noStore) return this.bypass('request-no-store')
        refresh = directives.noCache
      }
      primary = primaryKey(request, o)
      firstKey = variantKey(primary, o.vary, request)
    } catch (err) {
      this.ctx.error(err)
      return this.bypass('error')
    }
    let flight: ResponseFlight | null = null
    if (!refresh) {
      const startedAt = tick()
      const found = await this.read(primary, firstKey, request)
      if (found !== undefined) return this.serve(found, request, false)
      if (o.coalesce && method === 'GET') {
        const running = this.ctx.flights.get(firstKey)
        if (running === undefined || !running.servable(startedAt)) {
          flight = new ResponseFlight(this.ctx.flights, firstKey, o.coalesceTimeoutMs)
        } else {
          const result = await running.wait(o.coalesceTimeoutMs)
          if (result !== undefined && this.fits(result, primary, request)) {
            return this.serve(result.entry, request, true)
          }
        }
      }
    }
    this.ctx.counters.miss(refresh)
    const status: CacheStatus = refresh ? 'REFRESH' : 'MISS'
    // A HEAD miss fills GET's entry only where the adapter sees GET's body (Hono).
    const captures = method === 'GET' || (method === 'HEAD' && request.headHasGetBody === true)
    const capture = captures ? new Capture(this.ctx, o, request, primary, firstKey, flight) : null
    return { kind: 'run', status, headers: this.statusHeaders(status), capture }
  }

  private bypass(reason: BypassReason): ResponseCacheLookup {
    this.ctx.counters.bypass(reason)
    return { kind: 'run', status: 'BYPASS', headers: this.statusHeaders('BYPASS'), capture: null }
  }

  private statusHeaders(status: CacheStatus): readonly (readonly [string, string])[] {
    const name = this.ctx.options.statusHeader
    return name === null ? [] : [[name, status]]
  }

  private serve(
    entry: StoredResponse,
    request: ResponseCacheRequest,
    coalesced: boolean,
  ): ResponseCacheLookup {
    const { response, notModified } = serveStored(entry, request, this.ctx.options.statusHeader)
    this.ctx.counters.hit(notModified, coalesced)
    return { kind: 'serve', status: 'HIT', response }
  }

  /** A waiter may take the leader's response only if it would be stored under the waiter's key too. */
  private fits(result: FlightResult, primary: string, request: ResponseCacheRequest): boolean {
    try {
      return variantKey(primary, result.entry.vary, request) === result.key
    } catch {
      return false
    }
  }

  /** The stored response for a request: at its first key, or behind a vary marker. Never rejects. */
  private async read(
    primary: string,
    firstKey: string,
    request: ResponseCacheRequest,
  ): Promise<StoredResponse | undefined> {
    try {
      const { cache } = this.ctx
      let entry = unpackEntry(await cache.get(firstKey))
      if (entry?.kind === 'vary') {
        const marker = entry.vary
        entry = unpackEntry(await cache.get(variantKey(primary, marker, request)))
        if (entry?.kind !== 'response' || entry.vary.join() !== marker.join()) return undefined
        return entry
      }
      if (entry?.kind !== 'response' || entry.vary.join() !== this.options.vary.join()) return undefined
      return entry
    } catch (err) {
      this.ctx.error(err)
      return undefined
    }
  }
}
