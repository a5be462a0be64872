import type { Percentiles } from './quantile-sketch.js'

/** The Prometheus metric types valkit's registry produces. */
export type MetricType = 'counter' | 'gauge' | 'histogram'

/** Options shared by every metric. */
export interface MetricOptions<L extends string = never> {
  /** Name without the registry prefix, e.g. `cache_hits_total`. `[a-zA-Z_:][a-zA-Z0-9_:]*`. */
  name: string
  /** One line saying what is counted, shown as `# HELP`. */
  help: string
  /**
   * Label names, e.g. `['op', 'result']`; each series is then reached through `labels({...})`.
   * @defaultValue []
   */
  labelNames?: readonly L[]
}

/** One series of a counter or gauge. */
export interface MetricSample {
  readonly labels: Readonly<Record<string, string>>
  readonly value: number
}

/** One series of a histogram. */
export interface HistogramSample {
  readonly labels: Readonly<Record<string, string>>
  /** Observations. */
  readonly count: number
  /** Sum of observations. */
  readonly sum: number
  /**
   * Cumulative counts per finite upper bound, as in `_bucket{le}`; the `+Inf` bucket is
   * `count` (left out so the snapshot stays JSON-safe).
   */
  readonly buckets: ReadonlyArray<{ readonly le: number; readonly count: number }>
  /** p50/p90/p99 from the histogram's quantile sketch; `undefined` if it has none. */
  readonly percentiles: Percentiles | undefined
}

/** Plain data of one metric: what `toPrometheus()` prints, as numbers. */
export type MetricSnapshot =
  | {
      readonly name: string
      readonly help: string
      readonly type: 'counter' | 'gauge'
      readonly labelNames: readonly string[]
      readonly samples: readonly MetricSample[]
    }
  | {
      readonly name: string
      readonly help: string
      readonly type: 'histogram'
      readonly labelNames: readonly string[]
      readonly samples: readonly HistogramSample[]
    }

/** What the registry holds. @internal */
export interface RegisteredMetric {
  readonly name: string
  readonly type: MetricType
  readonly labelNames: readonly string[]
  /** Identity of the metric's shape, to let the same declaration be made twice. */
  readonly signature: string
  snapshot(): MetricSnapshot
}

/** Builds a label record from names and values. @internal */
export function labelRecord(names: readonly string[], values: readonly string[]): Record<string, string> {
  const record: Record<string, string> = {}
  for (let i = 0; i < names.length; i++) record[names[i] as string] = values[i] as string
  return record
}
