import type { MetricSnapshot } from '../core/index.js'
import { addTo, RateTracker, type Counted, type SectionInterval } from './rate-tracker.js'
import { byName, readSeries, seriesKey, withoutLabel, type SectionExtra } from './section-series.js'

/** What a store did over the section's `minute` window (counts, not rates). */
export interface SessionMinute {
  readonly created: number
  readonly destroyed: number
  readonly rotated: number
  readonly quarantined: number
}

/** One session store (`createSessionStore(valkit, { name })`) in the dashboard snapshot. */
export interface SessionStorePanelStats {
  /** The store's name (its `store` label). */
  readonly store: string
  /**
   * Session records now (`valkit_session_active`; on Redis the last completed incremental count,
   * refreshed every few seconds); `null` until the store has counted them.
   */
  readonly active: number | null
  /** Sessions created, including the new IDs `regenerate` issues. */
  readonly created: Counted
  /** Sessions ended, every reason together. */
  readonly destroyed: Counted
  /** By reason: `destroy`, `revoke`, `revoke_all`, `erase`, `expired`, `evicted` (those seen). */
  readonly destroyedBy: Readonly<Record<string, Counted>>
  /** IDs rotated by `regenerate`. */
  readonly rotated: Counted
  /** Untrustworthy records moved aside, every reason together. */
  readonly quarantined: Counted
  readonly quarantinedBy: Readonly<Record<string, Counted>>
  /** Cookie tokens refused (`malformed`, `signature`). */
  readonly rejectedTokens: Counted
  readonly rejectedTokensBy: Readonly<Record<string, Counted>>
  /** Reads by result: `live`, `alias`, `none`, `expired`, `revoked`, `rotated`. */
  readonly reads: Readonly<Record<string, Counted>>
  /** Writes refused by check-and-set; `null` when the store does not report it. */
  readonly conflicts: Counted | null
  /** Operations Redis/Valkey could not serve; `null` when not reported. */
  readonly backendErrors: Counted | null
  /** Reads served from the per-instance copy while Redis/Valkey was away; `null` when not reported. */
  readonly localReads: Counted | null
  /** Created, destroyed, rotated and quarantined over the section's `minute`; `null` before two readings. */
  readonly lastMinute: SessionMinute | null
  /** Other `valkit_session_*` series of this store. */
  readonly extras: readonly SectionExtra[]
}

/** The `sessions` section of the dashboard snapshot. */
export interface SessionsSection {
  /** Epoch milliseconds of the registry reading. */
  readonly at: number
  /** What the rates cover; `null` before there are two readings. */
  readonly interval: SectionInterval | null
  /**
   * What `lastMinute` covers: from the newest reading at least a minute before `interval.to` (or
   * the first reading, during the first minute) to `interval.to`. After a time without
   * listeners it covers that whole time.
   */
  readonly minute: SectionInterval | null
  /** Every store with series in the registry, sorted by name; empty without session stores. */
  readonly stores: readonly SessionStorePanelStats[]
  /** `valkit_session_*` series without a `store` label (the state store's, for instance). */
  readonly extras: readonly SectionExtra[]
}

interface StoreBuilder {
  active: number | null
  readonly families: Map<string, Set<string>>
  readonly singles: Set<string>
  readonly extras: { sample: Omit<SectionExtra, 'perSecond'>; key: string }[]
}

/** Counters labelled by `reason` / `result`, by metric name. */
const FAMILIES: Readonly<Record<string, string>> = {
  session_destroyed_total: 'reason',
  session_quarantined_total: 'reason',
  session_rejected_tokens_total: 'reason',
  session_reads_total: 'result',
}

/** Counters with one series per store. */
const SINGLES = new Set([
  'session_created_total',
  'session_rotated_total',
  'session_conflicts_total',
  'session_backend_errors_total',
  'session_local_reads_total',
])

const vkey = (...parts: string[]): string => JSON.stringify(parts)
const MINUTE_MS = 60_000

/**
 * Turns registry readings into the dashboard's `sessions` section: per store, active sessions,
 * sessions created, destroyed (by reason) and rotated with their rates and their counts over the
 * last minute, quarantined records, refused tokens, reads by result, conflicts and backend
 * errors. Rates follow {@link RateTracker}'s rule; series it does not know become `extras`.
 *
 * @example
 * ```ts
 * const section = new SessionSectionBuilder(1000)
 * const sessions = section.build(valkit.metrics.snapshot(), valkit.metrics.prefix, Date.now())
 * for (const s of sessions.stores) console.log(s.store, s.active, s.lastMinute?.created)
 * ```
 */
export class SessionSectionBuilder {
  readonly #tracker: RateTracker

  /** `intervalMs`: the snapshot interval. */
  constructor(intervalMs: number) {
    this.#tracker = new RateTracker(intervalMs, MINUTE_MS)
  }

  /** Builds the section from one registry snapshot taken at `at`. */
  build(metrics: readonly MetricSnapshot[], prefix: string, at: number): SessionsSection {
    const values = new Map<string, number>()
    const stores = new Map<string, StoreBuilder>()
    const extras: { sample: Omit<SectionExtra, 'perSecond'>; key: string }[] = []
    const storeOf = (name: string): StoreBuilder => {
      let b = stores.get(name)
      if (b === undefined) {
        stores.set(name, (b = { active: null, families: new Map(), singles: new Set(), extras: [] }))
      }
      return b
    }
    for (const s of readSeries(metrics, prefix, 'session_')) {
      const store = s.labels.store
      const label = FAMILIES[s.name]
      if (store !== undefined && s.type === 'gauge' && s.name === 'session_active') {
        storeOf(store).active = s.value
      } else if (store !== undefined && s.type === 'counter' && label !== undefined) {
        const b = storeOf(store)
        const value = s.labels[label] ?? 'unknown'
        let seen = b.families.get(s.name)
        if (seen === undefined) b.families.set(s.name, (seen = new Set()))
        seen.add(value)
        addTo(values, vkey(store, s.name), s.value)
        addTo(values, vkey(store, s.name, value), s.value)
      } else if (store !== undefined && s.type === 'counter' && SINGLES.has(s.name)) {
        storeOf(store).singles.add(s.name)
        addTo(values, vkey(store, s.name), s.value)
      } else {
        const key = seriesKey(s.name, s.labels)
        values.set(key, s.value)
        if (store !== undefined) {
          storeOf(store).extras.push({
            sample: { name: s.name, labels: withoutLabel(s.labels, 'store'), type: s.type, value: s.value },
            key,
          })
        } else {
          extras.push({ sample: { name: s.name, labels: s.labels, type: s.type, value: s.value }, key })
        }
      }
    }

    const t = this.#tracker
    t.advance(at, values)
    const counted = (key: string): Counted => t.counted(key, values.get(key) ?? 0)
    const withRate = ({ sample, key }: { sample: Omit<SectionExtra, 'perSecond'>; key: string }) => ({
      ...sample,
      perSecond: sample.type === 'gauge' ? null : t.perSecond(key),
    })
    const window = t.recentWindow
    return {
      at,
      interval: t.interval,
      minute: window,
      stores: [...stores].sort(byName(([name]) => name)).map(([store, b]): SessionStorePanelStats => {
        const total = (name: string): Counted => counted(vkey(store, name))
        const single = (name: string): Counted | null => (b.singles.has(name) ? total(name) : null)
        const by = (name: string): Record<string, Counted> => {
          const out: Record<string, Counted> = {}
          for (const v of [...(b.families.get(name) ?? [])].sort()) out[v] = counted(vkey(store, name, v))
          return out
        }
        const recent = (name: string): number => t.recent(vkey(store, name)) ?? 0
        return {
          store,
          active: b.active,
          created: total('session_created_total'),
          destroyed: total('session_destroyed_total'),
          destroyedBy: by('session_destroyed_total'),
          rotated: total('session_rotated_total'),
          quarantined: total('session_quarantined_total'),
          quarantinedBy: by('session_quarantined_total'),
          rejectedTokens: total('session_rejected_tokens_total'),
          rejectedTokensBy: by('session_rejected_tokens_total'),
          reads: by('session_reads_total'),
          conflicts: single('session_conflicts_total'),
          backendErrors: single('session_backend_errors_total'),
          localReads: single('session_local_reads_total'),
          lastMinute:
            window === null
              ? null
              : {
                  created: recent('session_created_total'),
                  destroyed: recent('session_destroyed_total'),
                  rotated: recent('session_rotated_total'),
                  quarantined: recent('session_quarantined_total'),
                },
          extras: b.extras.map(withRate),
        }
      }),
      extras: extras.map(withRate),
    }
  }
}
