/** Values closer to zero than this are counted as zero. */
const MIN_MAGNITUDE = 1e-9
/** Values larger in magnitude than this are counted in the top bucket. */
const MAX_MAGNITUDE = 1e12

/** Percentiles dashboards draw. */
export interface Percentiles {
  p50: number
  p90: number
  p99: number
}

/**
 * A mergeable quantile sketch with log-spaced buckets (the DDSketch idea, HDR-like): each
 * quantile it returns is within `relativeAccuracy` of a value actually observed at that rank.
 * Memory is bounded (at most ~`ln(1e21) / ln((1+a)/(1-a))` buckets per sign: 1,200 at 2 %) and
 * `add` is one `Math.log` and one map update. It covers all observations since creation or the
 * last `reset()`.
 *
 * @example
 * ```ts
 * const sketch = new QuantileSketch()
 * for (const ms of latencies) sketch.add(ms)
 * sketch.quantile(0.99)
 * ```
 */
export class QuantileSketch {
  private readonly gamma: number
  private readonly logGamma: number
  private readonly positive = new Map<number, number>()
  private readonly negative = new Map<number, number>()
  private zero = 0
  /** Observations added. */
  count = 0
  /** Smallest observation, `NaN` when empty. */
  min = Number.NaN
  /** Largest observation, `NaN` when empty. */
  max = Number.NaN

  /** @param relativeAccuracy - relative error bound of quantiles, in (0, 1). @defaultValue 0.02 */
  constructor(readonly relativeAccuracy = 0.02) {
    if (!(relativeAccuracy > 0 && relativeAccuracy < 1))
      throw new RangeError('relativeAccuracy must be in (0, 1)')
    this.gamma = (1 + relativeAccuracy) / (1 - relativeAccuracy)
    this.logGamma = Math.log(this.gamma)
  }

  /** Records one observation (`NaN` is ignored). */
  add(value: number): void {
    if (value !== value) return
    this.count++
    if (!(value >= this.min)) this.min = value
    if (!(value <= this.max)) this.max = value
    const magnitude = value < 0 ? -value : value
    if (magnitude < MIN_MAGNITUDE) {
      this.zero++
      return
    }
    const index = Math.ceil(Math.log(magnitude > MAX_MAGNITUDE ? MAX_MAGNITUDE : magnitude) / this.logGamma)
    const map = value < 0 ? this.negative : this.positive
    map.set(index, (map.get(index) ?? 0) + 1)
  }

  /** The value at quantile `q` in [0, 1]; `NaN` when empty. */
  quantile(q: number): number {
    if (this.count === 0) return Number.NaN
    const rank = Math.max(0, Math.min(1, q)) * (this.count - 1)
    let seen = 0
    const negatives = [...this.negative.keys()].sort((a, b) => b - a)
    for (const index of negatives) {
      seen += this.negative.get(index) as number
      if (seen > rank) return this.clamp(-this.valueOf(index))
    }
    seen += this.zero
    if (seen > rank) return this.clamp(0)
    const positives = [...this.positive.keys()].sort((a, b) => a - b)
    for (const index of positives) {
      seen += this.positive.get(index) as number
      if (seen > rank) return this.clamp(this.valueOf(index))
    }
    return this.max
  }

  /** p50, p90 and p99 in one pass's worth of work. */
  percentiles(): Percentiles {
    return { p50: this.quantile(0.5), p90: this.quantile(0.9), p99: this.quantile(0.99) }
  }

  /** Adds another sketch's observations (same `relativeAccuracy`). */
  merge(other: QuantileSketch): void {
    if (other.relativeAccuracy !== this.relativeAccuracy)
      throw new RangeError('cannot merge sketches of different accuracy')
    if (other.count === 0) return
    for (const [index, n] of other.positive) this.positive.set(index, (this.positive.get(index) ?? 0) + n)
    for (const [index, n] of other.negative) this.negative.set(index, (this.negative.get(index) ?? 0) + n)
    this.zero += other.zero
    this.count += other.count
    if (!(other.min >= this.min)) this.min = other.min
    if (!(other.max <= this.max)) this.max = other.max
  }

  /** Forgets every observation (for example at the start of a dashboard window). */
  reset(): void {
    this.positive.clear()
    this.negative.clear()
    this.zero = 0
    this.count = 0
    this.min = Number.NaN
    this.max = Number.NaN
  }

  private valueOf(index: number): number {
    return (2 * Math.pow(this.gamma, index)) / (this.gamma + 1)
  }

  private clamp(value: number): number {
    return value < this.min ? this.min : value > this.max ? this.max : value
  }
}
