import { invalidOption, parseDuration, type Duration } from '../../core/index.js'
import { checkName, checkScope } from '../rule-options.js'
import type { RateLimitHashTag, TagMode } from '../rule-set.js'

/**
 * Prices of one model, in US dollars per million tokens.
 *
 * @example
 * ```ts
 * const price: ModelPrice = { inputPerMTok: 2.5, outputPerMTok: 10, cachedInputPerMTok: 1.25 }
 * ```
 */
export interface ModelPrice {
  readonly inputPerMTok: number
  readonly outputPerMTok: number
  /** Price of cached input tokens. @defaultValue `inputPerMTok` */
  readonly cachedInputPerMTok?: number
}

/**
 * One budget: a money and/or token allowance per period, per subject (`by`).
 *
 * @example
 * ```ts
 * const perUserDaily: BudgetDefinition = { by: 'user', period: 'day', limitUsd: 5 }
 * ```
 */
export interface BudgetDefinition {
  /** The scopes that key the budget (`'user'`, `['tenant']`, `[]` for one global budget). */
  readonly by: string | readonly string[]
  /** `'hour'`, `'day'` (UTC), `'month'` (UTC calendar month) or a fixed length (`'15m'`, a number of ms). */
  readonly period: Duration
  /** Dollars per period. At least one of `limitUsd` and `limitTokens`. */
  readonly limitUsd?: number
  /** Tokens (input + output) per period. */
  readonly limitTokens?: number
}

/**
 * Options of {@link createLlmBudget}.
 *
 * @example
 * ```ts
 * const options: LlmBudgetOptions = {
 *   prices: { 'gpt-4o-mini': { inputPerMTok: 0.15, outputPerMTok: 0.6 } },
 *   budgets: { daily: { by: 'user', period: 'day', limitUsd: 1 } },
 * }
 * ```
 */
export interface LlmBudgetOptions {
  /** Name: part of the keys and the metrics' `name` label. @defaultValue 'llm' */
  readonly name?: string
  /** Prices per model id (`'gpt-4o'`). */
  readonly prices: Readonly<Record<string, ModelPrice>>
  /** The budgets every call is reserved on, by name (1-8). */
  readonly budgets: Readonly<Record<string, BudgetDefinition>>
  /**
   * A reservation not settled within this time expires (a crashed caller). It is then charged
   * its estimate (`onExpiry: 'charge'`) or released.
   * @defaultValue '15m'
   */
  readonly reservationTtl?: Duration
  /** @defaultValue 'charge' */
  readonly onExpiry?: 'charge' | 'release'
  /** How the budgets' keys share one Cluster hash tag (as for rate limiters). @defaultValue 'auto' */
  readonly hashTag?: RateLimitHashTag
  /**
   * When Redis/Valkey cannot answer: refuse (`'deny'`, `outcome: 'unavailable'`), let the call go
   * uncounted (`'allow'`), or reject (`'throw'`). Money is not shared out by guesswork.
   * @defaultValue 'deny'
   */
  readonly whenUnavailable?: 'deny' | 'allow' | 'throw'
}

/** A budget after validation. @internal */
export interface ResolvedBudget {
  readonly name: string
  readonly by: readonly string[]
  /** 0: calendar month. */
  readonly periodMs: number
  /** Micro-dollars, or -1 for none. */
  readonly limitMicroUsd: number
  readonly limitTokens: number
}

/**
 * {@link LlmBudgetOptions} after validation.
 *
 * @example
 * ```ts
 * const { budgets, reservationTtlMs } = resolveLlmBudgetOptions(options)
 * ```
 */
export interface ResolvedLlmBudgetOptions {
  readonly name: string
  readonly prices: ReadonlyMap<
    string,
    { readonly input: number; readonly output: number; readonly cached: number }
  >
  readonly budgets: readonly ResolvedBudget[]
  readonly reservationTtlMs: number
  readonly chargeExpired: boolean
  readonly tag: TagMode
  readonly whenUnavailable: 'deny' | 'allow' | 'throw'
}

const PERIODS: Readonly<Record<string, number>> = { hour: 3_600_000, day: 86_400_000, month: 0 }

function price(value: unknown, path: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 1e6) {
    throw invalidOption(
      path,
      `got ${typeof value === 'number' ? value : typeof value}`,
      'dollars per million tokens, from 0 to 1e6',
    )
  }
  return value
}

function amount(value: unknown, path: string, scale: number): number {
  if (value === undefined) return -1
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value * scale > 1e15) {
    throw invalidOption(
      path,
      `got ${typeof value === 'number' ? value : typeof value}`,
      'a non-negative number',
    )
  }
  return Math.floor(value * scale)
}

/**
 * Validates LLM budget options.
 * @throws ValkitError `VALKIT_INVALID_OPTION` naming the option's path (`llmBudget.budgets.user.period`).
 *
 * @example
 * ```ts
 * const resolved = resolveLlmBudgetOptions({ prices, budgets: { daily: { by: 'user', period: 'day', limitUsd: 1 } } })
 * ```
 */
export function resolveLlmBudgetOptions(
  options: LlmBudgetOptions,
  path = 'llmBudget',
): ResolvedLlmBudgetOptions {
  if (typeof options !== 'object' || options === null)
    throw invalidOption(path, `got ${typeof options}`, 'an object')
  const name = checkName(options.name ?? 'llm', `${path}.name`)
  if (typeof options.prices !== 'object' || options.prices === null) {
    throw invalidOption(`${path}.prices`, 'missing', 'an object of model: { inputPerMTok, outputPerMTok }')
  }
  const prices = new Map<string, { input: number; output: number; cached: number }>()
  for (const [model, p] of Object.entries(options.prices)) {
    const at = `${path}.prices.${model}`
    if (typeof p !== 'object' || p === null)
      throw invalidOption(at, `got ${typeof p}`, '{ inputPerMTok, outputPerMTok }')
    const input = price(p.inputPerMTok, `${at}.inputPerMTok`)
    const output = price(p.outputPerMTok, `${at}.outputPerMTok`)
    const cached =
      p.cachedInputPerMTok === undefined ? input : price(p.cachedInputPerMTok, `${at}.cachedInputPerMTok`)
    prices.set(model, Object.freeze({ input, output, cached }))
  }
  if (
    typeof options.budgets !== 'object' ||
    options.budgets === null ||
    Object.keys(options.budgets).length === 0
  ) {
    throw invalidOption(`${path}.budgets`, 'missing or empty', 'an object of 1-8 budgets by name')
  }
  const entries = Object.entries(options.budgets)
  if (entries.length > 8) throw invalidOption(`${path}.budgets`, `${entries.length} budgets`, 'at most 8')
  const budgets = entries.map(([budget, def]): ResolvedBudget => {
    const at = `${path}.budgets.${budget}`
    checkName(budget, at)
    if (typeof def !== 'object' || def === null)
      throw invalidOption(at, `got ${typeof def}`, '{ by, period, limitUsd | limitTokens }')
    const scopes = typeof def.by === 'string' ? [def.by] : def.by
    if (!Array.isArray(scopes))
      throw invalidOption(`${at}.by`, `got ${typeof def.by}`, 'a scope or an array of scopes')
    const by = Object.freeze(scopes.map((s: unknown, i) => checkScope(s, `${at}.by[${i}]`)))
    const periodMs =
      typeof def.period === 'string' && def.period in PERIODS
        ? PERIODS[def.period]!
        : parseDuration(def.period, `${at}.period`)
    if (periodMs !== 0 && periodMs < 1000)
      throw invalidOption(`${at}.period`, `got ${periodMs} ms`, "'hour', 'day', 'month' or at least 1s")
    const limitMicroUsd = amount(def.limitUsd, `${at}.limitUsd`, 1e6)
    const limitTokens = amount(def.limitTokens, `${at}.limitTokens`, 1)
    if (limitMicroUsd < 0 && limitTokens < 0)
      throw invalidOption(at, 'no limit', 'limitUsd, limitTokens or both')
    return Object.freeze({ name: budget, by, periodMs, limitMicroUsd, limitTokens })
  })
  const ttl =
    options.reservationTtl === undefined
      ? 15 * 60_000
      : parseDuration(options.reservationTtl, `${path}.reservationTtl`)
  if (ttl < 1000) throw invalidOption(`${path}.reservationTtl`, `got ${ttl} ms`, 'at least 1s')
  const onExpiry = options.onExpiry ?? 'charge'
  if (onExpiry !== 'charge' && onExpiry !== 'release')
    throw invalidOption(`${path}.onExpiry`, `got ${String(onExpiry)}`, "'charge' or 'release'")
  const whenUnavailable = options.whenUnavailable ?? 'deny'
  if (!['deny', 'allow', 'throw'].includes(whenUnavailable)) {
    throw invalidOption(
      `${path}.whenUnavailable`,
      `got ${String(whenUnavailable)}`,
      "'deny', 'allow' or 'throw'",
    )
  }
  return Object.freeze({
    name,
    prices,
    budgets: Object.freeze(budgets),
    reservationTtlMs: ttl,
    chargeExpired: onExpiry === 'charge',
    tag: resolveBudgetTag(options.hashTag, budgets, path),
    whenUnavailable,
  })
}

function resolveBudgetTag(
  value: RateLimitHashTag | undefined,
  budgets: readonly ResolvedBudget[],
  path: string,
): TagMode {
  const first = budgets[0]!.by.join(',')
  const same = budgets.every((b) => b.by.join(',') === first) && first !== ''
  const given = value ?? 'auto'
  if (given === 'auto') return same ? { kind: 'subject' } : { kind: 'limiter' }
  if (given === 'limiter') return { kind: 'limiter' }
  if (given === 'subject') {
    if (!same)
      throw invalidOption(
        `${path}.hashTag`,
        "'subject' needs every budget keyed by the same scopes",
        "'limiter' or { scope }",
      )
    return { kind: 'subject' }
  }
  if (typeof given === 'object' && given !== null && typeof given.scope === 'string') {
    const missing = budgets.find((b) => !b.by.includes(given.scope))
    if (missing !== undefined) {
      throw invalidOption(
        `${path}.budgets.${missing.name}.by`,
        `hashTag { scope: '${given.scope}' } needs every budget keyed by it`,
        `\`${given.scope}\` among its scopes`,
      )
    }
    return { kind: 'scope', scope: given.scope }
  }
  throw invalidOption(
    `${path}.hashTag`,
    `got ${JSON.stringify(given)}`,
    "'auto', 'subject', 'limiter' or { scope }",
  )
}
