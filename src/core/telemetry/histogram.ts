import { ValkitError } from '../errors.js'
import { LabelChildren } from './label-children.js'
import type { LabelValues } from './label-children.js'
import { labelled, unlabelled } from './metric-errors.js'
import { labelRecord } from './metric-types.js'
import type { HistogramSample, MetricOptions, MetricSnapshot, RegisteredMetric } from './metric-types.js'
import { QuantileSketch } from './quantile-sketch.js'

/** Prometheus' default buckets, in seconds. */
export const DEFAULT_BUCKETS: readonly number[] = Object.freeze([
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
])

/** Options of `registry.histogram()`. */
export interface HistogramOptions<L extends string = never> extends MetricOptions<L> {
  /**
   * Finite upper bounds, strictly increasing; `+Inf` is implicit. Time in seconds by convention.
   * @defaultValue {@link DEFAULT_BUCKETS}
   */
  buckets?: readonly number[]
  /**
   * Keep a {@link QuantileSketch} per series for p50/p90/p99 in `snapshot()` (dashboards); costs
   * one `Math.log` and one map update per observation. `false` to skip it.
   * @defaultValue true
   */
  percentiles?: boolean
}

/** One series of a histogram. */
export class HistogramChild {
  /** Observations per bucket, not cumulative; the last slot is `+Inf`. */
  readonly counts: Float64Array
  sum = 0
  count = 0
  /** The quantile sketch, if the histogram keeps one. */
  readonly sketch: QuantileSketch | undefined

  constructor(
    private readonly bounds: Float64Array,
    withSketch: boolean,
  ) {
    this.counts = new Float64Array(bounds.length + 1)
    this.sketch = withSketch ? new QuantileSketch() : undefined
  }

  /**
   * Records one observation.
   * @throws ValkitError `VALKIT_INVALID_ARGUMENT` for NaN.
   */
  observe(value: number): void {
    if (value !== value) throw new ValkitError('VALKIT_INVALID_ARGUMENT', 'A histogram cannot observe NaN.')
    const bounds = this.bounds
    let i = 0
    while (i < bounds.length && value > (bounds[i] as number)) i++
    this.counts[i]! += 1
    this.sum += value
    this.count++
    this.sketch?.add(value)
  }

  /**
   * Starts a timer; the returned function observes the elapsed seconds and returns them.
   * @example
   * ```ts
   * const end = latency.labels({ op: 'get' }).startTimer()
   * await work()
   * end()
   * ```
   */
  startTimer(): () => number {
    const start = process.hrtime.bigint()
    return () => {
      const seconds = Number(process.hrtime.bigint() - start) / 1e9
      this.observe(seconds)
      return seconds
    }
  }
}

/**
 * A distribution (Prometheus `histogram`: cumulative `_bucket{le}`, `_sum`, `_count`), plus an
 * optional quantile sketch per series for dashboards.
 *
 * @example
 * ```ts
 * const latency = registry.histogram({
 *   name: 'command_duration_seconds', help: 'Command latency.', labelNames: ['op'],
 *   buckets: [0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5],
 * })
 * latency.labels({ op: 'get' }).observe(0.0012)
 * ```
 */
export class Histogram<L extends string = never> implements RegisteredMetric {
  readonly type = 'histogram' as const
  readonly signature: string
  readonly buckets: readonly number[]
  private readonly bounds: Float64Array
  private readonly children: LabelChildren<HistogramChild> | undefined
  private readonly single: HistogramChild | undefined

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly L[],
    buckets: readonly number[],
    private readonly percentiles: boolean,
  ) {
    validateBuckets(name, buckets)
    this.buckets = Object.freeze([...buckets])
    this.bounds = Float64Array.from(buckets)
    this.signature = `histogram(${labelNames.join(',')})[${buckets.join(',')}]${percentiles ? '+p' : ''}`
    const create = (): HistogramChild => new HistogramChild(this.bounds, percentiles)
    if (labelNames.length > 0) this.children = new LabelChildren(name, labelNames, create)
    else this.single = create()
  }

  /** The series for these label values (created on first use, then cached). */
  labels(values: LabelValues<L>): HistogramChild {
    if (this.children === undefined) throw unlabelled(this.name)
    return this.children.get(values)
  }

  /** Records one observation on a histogram without labels. */
  observe(value: number): void {
    this.only().observe(value)
  }

  /** Starts a timer on a histogram without labels. */
  startTimer(): () => number {
    return this.only().startTimer()
  }

  snapshot(): MetricSnapshot {
    const series =
      this.single !== undefined
        ? [{ values: [] as readonly string[], child: this.single }]
        : (this.children?.all ?? [])
    const samples: HistogramSample[] = series.map(({ values, child }) => {
      let cumulative = 0
      const buckets = this.buckets.map((le, i) => {
        cumulative += child.counts[i] as number
        return { le, count: cumulative }
      })
      return {
        labels: labelRecord(this.labelNames, values),
        count: child.count,
        sum: child.sum,
        buckets,
        percentiles: child.sketch?.percentiles(),
      }
    })
    return { name: this.name, help: this.help, type: 'histogram', labelNames: this.labelNames, samples }
  }

  private only(): HistogramChild {
    if (this.single === undefined) throw labelled(this.name)
    return this.single
  }
}

function validateBuckets(name: string, buckets: readonly number[]): void {
  const ok =
    Array.isArray(buckets) &&
    buckets.every(
      (b, i) => typeof b === 'number' && Number.isFinite(b) && (i === 0 || b > (buckets[i - 1] as number)),
    )
  if (!ok) {
    throw new ValkitError(
      'VALKIT_INVALID_ARGUMENT',
      `Metric ${name}: buckets must be finite numbers in strictly increasing order (+Inf is implicit).`,
      { details: { argument: 'buckets', metric: name } },
    )
  }
}
