import type { CounterChild, MetricsRegistry } from '../core/index.js'

/** Why a session ended, as the `session_destroyed_total` metric labels it. @internal */
export type DestroyReason = 'destroy' | 'revoke' | 'revoke_all' | 'erase' | 'expired' | 'evicted'

/** The counters one session store updates, labelled by store name. @internal */
export interface SessionMetrics {
  readonly created: CounterChild
  readonly rotated: CounterChild
  readonly conflicts: CounterChild
  readonly errors: CounterChild
  readonly localReads: CounterChild
  destroyed(reason: DestroyReason, n?: number): void
  quarantined(reason: string): void
  rejected(reason: 'malformed' | 'signature'): void
  read(result: 'live' | 'alias' | 'none' | 'expired' | 'revoked' | 'rotated'): void
  /** Stops reporting this store's active-sessions gauge. */
  detach(): void
}

/** Active-session sources of each registry: one collector per registry sums them by store. */
const sourcesByRegistry = new WeakMap<MetricsRegistry, Set<{ store: string; read(): number | undefined }>>()

function activeSources(registry: MetricsRegistry): Set<{ store: string; read(): number | undefined }> {
  let sources = sourcesByRegistry.get(registry)
  if (sources !== undefined) return sources
  sourcesByRegistry.set(registry, (sources = new Set()))
  const live = sources
  registry.gauge({
    name: 'session_active',
    help: 'Session records in the store (Redis: as counted by the last completed incremental SCAN).',
    labelNames: ['store'],
    collect: (gauge) => {
      const seen = new Set<string>()
      for (const source of live) {
        // Every store of one name sees the same records: report one count per name.
        if (seen.has(source.store)) continue
        const n = source.read()
        if (n === undefined) continue
        seen.add(source.store)
        gauge.labels({ store: source.store }).set(n)
      }
    },
  })
  return sources
}

/**
 * Declares the session metrics on valkit's registry (idempotent) and returns this store's series.
 *
 * @internal
 */
export function registerSessionMetrics(
  registry: MetricsRegistry,
  store: string,
  active: () => number | undefined,
): SessionMetrics {
  const labels = { store }
  const counter = (name: string, help: string) =>
    registry.counter({ name, help, labelNames: ['store'] }).labels(labels)
  const destroyed = registry.counter({
    name: 'session_destroyed_total',
    help: 'Sessions ended, by reason (destroy, revoke, revoke_all, erase, expired: found expired on read, evicted: over the per-user limit).',
    labelNames: ['store', 'reason'],
  })
  const quarantined = registry.counter({
    name: 'session_quarantined_total',
    help: 'Records that could not be trusted (undecodable, tampered, bound to another ID), moved aside and treated as no session.',
    labelNames: ['store', 'reason'],
  })
  const rejected = registry.counter({
    name: 'session_rejected_tokens_total',
    help: 'Cookie tokens refused (malformed, or a signature no secret verifies); a fresh session is issued.',
    labelNames: ['store', 'reason'],
  })
  const reads = registry.counter({
    name: 'session_reads_total',
    help: 'Session reads by result (live, alias: old ID within its overlap window, none, expired, revoked, rotated).',
    labelNames: ['store', 'result'],
  })
  const readChildren = new Map<string, CounterChild>()
  for (const result of ['live', 'alias', 'none', 'expired', 'revoked', 'rotated']) {
    readChildren.set(result, reads.labels({ store, result }))
  }
  const sources = activeSources(registry)
  const source = { store, read: active }
  sources.add(source)
  return {
    created: counter('session_created_total', 'Sessions created (including new IDs issued by regenerate).'),
    rotated: counter(
      'session_rotated_total',
      'Session IDs rotated by regenerate (login, privilege change, renewal).',
    ),
    conflicts: counter(
      'session_conflicts_total',
      'Writes refused because the session changed since it was read (check-and-set).',
    ),
    errors: counter(
      'session_backend_errors_total',
      'Operations that failed because Redis/Valkey could not be reached or answered with an error.',
    ),
    localReads: counter(
      'session_local_reads_total',
      'Reads served from the per-instance copy while Redis/Valkey was unreachable.',
    ),
    destroyed: (reason, n = 1) => destroyed.labels({ store, reason }).inc(n),
    quarantined: (reason) => quarantined.labels({ store, reason }).inc(),
    rejected: (reason) => rejected.labels({ store, reason }).inc(),
    read: (result) => readChildren.get(result)!.inc(),
    detach: () => sources.delete(source),
  }
}
