import type { MetricSnapshot, MetricType } from '../core/index.js'

/** One series of the metrics registry, flattened: what a dashboard section reads. */
export interface SeriesSample {
  /** Name without the registry prefix, e.g. `ratelimit_checks_total`. */
  readonly name: string
  readonly type: MetricType
  readonly labels: Readonly<Record<string, string>>
  /** The value; for a histogram, its observation count. */
  readonly value: number
  /** A histogram's sum of observations; `undefined` for counters and gauges. */
  readonly sum?: number
  /** A histogram's p50/p90/p99 (in the unit it observes), when it keeps a sketch. */
  readonly percentiles?: { readonly p50: number; readonly p90: number; readonly p99: number }
  /** A histogram's cumulative counts per finite upper bound (`+Inf` is `value`). */
  readonly buckets?: ReadonlyArray<{ readonly le: number; readonly count: number }>
}

/**
 * A series a panel has no special place for (a metric added after this server was written):
 * shown as one compact line, so a new series never needs a change in the server or the page.
 */
export interface SectionExtra {
  /** Name without the registry prefix. */
  readonly name: string
  /** Its labels, minus the one that names the panel's card (`limiter`, `store`...). */
  readonly labels: Readonly<Record<string, string>>
  readonly type: MetricType
  /** The value; for a histogram, its observation count. */
  readonly value: number
  /** Per second over the section's interval, for counters and histogram counts; else `null`. */
  readonly perSecond: number | null
}

/**
 * Every series of a registry snapshot whose name starts with `prefix + head` (e.g. `valkit_` +
 * `ratelimit_`), in registry order.
 *
 * @example
 * ```ts
 * const samples = readSeries(valkit.metrics.snapshot(), valkit.metrics.prefix, 'coord_')
 * const held = samples.filter((s) => s.name === 'coord_held')
 * ```
 */
export function readSeries(metrics: readonly MetricSnapshot[], prefix: string, head: string): SeriesSample[] {
  const full = `${prefix}${head}`
  const out: SeriesSample[] = []
  for (const metric of metrics) {
    if (!metric.name.startsWith(full)) continue
    const name = metric.name.slice(prefix.length)
    if (metric.type === 'histogram') {
      for (const s of metric.samples) {
        out.push({
          name,
          type: 'histogram',
          labels: s.labels,
          value: s.count,
          sum: s.sum,
          buckets: s.buckets,
          ...(s.percentiles ? { percentiles: s.percentiles } : {}),
        })
      }
    } else {
      for (const s of metric.samples) out.push({ name, type: metric.type, labels: s.labels, value: s.value })
    }
  }
  return out
}

/** A stable key for a series: its name and labels in name order. */
export function seriesKey(name: string, labels: Readonly<Record<string, string>>): string {
  const pairs = Object.keys(labels)
    .sort()
    .map((k) => [k, labels[k]])
  return `${name}${JSON.stringify(pairs)}`
}

/** `labels` without `omit`. */
export function withoutLabel(
  labels: Readonly<Record<string, string>>,
  omit: string,
): Readonly<Record<string, string>> {
  const { [omit]: _dropped, ...rest } = labels
  return rest
}

/** Sorts by a string field, in code-point order (the same on every machine). */
export function byName<T>(pick: (item: T) => string): (a: T, b: T) => number {
  return (a, b) => {
    const x = pick(a)
    const y = pick(b)
    return x < y ? -1 : x > y ? 1 : 0
  }
}
