import type { Counter, CounterChild, MetricsRegistry } from '../core/index.js'
import type { RateLimitOutcome, RateLimitSource } from './decision.js'

/** What the gauges read from one live limiter at scrape time. */
interface LimiterSource {
  readonly limiter: string
  factor(): number
  version(): number
  budgetSpent?(): ReadonlyMap<string, number>
}

const sourcesByRegistry = new WeakMap<MetricsRegistry, Set<LimiterSource>>()

function sources(registry: MetricsRegistry): Set<LimiterSource> {
  let set = sourcesByRegistry.get(registry)
  if (set !== undefined) return set
  sourcesByRegistry.set(registry, (set = new Set()))
  const live = set
  registry.gauge({
    name: 'ratelimit_adaptive_factor',
    help: 'Factor applied to the limits of adaptive rules (1 = unscaled).',
    labelNames: ['limiter'],
    collect: (g) => {
      for (const s of live) g.labels({ limiter: s.limiter }).set(s.factor())
    },
  })
  registry.gauge({
    name: 'ratelimit_rules_version',
    help: 'Version of the rules in force (0 = the rules given in code).',
    labelNames: ['limiter'],
    collect: (g) => {
      for (const s of live) g.labels({ limiter: s.limiter }).set(s.version())
    },
  })
  return set
}

/** The metric series one limiter updates. @internal */
export class RateLimitMetrics {
  readonly #checks: Counter<'limiter' | 'outcome' | 'source'>
  readonly #rules: Counter<'limiter' | 'rule' | 'outcome'>
  readonly #errors: Counter<'limiter' | 'code'>
  readonly #updates: Counter<'limiter' | 'result'>
  readonly #checkChildren = new Map<string, Map<string, CounterChild>>()
  readonly #ruleChildren = new Map<string, Map<string, CounterChild>>()
  readonly #source: LimiterSource
  readonly #live: Set<LimiterSource>

  constructor(
    registry: MetricsRegistry,
    readonly limiter: string,
    factor: () => number,
    version: () => number,
  ) {
    this.#checks = registry.counter({
      name: 'ratelimit_checks_total',
      help: 'Rate-limit checks by outcome (allowed, limited, blocked, denied, too-large, unavailable) and deciding source.',
      labelNames: ['limiter', 'outcome', 'source'],
    })
    this.#rules = registry.counter({
      name: 'ratelimit_rule_decisions_total',
      help: "Each rule's verdict within the checks it took part in (allowed, limited, blocked, too-large).",
      labelNames: ['limiter', 'rule', 'outcome'],
    })
    this.#errors = registry.counter({
      name: 'ratelimit_store_errors_total',
      help: 'Checks Redis/Valkey could not answer, by error code; decided as whenUnavailable says.',
      labelNames: ['limiter', 'code'],
    })
    this.#updates = registry.counter({
      name: 'ratelimit_rules_updates_total',
      help: 'Live rule versions applied or rejected by this instance.',
      labelNames: ['limiter', 'result'],
    })
    this.#source = { limiter, factor, version }
    this.#live = sources(registry)
    this.#live.add(this.#source)
  }

  check(outcome: RateLimitOutcome, source: RateLimitSource): void {
    let bySource = this.#checkChildren.get(outcome)
    if (bySource === undefined) this.#checkChildren.set(outcome, (bySource = new Map<string, CounterChild>()))
    let child = bySource.get(source)
    if (child === undefined) {
      child = this.#checks.labels({ limiter: this.limiter, outcome, source })
      bySource.set(source, child)
    }
    child.inc()
  }

  rule(rule: string, outcome: string): void {
    let byOutcome = this.#ruleChildren.get(rule)
    if (byOutcome === undefined) this.#ruleChildren.set(rule, (byOutcome = new Map<string, CounterChild>()))
    let child = byOutcome.get(outcome)
    if (child === undefined) {
      child = this.#rules.labels({ limiter: this.limiter, rule, outcome })
      byOutcome.set(outcome, child)
    }
    child.inc()
  }

  storeError(code: string): void {
    this.#errors.labels({ limiter: this.limiter, code }).inc()
  }

  rulesUpdate(result: 'applied' | 'rejected'): void {
    this.#updates.labels({ limiter: this.limiter, result }).inc()
  }

  detach(): void {
    this.#live.delete(this.#source)
  }
}

/**
 * The keys refused most often, by the space-saving algorithm: `capacity` counters; a new key
 * takes over the smallest one (its count is an overestimate by at most that smallest count).
 *
 * @internal
 */
export class TopKeys {
  readonly #counts = new Map<string, number>()
  constructor(private readonly capacity: number) {}

  add(key: string): void {
    const counts = this.#counts
    const current = counts.get(key)
    if (current !== undefined) {
      counts.set(key, current + 1)
      return
    }
    if (counts.size < this.capacity) {
      counts.set(key, 1)
      return
    }
    let minKey = ''
    let min = Infinity
    for (const [k, c] of counts) {
      if (c < min) [minKey, min] = [k, c]
    }
    counts.delete(minKey)
    counts.set(key, min + 1)
  }

  top(n: number): { key: string; count: number }[] {
    return [...this.#counts]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([key, count]) => ({ key, count }))
  }
}
