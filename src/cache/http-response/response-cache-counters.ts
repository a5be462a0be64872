import type { CounterChild, MetricsRegistry } from '../../core/index.js'
import type { BypassReason, NotStoredReason, ResponseCacheStats } from './response-cache-types.js'

const BYPASS_REASONS: readonly BypassReason[] = [
  'method',
  'request-no-store',
  'authorization',
  'range',
  'bypass-option',
  'error',
]
const NOT_STORED_REASONS: readonly NotStoredReason[] = [
  'status',
  'no-store',
  'private',
  'no-cache',
  'zero-ttl',
  'set-cookie',
  'vary-star',
  'too-large',
  'unsupported-body',
  'incomplete',
  'error',
]

type Result = 'hit' | 'not_modified' | 'miss' | 'refresh' | 'bypass'

/** No-op series when no registry is given. */
const NONE = { inc: () => {} } as Pick<CounterChild, 'inc'>

function zeroes<K extends string>(keys: readonly K[]): Record<K, number> {
  return Object.fromEntries(keys.map((k) => [k, 0])) as Record<K, number>
}

/**
 * The counters of one response cache and, with a registry, their `valkit_cache_http_*` series
 * (labelled by the cache's namespace):
 * `cache_http_requests_total{result}` (hit, not_modified, miss, refresh, bypass),
 * `cache_http_bypasses_total{reason}`, `cache_http_stored_total`,
 * `cache_http_not_stored_total{reason}`, `cache_http_coalesced_total`, `cache_http_errors_total`.
 *
 * @internal
 */
export class ResponseCacheCounters {
  private hits = 0
  private notModified = 0
  private misses = 0
  private refreshes = 0
  private bypasses = 0
  private coalesced = 0
  private stored = 0
  private notStored = 0
  private errors = 0
  private readonly bypassReasons = zeroes(BYPASS_REASONS)
  private readonly notStoredReasons = zeroes(NOT_STORED_REASONS)
  private readonly series: {
    readonly result: (r: Result) => Pick<CounterChild, 'inc'>
    readonly bypass: (r: BypassReason) => Pick<CounterChild, 'inc'>
    readonly notStored: (r: NotStoredReason) => Pick<CounterChild, 'inc'>
    readonly stored: Pick<CounterChild, 'inc'>
    readonly coalesced: Pick<CounterChild, 'inc'>
    readonly errors: Pick<CounterChild, 'inc'>
  }

  constructor(registry: MetricsRegistry | null, namespace: string) {
    if (registry === null) {
      this.series = {
        result: () => NONE,
        bypass: () => NONE,
        notStored: () => NONE,
        stored: NONE,
        coalesced: NONE,
        errors: NONE,
      }
      return
    }
    const requests = registry.counter({
      name: 'cache_http_requests_total',
      help: 'HTTP requests seen by the response cache, by result (hit, not_modified, miss, refresh, bypass).',
      labelNames: ['namespace', 'result'],
    })
    const bypasses = registry.counter({
      name: 'cache_http_bypasses_total',
      help: 'HTTP requests that skipped the response cache, by reason.',
      labelNames: ['namespace', 'reason'],
    })
    const notStored = registry.counter({
      name: 'cache_http_not_stored_total',
      help: 'HTTP responses the response cache did not store, by reason.',
      labelNames: ['namespace', 'reason'],
    })
    const plain = (name: string, help: string) =>
      registry.counter({ name, help, labelNames: ['namespace'] }).labels({ namespace })
    const results = new Map<Result, CounterChild>()
    const byBypass = new Map<BypassReason, CounterChild>()
    const byNotStored = new Map<NotStoredReason, CounterChild>()
    this.series = {
      result: (result) => memo(results, result, () => requests.labels({ namespace, result })),
      bypass: (reason) => memo(byBypass, reason, () => bypasses.labels({ namespace, reason })),
      notStored: (reason) => memo(byNotStored, reason, () => notStored.labels({ namespace, reason })),
      stored: plain('cache_http_stored_total', 'HTTP responses stored by the response cache.'),
      coalesced: plain(
        'cache_http_coalesced_total',
        'HTTP requests answered by waiting for a concurrent miss of the same key.',
      ),
      errors: plain(
        'cache_http_errors_total',
        'Errors the response cache swallowed while still serving the request.',
      ),
    }
  }

  hit(notModified: boolean, coalesced: boolean): void {
    this.hits++
    if (notModified) this.notModified++
    this.series.result(notModified ? 'not_modified' : 'hit').inc()
    if (coalesced) {
      this.coalesced++
      this.series.coalesced.inc()
    }
  }

  miss(refresh: boolean): void {
    if (refresh) this.refreshes++
    else this.misses++
    this.series.result(refresh ? 'refresh' : 'miss').inc()
  }

  bypass(reason: BypassReason): void {
    this.bypasses++
    this.bypassReasons[reason]++
    this.series.result('bypass').inc()
    this.series.bypass(reason).inc()
  }

  store(): void {
    this.stored++
    this.series.stored.inc()
  }

  skip(reason: NotStoredReason): void {
    this.notStored++
    this.notStoredReasons[reason]++
    this.series.notStored(reason).inc()
  }

  error(): void {
    this.errors++
    this.series.errors.inc()
  }

  snapshot(): ResponseCacheStats {
    return {
      hits: this.hits,
      notModified: this.notModified,
      misses: this.misses,
      refreshes: this.refreshes,
      bypasses: this.bypasses,
      coalesced: this.coalesced,
      stored: this.stored,
      notStored: this.notStored,
      bypassReasons: { ...this.bypassReasons },
      notStoredReasons: { ...this.notStoredReasons },
      errors: this.errors,
    }
  }
}

function memo<K, V>(map: Map<K, V>, key: K, make: () => V): V {
  let value = map.get(key)
  if (value === undefined) map.set(key, (value = make()))
  return value
}
