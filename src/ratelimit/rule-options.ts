import { invalidOption, parseDuration, type Duration } from '../core/index.js'

/**
 * The algorithms a rule can use. Each runs as one atomic step on the server's clock.
 *
 * - `token-bucket`: a bucket of `burst` tokens refilled continuously at `limit` per `window`.
 * - `gcra`: the generic cell rate algorithm (one timestamp per key): `limit` per `window`
 *   evenly spaced, with bursts of up to `burst`.
 * - `sliding-window-log` (exact): one entry per admission; never more than `limit` inside any
 *   window of length `window`. Memory and time grow with `limit`.
 * - `sliding-window-counter` (approximate): this window's count plus the previous window's
 *   count weighted by how much of it still overlaps. Two numbers per key. Worst case: just
 *   under 2 × `limit` inside one sliding window (see docs/ratelimit.md).
 * - `fixed-window`: a counter per window aligned on the clock. Worst case: 2 × `limit` across
 *   a window boundary.
 * - `concurrency`: at most `limit` requests in flight; each admission is a lease released by
 *   the caller or expiring after `leaseTtl`.
 *
 * @example
 * ```ts
 * const algorithm: RateLimitAlgorithm = 'sliding-window-log'
 * ```
 */
export type RateLimitAlgorithm =
  'token-bucket' | 'gcra' | 'sliding-window-log' | 'sliding-window-counter' | 'fixed-window' | 'concurrency'

/**
 * Numeric code of each algorithm, as the script takes it. @internal
 *
 * @example
 * ```ts
 * ALGORITHM_CODES['gcra'] // 2, as the check script takes it
 * ```
 */
export const ALGORITHM_CODES: Readonly<Record<RateLimitAlgorithm, number>> = Object.freeze({
  'token-bucket': 1,
  gcra: 2,
  'sliding-window-log': 3,
  'sliding-window-counter': 4,
  'fixed-window': 5,
  concurrency: 6,
})

/**
 * The limits a tier or an override replaces; what is not given is taken from the rule.
 *
 * @example
 * ```ts
 * const pro: RateLimitRuleLimits = { limit: 1000, burst: 200 }
 * ```
 */
export interface RateLimitRuleLimits {
  /** Requests (or cost units) per window; in flight for `concurrency`. */
  readonly limit?: number
  /** Length of the window. */
  readonly window?: Duration
  /** Bucket size (`token-bucket`, `gcra`). */
  readonly burst?: number
}

/**
 * Block a key for a while after repeated refusals.
 *
 * @example
 * ```ts
 * const penalty: RateLimitPenalty = { violations: 5, within: '1m', block: '15m' }
 * ```
 */
export interface RateLimitPenalty {
  /** Refusals by this rule that trigger the block. */
  readonly violations: number
  /** The refusals must happen within this time (counted from the first). */
  readonly within: Duration
  /** How long the key is blocked: every request it makes is refused with `outcome: 'blocked'`. */
  readonly block: Duration
}

/**
 * One rate-limit rule. A check names the values of the rule's scopes (`by`), for example
 * `{ user: '42', tenant: 'acme' }`; each combination of values has its own counter.
 *
 * @example
 * ```ts
 * const perUser: RateLimitRule = {
 *   algorithm: 'sliding-window-log',
 *   limit: 100,
 *   window: '1m',
 *   by: 'user',
 *   tiers: { pro: { limit: 1000 } },
 *   overrides: { 'load-test-bot': { limit: 10_000 } },
 *   penalty: { violations: 5, within: '1m', block: '10m' },
 * }
 * ```
 */
export interface RateLimitRule {
  readonly algorithm: RateLimitAlgorithm
  /** Requests (or cost units) admitted per `window`; for `concurrency`, the most in flight. An integer >= 1. */
  readonly limit: number
  /** Length of the window (`'1s'`, `'1m'`, milliseconds). Required except for `concurrency`. */
  readonly window?: Duration
  /**
   * Bucket size of `token-bucket` and `gcra`: how many may pass at once after a quiet period.
   * @defaultValue `limit`
   */
  readonly burst?: number
  /**
   * `concurrency` only: a lease not released within this time expires by itself (a crashed
   * holder frees its slot).
   * @defaultValue '1m'
   */
  readonly leaseTtl?: Duration
  /**
   * The scopes whose values key the rule's counters: `'user'`, `['tenant', 'user']`, or `[]`
   * for one counter shared by every request (global). A check must give a value for each.
   * @defaultValue 'key'
   */
  readonly by?: string | readonly string[]
  /** Limits per tier (`check(subject, { tier: 'pro' })`); a tier not listed uses the rule's own limits. */
  readonly tiers?: Readonly<Record<string, RateLimitRuleLimits>>
  /**
   * Limits for particular keys: the values of the rule's scopes joined with `/`, in the order
   * of `by` (`'42'` for `by: 'user'`, `'acme/42'` for `by: ['tenant', 'user']`). An override
   * wins over a tier.
   */
  readonly overrides?: Readonly<Record<string, RateLimitRuleLimits>>
  /** Block a key after repeated refusals by this rule. @defaultValue none */
  readonly penalty?: RateLimitPenalty
}

/** Limits after validation. @internal */
export interface ResolvedLimits {
  readonly limit: number
  readonly windowMs: number
  readonly burst: number
}

/**
 * A rule after validation, with defaults applied.
 *
 * @example
 * ```ts
 * const [rule] = resolveRules({ user: { algorithm: 'gcra', limit: 10, window: '1s', by: 'user' } }, 'rules')
 * rule.windowMs // 1000
 * ```
 */
export interface ResolvedRule extends ResolvedLimits {
  readonly name: string
  readonly algorithm: RateLimitAlgorithm
  readonly code: number
  readonly leaseTtlMs: number
  readonly by: readonly string[]
  readonly tiers: ReadonlyMap<string, ResolvedLimits>
  readonly overrides: ReadonlyMap<string, ResolvedLimits>
  readonly penalty: {
    readonly violations: number
    readonly withinMs: number
    readonly blockMs: number
  } | null
}

/**
 * The largest limit, burst or cost (micro-token arithmetic stays exact below it).
 *
 * @example
 * ```ts
 * const rule = { algorithm: 'gcra', limit: MAX_LIMIT, window: '1s' } as const // the largest limit
 * ```
 */
export const MAX_LIMIT = 1_000_000_000
const MAX_WINDOW_MS = 366 * 24 * 3_600_000
const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/
const SCOPE = /^[A-Za-z][A-Za-z0-9_-]{0,31}$/
const RULE_KEYS = new Set([
  'algorithm',
  'limit',
  'window',
  'burst',
  'leaseTtl',
  'by',
  'tiers',
  'overrides',
  'penalty',
])
const LIMIT_KEYS = new Set(['limit', 'window', 'burst'])

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (typeof value === 'string') return JSON.stringify(value.slice(0, 40))
  if (typeof value === 'number') return String(value)
  return typeof value
}

function plainObject(value: unknown, path: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw invalidOption(path, `got ${describe(value)}`, 'an object')
  }
  return value as Record<string, unknown>
}

function onlyKeys(value: Record<string, unknown>, allowed: ReadonlySet<string>, path: string): void {
  for (const key of Object.keys(value)) {
    if (!allowed.has(key)) {
      throw invalidOption(`${path}.${key}`, 'unknown option', `one of ${[...allowed].join(', ')}`)
    }
  }
}

/** An integer from 1 to {@link MAX_LIMIT}. @internal */
export function checkCount(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > MAX_LIMIT) {
    throw invalidOption(path, `got ${describe(value)}`, `an integer from 1 to ${MAX_LIMIT}`)
  }
  return value
}

function checkWindow(value: unknown, path: string): number {
  const ms = parseDuration(value, path)
  if (ms < 1 || ms > MAX_WINDOW_MS) {
    throw invalidOption(path, `got ${String(value)}`, 'a duration from 1 ms to 366 days')
  }
  return ms
}

/** Checks a name (of a limiter, rule or tier). @internal */
export function checkName(value: unknown, path: string): string {
  if (typeof value !== 'string' || !NAME.test(value)) {
    throw invalidOption(
      path,
      `got ${describe(value)}`,
      "1-64 letters, digits, '_' or '-', starting with a letter or digit",
    )
  }
  return value
}

/** Checks a scope name. @internal */
export function checkScope(value: unknown, path: string): string {
  if (typeof value !== 'string' || !SCOPE.test(value)) {
    throw invalidOption(
      path,
      `got ${describe(value)}`,
      "1-32 letters, digits, '_' or '-', starting with a letter",
    )
  }
  return value
}

function resolveLimits(
  value: unknown,
  base: ResolvedLimits,
  algorithm: RateLimitAlgorithm,
  path: string,
): ResolvedLimits {
  const given = plainObject(value, path)
  onlyKeys(given, LIMIT_KEYS, path)
  const limit = given.limit === undefined ? base.limit : checkCount(given.limit, `${path}.limit`)
  if (algorithm === 'concurrency' && given.window !== undefined) {
    throw invalidOption(
      `${path}.window`,
      'a concurrency rule has no window',
      'no window (use leaseTtl on the rule)',
    )
  }
  const windowMs = given.window === undefined ? base.windowMs : checkWindow(given.window, `${path}.window`)
  const burst = resolveBurst(
    given.burst,
    given.limit === undefined ? base.burst : limit,
    algorithm,
    `${path}.burst`,
  )
  return Object.freeze({ limit, windowMs, burst })
}

function resolveBurst(value: unknown, fallback: number, algorithm: RateLimitAlgorithm, path: string): number {
  if (value === undefined) return fallback
  if (algorithm !== 'token-bucket' && algorithm !== 'gcra') {
    throw invalidOption(
      path,
      `\`burst\` does not apply to ${algorithm}`,
      'burst only on token-bucket or gcra rules',
    )
  }
  return checkCount(value, path)
}

function resolveScopes(value: unknown, path: string): readonly string[] {
  if (value === undefined) return Object.freeze(['key'])
  const list = typeof value === 'string' ? [value] : value
  if (!Array.isArray(list))
    throw invalidOption(path, `got ${describe(value)}`, 'a scope name or an array of them')
  const scopes = list.map((scope, i) => checkScope(scope, `${path}[${i}]`))
  if (new Set(scopes).size !== scopes.length)
    throw invalidOption(path, 'a scope is named twice', 'distinct scopes')
  return Object.freeze(scopes)
}

function resolveMap(
  value: unknown,
  base: ResolvedLimits,
  algorithm: RateLimitAlgorithm,
  path: string,
  checkKey: (key: string, path: string) => void,
): ReadonlyMap<string, ResolvedLimits> {
  const out = new Map<string, ResolvedLimits>()
  if (value === undefined) return out
  const given = plainObject(value, path)
  for (const [key, limits] of Object.entries(given)) {
    checkKey(key, `${path}.${key}`)
    out.set(key, resolveLimits(limits, base, algorithm, `${path}.${key}`))
  }
  return out
}

function resolvePenalty(
  value: unknown,
  algorithm: RateLimitAlgorithm,
  path: string,
): ResolvedRule['penalty'] {
  if (value === undefined) return null
  const given = plainObject(value, path)
  onlyKeys(given, new Set(['violations', 'within', 'block']), path)
  if (algorithm === 'concurrency') {
    throw invalidOption(path, 'a concurrency rule has no penalty', 'penalties on rate rules only')
  }
  const violations = checkCount(given.violations, `${path}.violations`)
  const withinMs = checkWindow(given.within, `${path}.within`)
  const blockMs = checkWindow(given.block, `${path}.block`)
  return Object.freeze({ violations, withinMs, blockMs })
}

/**
 * Validates one rule and applies its defaults.
 *
 * @throws ValkitError `VALKIT_INVALID_OPTION` naming the path (`ratelimit.rules.per-user.limit`).
 *
 * @example
 * ```ts
 * const rule = resolveRule('user', { algorithm: 'fixed-window', limit: 100, window: '1m', by: 'user' }, 'rules.user')
 * ```
 */
export function resolveRule(name: string, value: unknown, path: string): ResolvedRule {
  checkName(name, path)
  const given = plainObject(value, path)
  onlyKeys(given, RULE_KEYS, path)
  const algorithm = given.algorithm as RateLimitAlgorithm
  if (typeof algorithm !== 'string' || !(algorithm in ALGORITHM_CODES)) {
    throw invalidOption(
      `${path}.algorithm`,
      `got ${describe(algorithm)}`,
      `one of ${Object.keys(ALGORITHM_CODES).join(', ')}`,
    )
  }
  const limit = checkCount(given.limit, `${path}.limit`)
  let windowMs = 0
  let leaseTtlMs = 0
  if (algorithm === 'concurrency') {
    if (given.window !== undefined) {
      throw invalidOption(`${path}.window`, 'a concurrency rule has no window', 'leaseTtl instead')
    }
    leaseTtlMs = given.leaseTtl === undefined ? 60_000 : checkWindow(given.leaseTtl, `${path}.leaseTtl`)
  } else {
    if (given.window === undefined)
      throw invalidOption(`${path}.window`, 'missing', "a duration such as '1s' or '1m'")
    if (given.leaseTtl !== undefined) {
      throw invalidOption(
        `${path}.leaseTtl`,
        `\`leaseTtl\` does not apply to ${algorithm}`,
        'leaseTtl on concurrency rules only',
      )
    }
    windowMs = checkWindow(given.window, `${path}.window`)
  }
  const burst = resolveBurst(given.burst, limit, algorithm, `${path}.burst`)
  const base: ResolvedLimits = { limit, windowMs, burst }
  const by = resolveScopes(given.by, `${path}.by`)
  const tiers = resolveMap(given.tiers, base, algorithm, `${path}.tiers`, (key, p) => void checkName(key, p))
  const overrides = resolveMap(given.overrides, base, algorithm, `${path}.overrides`, (key, p) => {
    if (key.length === 0 || key.length > 512)
      throw invalidOption(p, 'empty or longer than 512', 'the key values joined with /')
  })
  const penalty = resolvePenalty(given.penalty, algorithm, `${path}.penalty`)
  return Object.freeze({
    name,
    algorithm,
    code: ALGORITHM_CODES[algorithm],
    limit,
    windowMs,
    burst,
    leaseTtlMs,
    by,
    tiers,
    overrides,
    penalty,
  })
}

/**
 * Validates a set of rules (`{ name: rule }`, at least one).
 *
 * @throws ValkitError `VALKIT_INVALID_OPTION` naming the path of the first invalid value.
 *
 * @example
 * ```ts
 * const rules = resolveRules({ user: { algorithm: 'gcra', limit: 10, window: '1s', by: 'user' } }, 'rules')
 * ```
 */
export function resolveRules(value: unknown, path: string): readonly ResolvedRule[] {
  const given = plainObject(value, path)
  const names = Object.keys(given)
  if (names.length === 0) throw invalidOption(path, 'no rules', 'at least one rule')
  if (names.length > 16) throw invalidOption(path, `${names.length} rules`, 'at most 16 rules per limiter')
  return Object.freeze(names.map((name) => resolveRule(name, given[name], `${path}.${name}`)))
}
