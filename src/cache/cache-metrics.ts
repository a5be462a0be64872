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
  /** Stops reporting this cache's L1 size (it closed). */
  readonly detach: () => void
}

/** Where the L1 gauges read one cache's size at scrape time. */
interface L1Source {
  readonly namespace: string
  read(): { entries: number; bytes: number } | undefined
  /** Values in L2, as last counted. */
  l2(): number | undefined
}

/** The live caches of each registry: one collector per registry sums them by namespace. */
const sourcesByRegistry = new WeakMap<MetricsRegistry, Set<L1Source>>()

function l1Sources(registry: MetricsRegistry): Set<L1Source> {
  let sources = sourcesByRegistry.get(registry)
  if (sources !== undefined) return sources
  sourcesByRegistry.set(registry, (sources = new Set()))
  const live = sources
  // Namespaces reported before: a namespace whose caches all closed goes to 0, not stale.
  const reported = new Set<string>()
  const gauge = (name: string, help: string, pick: (size: { entries: number; bytes: number }) => number) =>
    registry.gauge({
      name,
      help,
      labelNames: ['namespace'],
      collect: (g) => {
        const sums = new Map<string, number>()
        for (const source of live) {
          const size = source.read()
          if (size !== undefined) sums.set(source.namespace, (sums.get(source.namespace) ?? 0) + pick(size))
        }
        for (const namespace of reported) if (!sums.has(namespace)) sums.set(namespace, 0)
        for (const [namespace, value] of sums) {
          g.labels({ namespace }).set(value)
          reported.add(namespace)
        }
      },
    })
  gauge('cache_l1_entries', 'Entries in the in-process cache tier.', (s) => s.entries)
  gauge('cache_l1_bytes', 'Bytes held by the in-process cache tier.', (s) => s.bytes)
  registry.gauge({
    name: 'cache_l2_entries',
    help: 'Values of the namespace in Redis/Valkey, as counted by the last completed incremental SCAN.',
    labelNames: ['namespace'],
    collect: (g) => {
      // One count per namespace: every cache of a namespace sees the same keys.
      for (const source of live) {
        const entries = source.l2()
        if (entries !== undefined) g.labels({ namespace: source.namespace }).set(entries)
      }
    },
  })
  return sources
}

/**
 * Declares the cache metrics on valkit's registry (idempotent) and returns this cache's series.
 * `l1` is read at scrape time for the `l1_entries` / `l1_bytes` gauges (summed over the live
 * caches of one namespace), `l2` for `l2_entries`; `detach()` (on close) stops reading them.
 *
 * @internal
 */
export function registerCacheMetrics(
  registry: MetricsRegistry,
  namespace: string,
  l1: () => { entries: number; bytes: number } | undefined,
  l2: () => number | undefined,
): CacheMetrics {
  const labels = { namespace }
  const hits = registry.counter({
    name: 'cache_hits_total',
    help: 'Cache reads answered, by tier (l1: in process, l2: Redis/Valkey).',
    labelNames: ['namespace', 'tier'],
  })
  const counter = (name: string, help: string) =>
    registry.counter({ name, help, labelNames: ['namespace'] }).labels(labels)
  const sources = l1Sources(registry)
  const source: L1Source = { namespace, read: l1, l2 }
  sources.add(source)
  return {
    detach: () => sources.delete(source),
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
