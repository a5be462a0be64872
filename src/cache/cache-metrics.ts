import type { CounterChild, MetricsRegistry } from '../core/index.js'

/** The metric series one cache updates, labelled by its root namespace. @internal */
export interface CacheMetrics {
  readonly hitL1: CounterChild
  readonly hitL2: CounterChild
  readonly miss: CounterChild
  readonly loaderRun: CounterChild
  readonly invalidation: CounterChild
  readonly corrupt: CounterChild
  readonly l2Error: CounterChild
  readonly staleServed: CounterChild
  readonly eviction: CounterChild
  readonly leaseWait: CounterChild
}

/**
 * Declares the cache metrics on valkit's registry (idempotent) and returns this cache's series.
 * `l1` is read at scrape time for the `l1_entries` / `l1_bytes` gauges.
 *
 * @internal
 */
export function registerCacheMetrics(
  registry: MetricsRegistry,
  namespace: string,
  l1: () => { entries: number; bytes: number } | undefined,
): CacheMetrics {
  const labels = { namespace }
  const hits = registry.counter({
    name: 'cache_hits_total',
    help: 'Cache reads answered, by tier (l1: in process, l2: Redis/Valkey).',
    labelNames: ['namespace', 'tier'],
  })
  const counter = (name: string, help: string) =>
    registry.counter({ name, help, labelNames: ['namespace'] }).labels(labels)
  const gauge = (name: string, help: string, read: (l1: { entries: number; bytes: number }) => number) =>
    registry.gauge({
      name,
      help,
      labelNames: ['namespace'],
      collect: (g) => {
        const now = l1()
        if (now !== undefined) g.labels(labels).set(read(now))
      },
    })
  gauge('cache_l1_entries', 'Entries in the in-process cache tier.', (s) => s.entries)
  gauge('cache_l1_bytes', 'Bytes held by the in-process cache tier.', (s) => s.bytes)
  return {
    hitL1: hits.labels({ namespace, tier: 'l1' }),
    hitL2: hits.labels({ namespace, tier: 'l2' }),
    miss: counter('cache_misses_total', 'Cache reads that found nothing.'),
    loaderRun: counter('cache_loader_runs_total', 'Loader runs of getOrSet (coalesced callers share one).'),
    invalidation: counter(
      'cache_invalidations_total',
      'Keys deleted, tags invalidated and clears made by this instance.',
    ),
    corrupt: counter('cache_corrupt_total', 'L2 values that failed to decode, treated as misses.'),
    l2Error: counter('cache_l2_errors_total', 'L2 operations that failed; the cache went on without L2.'),
    staleServed: counter(
      'cache_stale_served_total',
      'Stale values served by getOrSet (stale-while-revalidate, grace after a loader failure or timeout).',
    ),
    eviction: counter('cache_l1_evictions_total', 'L1 entries evicted by its entry or byte bound.'),
    leaseWait: counter(
      'cache_lease_waits_total',
      "getOrSet calls that waited for another instance's loader (its lease was held).",
    ),
  }
}
