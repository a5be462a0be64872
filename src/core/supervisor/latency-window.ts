import type { LatencySummary } from '../health-types.js'

/** The last `capacity` latency samples, for percentiles over a recent window. */
export class LatencyWindow {
  readonly #samples: Float64Array
  #next = 0
  #count = 0
  #last: number | null = null

  constructor(capacity = 512) {
    this.#samples = new Float64Array(capacity)
  }

  add(ms: number): void {
    this.#samples[this.#next] = ms
    this.#next = (this.#next + 1) % this.#samples.length
    if (this.#count < this.#samples.length) this.#count++
    this.#last = ms
  }

  summary(): LatencySummary {
    if (this.#count === 0)
      return { samples: 0, lastMs: null, p50Ms: null, p90Ms: null, p99Ms: null, maxMs: null }
    const sorted = Array.from(this.#samples.subarray(0, this.#count)).sort((a, b) => a - b)
    const at = (q: number): number =>
      round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!)
    return {
      samples: this.#count,
      lastMs: this.#last === null ? null : round(this.#last),
      p50Ms: at(0.5),
      p90Ms: at(0.9),
      p99Ms: at(0.99),
      maxMs: round(sorted[sorted.length - 1]!),
    }
  }
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000
}
