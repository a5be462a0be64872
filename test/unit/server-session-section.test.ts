/**
 * The dashboard's `sessions` section computed from a metrics registry: per store, active
 * sessions, created/destroyed/rotated with rates and counts over the last minute, quarantined
 * records, reads by result; n/a for series a store does not report; unknown series as extras.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createMetricsRegistry } from '../../src/core/index.js'
import { registerSessionMetrics } from '../../src/session/session-metrics.js'
import { SessionSectionBuilder } from '../../src/server/session-section.js'

void describe('dashboard sessions section', () => {
  void it('is empty without session stores', () => {
    const registry = createMetricsRegistry()
    registry.counter({ name: 'coord_releases_total', help: 'h' }).inc()
    const section = new SessionSectionBuilder(1000).build(registry.snapshot(), registry.prefix, 3)
    assert.deepEqual(section, { at: 3, interval: null, minute: null, stores: [], extras: [] })
  })

  void it('reports a store at once, with active sessions n/a until it has counted them', () => {
    const registry = createMetricsRegistry()
    let active: number | undefined = undefined
    registerSessionMetrics(registry, 'web', () => active)
    const section = new SessionSectionBuilder(1000)
    const first = section.build(registry.snapshot(), registry.prefix, 0)
    const [web] = first.stores
    assert.equal(web?.store, 'web')
    assert.equal(web?.active, null)
    assert.deepEqual(web?.created, { total: 0, perSecond: null })
    assert.deepEqual(web?.conflicts, { total: 0, perSecond: null })
    assert.equal(web?.lastMinute, null, 'one reading: nothing to count over yet')
    active = 12
    assert.equal(section.build(registry.snapshot(), registry.prefix, 1_000).stores[0]?.active, 12)
  })

  void it('counts created, destroyed by reason, rotated and quarantined, with rates and the last minute', () => {
    const registry = createMetricsRegistry()
    const m = registerSessionMetrics(registry, 'web', () => 3)
    const section = new SessionSectionBuilder(1000)
    m.created.inc(10) // before the first reading: not in any minute the section saw
    section.build(registry.snapshot(), registry.prefix, 0)

    m.created.inc(4)
    m.rotated.inc(1)
    m.destroyed('destroy')
    m.destroyed('revoke_all', 2)
    m.quarantined('tampered')
    m.read('live')
    m.read('live')
    m.read('none')
    m.rejected('signature')
    const s1 = section.build(registry.snapshot(), registry.prefix, 2_000)
    const web = s1.stores[0]
    assert.ok(web)
    assert.deepEqual(s1.interval, { from: 0, to: 2_000 })
    assert.deepEqual(s1.minute, { from: 0, to: 2_000 }, 'the first minute: since the first reading')
    assert.deepEqual(web.created, { total: 14, perSecond: 2 })
    assert.deepEqual(web.rotated, { total: 1, perSecond: 0.5 })
    assert.deepEqual(web.destroyed, { total: 3, perSecond: 1.5 })
    assert.deepEqual(web.destroyedBy, {
      destroy: { total: 1, perSecond: 0.5 },
      revoke_all: { total: 2, perSecond: 1 },
    })
    assert.deepEqual(web.quarantined, { total: 1, perSecond: 0.5 })
    assert.deepEqual(Object.keys(web.quarantinedBy), ['tampered'])
    assert.deepEqual(web.rejectedTokens.total, 1)
    assert.equal(web.reads.live?.total, 2)
    assert.equal(web.reads.none?.total, 1)
    assert.equal(web.reads.alias?.total, 0, 'every read result is declared up front')
    assert.deepEqual(web.lastMinute, { created: 4, destroyed: 3, rotated: 1, quarantined: 1 })
    assert.equal(web.active, 3)

    // a reading every 10 s for two minutes, one session created each time
    let at = 2_000
    let last = s1
    for (let i = 0; i < 12; i++) {
      at += 10_000
      m.created.inc()
      last = section.build(registry.snapshot(), registry.prefix, at)
    }
    assert.equal(at, 122_000)
    // the minute starts at the newest reading at least 60 s old: 62 s → 122 s, six sessions
    assert.deepEqual(last.minute, { from: 62_000, to: 122_000 })
    assert.deepEqual(last.stores[0]?.lastMinute, { created: 6, destroyed: 0, rotated: 0, quarantined: 0 })
    assert.deepEqual(last.stores[0]?.created, { total: 26, perSecond: 0.1 })
  })

  void it('an early reading keeps the interval, the minute and their numbers; totals are fresh', () => {
    const registry = createMetricsRegistry()
    const m = registerSessionMetrics(registry, 'web', () => 0)
    const section = new SessionSectionBuilder(1000)
    section.build(registry.snapshot(), registry.prefix, 0)
    m.created.inc(2)
    const tick = section.build(registry.snapshot(), registry.prefix, 1_000)
    m.created.inc(1)
    const early = section.build(registry.snapshot(), registry.prefix, 1_100)
    assert.deepEqual(early.interval, tick.interval)
    assert.deepEqual(early.minute, tick.minute)
    assert.deepEqual(early.stores[0]?.created, { total: 3, perSecond: 2 })
    assert.equal(early.stores[0]?.lastMinute?.created, 2)
  })

  void it('stores are sorted; a store without a series says n/a; unknown series are extras', () => {
    const registry = createMetricsRegistry()
    registerSessionMetrics(registry, 'web', () => 1)
    registerSessionMetrics(registry, 'admin', () => 2)
    // a store of another version that reports only some series
    registry
      .counter({ name: 'session_created_total', help: 'h', labelNames: ['store'] })
      .labels({ store: 'old' })
      .inc(5)
    const pruned = registry.counter({ name: 'session_pruned_total', help: 'h', labelNames: ['store'] })
    pruned.labels({ store: 'web' }).inc(2)
    const stateReads = registry.counter({ name: 'session_state_reads_total', help: 'h' })
    stateReads.inc(9)
    const section = new SessionSectionBuilder(1000).build(registry.snapshot(), registry.prefix, 0)
    assert.deepEqual(
      section.stores.map((s) => s.store),
      ['admin', 'old', 'web'],
    )
    const old = section.stores[1]
    assert.equal(old?.created.total, 5)
    assert.equal(old?.active, null)
    assert.equal(old?.conflicts, null)
    assert.equal(old?.backendErrors, null)
    assert.equal(old?.localReads, null)
    assert.deepEqual(section.stores[2]?.extras, [
      { name: 'session_pruned_total', labels: {}, type: 'counter', value: 2, perSecond: null },
    ])
    assert.deepEqual(section.extras, [
      { name: 'session_state_reads_total', labels: {}, type: 'counter', value: 9, perSecond: null },
    ])
  })
})
