import { invalidOption, parseDuration, type Duration } from '../core/index.js'
import type { RateLimitAccessList } from './access-list.js'
import {
  resolveAdaptiveOptions,
  type AdaptiveOptions,
  type ResolvedAdaptiveOptions,
} from './adaptive-options.js'
import { checkName, type RateLimitRule } from './rule-options.js'
import { resolveTagMode, RuleSet, type RateLimitHashTag, type TagMode } from './rule-set.js'

/**
 * What a check does when Redis/Valkey cannot answer (down, timed out, failing over):
 * - `'insurance'`: decide in process, with this instance's share of every limit;
 * - `'allow'`: admit (fail open); `'deny'`: refuse with `outcome: 'unavailable'` (fail closed);
 * - `'throw'`: reject with the store's `ValkitError`.
 *
 * Every such decision is counted (`ratelimit_checks_total{source}`) and carries the error.
 *
 * @example
 * ```ts
 * createRateLimiter(valkit, { rules, whenUnavailable: 'deny' }) // payments: fail closed
 * ```
 */
export type WhenUnavailable = 'insurance' | 'allow' | 'deny' | 'throw'

/**
 * The in-process insurance limiter used while Redis/Valkey is down.
 *
 * @example
 * ```ts
 * createRateLimiter(valkit, { rules, insurance: { share: 0.25 } }) // four instances, fixed
 * ```
 */
export interface InsuranceOptions {
  /**
   * This instance's share of each limit (0 < share <= 1), or `'auto'`: one over the number of
   * instances of this limiter seen alive (each announces itself every 2 s while Redis is up and counts for 10 s; the largest count of the last 30 s is used).
   * The insurance limit is `max(1, floor(limit × share))`.
   * @defaultValue 'auto'
   */
  readonly share?: number | 'auto'
}

/**
 * Rules stored in Redis/Valkey, updated without a restart.
 *
 * @example
 * ```ts
 * createRateLimiter(valkit, { rules, live: { pollInterval: '30s' } })
 * ```
 */
export interface LiveRulesOptions {
  /**
   * How often each instance compares its rules' version with the stored one (pub/sub brings
   * updates at once; the poll catches a missed message).
   * @defaultValue '10s'
   */
  readonly pollInterval?: Duration
}

/**
 * Options of {@link createRateLimiter}. Resolved once, when the limiter is created.
 *
 * @example
 * ```ts
 * const options: RateLimiterOptions = {
 *   name: 'api',
 *   rules: {
 *     user: { algorithm: 'sliding-window-log', limit: 100, window: '1m', by: ['tenant', 'user'] },
 *     tenant: { algorithm: 'token-bucket', limit: 5000, window: '1m', burst: 500, by: 'tenant' },
 *   },
 *   hashTag: { scope: 'tenant' },
 * }
 * ```
 */
export interface RateLimiterOptions {
  /**
   * Name of the limiter: part of its keys (`{prefix}:v1:ratelimit:{name...}`), its metrics'
   * `limiter` label and its live-rules channel.
   * @defaultValue 'default'
   */
  readonly name?: string
  /** The rules, by name (1-16). A check runs all of them, or those it names, in one round trip. */
  readonly rules: Readonly<Record<string, RateLimitRule>>
  /**
   * How a check's keys share one Cluster hash tag (see {@link RateLimitHashTag}). `'auto'`:
   * `'subject'` when every rule is keyed by the same scopes, else `'limiter'`.
   * @defaultValue 'auto'
   */
  readonly hashTag?: RateLimitHashTag
  /** Subjects always admitted, checked before the rules (`{ user: ['ops'], ip: ['10.0.0.0/8'] }`). @defaultValue none */
  readonly allow?: RateLimitAccessList
  /** Subjects always refused with `outcome: 'denied'`; wins over `allow`. @defaultValue none */
  readonly deny?: RateLimitAccessList
  /** @defaultValue 'insurance' */
  readonly whenUnavailable?: WhenUnavailable
  /** @defaultValue `{ share: 'auto' }` */
  readonly insurance?: InsuranceOptions
  /**
   * Deadline of one check against Redis/Valkey; past it the check is decided as
   * `whenUnavailable` says. Defaults to valkit's `commandTimeout`.
   * @defaultValue valkit's commandTimeout
   */
  readonly timeout?: Duration
  /** Limits scaled by a load signal. @defaultValue off */
  readonly adaptive?: AdaptiveOptions | false
  /**
   * Load the rules from Redis/Valkey and follow their updates (`limiter.rules.update(...)`);
   * the `rules` given here apply until a version is stored. `true` uses the defaults.
   * @defaultValue false
   */
  readonly live?: boolean | LiveRulesOptions
  /**
   * Most keys the in-process backend (and the insurance limiter) keeps; the least recently
   * used are forgotten beyond it.
   * @defaultValue 100_000
   */
  readonly maxKeys?: number
}

/**
 * {@link RateLimiterOptions} after validation.
 *
 * @example
 * ```ts
 * const { tag, timeoutMs } = resolveRateLimiterOptions({ rules: { r: { algorithm: 'gcra', limit: 5, window: '1s' } } })
 * ```
 */
export interface ResolvedRateLimiterOptions {
  readonly name: string
  readonly rules: RateLimiterOptions['rules']
  readonly tag: TagMode
  readonly allow: RateLimitAccessList | undefined
  readonly deny: RateLimitAccessList | undefined
  readonly whenUnavailable: WhenUnavailable
  readonly insuranceShare: number | 'auto'
  /** 0: valkit's commandTimeout. */
  readonly timeoutMs: number
  readonly adaptive: ResolvedAdaptiveOptions | null
  readonly live: { readonly pollIntervalMs: number } | null
  readonly maxKeys: number
}

/**
 * Defaults of {@link RateLimiterOptions}.
 *
 * @example
 * ```ts
 * RATE_LIMITER_DEFAULTS.whenUnavailable // 'insurance'
 * ```
 */
export const RATE_LIMITER_DEFAULTS = Object.freeze({
  name: 'default',
  whenUnavailable: 'insurance',
  insuranceShare: 'auto' as const,
  livePollIntervalMs: 10_000,
  maxKeys: 100_000,
})

const KNOWN = new Set([
  'name',
  'rules',
  'hashTag',
  'allow',
  'deny',
  'whenUnavailable',
  'insurance',
  'timeout',
  'adaptive',
  'live',
  'maxKeys',
])

/**
 * Validates rate limiter options and applies defaults. The rules are compiled once here (a bad
 * rule throws now, never at the first check).
 *
 * @throws ValkitError `VALKIT_INVALID_OPTION` naming the option's path (`ratelimit.rules.user.limit`).
 *
 * @example
 * ```ts
 * const resolved = resolveRateLimiterOptions({ rules: { r: { algorithm: 'gcra', limit: 5, window: '1s' } } })
 * resolved.whenUnavailable // 'insurance'
 * ```
 */
export function resolveRateLimiterOptions(
  options: RateLimiterOptions,
  path = 'ratelimit',
): ResolvedRateLimiterOptions {
  if (typeof options !== 'object' || options === null) {
    throw invalidOption(path, `got ${options === null ? 'null' : typeof options}`, 'an object with rules')
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key))
      throw invalidOption(`${path}.${key}`, 'unknown option', `one of ${[...KNOWN].join(', ')}`)
  }
  const d = RATE_LIMITER_DEFAULTS
  const name = checkName(options.name ?? d.name, `${path}.name`)
  if (options.rules === undefined)
    throw invalidOption(`${path}.rules`, 'missing', 'an object of rules by name')
  const tag = resolveTagMode(options.hashTag, options.rules, path)
  // Compiles once to validate the rules, the lists and their fit with the hash tag.
  new RuleSet({ rules: options.rules, allow: options.allow, deny: options.deny }, tag, 'x:{', 0, path)
  const whenUnavailable = options.whenUnavailable ?? d.whenUnavailable
  if (!['insurance', 'allow', 'deny', 'throw'].includes(whenUnavailable)) {
    throw invalidOption(
      `${path}.whenUnavailable`,
      `got ${JSON.stringify(whenUnavailable)}`,
      "'insurance', 'allow', 'deny' or 'throw'",
    )
  }
  const share = options.insurance?.share ?? d.insuranceShare
  if (share !== 'auto' && (typeof share !== 'number' || !(share > 0 && share <= 1))) {
    throw invalidOption(`${path}.insurance.share`, `got ${String(share)}`, "a number in (0, 1] or 'auto'")
  }
  const timeoutMs = options.timeout === undefined ? 0 : parseDuration(options.timeout, `${path}.timeout`)
  const adaptive =
    options.adaptive === undefined || options.adaptive === false
      ? null
      : resolveAdaptiveOptions(options.adaptive, `${path}.adaptive`)
  let live: ResolvedRateLimiterOptions['live'] = null
  if (options.live === true) live = { pollIntervalMs: d.livePollIntervalMs }
  else if (typeof options.live === 'object' && options.live !== null) {
    const pollIntervalMs =
      options.live.pollInterval === undefined
        ? d.livePollIntervalMs
        : parseDuration(options.live.pollInterval, `${path}.live.pollInterval`)
    if (pollIntervalMs < 100)
      throw invalidOption(`${path}.live.pollInterval`, `got ${pollIntervalMs} ms`, 'at least 100 ms')
    live = { pollIntervalMs }
  } else if (options.live !== undefined && options.live !== false) {
    throw invalidOption(`${path}.live`, `got ${typeof options.live}`, 'a boolean or { pollInterval }')
  }
  const maxKeys = options.maxKeys ?? d.maxKeys
  if (!Number.isSafeInteger(maxKeys) || maxKeys < 1) {
    throw invalidOption(`${path}.maxKeys`, `got ${String(maxKeys)}`, 'an integer >= 1')
  }
  return Object.freeze({
    name,
    rules: options.rules,
    tag,
    allow: options.allow,
    deny: options.deny,
    whenUnavailable,
    insuranceShare: share,
    timeoutMs,
    adaptive,
    live,
    maxKeys,
  })
}
