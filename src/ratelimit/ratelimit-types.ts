import type { Duration } from '../core/index.js'
import type { RateLimitDecision } from './decision.js'
import type { RuleDocument } from './rule-set.js'
import type { RateLimitSubject } from './subject.js'

/**
 * Options of one check.
 *
 * @example
 * ```ts
 * await limiter.check({ user, tenant }, { cost: { requests: 1, tokens: 1830 }, tier: 'pro' })
 * ```
 */
export interface CheckOptions {
  /**
   * Units this request costs: one number for every rule, or per rule name
   * (`{ requests: 1, tokens: 1830 }`; a rule not named costs 1). `0` asks without charging.
   * @defaultValue 1
   */
  readonly cost?: number | Readonly<Record<string, number>>
  /** The subject's tier (`'free'`, `'pro'`): rules with `tiers` use that tier's limits. */
  readonly tier?: string
  /** Check only these rules (by name), still in one round trip. @defaultValue every rule */
  readonly rules?: readonly string[]
}

/**
 * A live-rules update, as written to the audit log.
 *
 * @example
 * ```ts
 * await limiter.rules.update(doc, { actor: 'alice', reason: 'launch', expectedVersion: limiter.rules.version })
 * ```
 */
export interface RulesUpdateOptions {
  /** Who made the change (a user, a deploy job); stored in the audit entry. */
  readonly actor?: string
  /** Why; stored in the audit entry. */
  readonly reason?: string
  /** Apply only if the stored version is still this one (optimistic concurrency). */
  readonly expectedVersion?: number
}

/**
 * What {@link LiveRules.update} returns: applied, or refused because another update came first.
 *
 * @example
 * ```ts
 * const r = await limiter.rules.update(doc, { expectedVersion: 3 })
 * if (!r.applied) console.log(`version ${r.version} came first`)
 * ```
 */
export type RulesUpdateResult =
  | { readonly applied: true; readonly version: number }
  | { readonly applied: false; readonly reason: 'conflict'; readonly version: number }

/**
 * One audit entry of a live-rules change.
 *
 * @example
 * ```ts
 * for (const e of await limiter.rules.audit(5)) console.log(e.version, e.actor, e.changed)
 * ```
 */
export interface RulesAuditEntry {
  readonly version: number
  /** Server time of the change, ms since the epoch. */
  readonly at: number
  readonly actor: string | null
  readonly reason: string | null
  /** Rule names added, removed and changed relative to the previous version. */
  readonly added: readonly string[]
  readonly removed: readonly string[]
  readonly changed: readonly string[]
}

/**
 * The limiter's rules: those given in code, or the live version stored in Redis/Valkey.
 *
 * @example
 * ```ts
 * await limiter.rules.update({ rules: { ...limiter.rules.current().rules } }, { actor: 'ops' })
 * limiter.rules.version // on every instance
 * ```
 */
export interface LiveRules {
  /** The version in force on this instance (0: the rules given in code). */
  readonly version: number
  /** The rules in force (rules and access lists). */
  current(): RuleDocument
  /**
   * Validates a new rule document, stores it as the next version with an audit entry and
   * announces it to every instance (which apply it without a restart). A bad document throws
   * `VALKIT_INVALID_OPTION` naming the path and nothing is stored or applied. Needs `live`.
   */
  update(document: RuleDocument, options?: RulesUpdateOptions): Promise<RulesUpdateResult>
  /** The most recent audit entries, newest first. */
  audit(limit?: number): Promise<readonly RulesAuditEntry[]>
  /** Reads the stored version now and applies it if it is newer. */
  refresh(): Promise<number>
}

/**
 * Counters of one limiter, as plain data: the same numbers its metrics show.
 *
 * @example
 * ```ts
 * const { checks, limited, sources, topLimited } = limiter.stats()
 * ```
 */
export interface RateLimiterStats {
  readonly checks: number
  readonly allowed: number
  readonly limited: number
  readonly blocked: number
  readonly denied: number
  readonly tooLarge: number
  /** Refused because the store could not answer (`whenUnavailable: 'deny'`). */
  readonly unavailable: number
  /** Checks by deciding source. */
  readonly sources: Readonly<
    Record<'redis' | 'memory' | 'insurance' | 'allowList' | 'denyList' | 'failOpen' | 'failClosed', number>
  >
  /** Checks Redis/Valkey could not answer (each then decided as `whenUnavailable` says). */
  readonly storeErrors: number
  /** Each rule's verdicts. */
  readonly rules: Readonly<
    Record<
      string,
      {
        readonly allowed: number
        readonly limited: number
        readonly blocked: number
        readonly tooLarge: number
      }
    >
  >
  /** The keys refused most often (`rule user=42`), approximate counts, most first. */
  readonly topLimited: readonly { readonly key: string; readonly count: number }[]
  /** Factor applied to adaptive rules' limits (1 when off). */
  readonly adaptiveFactor: number
  /** The last sample of the adaptive signal, or null. */
  readonly adaptiveSignal: number | null
  readonly rulesVersion: number
  /** This instance's share of each limit while Redis is down. */
  readonly insuranceShare: number
  /** Keys held in process (memory backend or insurance limiter). */
  readonly memoryKeys: number
}

/**
 * A rate limiter: rules checked and charged together, atomically, in one round trip.
 *
 * @example
 * ```ts
 * const limiter = createRateLimiter(valkit, {
 *   rules: { perUser: { algorithm: 'gcra', limit: 10, window: '1s', burst: 20, by: 'user' } },
 * })
 * const d = await limiter.check({ user: '42' })
 * if (!d.allowed) throw new TooManyRequests(d.retryAfterSeconds)
 * ```
 */
export interface RateLimiter {
  /** The limiter's name (its keys and metrics label). */
  readonly name: string
  /**
   * Checks every rule (or `options.rules`) for the subject and charges them all only when all
   * admit it. Never rejects for "limited"; a store outage is decided as `whenUnavailable` says
   * (and only `'throw'` rejects). Rejects with `VALKIT_INVALID_ARGUMENT` for a subject missing a
   * rule's scope, an unknown rule or a bad cost; `VALKIT_CLOSED` after `close()`.
   */
  check(subject: RateLimitSubject, options?: CheckOptions): Promise<RateLimitDecision>
  /** The same as `check` with cost 0: what would pass now, charging nothing. */
  peek(subject: RateLimitSubject, options?: Omit<CheckOptions, 'cost'>): Promise<RateLimitDecision>
  /** Forgets the subject's counters, leases and blocks on every rule (or those named). */
  reset(subject: RateLimitSubject, rules?: readonly string[]): Promise<void>
  /**
   * Blocks the subject on the named rules (default: every rule with a `penalty`) for
   * `duration`; resolves with the block's end (ms since the epoch). Only rules with a penalty
   * can be blocked.
   */
  block(subject: RateLimitSubject, duration: Duration, rules?: readonly string[]): Promise<number>
  /** Lifts a block early. */
  unblock(subject: RateLimitSubject, rules?: readonly string[]): Promise<void>
  /** The rules in force and, with `live`, their updates. */
  readonly rules: LiveRules
  /** Resolves when the limiter has loaded its live rules (at once without `live`). */
  ready(): Promise<void>
  stats(): RateLimiterStats
  /** Stops timers and subscriptions; later checks reject with `VALKIT_CLOSED`. Idempotent. */
  close(): Promise<void>
}
