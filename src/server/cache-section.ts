import type { MetricSnapshot } from '../core/index.js'
import {
  PROCESS_WIDE,
  readCacheTotals,
  type CacheCounters,
  type CacheExtraSeries,
  type CacheReading,
} from './cache-totals.js'

/** A {@link CacheExtraSeries} with its rate over the section's interval. */
export interface CacheExtraStats extends CacheExtraSeries {
  /** Per second over the interval, for counters and histogram counts; `null` for gauges or without an interval. */
  readonly perSecond: number | null
}

/** One cache namespace in the dashboard snapshot. */
export interface CacheNamespaceStats {
  /** The root namespace of a `createCache` (its sub-namespaces count here). */
  readonly namespace: string
  /** Totals since the cache was created. */
  readonly totals: CacheCounters
  /** Per second over `interval`; `null` before there are two readings. */
  readonly perSecond: CacheCounters | null
  readonly hitRate: {
    /** (L1 + L2 hits) / (hits + misses) over `interval`; `null` without reads in it. */
    readonly interval: number | null
    /** The same since the cache was created; `null` before the first read. */
    readonly overall: number | null
  }
  /** L1 now; `null` when L1 is off. */
  readonly l1: { readonly entries: number; readonly bytes: number } | null
  /** L2 entries now, when the cache reports them; else `null` (shown as n/a). */
  readonly l2: { readonly entries: number } | null
  /** Other `valkit_cache_*` series of this namespace (HTTP, LLM, query helpers...). */
  readonly extras: readonly CacheExtraStats[]
}

/** The `caches` section of the dashboard snapshot. */
export interface CachesSection {
  /** Epoch milliseconds of the registry reading. */
  readonly at: number
  /**
   * The interval the rates cover (epoch milliseconds, `from` exclusive, `to` inclusive); `null`
   * before there are two readings. Consecutive intervals follow each other without gaps, so a
   * client keeps a history by appending each new `to`.
   */
  readonly interval: { readonly from: number; readonly to: number } | null
  /** Every namespace with series in the registry, sorted by name; empty without caches. */
  readonly namespaces: readonly CacheNamespaceStats[]
  /** `valkit_cache_*` series without a `namespace` label. */
  readonly extras: readonly CacheExtraStats[]
}

const COUNTER_KEYS: readonly (keyof CacheCounters)[] = [
  'hitsL1',
  'hitsL2',
  'misses',
  'loaderRuns',
  'invalidations',
  'corrupt',
  'l2Errors',
  'staleServed',
  'evictions',
  'leaseWaits',
]

function ratio(hits: number, misses: number): number | null {
  const reads = hits + misses
  return reads > 0 ? hits / reads : null
}

/** A counter's rate; a counter that went down (registry replaced) counts from zero. */
function rate(now: number | null, before: number | null | undefined, seconds: number): number | null {
  if (now === null) return null
  const base = before ?? 0
  return (now >= base ? now - base : now) / seconds
}

function extraKey(e: CacheExtraSeries): string {
  return `${e.name}${JSON.stringify(Object.entries(e.labels).sort())}`
}

interface Baseline {
  readonly at: number
  readonly readings: ReadonlyMap<string, CacheReading>
}

/**
 * Turns registry readings into the dashboard's `caches` section: totals as read, and rates over
 * the interval since the previous reading. A reading less than half an interval after the
 * previous one (an extra snapshot for a newly opened stream) keeps the previous interval and
 * rates, so the rates never cover a sliver of time; its totals and sizes are fresh.
 *
 * @example
 * ```ts
 * const section = new CacheSection(1000)
 * const caches = section.build(valkit.metrics.snapshot(), valkit.metrics.prefix, Date.now())
 * ```
 */
export class CacheSection {
  readonly #minIntervalMs: number
  #baseline: Baseline | undefined
  #previous: Baseline | undefined

  /** `intervalMs`: the snapshot interval; readings closer than half of it do not start a new interval. */
  constructor(intervalMs: number) {
    this.#minIntervalMs = intervalMs / 2
  }

  /** Builds the section from one registry snapshot taken at `at` (epoch milliseconds). */
  build(metrics: readonly MetricSnapshot[], prefix: string, at: number): CachesSection {
    const readings = new Map(readCacheTotals(metrics, prefix).map((r) => [r.namespace, r]))
    if (this.#baseline === undefined || at - this.#baseline.at >= this.#minIntervalMs) {
      this.#previous = this.#baseline
      this.#baseline = { at, readings }
    }
    const from = this.#previous
    const to = this.#baseline
    const seconds = from === undefined ? 0 : (to.at - from.at) / 1000
    const namespaces: CacheNamespaceStats[] = []
    let extras: readonly CacheExtraStats[] = []
    for (const [namespace, now] of readings) {
      const end = to.readings.get(namespace)
      const start = from?.readings.get(namespace)
      const withRates = seconds > 0 && end !== undefined
      const perSecond = withRates ? this.#rates(end.counters, start?.counters, seconds) : null
      const startExtras = new Map((start?.extras ?? []).map((e) => [extraKey(e), e.value]))
      const endExtras = new Map((end?.extras ?? []).map((e) => [extraKey(e), e.value]))
      const nsExtras = now.extras.map((e): CacheExtraStats => {
        const key = extraKey(e)
        const last = endExtras.get(key)
        return {
          ...e,
          perSecond:
            withRates && e.type !== 'gauge' && last !== undefined
              ? rate(last, startExtras.get(key), seconds)
              : null,
        }
      })
      if (namespace === PROCESS_WIDE) {
        extras = nsExtras
        continue
      }
      const t = now.counters
      namespaces.push({
        namespace,
        totals: t,
        perSecond,
        hitRate: {
          interval: perSecond ? ratio(perSecond.hitsL1 + perSecond.hitsL2, perSecond.misses) : null,
          overall: ratio(t.hitsL1 + t.hitsL2, t.misses),
        },
        l1: now.l1,
        l2: now.l2,
        extras: nsExtras,
      })
    }
    return {
      at,
      interval: from === undefined ? null : { from: from.at, to: to.at },
      namespaces,
      extras,
    }
  }

  #rates(end: CacheCounters, start: CacheCounters | undefined, seconds: number): CacheCounters {
    const out: Partial<Record<keyof CacheCounters, number | null>> = {}
    for (const key of COUNTER_KEYS) out[key] = rate(end[key], start?.[key], seconds)
    return out as CacheCounters
  }
}
