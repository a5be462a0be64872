/**
 * The dashboard's `coord` section computed from a metrics registry: held and waiting leases by
 * kind, leaders per group, acquires by result, waits, deadlocks broken, rates between readings,
 * the live parts (resources, stuck locks) passed through, unknown series as extras.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createMetricsRegistry } from '../../src/core/index.js'
import { registerCoordMetrics, type CoordGaugeSource } from '../../src/coord/coord-metrics.js'
import type { LeaseKind } from '../../src/coord/lease-types.js'
import { CoordSectionBuilder } from '../../src/server/coord-section.js'

/** A coord instance's gauges, as plain maps the test sets. */
function gauges() {
  const held = new Map<LeaseKind, number>()
  const waiting = new Map<LeaseKind, number>()
  const leaders = new Map<string, number>()
  const source: CoordGaugeSource = { held: () => held, waiting: () => waiting, leaders: () => leaders }
  return { held, waiting, leaders, source }
}

void describe('dashboard coord section', () => {
  void it('is absent without a coord', () => {
    const registry = createMetricsRegistry()
    registry.counter({ name: 'cache_hits_total', help: 'h' }).inc()
    const section = new CoordSectionBuilder(1000).build(registry.snapshot(), registry.prefix, 7)
    assert.equal(section.present, false)
    assert.deepEqual(section.held, { total: 0, byKind: {} })
    assert.deepEqual(section.leaders, [])
    assert.equal(section.deadlocksBroken, null, 'not reported: n/a, not 0')
    assert.equal(section.resources, null)
    assert.equal(section.stuckLocks, null)
  })

  void it('reports held locks, waiters and leaders per group, summed over the instances of the process', () => {
    const registry = createMetricsRegistry()
    const a = gauges()
    const b = gauges()
    const ma = registerCoordMetrics(registry, a.source)
    registerCoordMetrics(registry, b.source)
    a.held.set('mutex', 1)
    a.held.set('leader', 1)
    b.held.set('mutex', 2)
    b.held.set('semaphore', 3)
    a.waiting.set('mutex', 2)
    a.leaders.set('cron', 1)
    b.leaders.set('cron', 0)
    b.leaders.set('billing', 0)
    ma.leaderChange('cron', 'elected')
    const section = new CoordSectionBuilder(1000).build(registry.snapshot(), registry.prefix, 0)
    assert.equal(section.present, true)
    assert.deepEqual(section.held, { total: 7, byKind: { leader: 1, mutex: 3, semaphore: 3 } })
    assert.deepEqual(section.waiting, { total: 2, byKind: { mutex: 2 } })
    assert.deepEqual(
      section.leaders.map((l) => [l.group, l.leading, l.elected.total, l.demoted.total]),
      [
        ['billing', false, 0, 0],
        ['cron', true, 1, 0],
      ],
    )
    assert.deepEqual(section.deadlocksBroken, { total: 0, perSecond: null })
  })

  void it('counts acquires by result, waits, releases, losses and deadlocks, with rates from the second reading', () => {
    const registry = createMetricsRegistry()
    const g = gauges()
    const m = registerCoordMetrics(registry, g.source)
    const section = new CoordSectionBuilder(1000)
    m.acquire('mutex', 'granted')
    m.acquire('mutex', 'granted')
    m.acquire('semaphore', 'granted')
    m.acquire('mutex', 'busy')
    m.waited('mutex', 0.02)
    m.waited('mutex', 0.04)
    m.released('mutex')
    const first = section.build(registry.snapshot(), registry.prefix, 1_000)
    assert.equal(first.interval, null)
    assert.deepEqual(first.acquires, {
      busy: { total: 1, perSecond: null },
      granted: { total: 3, perSecond: null },
    })
    const [mutexWait] = first.waits
    assert.equal(mutexWait?.kind, 'mutex')
    assert.equal(mutexWait?.grants.total, 2)
    assert.ok(Math.abs((mutexWait?.meanMs ?? 0) - 30) < 1e-9, `mean ${mutexWait?.meanMs}`)
    // percentiles from the histogram's sketch (within its 2% accuracy), in milliseconds
    const p50 = mutexWait?.p50Ms ?? NaN
    assert.ok(p50 > 19.5 && p50 < 20.5, `p50 ${p50} ms`)
    assert.ok((mutexWait?.p99Ms ?? NaN) >= p50)

    // two seconds later
    m.acquire('mutex', 'timeout')
    for (let i = 0; i < 4; i++) m.acquire('mutex', 'granted')
    m.deadlockBroken()
    m.deadlockBroken()
    m.lost('mutex')
    m.lockRecovered()
    m.fenced('stale')
    const next = section.build(registry.snapshot(), registry.prefix, 3_000)
    assert.deepEqual(next.interval, { from: 1_000, to: 3_000 })
    assert.deepEqual(next.acquires.granted, { total: 7, perSecond: 2 })
    assert.deepEqual(next.acquires.timeout, { total: 1, perSecond: 0.5 })
    assert.deepEqual(next.deadlocksBroken, { total: 2, perSecond: 1 })
    assert.deepEqual(next.locksRecovered, { total: 1, perSecond: 0.5 })
    assert.deepEqual(next.leasesLost, { total: 1, perSecond: 0.5 })
    assert.deepEqual(next.releases, { total: 1, perSecond: 0 })
    assert.deepEqual(next.fencedWrites, { stale: { total: 1, perSecond: 0.5 } })
  })

  void it('passes the live parts through and reports unknown series as extras', () => {
    const registry = createMetricsRegistry()
    registerCoordMetrics(registry, gauges().source)
    const queue = registry.gauge({ name: 'coord_queue_depth', help: 'h', labelNames: ['resource'] })
    const sweeps = registry.counter({ name: 'coord_sweeps_total', help: 'h' })
    const section = new CoordSectionBuilder(1000)
    section.build(registry.snapshot(), registry.prefix, 0)
    queue.labels({ resource: 'r' }).set(3)
    sweeps.inc(10)
    const live = {
      resources: [
        { resource: 'r', holders: [{ owner: 'o', token: 4, expiresInMs: 900 }], queued: 1, lastToken: 4 },
      ],
      stuckLocks: [{ at: 1, kind: 'mutex', resource: 'r', agent: 'a', heldMs: 5000, recovered: true }],
    }
    const next = section.build(registry.snapshot(), registry.prefix, 1_000, live)
    assert.deepEqual(next.resources, live.resources)
    assert.deepEqual(next.stuckLocks, live.stuckLocks)
    assert.deepEqual(next.extras, [
      { name: 'coord_queue_depth', labels: { resource: 'r' }, type: 'gauge', value: 3, perSecond: null },
      { name: 'coord_sweeps_total', labels: {}, type: 'counter', value: 10, perSecond: 10 },
    ])
  })
})
