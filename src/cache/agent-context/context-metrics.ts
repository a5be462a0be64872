import type { CounterChild, MetricsRegistry } from '../../core/index.js'

/** The metric series one agent context updates, labelled by its namespace. @internal */
export interface ContextMetrics {
  readonly readL1: CounterChild
  readonly readRedis: CounterChild
  readonly write: CounterChild
  readonly append: CounterChild
  readonly delete: CounterChild
  readonly clear: CounterChild
  readonly conflict: CounterChild
  readonly unavailable: CounterChild
}

/**
 * Declares the agent context metrics on valkit's registry (idempotent) and returns this store's
 * series. `l1` is read at scrape time for the `l1_entries` gauge.
 *
 * @internal
 */
export function registerContextMetrics(
  registry: MetricsRegistry,
  namespace: string,
  l1: () => number | undefined,
): ContextMetrics {
  const reads = registry.counter({
    name: 'cache_agent_context_reads_total',
    help: 'Agent context reads answered, by source (l1: in process, redis: Redis/Valkey).',
    labelNames: ['namespace', 'source'],
  })
  const changes = registry.counter({
    name: 'cache_agent_context_changes_total',
    help: 'Agent context changes applied, by operation (write, append, delete, clear).',
    labelNames: ['namespace', 'op'],
  })
  const counter = (name: string, help: string) =>
    registry.counter({ name, help, labelNames: ['namespace'] }).labels({ namespace })
  registry.gauge({
    name: 'cache_agent_context_l1_entries',
    help: 'Agent context entries held in process.',
    labelNames: ['namespace'],
    collect: (g) => {
      const n = l1()
      if (n !== undefined) g.labels({ namespace }).set(n)
    },
  })
  return {
    readL1: reads.labels({ namespace, source: 'l1' }),
    readRedis: reads.labels({ namespace, source: 'redis' }),
    write: changes.labels({ namespace, op: 'write' }),
    append: changes.labels({ namespace, op: 'append' }),
    delete: changes.labels({ namespace, op: 'delete' }),
    clear: changes.labels({ namespace, op: 'clear' }),
    conflict: counter(
      'cache_agent_context_conflicts_total',
      'Agent context writes refused because the entry was not at the expected version.',
    ),
    unavailable: counter(
      'cache_agent_context_unavailable_total',
      'Agent context calls refused because Redis/Valkey was unreachable and no fitting copy was held in process.',
    ),
  }
}
