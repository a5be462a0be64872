import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks'
import type { Valkit } from '../core/index.js'
import type { ResolvedAdaptiveOptions } from './adaptive-options.js'

/**
 * Samples a load signal every interval and keeps the smoothed factor the adaptive rules'
 * limits are multiplied by. A signal that throws or returns a non-number is skipped (the
 * factor stays), counted in `failedSamples`.
 *
 * @internal
 */
export class AdaptiveLimit {
  factor: number
  /** The last sampled value of the signal. */
  lastSample: number | null = null
  samples = 0
  failedSamples = 0
  readonly scaled: ReadonlySet<string> | null
  #timer: NodeJS.Timeout | null = null
  #histogram: IntervalHistogram | null = null
  #sampling = false

  constructor(
    private readonly options: ResolvedAdaptiveOptions,
    private readonly valkit: Valkit,
  ) {
    this.factor = options.max
    this.scaled = options.rules === null ? null : new Set(options.rules)
    if (options.signal === 'event-loop-lag') {
      this.#histogram = monitorEventLoopDelay({ resolution: 10 })
      this.#histogram.enable()
    }
    this.#timer = setInterval(() => void this.sample(), options.intervalMs)
    this.#timer.unref()
  }

  /** Takes one sample now (also called by the timer). */
  async sample(): Promise<void> {
    if (this.#sampling) return
    this.#sampling = true
    try {
      const value = await this.#read()
      if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
        this.failedSamples++
        return
      }
      this.samples++
      this.lastSample = value
      const { target, min, max, smoothing } = this.options
      const wanted = value <= target ? max : Math.min(max, Math.max(min, target / value))
      const next = this.factor + smoothing * (wanted - this.factor)
      // Within 0.1% of the wanted factor: take it (the average would only approach it).
      this.factor = Math.min(max, Math.max(min, Math.abs(wanted - next) < 0.001 ? wanted : next))
    } catch {
      this.failedSamples++
    } finally {
      this.#sampling = false
    }
  }

  async #read(): Promise<number> {
    const signal = this.options.signal
    if (signal === 'event-loop-lag') {
      const h = this.#histogram!
      const mean = h.count === 0 ? 0 : h.mean / 1e6
      h.reset()
      return mean
    }
    if (signal === 'redis-latency') return this.valkit.supervisor.latency().p50Ms ?? 0
    return signal()
  }

  close(): void {
    if (this.#timer !== null) clearInterval(this.#timer)
    this.#timer = null
    this.#histogram?.disable()
  }
}
