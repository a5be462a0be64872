/**
 * The dashboard's `caches` section computed from a metrics registry: totals per namespace,
 * rates between readings, hit rates, optional series reported as null, unknown series as extras.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createMetricsRegistry, type MetricsRegistry } from '../../src/core/index.js'
import { CacheSection } from '../../src/server/cache-section.js'

/** The series every createCache registers, on a registry of our own. */
function cacheSeries(registry: MetricsRegistry, namespace: string) {
  const hits = registry.counter({ name: 'cache_hits_total', help: 'h', labelNames: ['namespace', 'tier'] })
  const counter = (name: string) =>
    registry.counter({ name, help: 'h', labelNames: ['namespace'] }).labels({ namespace })
  const l1 = { entries: 0, bytes: 0 }
  for (const [name, read] of [
    ['cache_l1_entries', () => l1.entries],
    ['cache_l1_bytes', () => l1.bytes],
  ] as const) {
    registry.gauge({
      name,
      help: 'h',
      labelNames: ['namespace'],
      collect: (g) => g.labels({ namespace }).set(read()),
    })
  }
  return {
    l1,
    hitL1: hits.labels({ namespace, tier: 'l1' }),
    hitL2: hits.labels({ namespace, tier: 'l2' }),
    miss: counter('cache_misses_total'),
    loaderRun: counter('cache_loader_runs_total'),
    invalidation: counter('cache_invalidations_total'),
    corrupt: counter('cache_corrupt_total'),
    l2Error: counter('cache_l2_errors_total'),
  }
}

void describe('dashboard caches section', () => {
  void it('is empty without caches', () => {
    const registry = createMetricsRegistry()
    registry.counter({ name: 'commands_total', help: 'h' }).inc(3)
    const section = new CacheSection(1000).build(registry.snapshot(), registry.prefix, 1_000)
    assert.deepEqual(section, { at: 1_000, interval: null, namespaces: [], extras: [] })
  })

  void it('reports totals and the overall hit rate at once, rates from the second reading on', () => {
    const registry = createMetricsRegistry()
    const api = cacheSeries(registry, 'api')
    const section = new CacheSection(1000)
    api.hitL1.inc(6)
    api.hitL2.inc(2)
    api.miss.inc(2)
    api.loaderRun.inc(2)
    api.l1.entries = 4
    api.l1.bytes = 2048

    const first = section.build(registry.snapshot(), registry.prefix, 10_000)
    assert.equal(first.interval, null)
    const [ns] = first.namespaces
    assert.ok(ns)
    assert.equal(ns.namespace, 'api')
    assert.deepEqual(ns.totals, {
      hitsL1: 6,
      hitsL2: 2,
      misses: 2,
      loaderRuns: 2,
      invalidations: 0,
      corrupt: 0,
      l2Errors: 0,
      staleServed: null,
      evictions: null,
      leaseWaits: null,
    })
    assert.equal(ns.perSecond, null)
    assert.deepEqual(ns.hitRate, { interval: null, overall: 0.8 })
    assert.deepEqual(ns.l1, { entries: 4, bytes: 2048 })
    assert.equal(ns.l2, null, 'no cache reports L2 entries: n/a')

    // two seconds later: 10 L1 hits, 5 L2 hits, 5 misses, 4 loader runs
    api.hitL1.inc(10)
    api.hitL2.inc(5)
    api.miss.inc(5)
    api.loaderRun.inc(4)
    const second = section.build(registry.snapshot(), registry.prefix, 12_000)
    assert.deepEqual(second.interval, { from: 10_000, to: 12_000 })
    const [ns2] = second.namespaces
    assert.ok(ns2)
    assert.equal(ns2.perSecond?.hitsL1, 5)
    assert.equal(ns2.perSecond?.hitsL2, 2.5)
    assert.equal(ns2.perSecond?.misses, 2.5)
    assert.equal(ns2.perSecond?.loaderRuns, 2)
    assert.equal(ns2.perSecond?.staleServed, null)
    assert.equal(ns2.hitRate.interval, 0.75)
    assert.equal(ns2.hitRate.overall, 23 / 30)
    assert.equal(ns2.totals.hitsL1, 16)
  })

  void it('keeps the last interval for a reading less than half an interval later, with fresh totals', () => {
    const registry = createMetricsRegistry()
    const api = cacheSeries(registry, 'api')
    const section = new CacheSection(1000)
    section.build(registry.snapshot(), registry.prefix, 0)
    api.hitL1.inc(4)
    const tick = section.build(registry.snapshot(), registry.prefix, 1_000)
    api.hitL1.inc(1)
    const early = section.build(registry.snapshot(), registry.prefix, 1_100)
    assert.deepEqual(early.interval, tick.interval)
    assert.equal(early.namespaces[0]?.perSecond?.hitsL1, 4)
    assert.equal(early.namespaces[0]?.totals.hitsL1, 5)
    const next = section.build(registry.snapshot(), registry.prefix, 2_000)
    assert.deepEqual(next.interval, { from: 1_000, to: 2_000 })
    assert.equal(next.namespaces[0]?.perSecond?.hitsL1, 1, 'the early reading did not lose a hit')
  })

  void it('an idle interval has no interval hit rate; the overall one stays', () => {
    const registry = createMetricsRegistry()
    const api = cacheSeries(registry, 'api')
    const section = new CacheSection(1000)
    api.hitL1.inc()
    api.miss.inc()
    section.build(registry.snapshot(), registry.prefix, 0)
    const idle = section.build(registry.snapshot(), registry.prefix, 1_000)
    assert.deepEqual(idle.namespaces[0]?.hitRate, { interval: null, overall: 0.5 })
    assert.equal(idle.namespaces[0]?.perSecond?.hitsL1, 0)
  })

  void it('a namespace created between readings has rates counted from zero', () => {
    const registry = createMetricsRegistry()
    cacheSeries(registry, 'api')
    const section = new CacheSection(1000)
    section.build(registry.snapshot(), registry.prefix, 0)
    const late = cacheSeries(registry, 'late')
    late.hitL2.inc(3)
    late.miss.inc(1)
    const next = section.build(registry.snapshot(), registry.prefix, 1_000)
    assert.deepEqual(
      next.namespaces.map((n) => n.namespace),
      ['api', 'late'],
    )
    assert.equal(next.namespaces[1]?.perSecond?.hitsL2, 3)
    assert.equal(next.namespaces[1]?.hitRate.interval, 0.75)
  })

  void it('reads the optional series when a cache reports them', () => {
    const registry = createMetricsRegistry()
    cacheSeries(registry, 'api')
    const counter = (name: string, n: number) =>
      registry
        .counter({ name, help: 'h', labelNames: ['namespace'] })
        .labels({ namespace: 'api' })
        .inc(n)
    counter('cache_stale_served_total', 3)
    counter('cache_l1_evictions_total', 7)
    counter('cache_lease_waits_total', 2)
    registry
      .gauge({ name: 'cache_l2_entries', help: 'h', labelNames: ['namespace'] })
      .labels({ namespace: 'api' })
      .set(42)
    const [ns] = new CacheSection(1000).build(registry.snapshot(), registry.prefix, 0).namespaces
    assert.equal(ns?.totals.staleServed, 3)
    assert.equal(ns?.totals.evictions, 7)
    assert.equal(ns?.totals.leaseWaits, 2)
    assert.deepEqual(ns?.l2, { entries: 42 })
    assert.deepEqual(ns?.extras, [])
  })

  void it('reports series it does not know as extras, grouped by helper, with rates for counters', () => {
    const registry = createMetricsRegistry({ prefix: 'app_' })
    cacheSeries(registry, 'llm')
    const tokens = registry
      .counter({ name: 'cache_llm_tokens_saved_total', help: 'h', labelNames: ['namespace', 'model'] })
      .labels({ namespace: 'llm', model: 'small' })
    const cost = registry
      .gauge({ name: 'cache_llm_cost_saved_usd', help: 'h', labelNames: ['namespace'] })
      .labels({ namespace: 'llm' })
    const httpHits = registry.counter({ name: 'cache_http_hits_total', help: 'h' })
    const section = new CacheSection(1000)
    tokens.inc(100)
    section.build(registry.snapshot(), registry.prefix, 0)
    tokens.inc(300)
    cost.set(1.25)
    httpHits.inc(8)
    const next = section.build(registry.snapshot(), registry.prefix, 2_000)
    const ns = next.namespaces.find((n) => n.namespace === 'llm')
    assert.deepEqual(ns?.extras, [
      {
        name: 'cache_llm_tokens_saved_total',
        group: 'llm',
        labels: { model: 'small' },
        type: 'counter',
        value: 400,
        perSecond: 150,
      },
      {
        name: 'cache_llm_cost_saved_usd',
        group: 'llm',
        labels: {},
        type: 'gauge',
        value: 1.25,
        perSecond: null,
      },
    ])
    assert.deepEqual(
      next.namespaces.map((n) => n.namespace),
      ['llm'],
      'series without a namespace label are not a namespace',
    )
    assert.deepEqual(next.extras, [
      { name: 'cache_http_hits_total', group: 'http', labels: {}, type: 'counter', value: 8, perSecond: 4 },
    ])
  })
})
