import { ValkitError } from '../errors.js'
import { LabelChildren } from './label-children.js'
import { labelled, unlabelled } from './metric-errors.js'
import type { LabelValues } from './label-children.js'
import { labelRecord } from './metric-types.js'
import type { MetricSnapshot, RegisteredMetric } from './metric-types.js'

/** One series of a counter. */
export class CounterChild {
  /** Current value. */
  value = 0

  /**
   * Adds `n` (default 1).
   * @throws ValkitError `VALKIT_INVALID_ARGUMENT` if `n` is negative, NaN or infinite.
   */
  inc(n = 1): void {
    if (!(n >= 0) || n === Infinity) {
      throw new ValkitError('VALKIT_INVALID_ARGUMENT', `A counter only goes up by a finite n >= 0, got ${n}.`)
    }
    this.value += n
  }
}

/**
 * A monotonically increasing count (Prometheus `counter`). Name it `..._total`.
 * Create it with `registry.counter()`.
 *
 * @example
 * ```ts
 * const commands = registry.counter({ name: 'commands_total', help: 'Commands sent.', labelNames: ['op'] })
 * const gets = commands.labels({ op: 'get' }) // keep the child: the hot path is then one addition
 * gets.inc()
 * ```
 */
export class Counter<L extends string = never> implements RegisteredMetric {
  readonly type = 'counter' as const
  readonly signature: string
  private readonly children: LabelChildren<CounterChild> | undefined
  private readonly single: CounterChild | undefined

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly L[],
    /** For a counter without labels whose value lives elsewhere (a plain field on a hot path): read at scrape time. */
    private readonly read?: () => number,
  ) {
    this.signature = `counter(${labelNames.join(',')})`
    if (labelNames.length > 0) this.children = new LabelChildren(name, labelNames, () => new CounterChild())
    else this.single = new CounterChild()
  }

  /** The series for these label values (created on first use, then cached). */
  labels(values: LabelValues<L>): CounterChild {
    if (this.children === undefined) throw unlabelled(this.name)
    return this.children.get(values)
  }

  /** Adds `n` to a counter without labels. */
  inc(n = 1): void {
    this.only().inc(n)
  }

  /** Value of a counter without labels. */
  get value(): number {
    if (this.read !== undefined) return this.read()
    return this.only().value
  }

  snapshot(): MetricSnapshot {
    if (this.read !== undefined && this.single !== undefined) this.single.value = this.read()
    const samples =
      this.single !== undefined
        ? [{ labels: {}, value: this.single.value }]
        : (this.children?.all ?? []).map(({ values, child }) => ({
            labels: labelRecord(this.labelNames, values),
            value: child.value,
          }))
    return { name: this.name, help: this.help, type: 'counter', labelNames: this.labelNames, samples }
  }

  private only(): CounterChild {
    if (this.single === undefined) throw labelled(this.name)
    return this.single
  }
}
