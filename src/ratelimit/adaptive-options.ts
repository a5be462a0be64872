import { invalidOption, parseDuration, type Duration } from '../core/index.js'

/**
 * A load signal: `'event-loop-lag'` (this process's mean event-loop delay over the interval,
 * ms), `'redis-latency'` (the supervisor's median PING time, ms), or a function returning the
 * current value of any signal (an error rate, a queue depth, a GPU utilisation).
 *
 * @example
 * ```ts
 * const signal: LoadSignal = () => queue.depth() // any number; compared with `target`
 * ```
 */
export type LoadSignal = 'event-loop-lag' | 'redis-latency' | (() => number | Promise<number>)

/**
 * Limits that follow load: every `interval` the signal is sampled, the wanted factor is
 * `target / value` bounded to `[min, max]`, and the applied factor moves towards it by
 * `smoothing` (an exponential moving average). Each rule's limit (and burst) is multiplied by
 * the factor, never below 1.
 *
 * @example
 * ```ts
 * // Shrink limits when the event loop lags more than 50 ms, down to a fifth at most.
 * const adaptive: AdaptiveOptions = { signal: 'event-loop-lag', target: 50, min: 0.2 }
 * ```
 */
export interface AdaptiveOptions {
  readonly signal: LoadSignal
  /** The healthy level of the signal: at or below it the factor is `max`. A number > 0. */
  readonly target: number
  /** The lowest factor. @defaultValue 0.1 */
  readonly min?: number
  /** The highest factor. @defaultValue 1 */
  readonly max?: number
  /** Weight of each new sample in (0, 1]; 1 applies each sample at once. @defaultValue 0.3 */
  readonly smoothing?: number
  /** How often the signal is sampled. @defaultValue '1s' */
  readonly interval?: Duration
  /** The rules that scale; the others keep their limits. @defaultValue every rule */
  readonly rules?: readonly string[]
}

/**
 * {@link AdaptiveOptions} after validation.
 *
 * @example
 * ```ts
 * const { adaptive } = resolveRateLimiterOptions({ rules, adaptive: { signal: 'redis-latency', target: 5 } })
 * adaptive?.smoothing // 0.3
 * ```
 */
export interface ResolvedAdaptiveOptions {
  readonly signal: LoadSignal
  readonly target: number
  readonly min: number
  readonly max: number
  readonly smoothing: number
  readonly intervalMs: number
  readonly rules: readonly string[] | null
}

function fraction(value: unknown, path: string, fallback: number, lowOpen: boolean): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !(lowOpen ? value > 0 : value >= 0) || !Number.isFinite(value)) {
    throw invalidOption(
      path,
      `got ${typeof value === 'number' ? value : typeof value}`,
      lowOpen ? 'a number > 0' : 'a number >= 0',
    )
  }
  return value
}

/**
 * Validates adaptive-limit options.
 * @throws ValkitError `VALKIT_INVALID_OPTION` naming the option's path.
 */
export function resolveAdaptiveOptions(value: AdaptiveOptions, path: string): ResolvedAdaptiveOptions {
  if (typeof value !== 'object' || value === null)
    throw invalidOption(path, `got ${typeof value}`, 'an object or false')
  const { signal } = value
  if (signal !== 'event-loop-lag' && signal !== 'redis-latency' && typeof signal !== 'function') {
    throw invalidOption(
      `${path}.signal`,
      `got ${JSON.stringify(signal)}`,
      "'event-loop-lag', 'redis-latency' or a function",
    )
  }
  const target = fraction(value.target, `${path}.target`, NaN, true)
  if (Number.isNaN(target)) throw invalidOption(`${path}.target`, 'missing', 'a number > 0')
  const min = fraction(value.min, `${path}.min`, 0.1, true)
  const max = fraction(value.max, `${path}.max`, 1, true)
  if (min > max) throw invalidOption(`${path}.min`, `${min} > max ${max}`, 'min <= max')
  const smoothing = fraction(value.smoothing, `${path}.smoothing`, 0.3, true)
  if (smoothing > 1) throw invalidOption(`${path}.smoothing`, `got ${smoothing}`, 'a number in (0, 1]')
  const intervalMs = value.interval === undefined ? 1000 : parseDuration(value.interval, `${path}.interval`)
  if (intervalMs < 10) throw invalidOption(`${path}.interval`, `got ${intervalMs} ms`, 'at least 10 ms')
  let rules: readonly string[] | null = null
  if (value.rules !== undefined) {
    if (!Array.isArray(value.rules))
      throw invalidOption(`${path}.rules`, `got ${typeof value.rules}`, 'an array of rule names')
    rules = Object.freeze((value.rules as readonly unknown[]).map(String))
  }
  return Object.freeze({ signal, target, min, max, smoothing, intervalMs, rules })
}
