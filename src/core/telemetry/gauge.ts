import { LabelChildren } from './label-children.js'
import { labelled, unlabelled } from './metric-errors.js'
import type { LabelValues } from './label-children.js'
import { labelRecord } from './metric-types.js'
import type { MetricOptions, MetricSnapshot, RegisteredMetric } from './metric-types.js'

/** One series of a gauge. */
export class GaugeChild {
  /** Current value. */
  value = 0

  set(value: number): void {
    this.value = value
  }

  inc(n = 1): void {
    this.value += n
  }

  dec(n = 1): void {
    this.value -= n
  }
}

/** Options of `registry.gauge()`. */
export interface GaugeOptions<L extends string = never> extends MetricOptions<L> {
  /**
   * Called at every scrape (`toPrometheus()`, `snapshot()`) before the values are read: return
   * the value of an unlabelled gauge, or set series through `gauge.labels(...).set()`.
   * Must be synchronous and cheap. If it throws, the previous values are reported.
   * Declaring the same gauge again with another `collect` adds that callback: all run, in
   * declaration order (for an unlabelled gauge the last returned number wins, so give each
   * instance its own label instead).
   */
  collect?: (gauge: Gauge<L>) => number | void
}

/**
 * A value that goes up and down (Prometheus `gauge`), set directly or computed at scrape time.
 *
 * @example
 * ```ts
 * registry.gauge({ name: 'memory_entries', help: 'Entries in the memory store.', collect: () => store.size })
 * ```
 */
export class Gauge<L extends string = never> implements RegisteredMetric {
  readonly type = 'gauge' as const
  readonly signature: string
  private readonly children: LabelChildren<GaugeChild> | undefined
  private readonly single: GaugeChild | undefined
  private readonly collectors: Array<(gauge: Gauge<L>) => number | void> = []

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly L[],
    collect: ((gauge: Gauge<L>) => number | void) | undefined,
    private readonly onCollectError: (error: unknown, metric: string) => void,
  ) {
    this.signature = `gauge(${labelNames.join(',')})`
    if (collect !== undefined) this.collectors.push(collect)
    if (labelNames.length > 0) this.children = new LabelChildren(name, labelNames, () => new GaugeChild())
    else this.single = new GaugeChild()
  }

  /** The series for these label values (created on first use, then cached). */
  labels(values: LabelValues<L>): GaugeChild {
    if (this.children === undefined) throw unlabelled(this.name)
    return this.children.get(values)
  }

  set(value: number): void {
    this.only().set(value)
  }

  inc(n = 1): void {
    this.only().inc(n)
  }

  dec(n = 1): void {
    this.only().dec(n)
  }

  /** Value of a gauge without labels (as last set or collected). */
  get value(): number {
    return this.only().value
  }

  snapshot(): MetricSnapshot {
    for (const collect of this.collectors) {
      try {
        const value = collect(this)
        if (typeof value === 'number' && this.single !== undefined) this.single.value = value
      } catch (error) {
        this.onCollectError(error, this.name)
      }
    }
    const samples =
      this.single !== undefined
        ? [{ labels: {}, value: this.single.value }]
        : (this.children?.all ?? []).map(({ values, child }) => ({
            labels: labelRecord(this.labelNames, values),
            value: child.value,
          }))
    return { name: this.name, help: this.help, type: 'gauge', labelNames: this.labelNames, samples }
  }

  /** Adds a scrape-time callback (a repeated declaration with `collect`). @internal */
  addCollector(collect: (gauge: Gauge<L>) => number | void): void {
    this.collectors.push(collect)
  }

  private only(): GaugeChild {
    if (this.single === undefined) throw labelled(this.name)
    return this.single
  }
}
