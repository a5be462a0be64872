import type { ValkitError } from '../core/index.js'
import type { RateLimitAlgorithm } from './rule-options.js'
import type { CheckPlan } from './rule-set.js'

/**
 * What happened to a check:
 * - `allowed`: admitted (and charged on every rule);
 * - `limited`: a rule's limit is reached; nothing was charged;
 * - `blocked`: a rule's penalty blocks the key for a while;
 * - `denied`: the subject is on the deny list;
 * - `too-large`: the cost exceeds what a rule can ever admit (retrying will not help);
 * - `unavailable`: the store could not answer and `whenUnavailable` is `'deny'` (never
 *   reported as `limited`).
 *
 * @example
 * ```ts
 * if (decision.outcome === 'unavailable') return res.status(503).end()
 * ```
 */
export type RateLimitOutcome = 'allowed' | 'limited' | 'blocked' | 'denied' | 'too-large' | 'unavailable'

/**
 * Who decided:
 * - `redis`: Redis/Valkey, atomically, on the server's clock;
 * - `memory`: the in-process backend (valkit runs without Redis);
 * - `insurance`: the in-process limiter with this instance's share, while Redis is down;
 * - `allow-list` / `deny-list`: an access list, without a round trip;
 * - `fail-open` / `fail-closed`: Redis is down and `whenUnavailable` is `'allow'` / `'deny'`.
 *
 * @example
 * ```ts
 * if (decision.source === 'insurance') log.warn('decided in process: Redis is down', decision.error)
 * ```
 */
export type RateLimitSource =
  'redis' | 'memory' | 'insurance' | 'allow-list' | 'deny-list' | 'fail-open' | 'fail-closed'

/**
 * The verdict of one rule within a check.
 *
 * @example
 * ```ts
 * for (const r of decision.rules) console.log(r.rule, r.outcome, `${r.remaining}/${r.limit}`)
 * ```
 */
export interface RuleDecision {
  readonly rule: string
  readonly algorithm: RateLimitAlgorithm
  readonly outcome: 'allowed' | 'limited' | 'blocked' | 'too-large'
  /** The limit applied (after tier, override and scaling): per window, or in flight for `concurrency`. */
  readonly limit: number
  /** Bucket size (`token-bucket`, `gcra`); equal to `limit` for the other algorithms. */
  readonly burst: number
  /** Window length (lease time to live for `concurrency`), in ms. */
  readonly windowMs: number
  /** The cost charged (or that would have been charged) on this rule. */
  readonly cost: number
  /** Units left after this check (0 when refused and nothing is left). */
  readonly remaining: number
  /** Time until the rule's counter is back to its full allowance, in ms. */
  readonly resetMs: number
  /** When refused: time until the same cost could pass, in ms (`Infinity` for `too-large`); 0 when allowed. */
  readonly retryAfterMs: number
}

/**
 * A held slot of a `concurrency` rule: release it when the work is done (it also expires by itself).
 *
 * @example
 * ```ts
 * const d = await slots.check({ tenant })
 * if (d.lease) try { await work() } finally { await d.lease.release() }
 * ```
 */
export interface RateLimitLease {
  readonly id: string
  /** Frees the slot; resolves `false` if it had already expired or been released. Never throws for a store outage. */
  release(): Promise<boolean>
  /** Pushes the expiry to now + `ttl` (default: the rule's `leaseTtl`); `false` if no longer held. */
  extend(ttl?: number | string): Promise<boolean>
}

/**
 * The answer to a check. It never throws for "limited": read `allowed`, and `outcome` for why.
 *
 * @example
 * ```ts
 * const d = await limiter.check({ user: id })
 * if (!d.allowed) {
 *   if (d.outcome === 'unavailable') return res.status(503).end()
 *   res.setHeader('Retry-After', d.retryAfterSeconds)
 *   return res.status(429).json({ error: 'rate_limited', rule: d.rule })
 * }
 * ```
 */
export interface RateLimitDecision {
  readonly allowed: boolean
  readonly outcome: RateLimitOutcome
  readonly source: RateLimitSource
  /** The rule that refused (the one with the longest wait), or when allowed the one closest to its limit; null when no rule ran. */
  readonly rule: string | null
  /** Of `rule`: its limit, what is left, when it is full again. */
  readonly limit: number
  readonly remaining: number
  readonly resetMs: number
  /** `resetMs` as a time (ms since the epoch, on the deciding clock). */
  readonly resetAt: number
  /** 0 when allowed; else how long to wait before the same request can pass. */
  readonly retryAfterMs: number
  /** `retryAfterMs` in whole seconds, rounded up (for the `Retry-After` header). */
  readonly retryAfterSeconds: number
  /** When it was decided: ms since the epoch on the deciding clock (the server's TIME for `redis`), with µs fractions. */
  readonly at: number
  /** Every rule's verdict, in the order the rules were checked. */
  readonly rules: readonly RuleDecision[]
  /** The lease of the `concurrency` rules, when admitted by one; release it when done. */
  readonly lease: RateLimitLease | null
  /** The access-list entry that decided (`user=ops-bot`), for `allow-list` / `deny-list`. */
  readonly matched: string | null
  /** The store error behind an `insurance`, `fail-open` or `fail-closed` decision. */
  readonly error: ValkitError | null
}

const OUTCOMES = { 1: 'allowed', [-1]: 'limited', [-2]: 'blocked', [-3]: 'too-large' } as const

/**
 * Builds the decision from a script reply (`[now µs, then 4 per rule: code, remaining, reset, retry]`).
 *
 * @internal
 */
export function buildDecision(
  plan: CheckPlan,
  reply: readonly number[],
  source: RateLimitSource,
  lease: (plan: CheckPlan) => RateLimitLease | null,
  error: ValkitError | null,
): RateLimitDecision {
  const now = Number(reply[0]) / 1000
  const n = plan.rules.length
  let admitted = true
  for (let i = 0; i < n; i++) if (Number(reply[1 + i * 4]) !== 1) admitted = false
  const rules: RuleDecision[] = new Array<RuleDecision>(n)
  let pick = -1
  let pickScore = Infinity
  let severity = 0
  for (let i = 0; i < n; i++) {
    const planned = plan.rules[i]!
    const o = 1 + i * 4
    const code = Number(reply[o]) as 1 | -1 | -2 | -3
    const retry = Number(reply[o + 3])
    const remaining = Number(reply[o + 1])
    const rule: RuleDecision = {
      rule: planned.rule.name,
      algorithm: planned.rule.algorithm,
      outcome: OUTCOMES[code],
      limit: planned.limit,
      burst: planned.burst,
      windowMs: planned.windowMs,
      cost: planned.cost,
      remaining,
      resetMs: Number(reply[o + 2]),
      retryAfterMs: retry < 0 ? Infinity : code === 1 ? 0 : retry,
    }
    rules[i] = rule
    if (admitted) {
      // The rule closest to its limit, relative to its size.
      const score = remaining / planned.burst
      if (score < pickScore) [pick, pickScore] = [i, score]
    } else if (code !== 1) {
      // Refusals rank: too-large, then blocked, then the longest wait.
      const s = code === -3 ? 3 : code === -2 ? 2 : 1
      if (s > severity || (s === severity && rule.retryAfterMs > rules[pick]!.retryAfterMs)) {
        pick = i
        severity = s
      }
    }
  }
  const chosen = rules[pick]!
  const outcome = admitted ? 'allowed' : chosen.outcome
  return {
    allowed: admitted,
    outcome,
    source,
    rule: chosen.rule,
    limit: chosen.limit,
    remaining: chosen.remaining,
    resetMs: chosen.resetMs,
    resetAt: Math.round(now + chosen.resetMs),
    retryAfterMs: chosen.retryAfterMs,
    retryAfterSeconds: chosen.retryAfterMs === Infinity ? Infinity : Math.ceil(chosen.retryAfterMs / 1000),
    at: now,
    rules,
    lease: admitted && plan.leaseKeys !== null ? lease(plan) : null,
    matched: null,
    error,
  }
}

/** A decision made without running any rule (access lists, fail-open, fail-closed). @internal */
export function plainDecision(
  allowed: boolean,
  outcome: RateLimitOutcome,
  source: RateLimitSource,
  matched: string | null,
  error: ValkitError | null,
): RateLimitDecision {
  const at = Date.now()
  return {
    allowed,
    outcome,
    source,
    rule: null,
    limit: 0,
    remaining: 0,
    resetMs: 0,
    resetAt: at,
    retryAfterMs: 0,
    retryAfterSeconds: 0,
    at,
    rules: [],
    lease: null,
    matched,
    error,
  }
}
