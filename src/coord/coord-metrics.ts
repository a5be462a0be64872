import type { CounterChild, HistogramChild, MetricsRegistry } from '../core/index.js'
import type { LeaseKind } from './lease-types.js'

/** Plain counters of one coord instance, the numbers behind `stats()` and the metrics. @internal */
export interface CoordCounters {
  granted: number
  busy: number
  timeouts: number
  aborted: number
  errors: number
  released: number
  lost: number
  extended: number
  extendFailures: number
  localGrants: number
  deadlocksBroken: number
  locksRecovered: number
  fencedWritten: number
  fencedStale: number
}

/** Live numbers a coord instance reports at scrape time. @internal */
export interface CoordGaugeSource {
  held(): ReadonlyMap<LeaseKind, number>
  waiting(): ReadonlyMap<LeaseKind, number>
  leaders(): ReadonlyMap<string, number>
}

/** The metric series one coord instance updates. @internal */
export interface CoordMetrics {
  acquire(kind: LeaseKind, result: 'granted' | 'busy' | 'timeout' | 'aborted' | 'error'): void
  waited(kind: LeaseKind, seconds: number): void
  released(kind: LeaseKind): void
  lost(kind: LeaseKind): void
  leaderChange(group: string, event: 'elected' | 'demoted'): void
  deadlockBroken(): void
  lockRecovered(): void
  fenced(result: 'written' | 'stale'): void
  idempotent(result: 'ran' | 'replayed' | 'waited'): void
  cas(result: 'swapped' | 'conflict'): void
  transaction(result: 'committed' | 'conflict' | 'gave-up'): void
  /** Stops reporting this instance's gauges (it closed). */
  detach(): void
}

const sourcesByRegistry = new WeakMap<MetricsRegistry, Set<CoordGaugeSource>>()

function gaugeSources(registry: MetricsRegistry): Set<CoordGaugeSource> {
  let sources = sourcesByRegistry.get(registry)
  if (sources !== undefined) return sources
  sourcesByRegistry.set(registry, (sources = new Set()))
  const live = sources
  const reported = { held: new Set<string>(), waiting: new Set<string>(), leaders: new Set<string>() }
  const sum = (
    pick: (s: CoordGaugeSource) => ReadonlyMap<string, number>,
    seen: Set<string>,
  ): Map<string, number> => {
    const totals = new Map<string, number>()
    for (const source of live) for (const [k, v] of pick(source)) totals.set(k, (totals.get(k) ?? 0) + v)
    for (const k of seen) if (!totals.has(k)) totals.set(k, 0)
    for (const k of totals.keys()) seen.add(k)
    return totals
  }
  registry.gauge({
    name: 'coord_held',
    help: 'Locks, permits, read/write slots and leaderships held by this process, by kind.',
    labelNames: ['kind'],
    collect: (g) => {
      for (const [kind, n] of sum((s) => s.held(), reported.held)) g.labels({ kind }).set(n)
    },
  })
  registry.gauge({
    name: 'coord_waiting',
    help: 'Acquires of this process waiting for a busy resource, by kind.',
    labelNames: ['kind'],
    collect: (g) => {
      for (const [kind, n] of sum((s) => s.waiting(), reported.waiting)) g.labels({ kind }).set(n)
    },
  })
  registry.gauge({
    name: 'coord_leader',
    help: '1 while this process leads the election group, else 0.',
    labelNames: ['group'],
    collect: (g) => {
      for (const [group, n] of sum((s) => s.leaders(), reported.leaders)) g.labels({ group }).set(n)
    },
  })
  return sources
}

/**
 * Declares the coordination metrics on valkit's registry (idempotent) and returns this
 * instance's series; `source` is read at scrape time for the gauges.
 *
 * @internal
 */
export function registerCoordMetrics(registry: MetricsRegistry, source: CoordGaugeSource): CoordMetrics {
  const acquires = registry.counter({
    name: 'coord_acquires_total',
    help: 'Acquire calls by kind and result (granted, busy, timeout, aborted, error).',
    labelNames: ['kind', 'result'],
  })
  const waits = registry.histogram({
    name: 'coord_wait_seconds',
    help: 'How long granted acquires waited for a busy resource.',
    labelNames: ['kind'],
    buckets: [0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 60],
  })
  const releases = registry.counter({
    name: 'coord_releases_total',
    help: 'Leases released by their holder.',
    labelNames: ['kind'],
  })
  const losses = registry.counter({
    name: 'coord_leases_lost_total',
    help: 'Leases lost: found held by another owner, or run out before an extension.',
    labelNames: ['kind'],
  })
  const leaderChanges = registry.counter({
    name: 'coord_leader_changes_total',
    help: 'Leadership changes of this process by group and event (elected, demoted).',
    labelNames: ['group', 'event'],
  })
  const fenced = registry.counter({
    name: 'coord_fenced_writes_total',
    help: 'Fenced writes by result (written, stale: rejected for an older token).',
    labelNames: ['result'],
  })
  const idempotent = registry.counter({
    name: 'coord_idempotent_total',
    help: 'Idempotent operations by result (ran, replayed a stored result, waited for a concurrent run).',
    labelNames: ['result'],
  })
  const cas = registry.counter({
    name: 'coord_cas_total',
    help: 'Versioned check-and-set writes by result.',
    labelNames: ['result'],
  })
  const transactions = registry.counter({
    name: 'coord_transactions_total',
    help: 'MULTI/WATCH transactions by result (committed, conflict: retried, gave-up).',
    labelNames: ['result'],
  })
  const deadlocks = registry.counter({
    name: 'coord_deadlocks_broken_total',
    help: 'Deadlock cycles broken by aborting their youngest waiter.',
  })
  const recovered = registry.counter({
    name: 'coord_locks_recovered_total',
    help: 'Locks held past their maximum, reported and taken back.',
  })
  const sources = gaugeSources(registry)
  sources.add(source)
  const acquireChildren = new Map<string, Map<string, CounterChild>>()
  const byKind = <T>(cache: Map<string, T>, kind: string, make: () => T): T => {
    let child = cache.get(kind)
    if (child === undefined) cache.set(kind, (child = make()))
    return child
  }
  const waitChildren = new Map<string, HistogramChild>()
  const releaseChildren = new Map<string, CounterChild>()
  return {
    acquire: (kind, result) => {
      const children = byKind(acquireChildren, kind, () => new Map<string, CounterChild>())
      byKind(children, result, () => acquires.labels({ kind, result })).inc()
    },
    waited: (kind, seconds) => byKind(waitChildren, kind, () => waits.labels({ kind })).observe(seconds),
    released: (kind) => byKind(releaseChildren, kind, () => releases.labels({ kind })).inc(),
    lost: (kind) => losses.labels({ kind }).inc(),
    leaderChange: (group, event) => leaderChanges.labels({ group, event }).inc(),
    deadlockBroken: () => deadlocks.inc(),
    lockRecovered: () => recovered.inc(),
    fenced: (result) => fenced.labels({ result }).inc(),
    idempotent: (result) => idempotent.labels({ result }).inc(),
    cas: (result) => cas.labels({ result }).inc(),
    transaction: (result) => transactions.labels({ result }).inc(),
    detach: () => sources.delete(source),
  }
}
