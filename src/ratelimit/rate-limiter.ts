import { randomBytes } from 'node:crypto'
import { ValkitError, parseDuration, traced, type Duration, type Valkit } from '../core/index.js'
import { AdaptiveLimit } from './adaptive-limit.js'
import {
  buildDecision,
  plainDecision,
  type RateLimitDecision,
  type RateLimitLease,
  type RateLimitSource,
} from './decision.js'
import { InsuranceShare } from './insurance-share.js'
import { LiveRuleControl } from './live-rules.js'
import { MemoryEngine } from './memory-engine.js'
import type { ResolvedRateLimiterOptions } from './ratelimit-options.js'
import { RateLimitMetrics, TopKeys } from './ratelimit-metrics.js'
import type { CheckOptions, LiveRules, RateLimiter, RateLimiterStats } from './ratelimit-types.js'
import { RedisStore } from './redis-store.js'
import type { CheckPlan, CompiledRule, RuleSet } from './rule-set.js'
import { normalizeSubject, type RateLimitSubject } from './subject.js'

type RuleCounts = { allowed: number; limited: number; blocked: number; tooLarge: number }
const traceCheck = traced('valkit:ratelimit:check')
const STORE_ERRORS = new Set([
  'VALKIT_UNAVAILABLE',
  'VALKIT_TIMEOUT',
  'VALKIT_READONLY',
  'VALKIT_NOT_DURABLE',
  'VALKIT_AUTH',
  'VALKIT_TLS',
  'VALKIT_SCRIPT',
  'VALKIT_COMMAND',
])

/** A store (Redis, the memory backend, the insurance limiter) as a lease needs it. */
interface LeaseStore {
  release(keys: readonly string[], id: string): number | Promise<number>
  extend(keys: readonly string[], id: string, ttlMs: number): number | Promise<number>
}

/** @internal */
export class ValkitRateLimiter implements RateLimiter {
  readonly name: string
  readonly rules: LiveRules
  readonly #valkit: Valkit
  readonly #options: ResolvedRateLimiterOptions
  readonly #control: LiveRuleControl
  readonly #redis: RedisStore | null
  /** The memory backend (no Redis configured), or the insurance limiter. */
  readonly #memory: MemoryEngine
  readonly #insurance: InsuranceShare
  readonly #adaptive: AdaptiveLimit | null
  readonly #metrics: RateLimitMetrics
  readonly #top = new TopKeys(50)
  readonly #instanceId = randomBytes(6).toString('hex')
  readonly #unhooks: (() => void)[] = []
  readonly #memoryLease: (plan: CheckPlan) => RateLimitLease
  readonly #redisLease: (plan: CheckPlan) => RateLimitLease
  #leaseSeq = 0
  #closed = false
  /** The error insurance decisions carry while the supervisor says Redis is not in use. */
  #outage: ValkitError | null = null
  readonly #counts = {
    checks: 0,
    allowed: 0,
    limited: 0,
    blocked: 0,
    denied: 0,
    tooLarge: 0,
    unavailable: 0,
    storeErrors: 0,
  }
  readonly #sources: Record<RateLimitSource, number> = {
    redis: 0,
    memory: 0,
    insurance: 0,
    'allow-list': 0,
    'deny-list': 0,
    'fail-open': 0,
    'fail-closed': 0,
  }
  readonly #ruleCounts = new Map<string, RuleCounts>()

  constructor(valkit: Valkit, options: ResolvedRateLimiterOptions) {
    this.#valkit = valkit
    this.#options = options
    this.name = options.name
    const memoryOnly = valkit.config.topology.kind === 'memory'
    this.#redis = memoryOnly ? null : new RedisStore(valkit, options.timeoutMs)
    this.#memory = new MemoryEngine(options.maxKeys)
    this.#memoryLease = this.#leaseOf(this.#memory)
    this.#redisLease = this.#leaseOf(this.#redis ?? this.#memory)
    const head = valkit.keys.key('ratelimit', options.name)
    this.#control = new LiveRuleControl(valkit, options, head.slice(0, -1) + ':', (version) => {
      this.#metrics.rulesUpdate(version === null ? 'rejected' : 'applied')
    })
    this.rules = this.#control
    this.#insurance = new InsuranceShare(
      valkit,
      `${head}:instances`,
      this.#instanceId,
      options.insuranceShare,
    )
    this.#adaptive = options.adaptive === null ? null : new AdaptiveLimit(options.adaptive, valkit)
    this.#metrics = new RateLimitMetrics(
      valkit.metrics,
      options.name,
      () => this.#adaptive?.factor ?? 1,
      () => this.#control.version,
    )
    if (!memoryOnly) {
      this.#unhooks.push(
        valkit.supervisor.onChange((change) => {
          this.#outage = null
          if (change.to === 'ready') void this.#insurance.announce()
        }),
      )
    }
  }

  check(subject: RateLimitSubject, options?: CheckOptions): Promise<RateLimitDecision> {
    if (!traceCheck.hasSubscribers) return this.#check(subject, options)
    return traceCheck(() => this.#check(subject, options), { limiter: this.name })
  }

  peek(subject: RateLimitSubject, options?: Omit<CheckOptions, 'cost'>): Promise<RateLimitDecision> {
    return this.check(subject, { ...options, cost: 0 })
  }

  async #check(subject: RateLimitSubject, options: CheckOptions | undefined): Promise<RateLimitDecision> {
    if (this.#closed) throw closedError()
    const rules = this.#control.ruleSet
    const s = normalizeSubject(subject)
    const denied = rules.deny.size === 0 ? null : rules.deny.match(s)
    if (denied !== null)
      return this.#count(plainDecision(false, 'denied', 'deny-list', denied, null), rules, s)
    const allowed = rules.allow.size === 0 ? null : rules.allow.match(s)
    if (allowed !== null)
      return this.#count(plainDecision(true, 'allowed', 'allow-list', allowed, null), rules, s)
    const selected = rules.select(options?.rules)
    const cost = options?.cost ?? 1
    const tier = options?.tier
    const adaptive = this.#adaptive
    const factor = adaptive === null ? 1 : adaptive.factor
    const scaled = adaptive === null ? null : adaptive.scaled
    const leaseId = this.#leaseId(selected)
    if (this.#redis === null) {
      const plan = rules.plan(selected, s, cost, tier, 1, factor, scaled, leaseId)
      const reply = this.#memory.check(plan.keys, plan.args)
      return this.#count(buildDecision(plan, reply, 'memory', this.#memoryLease, null), rules, s)
    }
    if (this.#valkit.supervisor.backend !== 'redis') {
      this.#outage ??= new ValkitError(
        'VALKIT_UNAVAILABLE',
        `Redis/Valkey is not in use (supervisor: ${this.#valkit.supervisor.state}); the rate limiter decides as whenUnavailable says.`,
      )
      return this.#unavailable(this.#outage, rules, selected, s, cost, tier, factor, scaled, leaseId)
    }
    const plan = rules.plan(selected, s, cost, tier, 1, factor, scaled, leaseId)
    let reply
    try {
      reply = (await this.#redis.check(plan.keys, plan.args)) as number[]
    } catch (err) {
      if (!(err instanceof ValkitError) || !STORE_ERRORS.has(err.code)) throw err
      this.#counts.storeErrors++
      this.#metrics.storeError(err.code)
      return this.#unavailable(err, rules, selected, s, cost, tier, factor, scaled, leaseId)
    }
    return this.#count(buildDecision(plan, reply, 'redis', this.#redisLease, null), rules, s)
  }

  #unavailable(
    error: ValkitError,
    rules: RuleSet,
    selected: readonly CompiledRule[],
    s: Readonly<Record<string, string>>,
    cost: CheckOptions['cost'] & {},
    tier: string | undefined,
    factor: number,
    scaled: ReadonlySet<string> | null,
    leaseId: string,
  ): RateLimitDecision {
    const policy = this.#options.whenUnavailable
    if (policy === 'throw') throw error
    if (policy === 'allow')
      return this.#count(plainDecision(true, 'allowed', 'fail-open', null, error), rules, s)
    if (policy === 'deny')
      return this.#count(plainDecision(false, 'unavailable', 'fail-closed', null, error), rules, s)
    const plan = rules.plan(selected, s, cost, tier, this.#insurance.share, factor, scaled, leaseId)
    const reply = this.#memory.check(plan.keys, plan.args)
    return this.#count(buildDecision(plan, reply, 'insurance', this.#memoryLease, error), rules, s)
  }

  #leaseId(selected: readonly CompiledRule[]): string {
    for (const rule of selected) {
      if (rule.algorithm === 'concurrency') return `${this.#instanceId}${(this.#leaseSeq++).toString(36)}`
    }
    return ''
  }

  #leaseOf(store: LeaseStore): (plan: CheckPlan) => RateLimitLease {
    return (plan) => {
      const keys = plan.leaseKeys!
      const id = plan.leaseId
      const ttlMs = plan.rules.find((r) => r.rule.algorithm === 'concurrency')!.windowMs
      return {
        id,
        release: async () => {
          try {
            return (await store.release(keys, id)) > 0
          } catch {
            return false // it expires by itself
          }
        },
        extend: async (ttl?: Duration) => {
          const ms = ttl === undefined ? ttlMs : parseDuration(ttl, 'lease.extend(ttl)')
          try {
            return (await store.extend(keys, id, ms)) > 0
          } catch {
            return false
          }
        },
      }
    }
  }

  #count(
    decision: RateLimitDecision,
    rules: RuleSet,
    subject: Readonly<Record<string, string>>,
  ): RateLimitDecision {
    const c = this.#counts
    c.checks++
    switch (decision.outcome) {
      case 'allowed':
        c.allowed++
        break
      case 'limited':
        c.limited++
        break
      case 'blocked':
        c.blocked++
        break
      case 'denied':
        c.denied++
        break
      case 'too-large':
        c.tooLarge++
        break
      default:
        c.unavailable++
    }
    this.#sources[decision.source]++
    this.#metrics.check(decision.outcome, decision.source)
    for (const rule of decision.rules) {
      let counts = this.#ruleCounts.get(rule.rule)
      if (counts === undefined) {
        counts = { allowed: 0, limited: 0, blocked: 0, tooLarge: 0 }
        this.#ruleCounts.set(rule.rule, counts)
      }
      const outcome = rule.outcome
      if (outcome === 'too-large') counts.tooLarge++
      else counts[outcome]++
      this.#metrics.rule(rule.rule, outcome)
    }
    if (!decision.allowed && decision.rule !== null) {
      const rule = rules.byName.get(decision.rule)
      if (rule !== undefined) this.#top.add(`${rule.name} ${rules.subjectPart(rule, subject)}`)
    }
    return decision
  }

  async reset(subject: RateLimitSubject, names?: readonly string[]): Promise<void> {
    if (this.#closed) throw closedError()
    const rules = this.#control.ruleSet
    const s = normalizeSubject(subject)
    const selected = rules.select(names)
    const keys = rules.keysOf(selected, s)
    this.#memory.delete(keys)
    await this.#redis?.delete(keys)
  }

  async block(subject: RateLimitSubject, duration: Duration, names?: readonly string[]): Promise<number> {
    const ms = parseDuration(duration, 'block(duration)')
    if (ms <= 0) {
      throw new ValkitError(
        'VALKIT_INVALID_ARGUMENT',
        'block(duration) needs a duration > 0; unblock() lifts a block.',
      )
    }
    return this.#setBlock(subject, ms, names)
  }

  async unblock(subject: RateLimitSubject, names?: readonly string[]): Promise<void> {
    await this.#setBlock(subject, 0, names)
  }

  async #setBlock(
    subject: RateLimitSubject,
    ms: number,
    names: readonly string[] | undefined,
  ): Promise<number> {
    if (this.#closed) throw closedError()
    const rules = this.#control.ruleSet
    const s = normalizeSubject(subject)
    const selected = names === undefined ? rules.rules.filter((r) => r.penalty !== null) : rules.select(names)
    const without = selected.find((r) => r.penalty === null)
    if (selected.length === 0 || without !== undefined) {
      throw new ValkitError(
        'VALKIT_INVALID_ARGUMENT',
        without === undefined
          ? 'No rule of this limiter has a penalty: only rules with `penalty` can block a key.'
          : `Rule "${without.name}" has no penalty: only rules with \`penalty\` can block a key.`,
        { details: { argument: 'rules' } },
      )
    }
    const keys = rules.penaltyKeys(selected, s)
    const local = this.#memory.block(keys, ms)
    return this.#redis === null ? local : this.#redis.block(keys, ms)
  }

  ready(): Promise<void> {
    return this.#control.ready()
  }

  stats(): RateLimiterStats {
    const c = this.#counts
    const s = this.#sources
    return {
      ...c,
      sources: {
        redis: s.redis,
        memory: s.memory,
        insurance: s.insurance,
        allowList: s['allow-list'],
        denyList: s['deny-list'],
        failOpen: s['fail-open'],
        failClosed: s['fail-closed'],
      },
      rules: Object.fromEntries([...this.#ruleCounts].map(([name, counts]) => [name, { ...counts }])),
      topLimited: this.#top.top(10),
      adaptiveFactor: this.#adaptive?.factor ?? 1,
      adaptiveSignal: this.#adaptive?.lastSample ?? null,
      rulesVersion: this.#control.version,
      insuranceShare: this.#insurance.share,
      memoryKeys: this.#memory.size,
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const unhook of this.#unhooks) unhook()
    this.#insurance.close()
    this.#adaptive?.close()
    this.#metrics.detach()
    await this.#control.close()
    this.#memory.close()
  }
}

function closedError(): ValkitError {
  return new ValkitError('VALKIT_CLOSED', 'This rate limiter is closed; create a new one.')
}
