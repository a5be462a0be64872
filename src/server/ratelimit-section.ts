import type { MetricSnapshot } from '../core/index.js'
import { addTo, RateTracker, type Counted, type SectionInterval } from './rate-tracker.js'
import { byName, readSeries, seriesKey, withoutLabel, type SectionExtra } from './section-series.js'

/** One key among a limiter's most refused, from `limiter.stats().topLimited`. */
export interface LimitedKey {
  /** `rule scope=value` (API keys hashed by the limiter). */
  readonly key: string
  /** Refusals, approximate (a space-saving sketch: at most over-counted). */
  readonly count: number
}

/** One rule of a limiter: its verdicts in the checks it took part in. */
export interface RulePanelStats {
  readonly rule: string
  /** Every verdict of this rule (`valkit_ratelimit_rule_decisions_total`, all outcomes). */
  readonly decisions: Counted
  /** Verdicts other than `allowed`. */
  readonly refused: Counted
  /** By outcome: `allowed`, `limited`, `blocked`, `too-large` (those seen so far). */
  readonly outcomes: Readonly<Record<string, Counted>>
}

/** One rate limiter (`createRateLimiter(valkit, { name })`) in the dashboard snapshot. */
export interface RateLimiterPanelStats {
  /** The limiter's name (its `limiter` label). */
  readonly name: string
  /** Every check (`valkit_ratelimit_checks_total`, all outcomes and sources). */
  readonly checks: Counted
  /** Checks with an outcome other than `allowed`. */
  readonly refused: Counted
  /** By outcome: `allowed`, `limited`, `blocked`, `denied`, `too-large`, `unavailable` (those seen). */
  readonly outcomes: Readonly<Record<string, Counted>>
  /** By deciding source: `redis`, `memory`, `insurance`, `allow-list`, `deny-list`, `fail-open`, `fail-closed`. */
  readonly sources: Readonly<Record<string, Counted>>
  /** Each rule's verdicts, sorted by rule name. */
  readonly rules: readonly RulePanelStats[]
  /** Checks the store could not answer (`valkit_ratelimit_store_errors_total`). */
  readonly storeErrors: Counted
  /** The same by error code. */
  readonly storeErrorCodes: Readonly<Record<string, Counted>>
  /** Factor applied to adaptive rules now; `null` when not reported (the limiter closed). */
  readonly adaptiveFactor: number | null
  /** Live-rules version in force (0: the rules in code); `null` when not reported. */
  readonly rulesVersion: number | null
  /** Live versions by result: `applied`, `rejected`. */
  readonly rulesUpdates: Readonly<Record<string, Counted>>
  /**
   * The keys refused most often, most first, when the limiter was given to the server
   * (`createServer({ panels: { rateLimiters: [limiter] } })`); `null` otherwise (they are not
   * metrics: unbounded, and keys may identify users).
   */
  readonly topLimited: readonly LimitedKey[] | null
  /** Other `valkit_ratelimit_*` series of this limiter. */
  readonly extras: readonly SectionExtra[]
}

/** One LLM budget set (`createLlmBudget(valkit, { name })`). */
export interface LlmBudgetPanelStats {
  /** Its `name` label. */
  readonly name: string
  /** Dollars charged by settled calls, over every budget of the set. */
  readonly spentUsd: Counted
  /** The same per budget (`userDaily`, `tenantMonthly`...), sorted by name. */
  readonly budgets: readonly { readonly budget: string; readonly spentUsd: Counted }[]
  /** Reservations by outcome: `reserved`, `exceeded`, `unavailable`, `unmetered`. */
  readonly reservations: Readonly<Record<string, Counted>>
}

/** The `ratelimit` section of the dashboard snapshot. */
export interface RateLimitSection {
  /** Epoch milliseconds of the registry reading. */
  readonly at: number
  /** What the rates cover; `null` before there are two readings. */
  readonly interval: SectionInterval | null
  /** Every limiter with series in the registry, sorted by name; empty without limiters. */
  readonly limiters: readonly RateLimiterPanelStats[]
  /** Every LLM budget set with series in the registry, sorted by name. */
  readonly budgets: readonly LlmBudgetPanelStats[]
  /** `valkit_ratelimit_*` series that name neither a limiter nor a budget. */
  readonly extras: readonly SectionExtra[]
}

/**
 * The top limited keys of the limiters given to the server, by limiter name (several limiters of
 * one name count the same keys: their lists are merged).
 */
export type TopLimitedByLimiter = ReadonlyMap<string, readonly (readonly LimitedKey[])[]>

interface LimiterBuilder {
  readonly outcomes: Set<string>
  readonly sources: Set<string>
  readonly rules: Map<string, Set<string>>
  readonly codes: Set<string>
  readonly updates: Set<string>
  adaptiveFactor: number | null
  rulesVersion: number | null
  readonly extras: PendingExtra[]
}

/** An extra series before its rate is known, with its key in the tracker. */
interface PendingExtra {
  readonly sample: Omit<SectionExtra, 'perSecond'>
  readonly key: string
}

interface BudgetBuilder {
  readonly budgets: Set<string>
  readonly outcomes: Set<string>
}

const vkey = (...parts: string[]): string => JSON.stringify(parts)
const K = {
  outcome: (l: string, o: string) => vkey('checks', l, 'outcome', o),
  source: (l: string, s: string) => vkey('checks', l, 'source', s),
  checks: (l: string) => vkey('checks', l),
  refused: (l: string) => vkey('checks', l, 'refused'),
  rule: (l: string, r: string, o: string) => vkey('rule', l, r, o),
  ruleAll: (l: string, r: string) => vkey('rule', l, r),
  ruleRefused: (l: string, r: string) => vkey('rule', l, r, '', 'refused'),
  errors: (l: string) => vkey('errors', l),
  code: (l: string, c: string) => vkey('errors', l, c),
  update: (l: string, r: string) => vkey('updates', l, r),
  spent: (n: string) => vkey('spent', n),
  spentBy: (n: string, b: string) => vkey('spent', n, b),
  reservation: (n: string, o: string) => vkey('reserve', n, o),
}

function emptyLimiter(): LimiterBuilder {
  return {
    outcomes: new Set(),
    sources: new Set(),
    rules: new Map(),
    codes: new Set(),
    updates: new Set(),
    adaptiveFactor: null,
    rulesVersion: null,
    extras: [],
  }
}

/** Merges the top keys of limiters that share a name (they count the same keys). */
function mergeTop(lists: readonly (readonly LimitedKey[])[]): LimitedKey[] {
  if (lists.length === 1) return [...lists[0]!]
  const counts = new Map<string, number>()
  for (const list of lists) for (const { key, count } of list) addTo(counts, key, count)
  return [...counts].map(([key, count]) => ({ key, count })).sort((a, b) => b.count - a.count)
}

/**
 * Turns registry readings into the dashboard's `ratelimit` section: per limiter, checks by
 * outcome and source, each rule's verdicts (decisions per second by rule), store errors, the
 * adaptive factor and rules version; per LLM budget set, the dollars spent and reservations.
 * Rates follow {@link RateTracker}'s rule. Series it does not know become `extras`.
 *
 * @example
 * ```ts
 * const section = new RateLimitSectionBuilder(1000)
 * const ratelimit = section.build(valkit.metrics.snapshot(), valkit.metrics.prefix, Date.now())
 * for (const l of ratelimit.limiters) console.log(l.name, l.refused.perSecond)
 * ```
 */
export class RateLimitSectionBuilder {
  readonly #tracker: RateTracker

  /** `intervalMs`: the snapshot interval. */
  constructor(intervalMs: number) {
    this.#tracker = new RateTracker(intervalMs)
  }

  /** Builds the section from one registry snapshot taken at `at`; `topLimited` from the limiters given to the server. */
  build(
    metrics: readonly MetricSnapshot[],
    prefix: string,
    at: number,
    topLimited: TopLimitedByLimiter = new Map(),
  ): RateLimitSection {
    const values = new Map<string, number>()
    const limiters = new Map<string, LimiterBuilder>()
    const budgets = new Map<string, BudgetBuilder>()
    const sectionExtras: PendingExtra[] = []
    const limiter = (name: string): LimiterBuilder => {
      let b = limiters.get(name)
      if (b === undefined) limiters.set(name, (b = emptyLimiter()))
      return b
    }
    const budget = (name: string): BudgetBuilder => {
      let b = budgets.get(name)
      if (b === undefined) budgets.set(name, (b = { budgets: new Set(), outcomes: new Set() }))
      return b
    }
    for (const s of readSeries(metrics, prefix, 'ratelimit_')) {
      const l = s.labels.limiter
      const counter = s.type === 'counter'
      if (l !== undefined && counter && s.name === 'ratelimit_checks_total') {
        const b = limiter(l)
        const outcome = s.labels.outcome ?? 'unknown'
        const source = s.labels.source ?? 'unknown'
        b.outcomes.add(outcome)
        b.sources.add(source)
        addTo(values, K.outcome(l, outcome), s.value)
        addTo(values, K.source(l, source), s.value)
        addTo(values, K.checks(l), s.value)
        if (outcome !== 'allowed') addTo(values, K.refused(l), s.value)
      } else if (l !== undefined && counter && s.name === 'ratelimit_rule_decisions_total') {
        const b = limiter(l)
        const rule = s.labels.rule ?? ''
        const outcome = s.labels.outcome ?? 'unknown'
        let outcomes = b.rules.get(rule)
        if (outcomes === undefined) b.rules.set(rule, (outcomes = new Set()))
        outcomes.add(outcome)
        addTo(values, K.rule(l, rule, outcome), s.value)
        addTo(values, K.ruleAll(l, rule), s.value)
        if (outcome !== 'allowed') addTo(values, K.ruleRefused(l, rule), s.value)
      } else if (l !== undefined && counter && s.name === 'ratelimit_store_errors_total') {
        const code = s.labels.code ?? 'unknown'
        limiter(l).codes.add(code)
        addTo(values, K.errors(l), s.value)
        addTo(values, K.code(l, code), s.value)
      } else if (l !== undefined && counter && s.name === 'ratelimit_rules_updates_total') {
        const result = s.labels.result ?? 'unknown'
        limiter(l).updates.add(result)
        addTo(values, K.update(l, result), s.value)
      } else if (l !== undefined && s.type === 'gauge' && s.name === 'ratelimit_adaptive_factor') {
        limiter(l).adaptiveFactor = s.value
      } else if (l !== undefined && s.type === 'gauge' && s.name === 'ratelimit_rules_version') {
        limiter(l).rulesVersion = s.value
      } else if (s.labels.name !== undefined && counter && s.name === 'ratelimit_budget_spent_usd_total') {
        const n = s.labels.name
        const which = s.labels.budget ?? ''
        budget(n).budgets.add(which)
        addTo(values, K.spent(n), s.value)
        addTo(values, K.spentBy(n, which), s.value)
      } else if (s.labels.name !== undefined && counter && s.name === 'ratelimit_budget_reservations_total') {
        const n = s.labels.name
        const outcome = s.labels.outcome ?? 'unknown'
        budget(n).outcomes.add(outcome)
        addTo(values, K.reservation(n, outcome), s.value)
      } else {
        const key = seriesKey(s.name, s.labels)
        values.set(key, s.value)
        const extra = { name: s.name, type: s.type, value: s.value }
        if (l !== undefined) {
          limiter(l).extras.push({ sample: { ...extra, labels: withoutLabel(s.labels, 'limiter') }, key })
        } else {
          sectionExtras.push({ sample: { ...extra, labels: s.labels }, key })
        }
      }
    }
    // limiters given to the server appear even before their first check
    for (const name of topLimited.keys()) limiter(name)

    const t = this.#tracker
    t.advance(at, values)
    const counted = (key: string): Counted => t.counted(key, values.get(key) ?? 0)
    const record = (names: Iterable<string>, key: (name: string) => string): Record<string, Counted> => {
      const out: Record<string, Counted> = {}
      for (const name of [...names].sort()) out[name] = counted(key(name))
      return out
    }
    const withRate = ({ sample, key }: PendingExtra): SectionExtra => ({
      ...sample,
      perSecond: sample.type === 'gauge' ? null : t.perSecond(key),
    })

    return {
      at,
      interval: t.interval,
      limiters: [...limiters].sort(byName(([name]) => name)).map(([name, b]): RateLimiterPanelStats => {
        const top = topLimited.get(name)
        return {
          name,
          checks: counted(K.checks(name)),
          refused: counted(K.refused(name)),
          outcomes: record(b.outcomes, (o) => K.outcome(name, o)),
          sources: record(b.sources, (s) => K.source(name, s)),
          rules: [...b.rules].sort(byName(([rule]) => rule)).map(([rule, outcomes]) => ({
            rule,
            decisions: counted(K.ruleAll(name, rule)),
            refused: counted(K.ruleRefused(name, rule)),
            outcomes: record(outcomes, (o) => K.rule(name, rule, o)),
          })),
          storeErrors: counted(K.errors(name)),
          storeErrorCodes: record(b.codes, (c) => K.code(name, c)),
          adaptiveFactor: b.adaptiveFactor,
          rulesVersion: b.rulesVersion,
          rulesUpdates: record(b.updates, (r) => K.update(name, r)),
          topLimited: top === undefined ? null : mergeTop(top),
          extras: b.extras.map(withRate),
        }
      }),
      budgets: [...budgets].sort(byName(([name]) => name)).map(([name, b]) => ({
        name,
        spentUsd: counted(K.spent(name)),
        budgets: [...b.budgets]
          .sort()
          .map((which) => ({ budget: which, spentUsd: counted(K.spentBy(name, which)) })),
        reservations: record(b.outcomes, (o) => K.reservation(name, o)),
      })),
      extras: sectionExtras.map(withRate),
    }
  }
}
