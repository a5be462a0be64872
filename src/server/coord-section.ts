import type { MetricSnapshot } from '../core/index.js'
import { addTo, RateTracker, type Counted, type SectionInterval } from './rate-tracker.js'
import { byName, readSeries, seriesKey, type SectionExtra } from './section-series.js'

/** Leases of this process now, by kind (`mutex`, `semaphore`, `read`, `write`, `leader`). */
export interface LeaseCounts {
  /** Every kind together. */
  readonly total: number
  readonly byKind: Readonly<Record<string, number>>
}

/** One election group this process takes part in. */
export interface LeaderGroupStats {
  readonly group: string
  /** Whether this process leads the group now (`valkit_coord_leader` = 1). */
  readonly leading: boolean
  /** Times this process was elected / demoted in the group. */
  readonly elected: Counted
  readonly demoted: Counted
}

/** How long granted acquires of one kind waited (`valkit_coord_wait_seconds`). */
export interface WaitStats {
  readonly kind: string
  /** Granted acquires observed, with their rate. */
  readonly grants: Counted
  /** Mean wait in milliseconds; `null` before the first observation. */
  readonly meanMs: number | null
  /** From the histogram's quantile sketch; `null` when it has none. */
  readonly p50Ms: number | null
  readonly p99Ms: number | null
}

/** The holders of one resource given to the server (`panels.coord.resources`), read by `coord.inspect()`. */
export interface ResourcePanelState {
  readonly resource: string
  readonly holders: readonly {
    readonly owner: string
    readonly token: number
    readonly expiresInMs: number
  }[]
  /** Fair waiters queued on the server (every instance). */
  readonly queued: number
  /** The last fencing token granted (0: none known). */
  readonly lastToken: number
  /** Why it could not be read this time (Redis unreachable...); the other fields are then empty. */
  readonly error?: string
}

/** A lock an agent held past `deadlock.maxHold`, as `coord.onStuckLock` reported it. */
export interface StuckLockReport {
  /** Epoch milliseconds of the report. */
  readonly at: number
  readonly kind: string
  readonly resource: string
  readonly agent: string
  readonly heldMs: number
  readonly recovered: boolean
}

/** The `coord` section of the dashboard snapshot: this process's coordination. */
export interface CoordSection {
  /** Epoch milliseconds of the registry reading. */
  readonly at: number
  /** What the rates cover; `null` before there are two readings. */
  readonly interval: SectionInterval | null
  /** Whether the registry has `valkit_coord_*` series (a `createCoord` on this valkit). */
  readonly present: boolean
  /** Leases held now (`valkit_coord_held`). */
  readonly held: LeaseCounts
  /** Acquires waiting now (`valkit_coord_waiting`). */
  readonly waiting: LeaseCounts
  /** Election groups, sorted by name. */
  readonly leaders: readonly LeaderGroupStats[]
  /** Acquires by result: `granted`, `busy`, `timeout`, `aborted`, `error` (every kind). */
  readonly acquires: Readonly<Record<string, Counted>>
  /** Waits of granted acquires, per kind. */
  readonly waits: readonly WaitStats[]
  readonly releases: Counted
  /** Leases lost: another owner had them, or they ran out before an extension. */
  readonly leasesLost: Counted
  /** Cycles broken by aborting their youngest waiter; `null` when not reported. */
  readonly deadlocksBroken: Counted | null
  /** Locks held past `deadlock.maxHold`, taken back; `null` when not reported. */
  readonly locksRecovered: Counted | null
  /** Fenced writes by result: `written`, `stale`. */
  readonly fencedWrites: Readonly<Record<string, Counted>>
  /** Check-and-set writes by result: `swapped`, `conflict`. */
  readonly cas: Readonly<Record<string, Counted>>
  /** Idempotent runs by result: `ran`, `replayed`, `waited`. */
  readonly idempotent: Readonly<Record<string, Counted>>
  /** Transactions by result: `committed`, `conflict`, `gave-up`. */
  readonly transactions: Readonly<Record<string, Counted>>
  /**
   * The resources given to the server (`panels.coord.resources`), as every instance sees them;
   * `null` when none were given (the server knows no resource names).
   */
  readonly resources: readonly ResourcePanelState[] | null
  /** The last locks reported stuck, newest first; `null` when no coord was given to the server. */
  readonly stuckLocks: readonly StuckLockReport[] | null
  /** Other `valkit_coord_*` series. */
  readonly extras: readonly SectionExtra[]
}

/** What the server reads from the coord it was given, if any. */
export interface CoordLiveState {
  readonly resources: readonly ResourcePanelState[] | null
  readonly stuckLocks: readonly StuckLockReport[] | null
}

const vkey = (...parts: string[]): string => JSON.stringify(parts)

/** Counters summed over one label, by name without `coord_`. */
const BY_RESULT: Readonly<Record<string, 'fencedWrites' | 'cas' | 'idempotent' | 'transactions'>> = {
  coord_fenced_writes_total: 'fencedWrites',
  coord_cas_total: 'cas',
  coord_idempotent_total: 'idempotent',
  coord_transactions_total: 'transactions',
}

type Family = 'acquires' | 'fencedWrites' | 'cas' | 'idempotent' | 'transactions'

/**
 * Turns registry readings into the dashboard's `coord` section: leases held and waiting by kind,
 * leaders per group, acquires by result, waits, deadlocks broken and locks recovered, fenced
 * writes and the atomic helpers' results. The coord metrics are per process (no instance
 * label). Rates follow {@link RateTracker}'s rule; series it does not know become `extras`.
 *
 * @example
 * ```ts
 * const section = new CoordSectionBuilder(1000)
 * const coord = section.build(valkit.metrics.snapshot(), valkit.metrics.prefix, Date.now())
 * console.log(coord.held.total, coord.waiting.total, coord.leaders)
 * ```
 */
export class CoordSectionBuilder {
  readonly #tracker: RateTracker

  /** `intervalMs`: the snapshot interval. */
  constructor(intervalMs: number) {
    this.#tracker = new RateTracker(intervalMs)
  }

  /** Builds the section from one registry snapshot taken at `at`, with what the server read from its coord. */
  build(
    metrics: readonly MetricSnapshot[],
    prefix: string,
    at: number,
    live: CoordLiveState = { resources: null, stuckLocks: null },
  ): CoordSection {
    const values = new Map<string, number>()
    const held = new Map<string, number>()
    const waiting = new Map<string, number>()
    const leading = new Map<string, boolean>()
    const families = new Map<Family, Set<string>>()
    const waitKinds = new Map<
      string,
      { count: number; sum: number; p50: number | null; p99: number | null }
    >()
    const extras: { sample: Omit<SectionExtra, 'perSecond'>; key: string }[] = []
    let present = false
    let deadlocks = false
    let recovered = false
    const family = (f: Family, label: string, value: number): void => {
      let seen = families.get(f)
      if (seen === undefined) families.set(f, (seen = new Set()))
      seen.add(label)
      addTo(values, vkey(f, label), value)
    }
    for (const s of readSeries(metrics, prefix, 'coord_')) {
      present = true
      const counter = s.type === 'counter'
      const fam = counter ? BY_RESULT[s.name] : undefined
      if (s.type === 'gauge' && s.name === 'coord_held') {
        addTo(held, s.labels.kind ?? 'unknown', s.value)
      } else if (s.type === 'gauge' && s.name === 'coord_waiting') {
        addTo(waiting, s.labels.kind ?? 'unknown', s.value)
      } else if (s.type === 'gauge' && s.name === 'coord_leader' && s.labels.group !== undefined) {
        leading.set(s.labels.group, (leading.get(s.labels.group) ?? false) || s.value > 0)
      } else if (counter && s.name === 'coord_leader_changes_total' && s.labels.group !== undefined) {
        if (!leading.has(s.labels.group)) leading.set(s.labels.group, false)
        addTo(values, vkey('leader', s.labels.group, s.labels.event ?? 'unknown'), s.value)
      } else if (counter && s.name === 'coord_acquires_total') {
        family('acquires', s.labels.result ?? 'unknown', s.value)
      } else if (fam !== undefined) {
        family(fam, s.labels.result ?? 'unknown', s.value)
      } else if (counter && s.name === 'coord_releases_total') {
        addTo(values, vkey('releases'), s.value)
      } else if (counter && s.name === 'coord_leases_lost_total') {
        addTo(values, vkey('lost'), s.value)
      } else if (counter && s.name === 'coord_deadlocks_broken_total') {
        deadlocks = true
        addTo(values, vkey('deadlocks'), s.value)
      } else if (counter && s.name === 'coord_locks_recovered_total') {
        recovered = true
        addTo(values, vkey('recovered'), s.value)
      } else if (s.type === 'histogram' && s.name === 'coord_wait_seconds') {
        const kind = s.labels.kind ?? 'unknown'
        const w = waitKinds.get(kind)
        // one series per kind; a kind split by a future label keeps its count and sum
        waitKinds.set(kind, {
          count: (w?.count ?? 0) + s.value,
          sum: (w?.sum ?? 0) + (s.sum ?? 0),
          p50: w === undefined && s.percentiles ? s.percentiles.p50 : null,
          p99: w === undefined && s.percentiles ? s.percentiles.p99 : null,
        })
        addTo(values, vkey('wait', kind), s.value)
      } else {
        const key = seriesKey(s.name, s.labels)
        values.set(key, s.value)
        extras.push({ sample: { name: s.name, labels: s.labels, type: s.type, value: s.value }, key })
      }
    }

    const t = this.#tracker
    t.advance(at, values)
    const counted = (key: string): Counted => t.counted(key, values.get(key) ?? 0)
    const record = (f: Family): Record<string, Counted> => {
      const out: Record<string, Counted> = {}
      for (const label of [...(families.get(f) ?? [])].sort()) out[label] = counted(vkey(f, label))
      return out
    }
    const counts = (m: Map<string, number>): LeaseCounts => {
      const byKind: Record<string, number> = {}
      let total = 0
      for (const [kind, n] of [...m].sort(byName(([k]) => k))) {
        byKind[kind] = n
        total += n
      }
      return { total, byKind }
    }
    const ms = (seconds: number | null): number | null => (seconds === null ? null : seconds * 1000)
    return {
      at,
      interval: t.interval,
      present,
      held: counts(held),
      waiting: counts(waiting),
      leaders: [...leading].sort(byName(([g]) => g)).map(([group, lead]) => ({
        group,
        leading: lead,
        elected: counted(vkey('leader', group, 'elected')),
        demoted: counted(vkey('leader', group, 'demoted')),
      })),
      acquires: record('acquires'),
      waits: [...waitKinds].sort(byName(([k]) => k)).map(([kind, w]) => ({
        kind,
        grants: counted(vkey('wait', kind)),
        meanMs: w.count > 0 ? (w.sum / w.count) * 1000 : null,
        p50Ms: w.count > 0 ? ms(w.p50) : null,
        p99Ms: w.count > 0 ? ms(w.p99) : null,
      })),
      releases: counted(vkey('releases')),
      leasesLost: counted(vkey('lost')),
      deadlocksBroken: deadlocks ? counted(vkey('deadlocks')) : null,
      locksRecovered: recovered ? counted(vkey('recovered')) : null,
      fencedWrites: record('fencedWrites'),
      cas: record('cas'),
      idempotent: record('idempotent'),
      transactions: record('transactions'),
      resources: live.resources,
      stuckLocks: live.stuckLocks,
      extras: extras.map(({ sample, key }) => ({
        ...sample,
        perSecond: sample.type === 'gauge' ? null : t.perSecond(key),
      })),
    }
  }
}
