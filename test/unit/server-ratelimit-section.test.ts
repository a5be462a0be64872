/**
 * The dashboard's `ratelimit` section computed from a metrics registry: per limiter, checks by
 * outcome and source, decisions by rule, store errors, gauges; LLM budgets; rates between
 * readings; top keys only for limiters given to the server; unknown series as extras.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createMetricsRegistry, type MetricsRegistry } from '../../src/core/index.js'
import { RateLimitMetrics } from '../../src/ratelimit/ratelimit-metrics.js'
import { RateLimitSectionBuilder } from '../../src/server/ratelimit-section.js'

/** The series an LLM budget set registers (declared as createLlmBudget declares them). */
function budgetSeries(registry: MetricsRegistry, name: string) {
  const reservations = registry.counter({
    name: 'ratelimit_budget_reservations_total',
    help: 'h',
    labelNames: ['name', 'outcome'],
  })
  const spent = registry.counter({
    name: 'ratelimit_budget_spent_usd_total',
    help: 'h',
    labelNames: ['name', 'budget'],
  })
  return {
    reserve: (outcome: string, n = 1) => reservations.labels({ name, outcome }).inc(n),
    spend: (budget: string, usd: number) => spent.labels({ name, budget }).inc(usd),
  }
}

void describe('dashboard ratelimit section', () => {
  void it('is empty without limiters or budgets', () => {
    const registry = createMetricsRegistry()
    registry.counter({ name: 'cache_hits_total', help: 'h' }).inc(3)
    const section = new RateLimitSectionBuilder(1000).build(registry.snapshot(), registry.prefix, 5)
    assert.deepEqual(section, { at: 5, interval: null, limiters: [], budgets: [], extras: [] })
  })

  void it('counts checks by outcome and source, decisions by rule, and rates from the second reading', () => {
    const registry = createMetricsRegistry()
    let factor = 0.5
    const m = new RateLimitMetrics(
      registry,
      'api',
      () => factor,
      () => 3,
    )
    const section = new RateLimitSectionBuilder(1000)
    // 6 allowed (one by the insurance limiter), 2 limited by perUser, 1 blocked by perUser
    for (let i = 0; i < 5; i++) m.check('allowed', 'redis')
    m.check('allowed', 'insurance')
    m.check('limited', 'redis')
    m.check('limited', 'redis')
    m.check('blocked', 'redis')
    for (let i = 0; i < 6; i++) {
      m.rule('perUser', 'allowed')
      m.rule('global', 'allowed')
    }
    m.rule('perUser', 'limited')
    m.rule('perUser', 'limited')
    m.rule('global', 'allowed') // global admitted what perUser refused
    m.rule('global', 'allowed')
    m.rule('perUser', 'blocked')
    m.storeError('VALKIT_UNAVAILABLE')

    const first = section.build(registry.snapshot(), registry.prefix, 10_000)
    assert.equal(first.interval, null)
    const [api] = first.limiters
    assert.ok(api)
    assert.equal(api.name, 'api')
    assert.deepEqual(api.checks, { total: 9, perSecond: null })
    assert.deepEqual(api.refused, { total: 3, perSecond: null })
    assert.deepEqual(Object.fromEntries(Object.entries(api.outcomes).map(([k, v]) => [k, v.total])), {
      allowed: 6,
      blocked: 1,
      limited: 2,
    })
    assert.deepEqual(Object.fromEntries(Object.entries(api.sources).map(([k, v]) => [k, v.total])), {
      insurance: 1,
      redis: 8,
    })
    assert.deepEqual(
      api.rules.map((r) => [r.rule, r.decisions.total, r.refused.total]),
      [
        ['global', 8, 0],
        ['perUser', 9, 3],
      ],
    )
    assert.equal(api.rules[1]?.outcomes.limited?.total, 2)
    assert.equal(api.storeErrors.total, 1)
    assert.equal(api.storeErrorCodes.VALKIT_UNAVAILABLE?.total, 1)
    assert.equal(api.adaptiveFactor, 0.5)
    assert.equal(api.rulesVersion, 3)
    assert.deepEqual(api.rulesUpdates, {})
    assert.equal(api.topLimited, null, 'not given to the server: no top keys')

    // two seconds later: 4 more limited, 2 more allowed
    for (let i = 0; i < 4; i++) m.check('limited', 'redis')
    m.check('allowed', 'redis')
    m.check('allowed', 'redis')
    for (let i = 0; i < 4; i++) m.rule('perUser', 'limited')
    m.rulesUpdate('applied')
    factor = 1
    const second = section.build(registry.snapshot(), registry.prefix, 12_000)
    assert.deepEqual(second.interval, { from: 10_000, to: 12_000 })
    const [api2] = second.limiters
    assert.deepEqual(api2?.checks, { total: 15, perSecond: 3 })
    assert.deepEqual(api2?.refused, { total: 7, perSecond: 2 })
    assert.deepEqual(api2?.outcomes.limited, { total: 6, perSecond: 2 })
    assert.deepEqual(api2?.outcomes.blocked, { total: 1, perSecond: 0 })
    assert.deepEqual(api2?.rules[1]?.refused, { total: 7, perSecond: 2 })
    assert.deepEqual(api2?.rules[0]?.decisions, { total: 8, perSecond: 0 })
    assert.deepEqual(api2?.rulesUpdates.applied, { total: 1, perSecond: 0.5 })
    assert.equal(api2?.adaptiveFactor, 1)
  })

  void it('keeps the last interval for a reading less than half an interval later, with fresh totals', () => {
    const registry = createMetricsRegistry()
    const m = new RateLimitMetrics(
      registry,
      'api',
      () => 1,
      () => 0,
    )
    const section = new RateLimitSectionBuilder(1000)
    section.build(registry.snapshot(), registry.prefix, 0)
    for (let i = 0; i < 4; i++) m.check('limited', 'redis')
    const tick = section.build(registry.snapshot(), registry.prefix, 1_000)
    m.check('limited', 'redis')
    const early = section.build(registry.snapshot(), registry.prefix, 1_200)
    assert.deepEqual(early.interval, tick.interval)
    assert.deepEqual(early.limiters[0]?.refused, { total: 5, perSecond: 4 })
    const next = section.build(registry.snapshot(), registry.prefix, 2_000)
    assert.deepEqual(next.limiters[0]?.refused, { total: 5, perSecond: 1 }, 'the early reading lost nothing')
  })

  void it('sorts limiters by name and shows top keys only for limiters given to the server', () => {
    const registry = createMetricsRegistry()
    new RateLimitMetrics(
      registry,
      'zeta',
      () => 1,
      () => 0,
    ).check('allowed', 'redis')
    new RateLimitMetrics(
      registry,
      'alpha',
      () => 1,
      () => 0,
    ).check('limited', 'redis')
    const top = new Map([
      [
        'alpha',
        [
          [{ key: 'perUser user=7', count: 4 }],
          [
            { key: 'perUser user=7', count: 1 },
            { key: 'perUser user=9', count: 2 },
          ],
        ],
      ],
      ['idle', [[]]],
    ])
    const section = new RateLimitSectionBuilder(1000).build(registry.snapshot(), registry.prefix, 0, top)
    assert.deepEqual(
      section.limiters.map((l) => l.name),
      ['alpha', 'idle', 'zeta'],
      'a limiter given to the server shows before its first check',
    )
    assert.deepEqual(section.limiters[0]?.topLimited, [
      { key: 'perUser user=7', count: 5 },
      { key: 'perUser user=9', count: 2 },
    ])
    assert.deepEqual(section.limiters[1]?.topLimited, [])
    assert.deepEqual(section.limiters[1]?.checks, { total: 0, perSecond: null })
    assert.equal(section.limiters[2]?.topLimited, null)
  })

  void it('reports a closed limiter’s gauges as n/a and keeps its counters', () => {
    const registry = createMetricsRegistry()
    const m = new RateLimitMetrics(
      registry,
      'api',
      () => 1,
      () => 2,
    )
    m.check('allowed', 'redis')
    m.detach()
    const [api] = new RateLimitSectionBuilder(1000).build(registry.snapshot(), registry.prefix, 0).limiters
    assert.equal(api?.checks.total, 1)
    assert.equal(api?.adaptiveFactor, null)
    assert.equal(api?.rulesVersion, null)
  })

  void it('adds up the dollars spent per budget set, with reservations by outcome', () => {
    const registry = createMetricsRegistry()
    const llm = budgetSeries(registry, 'llm')
    const section = new RateLimitSectionBuilder(1000)
    llm.reserve('reserved', 3)
    llm.reserve('exceeded')
    llm.spend('userDaily', 0.25)
    llm.spend('tenantMonthly', 0.25)
    section.build(registry.snapshot(), registry.prefix, 0)
    llm.spend('userDaily', 0.5)
    llm.spend('tenantMonthly', 0.5)
    const next = section.build(registry.snapshot(), registry.prefix, 1_000)
    assert.deepEqual(next.limiters, [], 'a budget set is not a limiter')
    assert.deepEqual(next.budgets, [
      {
        name: 'llm',
        spentUsd: { total: 1.5, perSecond: 1 },
        budgets: [
          { budget: 'tenantMonthly', spentUsd: { total: 0.75, perSecond: 0.5 } },
          { budget: 'userDaily', spentUsd: { total: 0.75, perSecond: 0.5 } },
        ],
        reservations: {
          exceeded: { total: 1, perSecond: 0 },
          reserved: { total: 3, perSecond: 0 },
        },
      },
    ])
  })

  void it('reports series it does not know as extras, with rates for counters', () => {
    const registry = createMetricsRegistry({ prefix: 'app_' })
    new RateLimitMetrics(
      registry,
      'api',
      () => 1,
      () => 0,
    ).check('allowed', 'redis')
    const leases = registry
      .gauge({ name: 'ratelimit_leases_open', help: 'h', labelNames: ['limiter'] })
      .labels({ limiter: 'api' })
    const sweeps = registry.counter({ name: 'ratelimit_sweeps_total', help: 'h' })
    // a known name with a new outcome: still counted, as its own outcome
    const section = new RateLimitSectionBuilder(1000)
    section.build(registry.snapshot(), registry.prefix, 0)
    leases.set(4)
    sweeps.inc(6)
    new RateLimitMetrics(
      registry,
      'api',
      () => 1,
      () => 0,
    ).check('shed' as 'limited', 'redis')
    const next = section.build(registry.snapshot(), registry.prefix, 2_000)
    const api = next.limiters[0]
    assert.deepEqual(api?.extras, [
      { name: 'ratelimit_leases_open', labels: {}, type: 'gauge', value: 4, perSecond: null },
    ])
    assert.deepEqual(api?.outcomes.shed, { total: 1, perSecond: 0.5 })
    assert.equal(api?.refused.total, 1, 'an outcome other than allowed is a refusal')
    assert.deepEqual(next.extras, [
      { name: 'ratelimit_sweeps_total', labels: {}, type: 'counter', value: 6, perSecond: 3 },
    ])
  })
})
