/** A counter as the dashboard shows it: its total and its rate over the section's interval. */
export interface Counted {
  /** The value now (since the series was created). */
  readonly total: number
  /** Per second over the section's `interval`; `null` before there are two readings or for a series newer than the interval. */
  readonly perSecond: number | null
}

/** The interval a section's rates cover (epoch milliseconds, `from` exclusive, `to` inclusive). */
export interface SectionInterval {
  readonly from: number
  readonly to: number
}

interface Reading {
  readonly at: number
  readonly values: ReadonlyMap<string, number>
}

/** A counter's change; a counter that went down (registry replaced) counts from zero. */
function delta(now: number, before: number | undefined): number {
  const base = before ?? 0
  return now >= base ? now - base : now
}

/**
 * Rates of counters between readings, with the rule every dashboard section follows: a reading
 * starts a new interval only when it comes at least half a snapshot interval after the previous
 * one, so an extra snapshot (the first one of a newly opened stream) keeps the previous interval
 * and its rates instead of reporting a sliver of time; totals are always the fresh values.
 * With `keepMs`, it also keeps enough readings to report what a counter did over that long
 * (`recent`: the sessions panel's "in the last minute").
 *
 * @example
 * ```ts
 * const tracker = new RateTracker(1000)
 * tracker.advance(Date.now(), new Map([['checks', 120]]))
 * const checks = tracker.counted('checks', 120) // { total: 120, perSecond: null } on the first reading
 * ```
 */
export class RateTracker {
  readonly #minIntervalMs: number
  readonly #keepMs: number
  readonly #maxReadings: number
  /** Accepted readings, oldest first; the last one ends the current interval. */
  #readings: Reading[] = []

  /**
   * `intervalMs`: the snapshot interval. `keepMs`: how far back `recent()` reaches (0: only the
   * current interval is kept). `maxReadings` bounds the memory kept for `recent()`.
   */
  constructor(intervalMs: number, keepMs = 0, maxReadings = 2500) {
    this.#minIntervalMs = intervalMs / 2
    this.#keepMs = keepMs
    this.#maxReadings = Math.max(2, maxReadings)
  }

  /** Offers a reading taken at `at` (epoch ms); it ends a new interval unless it comes too soon. */
  advance(at: number, values: ReadonlyMap<string, number>): void {
    const last = this.#readings[this.#readings.length - 1]
    if (last !== undefined && at - last.at < this.#minIntervalMs) return
    this.#readings.push({ at, values })
    const r = this.#readings
    // Keep the newest reading at least keepMs old (the start of recent()) and everything after it.
    let first = 0
    for (let i = r.length - 2; i >= 0; i--) {
      if (r[i]!.at <= at - this.#keepMs) {
        first = i
        break
      }
    }
    first = Math.max(first, r.length - this.#maxReadings, this.#keepMs === 0 ? r.length - 2 : 0)
    if (first > 0) this.#readings = r.slice(first)
  }

  /** The interval the rates cover; `null` before there are two readings. */
  get interval(): SectionInterval | null {
    const n = this.#readings.length
    if (n < 2) return null
    return { from: this.#readings[n - 2]!.at, to: this.#readings[n - 1]!.at }
  }

  /** Rate of `key` over the interval. */
  perSecond(key: string): number | null {
    const n = this.#readings.length
    if (n < 2) return null
    const start = this.#readings[n - 2]!
    const end = this.#readings[n - 1]!
    const now = end.values.get(key)
    if (now === undefined) return null
    return delta(now, start.values.get(key)) / ((end.at - start.at) / 1000)
  }

  /** `total` (the fresh value of `key`) with the rate of `key` over the interval. */
  counted(key: string, total: number): Counted {
    return { total, perSecond: this.perSecond(key) }
  }

  /**
   * What `recent()` covers: from the newest kept reading at least `keepMs` before the end of the
   * interval (or the oldest kept, while there is less history) to that end; `null` with fewer
   * than two readings.
   */
  get recentWindow(): SectionInterval | null {
    const start = this.#recentStart()
    const end = this.#readings[this.#readings.length - 1]
    return start === undefined || end === undefined ? null : { from: start.at, to: end.at }
  }

  /** How much `key` went up over `recentWindow`; `null` without a window. */
  recent(key: string): number | null {
    const start = this.#recentStart()
    const end = this.#readings[this.#readings.length - 1]
    if (start === undefined || end === undefined) return null
    const now = end.values.get(key)
    return now === undefined ? 0 : delta(now, start.values.get(key))
  }

  #recentStart(): Reading | undefined {
    const r = this.#readings
    if (r.length < 2) return undefined
    const end = r[r.length - 1]!
    for (let i = r.length - 2; i >= 0; i--) if (r[i]!.at <= end.at - this.#keepMs) return r[i]
    return r[0]
  }
}

/** Adds `value` to `map[key]`. */
export function addTo(map: Map<string, number>, key: string, value: number): void {
  map.set(key, (map.get(key) ?? 0) + value)
}
