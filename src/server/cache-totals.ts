import type { MetricSnapshot } from '../core/index.js'

/**
 * The counters of one cache namespace. The first seven are registered by every `createCache`;
 * `staleServed`, `evictions` and `leaseWaits` are `null` while the process's caches do not
 * report that series.
 */
export interface CacheCounters {
  /** Reads answered by the in-process tier (`valkit_cache_hits_total{tier="l1"}`). */
  readonly hitsL1: number
  /** Reads answered by Redis/Valkey (`valkit_cache_hits_total{tier="l2"}`). */
  readonly hitsL2: number
  /** Reads that found nothing (`valkit_cache_misses_total`). */
  readonly misses: number
  /** Loader runs of `getOrSet` (`valkit_cache_loader_runs_total`). */
  readonly loaderRuns: number
  /** Deletes, tag invalidations and clears (`valkit_cache_invalidations_total`). */
  readonly invalidations: number
  /** L2 values that failed to decode (`valkit_cache_corrupt_total`). */
  readonly corrupt: number
  /** L2 operations that failed (`valkit_cache_l2_errors_total`). */
  readonly l2Errors: number
  /** Stale values served while refreshing or while L2 was away (`valkit_cache_stale_served_total`). */
  readonly staleServed: number | null
  /** L1 entries evicted by size or entry limits (`valkit_cache_l1_evictions_total`). */
  readonly evictions: number | null
  /** Callers that waited for another process's loader (`valkit_cache_lease_waits_total`). */
  readonly leaseWaits: number | null
}

/** A `valkit_cache_*` series the panel has no special place for (HTTP, LLM, query helpers...). */
export interface CacheExtraSeries {
  /** Name without the registry prefix, e.g. `cache_llm_tokens_saved_total`. */
  readonly name: string
  /**
   * The word after `cache_` when the name has more words (`llm` for `cache_llm_tokens_saved_total`),
   * else `other`: the dashboard shows one line per group.
   */
  readonly group: string
  /** Labels other than `namespace`. */
  readonly labels: Readonly<Record<string, string>>
  readonly type: 'counter' | 'gauge' | 'histogram'
  /** The value; for a histogram, its observation count. */
  readonly value: number
}

/** One namespace's series at one moment, read from the registry. */
export interface CacheReading {
  readonly namespace: string
  readonly counters: CacheCounters
  /** `null` when the namespace has no L1 gauges (L1 turned off). */
  readonly l1: { readonly entries: number; readonly bytes: number } | null
  /** `null` when no cache reports `valkit_cache_l2_entries` for this namespace. */
  readonly l2: { readonly entries: number } | null
  readonly extras: readonly CacheExtraSeries[]
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

interface Builder {
  counters: Mutable<CacheCounters>
  l1Entries: number | null
  l1Bytes: number | null
  l2Entries: number | null
  extras: CacheExtraSeries[]
}

/** Counters with one sample per namespace, by name without the `cache_` prefix. */
const COUNTERS: Readonly<Record<string, keyof CacheCounters>> = {
  misses_total: 'misses',
  loader_runs_total: 'loaderRuns',
  invalidations_total: 'invalidations',
  corrupt_total: 'corrupt',
  l2_errors_total: 'l2Errors',
  stale_served_total: 'staleServed',
  l1_evictions_total: 'evictions',
  lease_waits_total: 'leaseWaits',
}

/** The namespace of series that carry no `namespace` label. */
export const PROCESS_WIDE = ''

function emptyBuilder(): Builder {
  return {
    counters: {
      hitsL1: 0,
      hitsL2: 0,
      misses: 0,
      loaderRuns: 0,
      invalidations: 0,
      corrupt: 0,
      l2Errors: 0,
      staleServed: null,
      evictions: null,
      leaseWaits: null,
    },
    l1Entries: null,
    l1Bytes: null,
    l2Entries: null,
    extras: [],
  }
}

function groupOf(short: string): string {
  const words = short.replace(/_total$/, '').split('_')
  return words.length > 1 && words[0] ? words[0] : 'other'
}

/**
 * Reads every `<prefix>cache_*` series of a registry snapshot, grouped by their `namespace`
 * label (series without one go under {@link PROCESS_WIDE}). Series it does not know become
 * `extras`, so a new helper's metrics show up without a change here. Namespaces are sorted.
 *
 * @example
 * ```ts
 * const readings = readCacheTotals(valkit.metrics.snapshot(), valkit.metrics.prefix)
 * for (const r of readings) console.log(r.namespace, r.counters.hitsL1 + r.counters.hitsL2)
 * ```
 */
export function readCacheTotals(metrics: readonly MetricSnapshot[], prefix = 'valkit_'): CacheReading[] {
  const head = `${prefix}cache_`
  const byNamespace = new Map<string, Builder>()
  const builder = (namespace: string): Builder => {
    let b = byNamespace.get(namespace)
    if (b === undefined) byNamespace.set(namespace, (b = emptyBuilder()))
    return b
  }
  for (const metric of metrics) {
    if (!metric.name.startsWith(head)) continue
    const short = metric.name.slice(head.length)
    for (const sample of metric.samples) {
      const { namespace = PROCESS_WIDE, ...labels } = sample.labels
      const b = builder(namespace)
      const value = 'value' in sample ? sample.value : sample.count
      const known = metric.type === 'counter' ? COUNTERS[short] : undefined
      if (known !== undefined) {
        // a known counter that gains labels one day still adds up to its total
        b.counters[known] = (b.counters[known] ?? 0) + value
      } else if (short === 'hits_total' && metric.type === 'counter' && labels.tier === 'l1') {
        b.counters.hitsL1 += value
      } else if (short === 'hits_total' && metric.type === 'counter' && labels.tier === 'l2') {
        b.counters.hitsL2 += value
      } else if (short === 'l1_entries' && metric.type === 'gauge') {
        b.l1Entries = value
      } else if (short === 'l1_bytes' && metric.type === 'gauge') {
        b.l1Bytes = value
      } else if (short === 'l2_entries' && metric.type === 'gauge') {
        b.l2Entries = value
      } else {
        b.extras.push({ name: `cache_${short}`, group: groupOf(short), labels, type: metric.type, value })
      }
    }
  }
  return [...byNamespace.entries()]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([namespace, b]) => ({
      namespace,
      counters: { ...b.counters },
      l1:
        b.l1Entries === null && b.l1Bytes === null
          ? null
          : { entries: b.l1Entries ?? 0, bytes: b.l1Bytes ?? 0 },
      l2: b.l2Entries === null ? null : { entries: b.l2Entries },
      extras: b.extras,
    }))
}
