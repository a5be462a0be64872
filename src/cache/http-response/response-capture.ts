import { isValkitError } from '../../core/index.js'
import type { Cache, CacheSetOptions } from '../cache-types.js'
import { headerText, parseVary, splitList } from './cache-control.js'
import type { ResponseCacheCounters } from './response-cache-counters.js'
import type {
  ResolvedResponseCacheOptions,
  ResolvedResponseCacheRouteOptions,
} from './response-cache-options.js'
import type {
  CapturedResponse,
  HeaderEdits,
  ResponseCapture,
  ResponseCacheRequest,
  ResponseHeaders,
  StoreOutcome,
} from './response-cache-types.js'
import type { ResponseFlight } from './response-flight.js'
import { variantKey } from './response-key.js'
import { etagOf, storableHeaders } from './serve-response.js'
import { decideStore, mergeNames } from './store-decision.js'
import { packResponse, packVaryMarker, type StoredResponse } from './stored-response.js'

/** What a capture needs from its response cache. @internal */
export interface CaptureContext {
  readonly cache: Cache
  readonly options: ResolvedResponseCacheOptions
  readonly counters: ResponseCacheCounters
  error(err: unknown): void
}

/** Conditional request headers removed before the handler runs on a miss that may be stored. */
const STRIP: readonly string[] = Object.freeze(['if-none-match', 'if-modified-since'])

/**
 * The capture of one miss: decides, stores (the vary marker too when the handler's `Vary` names
 * more headers than the route's), and settles the flight coalesced requests wait for.
 *
 * @internal
 */
export class Capture implements ResponseCapture {
  readonly maxBodyBytes: number
  readonly stripRequestHeaders = STRIP
  private done = false

  constructor(
    private readonly ctx: CaptureContext,
    private readonly route: ResolvedResponseCacheRouteOptions,
    private readonly request: ResponseCacheRequest,
    private readonly primary: string,
    private readonly firstKey: string,
    private readonly flight: ResponseFlight | null,
  ) {
    this.maxBodyBytes = route.maxBodyBytes
  }

  edits(status: number, headers: ResponseHeaders, body: Buffer | null): HeaderEdits {
    const set: [string, string][] = []
    const remove: string[] = []
    const { tagsHeader, vary } = this.route
    if (tagsHeader !== null && headers[tagsHeader] !== undefined) remove.push(tagsHeader)
    const handlerVary = parseVary(headers.vary)
    if (vary.length > 0 && handlerVary[0] !== '*') {
      const merged = mergeNames(vary, handlerVary)
      if (merged.length !== handlerVary.length) set.push(['vary', merged.join(', ')])
    }
    if (this.ctx.options.etag && body !== null && headers.etag === undefined) {
      if (decideStore({ status, headers, body }, this.route).store) set.push(['etag', etagOf(body)])
    }
    return { set, remove }
  }

  async finish(response: CapturedResponse): Promise<StoreOutcome> {
    if (this.done) return { stored: false, reason: 'incomplete' }
    this.done = true
    const { counters } = this.ctx
    try {
      const decision = decideStore(response, this.route)
      if (!decision.store) {
        this.flight?.end(undefined)
        counters.skip(decision.reason)
        return { stored: false, reason: decision.reason }
      }
      const body = response.body!
      const etag = headerText(response.headers.etag) ?? (this.ctx.options.etag ? etagOf(body) : undefined)
      const excluded = new Set(this.route.excludeHeaders)
      if (this.ctx.options.statusHeader !== null) excluded.add(this.ctx.options.statusHeader)
      if (this.route.tagsHeader !== null) excluded.add(this.route.tagsHeader)
      const entry: StoredResponse = {
        kind: 'response',
        status: response.status,
        headers: storableHeaders(response.headers, response.initialHeaders, excluded, decision.vary, etag),
        etag,
        lastModified: headerText(response.headers['last-modified']),
        storedAt: Date.now(),
        vary: decision.vary,
        body,
      }
      const setOptions: CacheSetOptions = {
        ...(decision.ttlMs === undefined ? {} : { ttl: decision.ttlMs }),
        ...this.tags(response.headers),
      }
      const packed = packResponse(entry)
      const sameVary = decision.vary.length === this.route.vary.length
      const key = sameVary ? this.firstKey : variantKey(this.primary, decision.vary, this.request)
      // Waiters are served from memory at once, and so are requests whose read missed before the
      // write is visible: the flight lingers until the cache has taken the entry.
      this.flight?.end({ entry, key }, true)
      const { cache } = this.ctx
      try {
        if (sameVary) await cache.set(key, packed, setOptions)
        else {
          await Promise.all([
            cache.set(key, packed, setOptions),
            cache.set(this.firstKey, packVaryMarker(decision.vary), setOptions),
          ])
        }
      } finally {
        // One more turn: reads that resolved together with the write still find the flight.
        const flight = this.flight
        if (flight !== null) setImmediate(() => flight.release())
      }
      counters.store()
      return { stored: true, ttlMs: decision.ttlMs }
    } catch (err) {
      this.flight?.end(undefined)
      const reason = isValkitError(err, 'VALKIT_VALUE_TOO_LARGE') ? 'too-large' : 'error'
      if (reason === 'error') this.ctx.error(err)
      counters.skip(reason)
      return { stored: false, reason }
    }
  }

  abandon(): void {
    if (this.done) return
    this.done = true
    this.flight?.end(undefined)
    this.ctx.counters.skip('incomplete')
  }

  /** The route's tags for this request, and those the handler named in the tags header. */
  private tags(headers: ResponseHeaders): { tags?: string[] } {
    const { tags, tagsHeader } = this.route
    const list: string[] = []
    if (typeof tags === 'function') {
      const computed = tags(this.request)
      if (!Array.isArray(computed)) {
        throw new TypeError("The response cache's tags function must return an array of strings.")
      }
      list.push(...(computed as string[]))
    } else if (tags !== null) list.push(...tags)
    if (tagsHeader !== null) {
      const text = headerText(headers[tagsHeader])
      if (text !== undefined) list.push(...splitList(text))
    }
    return list.length === 0 ? {} : { tags: [...new Set(list)] }
  }
}
