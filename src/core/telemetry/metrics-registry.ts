import { ValkitError } from '../errors.js'
import { Counter } from './counter.js'
import { Gauge } from './gauge.js'
import type { GaugeOptions } from './gauge.js'
import { DEFAULT_BUCKETS, Histogram } from './histogram.js'
import type { HistogramOptions } from './histogram.js'
import { assertLabelNames, assertMetricName } from './metric-names.js'
import type { MetricOptions, MetricSnapshot, RegisteredMetric } from './metric-types.js'
import { escapeHelp, formatLabels, formatNumber } from './prometheus-text.js'

/** Options of {@link createMetricsRegistry}. */
export interface MetricsRegistryOptions {
  /**
   * Prepended to every metric name; empty string for none.
   * @defaultValue 'valkit_'
   */
  prefix?: string
  /**
   * Called when a gauge's `collect` callback throws (the scrape goes on with its last values).
   * @defaultValue emits a process warning
   */
  onCollectError?: (error: unknown, metric: string) => void
}

/** A set of metrics that prints itself in Prometheus text format and as plain data. */
export interface MetricsRegistry {
  /** The prefix of every name. */
  readonly prefix: string
  /**
   * Declares a counter. Declaring the same name again with the same shape returns the same
   * metric; a different shape throws.
   * @throws ValkitError `VALKIT_INVALID_ARGUMENT` for invalid names or a conflicting declaration.
   */
  counter<const L extends string = never>(options: CounterOptions<L>): Counter<L>
  /** Declares a gauge (see {@link GaugeOptions.collect} for values computed at scrape time). */
  gauge<const L extends string = never>(options: GaugeOptions<L>): Gauge<L>
  /** Declares a histogram. */
  histogram<const L extends string = never>(options: HistogramOptions<L>): Histogram<L>
  /** Every metric in Prometheus text exposition format 0.0.4 (`text/plain; version=0.0.4`). */
  toPrometheus(): string
  /** Every metric as plain data: the same numbers `toPrometheus()` prints. */
  snapshot(): MetricSnapshot[]
}

/** Options of a counter. */
export interface CounterOptions<L extends string = never> extends MetricOptions<L> {
  /**
   * Reads the current total at scrape time instead of `inc()` calls: for counts kept in a
   * plain field on a hot path. Must never decrease. Only for counters without labels.
   */
  read?: () => number
}

/** The `Content-Type` of {@link MetricsRegistry.toPrometheus}'s output. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

const PREFIX = /^([a-zA-Z_:][a-zA-Z0-9_:]*)?$/

/**
 * Creates a metrics registry. Capabilities register their metrics on the one registry they are
 * given; the server exposes `toPrometheus()` on `/metrics` and the dashboard reads `snapshot()`.
 *
 * @example
 * ```ts
 * const registry = createMetricsRegistry()
 * const hits = registry.counter({ name: 'cache_hits_total', help: 'Cache hits.', labelNames: ['tier'] })
 * const l1 = hits.labels({ tier: 'l1' })
 * l1.inc()
 * registry.toPrometheus()
 * // # HELP valkit_cache_hits_total Cache hits.
 * // # TYPE valkit_cache_hits_total counter
 * // valkit_cache_hits_total{tier="l1"} 1
 * ```
 */
export function createMetricsRegistry(options: MetricsRegistryOptions = {}): MetricsRegistry {
  const prefix = options.prefix ?? 'valkit_'
  if (typeof prefix !== 'string' || !PREFIX.test(prefix)) {
    throw new ValkitError(
      'VALKIT_INVALID_OPTION',
      `Invalid option \`prefix\`: got ${JSON.stringify(prefix)}.`,
      {
        details: { path: 'prefix', expected: '[a-zA-Z_:][a-zA-Z0-9_:]* or an empty string' },
      },
    )
  }
  const onCollectError =
    options.onCollectError ??
    ((error: unknown, metric: string) => {
      process.emitWarning(`collect() of metric ${metric} threw: ${String(error)}`, {
        code: 'VALKIT_METRIC_COLLECT',
      })
    })
  const metrics = new Map<string, RegisteredMetric>()

  function register<M extends RegisteredMetric>(
    base: MetricOptions<string>,
    reserved: readonly string[],
    build: (name: string, help: string, labelNames: readonly string[]) => M,
  ): M {
    if (typeof base !== 'object' || base === null) {
      throw new ValkitError('VALKIT_INVALID_ARGUMENT', 'A metric needs an options object { name, help }.')
    }
    const name = `${prefix}${base.name}`
    assertMetricName(name)
    if (typeof base.help !== 'string' || base.help === '') {
      throw new ValkitError('VALKIT_INVALID_ARGUMENT', `Metric ${name}: help must be a non-empty string.`)
    }
    const labelNames = base.labelNames ?? []
    assertLabelNames(name, labelNames, reserved)
    const metric = build(name, base.help, Object.freeze([...labelNames]))
    const existing = metrics.get(name)
    if (existing !== undefined) {
      if (existing.signature === metric.signature) return existing as M
      throw new ValkitError(
        'VALKIT_INVALID_ARGUMENT',
        `Metric ${name} is already registered as ${existing.signature}, not ${metric.signature}.`,
        { details: { metric: name } },
      )
    }
    metrics.set(name, metric)
    return metric
  }

  return {
    prefix,
    counter<const L extends string = never>(opts: CounterOptions<L>): Counter<L> {
      if (opts.read !== undefined && (opts.labelNames?.length ?? 0) > 0) {
        throw new ValkitError(
          'VALKIT_INVALID_ARGUMENT',
          `Metric ${opts.name}: read is only for counters without labels.`,
        )
      }
      return register(
        opts,
        [],
        (name, help, labels) => new Counter(name, help, labels as readonly L[], opts.read),
      )
    },
    gauge<const L extends string = never>(opts: GaugeOptions<L>): Gauge<L> {
      if (opts?.collect !== undefined && typeof opts.collect !== 'function') {
        throw new ValkitError('VALKIT_INVALID_ARGUMENT', `Metric ${opts.name}: collect must be a function.`)
      }
      let built: Gauge<L> | undefined
      const gauge = register(
        opts,
        [],
        (name, help, labels) =>
          (built = new Gauge(name, help, labels as readonly L[], opts.collect, onCollectError)),
      )
      if (gauge !== built && opts.collect !== undefined) gauge.addCollector(opts.collect)
      return gauge
    },
    histogram<const L extends string = never>(opts: HistogramOptions<L>): Histogram<L> {
      return register(
        opts,
        ['le'],
        (name, help, labels) =>
          new Histogram(
            name,
            help,
            labels as readonly L[],
            opts.buckets ?? DEFAULT_BUCKETS,
            opts.percentiles ?? true,
          ),
      )
    },
    snapshot(): MetricSnapshot[] {
      return [...metrics.values()].map((metric) => metric.snapshot())
    },
    toPrometheus(): string {
      let out = ''
      for (const metric of metrics.values()) out += formatMetric(metric.snapshot())
      return out
    },
  }
}

function formatMetric(snapshot: MetricSnapshot): string {
  const { name, labelNames } = snapshot
  let out = `# HELP ${name} ${escapeHelp(snapshot.help)}\n# TYPE ${name} ${snapshot.type}\n`
  if (snapshot.type !== 'histogram') {
    for (const sample of snapshot.samples) {
      out += `${name}${formatLabels(labelNames, valuesOf(labelNames, sample.labels))} ${formatNumber(sample.value)}\n`
    }
    return out
  }
  for (const sample of snapshot.samples) {
    const values = valuesOf(labelNames, sample.labels)
    for (const bucket of sample.buckets) {
      out += `${name}_bucket${formatLabels(labelNames, values, `le="${formatNumber(bucket.le)}"`)} ${formatNumber(bucket.count)}\n`
    }
    out += `${name}_bucket${formatLabels(labelNames, values, 'le="+Inf"')} ${formatNumber(sample.count)}\n`
    const labels = formatLabels(labelNames, values)
    out += `${name}_sum${labels} ${formatNumber(sample.sum)}\n`
    out += `${name}_count${labels} ${formatNumber(sample.count)}\n`
  }
  return out
}

function valuesOf(names: readonly string[], labels: Readonly<Record<string, string>>): string[] {
  return names.map((n) => labels[n] ?? '')
}
