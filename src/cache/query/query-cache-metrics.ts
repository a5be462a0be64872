import type { CounterChild, MetricsRegistry } from '../../core/index.js'

/** The series one query cache updates, labelled by its cache's namespace. @internal */
export interface QueryCacheMetrics {
  readonly hit: CounterChild
  readonly miss: CounterChild
  readonly bypass: CounterChild
  readonly notification: CounterChild
  readonly invalidation: CounterChild
  readonly reconnect: CounterChild
}

/**
 * Declares the `valkit_cache_query_*` metrics on valkit's registry (idempotent) and returns
 * this query cache's series; `listening` is read at scrape time for the gauge.
 *
 * @internal
 */
export function registerQueryCacheMetrics(
  registry: MetricsRegistry,
  namespace: string,
  listening: () => boolean | undefined,
): QueryCacheMetrics {
  const labels = { namespace }
  const counter = (name: string, help: string) =>
    registry.counter({ name, help, labelNames: ['namespace'] }).labels(labels)
  registry.gauge({
    name: 'cache_query_listening',
    help: '1 while the query cache LISTENs for table changes, 0 while its connection is down.',
    labelNames: ['namespace'],
    collect: (g) => {
      const now = listening()
      if (now !== undefined) g.labels(labels).set(now ? 1 : 0)
    },
  })
  return {
    hit: counter('cache_query_hits_total', 'Cached queries answered without running them.'),
    miss: counter('cache_query_misses_total', 'Cached queries run against PostgreSQL (and stored).'),
    bypass: counter(
      'cache_query_bypassed_total',
      'Queries run against PostgreSQL without the cache because the listener was down.',
    ),
    notification: counter('cache_query_notifications_total', 'Table change notifications received.'),
    invalidation: counter(
      'cache_query_invalidations_total',
      'Table tags invalidated (after notifications, reconnects or invalidate()).',
    ),
    reconnect: counter(
      'cache_query_listener_reconnects_total',
      'Times the LISTEN connection was re-established.',
    ),
  }
}
