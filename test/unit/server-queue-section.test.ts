/**
 * The dashboard's `queues` section: jobs per state, totals and their rates, throughput, this
 * process's workers, wait and processing percentiles (from a registry the test fills, and from
 * a memory-backend queue with a real worker); counts read at most once per snapshot interval;
 * the `panels.queues` option's validation.
 */
import assert from 'node:assert/strict'
import { describe, it, mock } from 'node:test'
import { createMetricsRegistry, isValkitError } from '../../src/core/index.js'
import { createValkit } from '../../src/index.js'
import { registerQueueMetrics, reportCounts } from '../../src/queue/queue-metrics.js'
import { createQueue, createWorker, type JobCounts } from '../../src/queue/index.js'
import { resolvePanelsOptions, type DashboardPanelsOptions } from '../../src/server/panel-sources.js'
import { bucketQuantile, QueueSectionBuilder } from '../../src/server/queue-section.js'
import {
  QueueSources,
  resolvePanelQueues,
  type PanelQueue,
  type QueueReading,
} from '../../src/server/queue-sources.js'
import { resolveServerOptions } from '../../src/server/server-options.js'
import { SnapshotHub } from '../../src/server/snapshot-hub.js'
import { waitFor } from '../../src/testing/index.js'

function jobCounts(over: Partial<Omit<JobCounts, 'totals'>> = {}, totals: Partial<JobCounts['totals']> = {}) {
  return {
    waiting: 0,
    delayed: 0,
    active: 0,
    completed: 0,
    dead: 0,
    paused: false,
    ...over,
    totals: { added: 0, completed: 0, failed: 0, dead: 0, stalled: 0, refused: 0, dropped: 0, ...totals },
  } satisfies JobCounts
}

/** A queue whose counts() answers what the test sets (or hangs, or fails), counting its calls. */
function fakeQueue(name: string) {
  const state: { counts: JobCounts | 'hang' | 'fail'; calls: number } = { counts: jobCounts(), calls: 0 }
  const queue: PanelQueue = {
    name,
    counts: async () => {
      state.calls++
      const c = state.counts
      if (c === 'hang') return new Promise<never>(() => undefined)
      if (c === 'fail') throw new Error('Redis is not reachable')
      return c
    },
    list: async () => [],
    getJob: async () => undefined,
    retry: async () => 0,
    promote: async () => 0,
    remove: async () => 0,
    pause: async () => undefined,
    resume: async () => undefined,
  }
  return { queue, state }
}

function refusedAt(panels: unknown, path: string, why?: RegExp): void {
  assert.throws(
    () => resolvePanelsOptions(panels as DashboardPanelsOptions),
    (err: unknown) =>
      isValkitError(err) &&
      err.code === 'VALKIT_INVALID_OPTION' &&
      err.message.includes(`\`${path}\``) &&
      (why === undefined || why.test(err.message)),
    `expected VALKIT_INVALID_OPTION at ${path}`,
  )
}

void describe('bucketQuantile', () => {
  void it('interpolates inside the bucket the rank falls in, as histogram_quantile does', () => {
    const buckets = [
      { le: 0.1, count: 50 },
      { le: 1, count: 100 },
    ]
    assert.equal(bucketQuantile(buckets, 100, 0.5), 0.1)
    assert.ok(Math.abs(bucketQuantile(buckets, 100, 0.95)! - 0.91) < 1e-9)
    assert.ok(Math.abs(bucketQuantile(buckets, 100, 0.25)! - 0.05) < 1e-9, 'the first bucket starts at 0')
  })

  void it('answers the highest finite bound past it, and null without observations', () => {
    assert.equal(bucketQuantile([{ le: 5, count: 1 }], 10, 0.95), 5)
    assert.equal(bucketQuantile([{ le: 5, count: 0 }], 0, 0.5), null)
  })
})

void describe('dashboard queues section', () => {
  void it('is empty without a queue', () => {
    const registry = createMetricsRegistry()
    registry.counter({ name: 'coord_releases_total', help: 'h' }).inc()
    const section = new QueueSectionBuilder(1000).build(registry.snapshot(), registry.prefix, 5)
    assert.deepEqual(section, { at: 5, interval: null, queues: [], extras: [] })
  })

  void it("shows a queue this process's workers run: outcomes, throughput per second, no counts", () => {
    const registry = createMetricsRegistry()
    const m = registerQueueMetrics(registry, 'emails')
    const section = new QueueSectionBuilder(1000)
    m.jobs('completed', 4)
    m.jobs('dead')
    const first = section.build(registry.snapshot(), registry.prefix, 1_000)
    const [emails] = first.queues
    assert.equal(emails?.queue, 'emails')
    assert.equal(emails.managed, false)
    assert.equal(emails.counts, null, 'no Queue of this process read its counts')
    assert.equal(emails.totals, null)
    assert.equal(emails.paused, null)
    assert.deepEqual(emails.throughput, {
      completed: { total: 4, perSecond: null },
      failed: { total: 1, perSecond: null },
      scope: 'process',
    })
    m.jobs('completed', 6)
    m.jobs('retried', 2)
    m.jobs('dead')
    const second = section.build(registry.snapshot(), registry.prefix, 3_000)
    const q = second.queues[0]!
    assert.deepEqual(second.interval, { from: 1_000, to: 3_000 })
    assert.deepEqual(q.throughput.completed, { total: 10, perSecond: 3 })
    assert.deepEqual(q.throughput.failed, { total: 4, perSecond: 1.5 }, 'retried and dead attempts')
    assert.deepEqual(q.workers, {
      completed: { total: 10, perSecond: 3 },
      retried: { total: 2, perSecond: 1 },
      dead: { total: 2, perSecond: 0.5 },
      stale: { total: 0, perSecond: 0 },
      lost: { total: 0, perSecond: 0 },
    })
  })

  void it('reads wait and processing times from the histograms: mean, p50, p95 between p90 and p99', () => {
    const registry = createMetricsRegistry()
    const m = registerQueueMetrics(registry, 'emails')
    for (let i = 1; i <= 100; i++) m.waited(i / 1000) // 1 ms .. 100 ms
    for (let i = 0; i < 90; i++) m.processed(0.002)
    for (let i = 0; i < 10; i++) m.processed(2)
    const q = new QueueSectionBuilder(1000).build(registry.snapshot(), registry.prefix, 0).queues[0]!
    const wait = q.wait!
    assert.deepEqual(wait.observed, { total: 100, perSecond: null })
    assert.ok(Math.abs(wait.meanMs! - 50.5) < 1e-9, `mean ${wait.meanMs}`)
    assert.ok(Math.abs(wait.p50Ms! - 50) / 50 < 0.05, `p50 ${wait.p50Ms}`)
    assert.ok(wait.p95Ms! >= 89 && wait.p95Ms! <= 100, `p95 ${wait.p95Ms}`)
    assert.ok(Math.abs(wait.p99Ms! - 99) / 99 < 0.05, `p99 ${wait.p99Ms}`)
    const run = q.processing!
    assert.ok(Math.abs(run.p50Ms! - 2) / 2 < 0.05, `p50 ${run.p50Ms}`)
    assert.ok(Math.abs(run.p95Ms! - 2000) / 2000 < 0.05, `p95 ${run.p95Ms}: in the slow tenth`)
    assert.ok(run.p50Ms! <= run.p95Ms! && run.p95Ms! <= run.p99Ms!)
  })

  void it('takes the counts of a queue read by this process from the queue_jobs gauge', () => {
    const registry = createMetricsRegistry()
    registerQueueMetrics(registry, 'emails')
    reportCounts(registry, 'emails', jobCounts({ waiting: 3, dead: 2 }))
    const q = new QueueSectionBuilder(1000).build(registry.snapshot(), registry.prefix, 0).queues[0]!
    assert.deepEqual(q.counts, { waiting: 3, delayed: 0, active: 0, completed: 0, dead: 2 })
    assert.equal(q.countsAt, null)
    assert.equal(q.managed, false)
  })

  void it('shows a queue given to the server with its counts, paused flag and totals rated between reads', () => {
    const registry = createMetricsRegistry()
    const section = new QueueSectionBuilder(1000)
    const read = (at: number, counts: JobCounts, error?: string) =>
      new Map([['jobs', { counts, at, ...(error ? { error } : {}) }]])
    const first = section.build(
      registry.snapshot(),
      registry.prefix,
      1_000,
      read(1_000, jobCounts({ waiting: 5 }, { added: 5 })),
    )
    const a = first.queues[0]!
    assert.equal(a.managed, true)
    assert.deepEqual(a.counts, { waiting: 5, delayed: 0, active: 0, completed: 0, dead: 0 })
    assert.equal(a.countsAt, 1_000)
    assert.equal(a.paused, false)
    assert.deepEqual(a.totals?.added, { total: 5, perSecond: null })
    assert.equal(a.workers, null, 'no worker of it in this process')
    assert.equal(a.wait, null)
    assert.equal(a.throughput.scope, 'queue')

    const later = jobCounts(
      { completed: 8, dead: 1, paused: true },
      { added: 9, completed: 8, failed: 3, dead: 1 },
    )
    const b = section.build(registry.snapshot(), registry.prefix, 3_000, read(3_000, later)).queues[0]!
    assert.deepEqual(b.totalsInterval, { from: 1_000, to: 3_000 })
    assert.deepEqual(b.totals?.added, { total: 9, perSecond: 2 })
    assert.deepEqual(b.throughput.completed, { total: 8, perSecond: 4 })
    assert.deepEqual(b.throughput.failed, { total: 3, perSecond: 1.5 })
    assert.equal(b.paused, true)

    // the next read fails: the last counts stay, with the error and no rate
    const c = section.build(
      registry.snapshot(),
      registry.prefix,
      4_000,
      read(3_000, later, 'Redis is not reachable'),
    ).queues[0]!
    assert.equal(c.error, 'Redis is not reachable')
    assert.equal(c.counts?.completed, 8)
    assert.deepEqual(c.throughput.completed, { total: 8, perSecond: null })

    // it answers again two seconds later: the rate covers the whole time since the last good read
    const d = section.build(
      registry.snapshot(),
      registry.prefix,
      5_000,
      read(5_000, jobCounts({ completed: 12 }, { added: 13, completed: 12, failed: 3, dead: 1 })),
    ).queues[0]!
    assert.equal(d.error, undefined)
    assert.deepEqual(d.totalsInterval, { from: 3_000, to: 5_000 })
    assert.deepEqual(d.throughput.completed, { total: 12, perSecond: 2 })
  })

  void it('lists series it does not know as extras, on the queue or the section', () => {
    const registry = createMetricsRegistry()
    registerQueueMetrics(registry, 'emails')
    registry
      .counter({ name: 'queue_journal_bytes_total', help: 'h', labelNames: ['queue'] })
      .labels({ queue: 'emails' })
      .inc(3)
    registry.gauge({ name: 'queue_instances', help: 'h' }).set(2)
    const section = new QueueSectionBuilder(1000).build(registry.snapshot(), registry.prefix, 0)
    assert.deepEqual(section.queues[0]?.extras, [
      { name: 'queue_journal_bytes_total', labels: {}, type: 'counter', value: 3, perSecond: null },
    ])
    assert.deepEqual(section.extras, [
      { name: 'queue_instances', labels: {}, type: 'gauge', value: 2, perSecond: null },
    ])
  })
})

void describe('queue counts for the dashboard', () => {
  void it('are read at most once per snapshot interval, however often they are asked for', async () => {
    mock.timers.enable({ apis: ['Date'], now: 10_000 })
    try {
      const { queue, state } = fakeQueue('jobs')
      const sources = new QueueSources([queue], 1000)
      state.counts = jobCounts({ waiting: 1 })
      const [a, b] = await Promise.all([sources.read(500), sources.read(500)])
      assert.equal(state.calls, 1, 'two at once share one read')
      assert.equal(a.get('jobs')?.counts?.waiting, 1)
      assert.equal(b.get('jobs')?.counts?.waiting, 1)
      mock.timers.tick(600)
      state.counts = jobCounts({ waiting: 2 })
      assert.equal((await sources.read(500)).get('jobs')?.counts?.waiting, 1, 'still the same interval')
      assert.equal(state.calls, 1)
      mock.timers.tick(400)
      const fresh = (await sources.read(500)).get('jobs')
      assert.equal(state.calls, 2)
      assert.equal(fresh?.counts?.waiting, 2)
      assert.equal(fresh?.at, 11_000)

      // an action on the queue: the next read asks again
      sources.invalidate('jobs')
      state.counts = jobCounts({ waiting: 3 })
      assert.equal((await sources.read(500)).get('jobs')?.counts?.waiting, 3)
      assert.equal(state.calls, 3)
    } finally {
      mock.timers.reset()
    }
  })

  void it('keep the last counts with the error when a read fails or does not answer in time', async () => {
    const { queue, state } = fakeQueue('jobs')
    const sources = new QueueSources([queue], 50)
    state.counts = jobCounts({ dead: 4 })
    await sources.read(1000)
    state.counts = 'fail'
    await waitFor(async () => (await sources.read(1000)).get('jobs')?.error !== undefined, {
      what: 'a failed read',
    })
    const failed = (await sources.read(1000)).get('jobs')
    assert.equal(failed?.counts?.dead, 4)
    assert.equal(failed?.error, 'Redis is not reachable')

    state.counts = 'hang'
    const calls = state.calls
    let hung: QueueReading | undefined
    await waitFor(
      async () => {
        hung = (await sources.read(30)).get('jobs')
        return state.calls > calls
      },
      { what: 'a read of a hanging queue' },
    )
    assert.match(hung!.error ?? '', /no answer within 30 ms/)
    assert.equal(hung!.counts?.dead, 4)
    const asked = state.calls
    await sources.read(30)
    assert.equal(state.calls, asked, 'a read in flight is not started again')
  })
})

void describe('dashboard queues from a memory-backend queue', () => {
  void it('shows what a real worker did, with counts() called once for several snapshots', async () => {
    const valkit = createValkit({ env: {}, logger: false })
    const queue = createQueue(valkit, 'mem-jobs')
    let calls = 0
    const counted: PanelQueue = Object.assign(Object.create(queue) as PanelQueue, {
      counts: () => {
        calls++
        return queue.counts()
      },
    })
    const worker = createWorker(valkit, 'mem-jobs', async (job) => {
      if ((job.data as { fail?: boolean }).fail) throw new Error('cannot do it')
      return { done: job.id }
    })
    const hub = new SnapshotHub(valkit, 60_000, { queues: [counted] })
    try {
      await queue.add('ok', {})
      await queue.add('ok', {})
      const bad = await queue.add('bad', { fail: true })
      await queue.add('later', {}, { delay: '1h' })
      await waitFor(async () => (await queue.getJob(bad.id))?.state === 'dead', { what: 'the dead job' })
      await waitFor(async () => (await queue.counts()).completed === 2, { what: 'two completed' })
      calls = 0

      const [first, second] = [await hub.snapshot(), await hub.snapshot()]
      const section = await hub.queues()
      assert.equal(calls, 1, 'three readings in one interval: one counts() call')
      assert.deepEqual(second.queues.queues, section.queues)
      const q = first.queues.queues.find((x) => x.queue === 'mem-jobs')
      assert.ok(q, `queues: ${first.queues.queues.map((x) => x.queue).join(', ')}`)
      assert.equal(q.managed, true)
      assert.deepEqual(q.counts, { waiting: 0, delayed: 1, active: 0, completed: 2, dead: 1 })
      assert.equal(q.totals?.added.total, 4)
      assert.equal(q.totals?.completed.total, 2)
      assert.equal(q.totals?.failed.total, 1)
      assert.equal(q.workers?.completed?.total, 2)
      assert.equal(q.workers?.dead?.total, 1)
      assert.equal(q.wait?.observed.total, 3, 'three attempts started')
      assert.equal(q.processing?.observed.total, 3)
      const { p50Ms, p95Ms, p99Ms } = q.wait ?? {}
      assert.ok(typeof p50Ms === 'number' && typeof p95Ms === 'number' && typeof p99Ms === 'number')
      assert.ok(p50Ms <= p95Ms && p95Ms <= p99Ms, `wait p50 ${p50Ms}, p95 ${p95Ms}, p99 ${p99Ms}`)
      assert.ok((q.processing?.p50Ms ?? -1) >= 0)
      assert.equal(hub.queueSources.get('mem-jobs'), counted)
    } finally {
      hub.close()
      await worker.close()
      await queue.close()
      await valkit.close()
    }
  })
})

void describe('panels.queues option', () => {
  const { queue } = fakeQueue('jobs')

  void it('is left out of the resolved panels until a queue is given', () => {
    assert.equal(resolvePanelsOptions({}).queues, undefined)
    assert.deepEqual(resolvePanelsOptions({ queues: [queue] }).queues, [queue])
    assert.deepEqual(resolvePanelsOptions({ coord: undefined, queues: [queue] }).queues, [queue])
    assert.deepEqual(resolvePanelQueues(undefined), [])
  })

  void it('refuses what is not a queue, two queues of one name and too many, naming the path', () => {
    refusedAt({ queues: queue }, 'panels.queues', /an array of queues/)
    refusedAt({ queues: [queue, 'emails'] }, 'panels.queues[1]', /got string/)
    refusedAt({ queues: [{ name: 'x', counts: () => undefined }] }, 'panels.queues[0]', /no list, getJob/)
    refusedAt({ queues: [queue, { ...queue }] }, 'panels.queues[1]', /a second queue named "jobs"/)
    const many = Array.from({ length: 51 }, (_, i) => ({ ...queue, name: `q${i}` }))
    refusedAt({ queues: many }, 'panels.queues', /at most 50/)
    assert.throws(
      () => resolveServerOptions({ panels: { queues: [null as unknown as PanelQueue] } }),
      (err: unknown) =>
        isValkitError(err, 'VALKIT_INVALID_OPTION') && err.message.includes('panels.queues[0]'),
    )
  })
})
