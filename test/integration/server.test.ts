import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { PassThrough } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import { createCache } from '../../src/cache/index.js'
import { createCoord } from '../../src/coord/index.js'
import { createValkit, isValkitError } from '../../src/index.js'
import { createQueue, createWorker, type JobRecord, type Queue } from '../../src/queue/index.js'
import { createLlmBudget, createRateLimiter } from '../../src/ratelimit/index.js'
import {
  createServer,
  type CacheNamespaceStats,
  type DashboardSnapshot,
  type QueuePanelStats,
  type ValkitServer,
} from '../../src/server/index.js'
import { createSessionStore } from '../../src/session/index.js'
import { cleanPrefix, startServer, testEngines, waitFor, type ServerHandle } from '../../src/testing/index.js'

const TOKEN = 'test-admin-token-0123456789abcdef'
const auth = { authorization: `Bearer ${TOKEN}` }

interface SseEvent {
  readonly event: string
  readonly data: unknown
}

/** Reads Server-Sent Events from an inject() stream, across several `until()` calls. */
class SseReader {
  readonly #it: AsyncIterator<Buffer | string>
  #buffer = ''
  readonly #parsed: SseEvent[] = []

  constructor(stream: AsyncIterable<Buffer | string>) {
    this.#it = stream[Symbol.asyncIterator]()
  }

  /** Resolves with the first event `accept` takes (earlier events are skipped); rejects after `timeoutMs`. */
  async until(accept: (event: SseEvent) => boolean, timeoutMs = 15_000): Promise<SseEvent> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const event = this.#parsed.shift()
      if (event) {
        if (accept(event)) return event
        continue
      }
      const left = deadline - Date.now()
      if (left <= 0) throw new Error('timed out waiting for the expected event')
      let timer: NodeJS.Timeout | undefined
      const next = await Promise.race([
        this.#it.next(),
        new Promise<never>((_, reject) => {
          timer = setTimeout(() => reject(new Error('timed out waiting for the expected event')), left)
        }),
      ]).finally(() => clearTimeout(timer))
      if (next.done) throw new Error('the event stream ended before the expected event')
      this.#buffer += next.value.toString()
      let idx
      while ((idx = this.#buffer.indexOf('\n\n')) >= 0) {
        const block = this.#buffer.slice(0, idx)
        this.#buffer = this.#buffer.slice(idx + 2)
        let name = 'message'
        const data: string[] = []
        for (const line of block.split('\n')) {
          if (line.startsWith('event: ')) name = line.slice(7)
          else if (line.startsWith('data: ')) data.push(line.slice(6))
        }
        if (data.length > 0) this.#parsed.push({ event: name, data: JSON.parse(data.join('\n')) as unknown })
      }
    }
  }
}

/** Opens `/api/events` on a server; `close()` ends the stream. */
async function openEvents(server: ValkitServer): Promise<{ events: SseReader; close: () => void }> {
  const res = await server.app.inject({ url: '/api/events', headers: auth, payloadAsStream: true })
  assert.equal(res.statusCode, 200)
  const stream = res.stream()
  return { events: new SseReader(stream), close: () => stream.destroy() }
}

/** The first snapshot built after `after` (epoch ms) for which `accept` holds. */
async function snapshotWhere(
  events: SseReader,
  after: number,
  accept: (snap: DashboardSnapshot) => boolean,
  timeoutMs = 20_000,
): Promise<DashboardSnapshot> {
  const event = await events.until((e) => {
    if (e.event !== 'snapshot') return false
    const snap = e.data as DashboardSnapshot
    return snap.at > after && accept(snap)
  }, timeoutMs)
  return event.data as DashboardSnapshot
}

void describe('server on the memory backend (no Redis configured)', () => {
  let server: ValkitServer
  const logs = new PassThrough()
  let logText = ''
  logs.on('data', (chunk: Buffer) => (logText += chunk.toString()))

  before(async () => {
    server = await createServer({
      valkitOptions: { env: {} },
      port: 0,
      adminToken: TOKEN,
      logLevel: 'trace',
      logStream: logs,
      env: {},
    })
  })
  after(() => server.close())

  void it('answers /healthz with 200 and says it runs on the memory backend', async () => {
    const res = await server.app.inject({ url: '/healthz' })
    assert.equal(res.statusCode, 200)
    const body = res.json<{ status: string; state: string; backend: string }>()
    assert.equal(body.status, 'ok')
    assert.equal(body.backend, 'memory')
  })

  void it('answers /readyz with 200 by default and names the state and backend', async () => {
    const res = await server.app.inject({ url: '/readyz' })
    assert.equal(res.statusCode, 200)
    const body = res.json<{ state: string; backend: string }>()
    assert.equal(body.backend, 'memory')
    assert.equal(body.state, server.valkit.supervisor.state)
  })

  void it('refuses the admin API without a token, with a wrong token, and admits the right one', async () => {
    const none = await server.app.inject({ url: '/api/health' })
    assert.equal(none.statusCode, 401)
    assert.equal(none.json<{ error: { code: string } }>().error.code, 'VALKIT_UNAUTHORIZED')
    assert.match(String(none.headers['www-authenticate']), /^Bearer/)

    const wrong = await server.app.inject({
      url: '/api/health',
      headers: { authorization: 'Bearer not-the-token' },
    })
    assert.equal(wrong.statusCode, 401)
    assert.equal(wrong.json<{ error: { code: string } }>().error.code, 'VALKIT_UNAUTHORIZED')

    const basic = await server.app.inject({
      url: '/api/history',
      headers: { authorization: `Basic ${TOKEN}` },
    })
    assert.equal(basic.statusCode, 401)

    const ok = await server.app.inject({ url: '/api/health', headers: auth })
    assert.equal(ok.statusCode, 200)
    const report = ok.json<{ backend: string; findings: { message: string }[] }>()
    assert.equal(report.backend, 'memory')
    assert.ok(
      report.findings.some((f) => /memory/i.test(f.message)),
      'the health report has a finding about the memory backend',
    )

    const history = await server.app.inject({ url: '/api/history', headers: auth })
    assert.equal(history.statusCode, 200)
    assert.ok(Array.isArray(history.json<{ history: unknown[] }>().history))
  })

  void it('keeps /metrics behind the token and serves Prometheus text with it', async () => {
    const refused = await server.app.inject({ url: '/metrics' })
    assert.equal(refused.statusCode, 401)
    const res = await server.app.inject({ url: '/metrics', headers: auth })
    assert.equal(res.statusCode, 200)
    assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/)
  })

  void it('serves the dashboard without a token, with a strict content security policy', async () => {
    const page = await server.app.inject({ url: '/' })
    assert.equal(page.statusCode, 200)
    assert.match(String(page.headers['content-type']), /^text\/html/)
    assert.match(page.body, /data-testid="state"/)
    assert.match(String(page.headers['content-security-policy']), /default-src 'none'/)
    for (const asset of ['/app.js', '/style.css']) {
      assert.equal((await server.app.inject({ url: asset })).statusCode, 200, asset)
    }
  })

  void it('streams an empty caches section: valkit serve alone has no cache', async () => {
    const res = await server.app.inject({ url: '/api/events', headers: auth, payloadAsStream: true })
    const stream = res.stream()
    try {
      const snap = (await new SseReader(stream).until((e) => e.event === 'snapshot'))
        .data as DashboardSnapshot
      assert.deepEqual(snap.caches.namespaces, [])
      assert.deepEqual(snap.caches.extras, [])
      assert.deepEqual(snap.ratelimit.limiters, [])
      assert.deepEqual(snap.ratelimit.budgets, [])
      assert.equal(snap.coord.present, false)
      assert.deepEqual(snap.sessions.stores, [])
    } finally {
      stream.destroy()
    }
  })

  void it('never writes the token or the Authorization header to its logs', async () => {
    await server.app.inject({ url: '/api/health', headers: auth })
    await server.app.inject({ url: '/metrics', headers: { authorization: `Bearer ${TOKEN}x` } })
    await waitFor(() => logText.includes('incoming request'), { what: 'request logs' })
    assert.ok(!logText.includes(TOKEN), 'the token appears in the logs')
  })
})

void describe('server without an admin token', () => {
  void it('refuses every admin request and says how to set a token; health stays open', async () => {
    const server = await createServer({ valkitOptions: { env: {} }, port: 0, env: {} })
    try {
      const res = await server.app.inject({
        url: '/api/health',
        headers: { authorization: 'Bearer anything-at-all' },
      })
      assert.equal(res.statusCode, 401)
      assert.match(res.json<{ error: { message: string } }>().error.message, /VALKIT_ADMIN_TOKEN/)
      assert.equal((await server.app.inject({ url: '/metrics' })).statusCode, 401)
      assert.equal((await server.app.inject({ url: '/healthz' })).statusCode, 200)
    } finally {
      await server.close()
    }
  })

  void it('serves /metrics openly only with metricsPublic', async () => {
    const server = await createServer({ valkitOptions: { env: {} }, port: 0, env: {}, metricsPublic: true })
    try {
      assert.equal((await server.app.inject({ url: '/metrics' })).statusCode, 200)
      assert.equal((await server.app.inject({ url: '/api/health' })).statusCode, 401)
    } finally {
      await server.close()
    }
  })

  void it('reads the token from VALKIT_ADMIN_TOKEN', async () => {
    const server = await createServer({
      valkitOptions: { env: {} },
      port: 0,
      env: { VALKIT_ADMIN_TOKEN: TOKEN },
    })
    try {
      assert.equal((await server.app.inject({ url: '/api/history', headers: auth })).statusCode, 200)
    } finally {
      await server.close()
    }
  })
})

for (const engine of testEngines()) {
  void describe(`server against ${engine}`, () => {
    let redis: ServerHandle
    let valkit: ReturnType<typeof createValkit>
    let server: ValkitServer
    let strict: ValkitServer
    const prefix = `t-server-${randomBytes(4).toString('hex')}`

    before(async () => {
      redis = await startServer({ engine })
      valkit = createValkit({ url: redis.url, env: {}, keyPrefix: prefix, logger: false })
      await valkit.supervisor.waitFor('ready', 10_000)
      server = await createServer({ valkit, port: 0, adminToken: TOKEN, snapshotIntervalMs: 200, env: {} })
      strict = await createServer({ valkit, port: 0, adminToken: TOKEN, degradedIsNotReady: true, env: {} })
    })
    after(async () => {
      await server?.close()
      await strict?.close()
      await valkit?.close()
      if (redis?.alive) await cleanPrefix(redis, `${prefix}:`)
      await redis?.stop()
    })

    void it('reports the engine in /api/health', async () => {
      const res = await server.app.inject({ url: '/api/health', headers: auth })
      assert.equal(res.statusCode, 200)
      const report = res.json<{
        state: string
        backend: string
        server: { engine: string; version: string } | null
      }>()
      assert.equal(report.backend, 'redis')
      assert.equal(report.server?.engine, engine)
      assert.match(report.server?.version ?? '', /^\d+\.\d+/)
    })

    void it('streams a snapshot over /api/events', async () => {
      const res = await server.app.inject({ url: '/api/events', headers: auth, payloadAsStream: true })
      assert.equal(res.statusCode, 200)
      assert.match(String(res.headers['content-type']), /^text\/event-stream/)
      const stream = res.stream()
      const events = new SseReader(stream)
      try {
        const first = await events.until((e) => e.event === 'snapshot')
        const snap = first.data as {
          state: string
          backend: string
          server: { engine: string } | null
          latency: unknown
        }
        assert.equal(snap.state, 'ready')
        assert.equal(snap.backend, 'redis')
        assert.equal(snap.server?.engine, engine)
        assert.ok(snap.latency)
        // and keeps streaming: a second snapshot follows
        await events.until((e) => e.event === 'snapshot')
      } finally {
        stream.destroy()
      }
    })

    void it('streams the caches of the process: totals equal to the reads made, L1 size, rates that add up', async () => {
      const res = await server.app.inject({ url: '/api/events', headers: auth, payloadAsStream: true })
      const stream = res.stream()
      const events = new SseReader(stream)
      /** A snapshot whose reading started a new interval (not a stream's extra first snapshot). */
      const onTick = (e: SseEvent) =>
        e.event === 'snapshot' &&
        (e.data as DashboardSnapshot).caches.interval?.to === (e.data as DashboardSnapshot).caches.at
      const seen: DashboardSnapshot[] = []
      const caches = [
        createCache(valkit, { namespace: 'srv', jitter: 0 }),
        createCache(valkit, { namespace: 'srv-l2', l1: false, jitter: 0 }),
      ] as const
      const [tiered, remote] = caches
      try {
        const start = (await events.until(onTick)).data as DashboardSnapshot
        await Promise.all(caches.map((c) => c.ready()))

        await tiered.set('a', { n: 1 })
        for (let i = 0; i < 3; i++) assert.deepEqual(await tiered.get('a'), { n: 1 }) // 3 L1 hits
        assert.equal(await tiered.get('nothing'), undefined) // miss
        assert.equal(await tiered.get('nothing'), undefined) // miss
        assert.equal(await tiered.getOrSet('b', () => 'loaded'), 'loaded') // loader run
        await tiered.delete('a') // invalidation
        await remote.set('r', 'v')
        assert.equal(await remote.get('r'), 'v') // L2 hit
        assert.equal(await remote.get('r'), 'v') // L2 hit
        const doneAt = Date.now()

        const end = (
          await events.until((e) => {
            if (e.event === 'snapshot') seen.push(e.data as DashboardSnapshot)
            return onTick(e) && (e.data as DashboardSnapshot).caches.at > doneAt
          })
        ).data as DashboardSnapshot

        const ns = (snap: DashboardSnapshot, name: string): CacheNamespaceStats | undefined =>
          snap.caches.namespaces.find((n) => n.namespace === name)
        const srv = ns(end, 'srv')
        const srvL2 = ns(end, 'srv-l2')
        assert.ok(
          srv && srvL2,
          `namespaces in the snapshot: ${end.caches.namespaces.map((n) => n.namespace).join(', ')}`,
        )

        // the numbers are the reads made, and the cache's own stats() agree
        const stats = tiered.stats()
        assert.equal(srv.totals.hitsL1, 3)
        assert.equal(srv.totals.hitsL2, 0)
        assert.equal(srv.totals.loaderRuns, 1)
        assert.equal(srv.totals.invalidations, 1)
        assert.equal(srv.totals.corrupt, 0)
        assert.equal(srv.totals.l2Errors, 0)
        assert.deepEqual(
          [
            srv.totals.hitsL1,
            srv.totals.hitsL2,
            srv.totals.misses,
            srv.totals.loaderRuns,
            srv.totals.invalidations,
          ],
          [stats.hitsL1, stats.hitsL2, stats.misses, stats.loaderRuns, stats.invalidations],
        )
        assert.ok(srv.totals.misses >= 2, `misses ${srv.totals.misses}`)
        assert.equal(srv.hitRate.overall, 3 / (3 + srv.totals.misses))
        assert.equal(srv.l1?.entries, 1, 'L1 holds b ("a" was deleted)')
        assert.ok((srv.l1?.bytes ?? 0) > 0)

        assert.equal(srvL2.totals.hitsL2, 2)
        assert.equal(srvL2.totals.hitsL1, 0)
        assert.equal(srvL2.totals.misses, 0)
        assert.equal(srvL2.hitRate.overall, 1)
        assert.equal(srvL2.l1, null, 'L1 is off: no size to report')

        // the intervals follow each other, and rate × interval adds up to the work done
        const intervals = new Map<number, DashboardSnapshot>()
        for (const snap of seen) {
          const iv = snap.caches.interval
          if (iv && iv.to > start.caches.at && iv.to <= end.caches.at) intervals.set(iv.to, snap)
        }
        const chain = [...intervals.values()].sort((a, b) => a.caches.interval!.to - b.caches.interval!.to)
        let from = start.caches.at
        const sum = { hitsL1: 0, hitsL2: 0, misses: 0, loaderRuns: 0 }
        for (const snap of chain) {
          const iv = snap.caches.interval!
          assert.equal(iv.from, from, 'intervals follow each other without a gap')
          from = iv.to
          const rates = ns(snap, 'srv')?.perSecond
          for (const key of Object.keys(sum) as (keyof typeof sum)[]) {
            sum[key] += ((rates?.[key] ?? 0) * (iv.to - iv.from)) / 1000
          }
        }
        assert.equal(from, end.caches.at)
        for (const key of Object.keys(sum) as (keyof typeof sum)[]) {
          const before = ns(start, 'srv')?.totals[key] ?? 0
          assert.ok(
            Math.abs(sum[key] - (srv.totals[key] - before)) < 1e-6,
            `${key}: rates add up to ${sum[key]}, totals moved by ${srv.totals[key] - before}`,
          )
        }
      } finally {
        stream.destroy()
        for (const c of caches) await c.close()
      }
    })

    void it('streams the rate limiters of the process: checks allowed and limited, decisions by rule, top limited keys, dollars spent', async () => {
      const limiter = createRateLimiter(valkit, {
        name: 'srv-rl',
        rules: {
          perUser: { algorithm: 'fixed-window', limit: 2, window: '1m', by: 'user' },
          global: { algorithm: 'token-bucket', limit: 1000, window: '1s', burst: 1000, by: [] },
        },
      })
      const budget = createLlmBudget(valkit, {
        name: 'srv-llm',
        prices: { small: { inputPerMTok: 1, outputPerMTok: 2 } },
        budgets: { daily: { by: 'user', period: 'day', limitUsd: 5 } },
      })
      const panels = await createServer({
        valkit,
        port: 0,
        adminToken: TOKEN,
        snapshotIntervalMs: 200,
        env: {},
        panels: { rateLimiters: [limiter] },
      })
      const { events, close } = await openEvents(panels)
      try {
        // a snapshot that started an interval (not the stream's extra first one)
        const start = await snapshotWhere(
          events,
          0,
          (snap) => snap.ratelimit.interval?.to === snap.ratelimit.at,
        )
        assert.equal(
          start.ratelimit.limiters.find((l) => l.name === 'srv-rl')?.checks.total,
          0,
          'a limiter given to the server shows before its first check',
        )
        const outcomes: string[] = []
        for (const user of ['ada', 'ada', 'ada', 'bob'])
          outcomes.push((await limiter.check({ user })).outcome)
        assert.deepEqual(outcomes, ['allowed', 'allowed', 'limited', 'allowed'])
        const r = await budget.reserve(
          { user: 'ada' },
          { model: 'small', inputTokens: 1000, maxOutputTokens: 2000 },
        )
        assert.ok(r.allowed)
        await r.settle({ inputTokens: 1000, outputTokens: 1000 }) // $0.001 + $0.002
        const doneAt = Date.now()

        const seen: DashboardSnapshot[] = []
        const end = (
          await events.until((e) => {
            if (e.event !== 'snapshot') return false
            const snap = e.data as DashboardSnapshot
            seen.push(snap)
            return snap.ratelimit.interval?.to === snap.ratelimit.at && snap.ratelimit.at > doneAt
          })
        ).data as DashboardSnapshot
        const rl = end.ratelimit.limiters.find((l) => l.name === 'srv-rl')
        assert.ok(rl, `limiters: ${end.ratelimit.limiters.map((l) => l.name).join(', ')}`)
        assert.equal(rl.checks.total, 4)
        assert.equal(rl.outcomes.allowed?.total, 3)
        assert.equal(rl.outcomes.limited?.total, 1)
        assert.equal(rl.refused.total, 1)
        assert.equal(rl.sources.redis?.total, 4, 'decided by Redis')
        assert.equal(rl.storeErrors.total, 0)
        const perUser = rl.rules.find((x) => x.rule === 'perUser')
        assert.equal(perUser?.refused.total, 1)
        assert.equal(perUser?.outcomes.allowed?.total, 3)
        // the section and the limiter's own stats() agree, rule by rule
        const stats = limiter.stats()
        for (const rule of rl.rules) {
          const own = stats.rules[rule.rule]
          assert.ok(own, rule.rule)
          assert.equal(
            rule.decisions.total,
            own.allowed + own.limited + own.blocked + own.tooLarge,
            rule.rule,
          )
        }
        assert.equal(rl.adaptiveFactor, 1)
        assert.equal(rl.rulesVersion, 0)
        assert.deepEqual(rl.topLimited, stats.topLimited)
        assert.deepEqual(rl.topLimited, [{ key: 'perUser user=ada', count: 1 }])

        const llm = end.ratelimit.budgets.find((b) => b.name === 'srv-llm')
        assert.ok(llm)
        assert.ok(Math.abs(llm.spentUsd.total - 0.003) < 1e-9, `spent ${llm.spentUsd.total}`)
        assert.equal(llm.budgets[0]?.budget, 'daily')
        assert.equal(llm.reservations.reserved?.total, 1)

        // the intervals follow each other, and rate × interval adds up to the checks made
        const chain = new Map<number, DashboardSnapshot>()
        for (const snap of seen) {
          const iv = snap.ratelimit.interval
          if (iv && iv.to > start.ratelimit.at && iv.to <= end.ratelimit.at) chain.set(iv.to, snap)
        }
        let sum = 0
        let from = start.ratelimit.at
        for (const snap of [...chain.values()].sort((a, b) => a.ratelimit.at - b.ratelimit.at)) {
          const iv = snap.ratelimit.interval!
          assert.equal(iv.from, from, 'intervals follow each other without a gap')
          from = iv.to
          const l = snap.ratelimit.limiters.find((x) => x.name === 'srv-rl')
          sum += ((l?.checks.perSecond ?? 0) * (iv.to - iv.from)) / 1000
        }
        assert.equal(from, end.ratelimit.at)
        assert.ok(Math.abs(sum - 4) < 1e-6, `rates add up to ${sum} checks, 4 were made`)
      } finally {
        close()
        await panels.close()
        await limiter.close()
        await budget.close()
      }
    })

    void it('streams coordination: a held lock with a waiter, a leader per group, a deadlock broken, the resource as every instance sees it', async () => {
      const coord = createCoord(valkit, { deadlock: { sweepInterval: '200ms' } })
      const panels = await createServer({
        valkit,
        port: 0,
        adminToken: TOKEN,
        snapshotIntervalMs: 200,
        env: {},
        panels: { coord: { coord, resources: ['srv-job'] } },
      })
      const { events, close } = await openEvents(panels)
      const election = coord.election('srv-cron')
      const releases: (() => Promise<unknown>)[] = []
      try {
        await snapshotWhere(events, 0, () => true)
        const holder = await coord.acquire('srv-job', { ttl: '30s' })
        assert.ok(holder.acquired)
        releases.push(() => holder.lease.release())
        const waiter = coord.acquire('srv-job', { ttl: '30s', wait: '20s', fair: true })
        await election.elected()

        // two agents, each holding what the other wants: the youngest waiter is aborted
        const a = await coord.acquire('srv-x', { agent: 'agent-a', ttl: '30s' })
        const b = await coord.acquire('srv-y', { agent: 'agent-b', ttl: '30s' })
        assert.ok(a.acquired && b.acquired)
        const aWaits = coord.acquire('srv-y', { agent: 'agent-a', ttl: '30s', wait: '15s' })
        await waitFor(() => coord.stats().waiting === 2, { what: 'agent-a waiting' })
        const bWaits = await coord.acquire('srv-x', { agent: 'agent-b', ttl: '30s', wait: '15s' }).then(
          () => null,
          (err: unknown) => err,
        )
        assert.ok(isValkitError(bWaits) && bWaits.code === 'VALKIT_DEADLOCK', String(bWaits))
        await b.lease.release() // the victim lets go; agent-a gets srv-y
        const aGot = await aWaits
        assert.ok(aGot.acquired)
        await aGot.lease.release()
        await a.lease.release()
        const doneAt = Date.now()

        const during = await snapshotWhere(
          events,
          doneAt,
          (snap) => snap.coord.waiting.total === 1 && snap.coord.deadlocksBroken?.total === 1,
        )
        const co = during.coord
        assert.equal(co.present, true)
        assert.deepEqual(co.held.byKind, { ...co.held.byKind, mutex: 1, leader: 1 })
        assert.equal(co.held.total, 2, 'the held lock and the leadership')
        assert.deepEqual(co.waiting.byKind, { ...co.waiting.byKind, mutex: 1 })
        assert.deepEqual(
          co.leaders.map((l) => [l.group, l.leading, l.elected.total]),
          [['srv-cron', true, 1]],
        )
        assert.equal(co.deadlocksBroken?.total, 1)
        assert.equal(co.deadlocksBroken?.total, coord.stats().deadlocksBroken)
        assert.deepEqual(
          co.resources?.map((r) => [r.resource, r.holders.map((h) => h.token), r.queued]),
          [['srv-job', [holder.lease.token], 1]],
        )
        assert.equal(co.resources?.[0]?.error, undefined)
        assert.deepEqual(co.stuckLocks, [])

        // the holder lets go: the waiter is granted, nobody waits
        releases.length = 0
        await holder.lease.release()
        const granted = await waiter
        assert.ok(granted.acquired)
        releases.push(() => granted.lease.release())
        const afterAt = Date.now()
        const after = await snapshotWhere(events, afterAt, (snap) => snap.coord.waiting.total === 0)
        assert.equal(after.coord.held.byKind.mutex, 1)
        assert.equal(after.coord.acquires.granted?.total, coord.stats().granted)
        assert.deepEqual(
          after.coord.resources?.[0]?.holders.map((h) => h.token),
          [granted.lease.token],
        )
        assert.ok(granted.lease.token > holder.lease.token, 'the fencing token went up')
      } finally {
        close()
        for (const release of releases) await release().catch(() => undefined)
        await election.close()
        await panels.close()
        await coord.close()
      }
    })

    void it('streams the session stores: created, destroyed, rotated in the last minute, quarantined records, active sessions', async () => {
      const store = createSessionStore(valkit, {
        name: 'srv-sess',
        secrets: [randomBytes(32).toString('base64')],
        encryption: { keys: [{ id: 1, key: randomBytes(32) }], primary: 1 },
        overlap: 0,
        cacheEntries: 0,
      })
      const { events, close } = await openEvents(server)
      try {
        const start = await snapshotWhere(events, 0, (snap) =>
          snap.sessions.stores.some((s) => s.store === 'srv-sess'),
        )
        assert.equal(start.sessions.stores.find((s) => s.store === 'srv-sess')?.created.total, 0)
        const made = []
        for (let i = 0; i < 4; i++) made.push(await store.create({ userId: `u${i}` }))
        assert.equal(await store.destroy(made[0]!), true)
        const rotated = await store.regenerate(made[1]!)
        assert.ok(rotated.ok)
        // one record damaged in Redis: read as no session, quarantined
        const victim = made[2]!
        await redis.command(
          'HSET',
          `${prefix}:v1:session:{${victim.id.split('.')[0]}}:srv-sess:s:${victim.handle}`,
          'd',
          Buffer.from([0xa1, 0x10, 0x01]),
        )
        assert.deepEqual(await store.load(victim.token), { found: false, reason: 'corrupt' })
        const doneAt = Date.now()

        const snap = await snapshotWhere(events, doneAt, (s) => {
          const st = s.sessions.stores.find((x) => x.store === 'srv-sess')
          return s.sessions.interval?.to === s.sessions.at && st?.lastMinute?.quarantined === 1
        })
        const st = snap.sessions.stores.find((x) => x.store === 'srv-sess')!
        const stats = store.stats()
        assert.equal(st.created.total, 5, '4 created and the new ID of regenerate')
        assert.equal(st.created.total, stats.created)
        assert.equal(st.destroyed.total, 1)
        assert.deepEqual(Object.keys(st.destroyedBy), ['destroy'])
        assert.equal(st.rotated.total, 1)
        assert.equal(st.quarantined.total, 1)
        assert.equal(st.quarantined.total, stats.quarantined)
        assert.deepEqual(st.lastMinute, { created: 5, destroyed: 1, rotated: 1, quarantined: 1 })
        assert.ok(snap.sessions.minute && snap.sessions.minute.from <= start.sessions.at)
        assert.equal(st.backendErrors?.total, 0)

        // the store counts its records by SCAN every few seconds: 4 created - 1 destroyed - 1 quarantined
        const counted = await snapshotWhere(
          events,
          doneAt,
          (s) => s.sessions.stores.find((x) => x.store === 'srv-sess')?.active === 2,
          30_000,
        )
        const later = counted.sessions.stores.find((x) => x.store === 'srv-sess')
        assert.equal(later?.active, 2)
        // seconds later, still within the minute: the same counts, not just the last interval's
        assert.ok(counted.sessions.interval && counted.sessions.interval.from > doneAt)
        assert.deepEqual(later?.lastMinute, { created: 5, destroyed: 1, rotated: 1, quarantined: 1 })
      } finally {
        close()
        await store.close()
      }
    })

    void it('says degraded while Redis is down: /readyz 503 with degradedIsNotReady, 200 otherwise; a state event is streamed', async () => {
      const res = await server.app.inject({ url: '/api/events', headers: auth, payloadAsStream: true })
      const stream = res.stream()
      const events = new SseReader(stream)
      try {
        await events.until((e) => e.event === 'snapshot')
        const degradedEvent = events.until(
          (e) => e.event === 'state' && (e.data as { to: string }).to === 'degraded',
        )
        await redis.kill()
        await valkit.supervisor.waitFor('degraded', 15_000)
        const change = (await degradedEvent).data as { to: string; backend: string }
        assert.equal(change.backend, 'memory')

        const strictRes = await strict.app.inject({ url: '/readyz' })
        assert.equal(strictRes.statusCode, 503)
        assert.equal(strictRes.json<{ state: string }>().state, 'degraded')
        const lenient = await server.app.inject({ url: '/readyz' })
        assert.equal(lenient.statusCode, 200)
        assert.equal(lenient.json<{ state: string; ready: boolean }>().state, 'degraded')
        assert.equal(lenient.json<{ ready: boolean }>().ready, false)
        assert.equal((await strict.app.inject({ url: '/healthz' })).statusCode, 200)
      } finally {
        stream.destroy()
      }

      await redis.restart()
      await valkit.supervisor.waitFor('ready', 15_000)
      assert.equal((await strict.app.inject({ url: '/readyz' })).statusCode, 200)
    })
  })
}

// ---------- queues: the admin API and the dashboard section, on every backend ----------

interface QueueError {
  readonly error: { readonly code: string; readonly message: string }
}

for (const target of ['memory', ...testEngines()] as const) {
  void describe(`server queues (${target})`, () => {
    let redis: ServerHandle | undefined
    let valkit: ReturnType<typeof createValkit>
    const prefix = `t-srvq-${randomBytes(4).toString('hex')}`
    let n = 0

    before(async () => {
      if (target === 'memory') {
        valkit = createValkit({ env: {}, logger: false })
        return
      }
      redis = await startServer({ engine: target })
      valkit = createValkit({ url: redis.url, env: {}, keyPrefix: prefix, logger: false })
      await valkit.supervisor.waitFor('ready', 10_000)
    })
    after(async () => {
      await valkit?.close()
      if (redis?.alive) await cleanPrefix(redis, `${prefix}:`)
      await redis?.stop()
    })

    /**
     * A queue of its own given to a server of its own, and a worker that fails jobs while
     * `fix.broken` (attempts: 2, so a failing job is dead after two errors).
     */
    async function setUp() {
      const name = `srv-q${++n}`
      // the worker runs jobs with its own queue options: the defaults go to both
      const options = { defaultJobOptions: { attempts: 2 } }
      const queue: Queue = createQueue(valkit, name, options)
      const fix = { broken: true }
      const worker = createWorker(
        valkit,
        name,
        async (job) => {
          if (fix.broken) throw new Error(`upstream refused ${job.id} (attempt ${job.attempt})`)
          return { delivered: job.id }
        },
        { queue: options },
      )
      const server = await createServer({
        valkit,
        port: 0,
        adminToken: TOKEN,
        snapshotIntervalMs: 200,
        env: {},
        panels: { queues: [queue] },
      })
      const api = async <T>(method: 'GET' | 'POST', url: string, withToken = true) => {
        const res = await server.app.inject({ method, url, headers: withToken ? auth : {} })
        assert.ok(!res.body.includes(TOKEN), `${method} ${url}: the token is in the answer`)
        return { status: res.statusCode, body: res.json<T>() }
      }
      const deadJob = async (data: unknown = {}): Promise<string> => {
        const { id } = await queue.add('deliver', data)
        await waitFor(async () => (await queue.getJob(id))?.state === 'dead', { what: `job ${id} dead` })
        return id
      }
      const close = async () => {
        await server.close()
        await worker.close()
        await queue.obliterate().catch(() => undefined)
        await queue.close()
      }
      return { name, queue, fix, worker, server, api, deadJob, close }
    }

    void it('keeps every queue route behind the admin token', async () => {
      const t = await setUp()
      try {
        const id = await t.deadJob()
        const q = encodeURIComponent(t.name)
        const routes: ['GET' | 'POST', string][] = [
          ['GET', '/api/queues'],
          ['GET', `/api/queues/${q}/jobs?state=dead`],
          ['GET', `/api/queues/${q}/jobs/${id}`],
          ['POST', `/api/queues/${q}/jobs/${id}/retry`],
          ['POST', `/api/queues/${q}/jobs/${id}/remove`],
          ['POST', `/api/queues/${q}/jobs/${id}/promote`],
          ['POST', `/api/queues/${q}/retry-all`],
          ['POST', `/api/queues/${q}/pause`],
          ['POST', `/api/queues/${q}/resume`],
        ]
        for (const [method, url] of routes) {
          const none = await t.api<QueueError>(method, url, false)
          assert.equal(none.status, 401, `${method} ${url} without a token`)
          assert.equal(none.body.error.code, 'VALKIT_UNAUTHORIZED')
          const wrong = await t.server.app.inject({
            method,
            url,
            headers: { authorization: `Bearer ${TOKEN.slice(0, -1)}x` },
          })
          assert.equal(wrong.statusCode, 401, `${method} ${url} with a wrong token`)
        }
        // nothing was done by the refused requests
        const job = await t.queue.getJob(id)
        assert.equal(job?.state, 'dead')
        assert.equal((await t.queue.counts()).paused, false)

        const ok = await t.api<{ queues: QueuePanelStats[] }>('GET', '/api/queues')
        assert.equal(ok.status, 200)
        const mine = ok.body.queues.find((x) => x.queue === t.name)
        assert.equal(mine?.managed, true)
        assert.equal(mine?.counts?.dead, 1)
      } finally {
        await t.close()
      }
    })

    void it('lists a dead job with its error history; retry moves it to waiting, and it runs again once fixed', async () => {
      const t = await setUp()
      try {
        const id = await t.deadJob({ to: 'ada@example.com' })
        const q = encodeURIComponent(t.name)
        const list = await t.api<{ state: string; jobs: JobRecord[] }>(
          'GET',
          `/api/queues/${q}/jobs?state=dead`,
        )
        assert.equal(list.status, 200)
        assert.deepEqual(
          list.body.jobs.map((j) => [j.id, j.state]),
          [[id, 'dead']],
        )
        const detail = await t.api<{ job: JobRecord }>('GET', `/api/queues/${q}/jobs/${id}`)
        assert.equal(detail.status, 200)
        assert.equal(detail.body.job.attemptsMade, 2)
        assert.deepEqual(detail.body.job.data, { to: 'ada@example.com' })
        assert.deepEqual(
          detail.body.job.errors.map((e) => [e.attempt, e.message]),
          [
            [1, `upstream refused ${id} (attempt 1)`],
            [2, `upstream refused ${id} (attempt 2)`],
          ],
        )

        // paused, the retried job stays where the retry put it
        assert.equal((await t.api('POST', `/api/queues/${q}/pause`)).status, 200)
        assert.equal((await t.queue.counts()).paused, true)
        const retried = await t.api<{ changed: number; job: JobRecord }>(
          'POST',
          `/api/queues/${q}/jobs/${id}/retry`,
        )
        assert.equal(retried.status, 200)
        assert.equal(retried.body.changed, 1)
        assert.equal(retried.body.job.state, 'waiting')
        const stored = await t.queue.getJob(id)
        assert.equal(stored?.state, 'waiting')
        assert.equal(stored?.attemptsMade, 0, 'attempts start over')
        assert.equal(stored?.errors.length, 2, 'the error history is kept')
        const waiting = await t.api<{ jobs: JobRecord[] }>('GET', `/api/queues/${q}/jobs?state=waiting`)
        assert.deepEqual(
          waiting.body.jobs.map((j) => j.id),
          [id],
        )
        const dead = await t.api<{ jobs: JobRecord[] }>('GET', `/api/queues/${q}/jobs?state=dead`)
        assert.deepEqual(dead.body.jobs, [])

        // a second retry of a job that is no longer dead is refused, and says why
        const again = await t.api<QueueError>('POST', `/api/queues/${q}/jobs/${id}/retry`)
        assert.equal(again.status, 409)
        assert.equal(again.body.error.code, 'VALKIT_CONFLICT')
        assert.match(again.body.error.message, /is waiting: only a dead job can be retried/)

        t.fix.broken = false
        assert.equal((await t.api('POST', `/api/queues/${q}/resume`)).status, 200)
        await waitFor(async () => (await t.queue.getJob(id))?.state === 'completed', {
          what: 'the retried job completed',
        })
        const done = await t.api<{ job: JobRecord }>('GET', `/api/queues/${q}/jobs/${id}`)
        assert.deepEqual(done.body.job.result, { delivered: id })
        assert.equal(done.body.job.attemptsMade, 1)
      } finally {
        await t.close()
      }
    })

    void it('promotes a delayed job, removes a job, retries every dead job at once', async () => {
      const t = await setUp()
      try {
        const q = encodeURIComponent(t.name)
        const first = await t.deadJob()
        const second = await t.deadJob()
        await t.api('POST', `/api/queues/${q}/pause`)
        const { id: later } = await t.queue.add('digest', {}, { delay: '1h', id: 'digest/ada?week=1' })
        const path = `/api/queues/${q}/jobs/${encodeURIComponent(later)}`
        const seen = await t.api<{ job: JobRecord }>('GET', path)
        assert.equal(seen.status, 200, 'an id with / and ? in the path')
        assert.equal(seen.body.job.state, 'delayed')
        assert.ok(seen.body.job.runAt !== undefined && seen.body.job.runAt > Date.now())

        const wrong = await t.api<QueueError>('POST', `/api/queues/${q}/jobs/${first}/promote`)
        assert.equal(wrong.status, 409)
        assert.equal(wrong.body.error.code, 'VALKIT_CONFLICT')
        assert.match(wrong.body.error.message, /is dead: only a delayed job can be promoted/)
        const promoted = await t.api<{ job: JobRecord }>('POST', `${path}/promote`)
        assert.equal(promoted.status, 200)
        assert.equal(promoted.body.job.state, 'waiting')
        assert.equal((await t.queue.getJob(later))?.state, 'waiting')

        const removed = await t.api<{ changed: number; job: null }>('POST', `${path}/remove`)
        assert.equal(removed.status, 200)
        assert.deepEqual([removed.body.changed, removed.body.job], [1, null])
        assert.equal(await t.queue.getJob(later), undefined)
        const gone = await t.api<QueueError>('GET', path)
        assert.equal(gone.status, 404)
        assert.match(gone.body.error.message, /keeps no job "digest\/ada\?week=1"/)

        const all = await t.api<{ changed: number }>('POST', `/api/queues/${q}/retry-all`)
        assert.equal(all.status, 200)
        assert.equal(all.body.changed, 2)
        const counts = await t.queue.counts()
        assert.deepEqual([counts.dead, counts.waiting], [0, 2])
        for (const id of [first, second]) assert.equal((await t.queue.getJob(id))?.state, 'waiting')
      } finally {
        await t.close()
      }
    })

    void it('refuses unknown queues and jobs and bad parameters with a JSON error that says why', async () => {
      const t = await setUp()
      try {
        const q = encodeURIComponent(t.name)
        const cases: [string, number, RegExp][] = [
          ['/api/queues/nope/jobs?state=dead', 404, /No queue "nope" is given to this server/],
          ['/api/queues/nope/jobs/1', 404, /No queue "nope"/],
          [
            `/api/queues/${q}/jobs?state=failed`,
            400,
            /`state` must be one of waiting, delayed, active, completed, dead; got "failed"/,
          ],
          [`/api/queues/${q}/jobs`, 400, /`state` is required/],
          [`/api/queues/${q}/jobs?state=dead&count=1000`, 400, /`count` must be an integer from 1 to 200/],
          [`/api/queues/${q}/jobs?state=dead&start=-1`, 400, /`start` must be an integer/],
          [`/api/queues/${q}/jobs/12345`, 404, /keeps no job "12345"/],
        ]
        for (const [url, status, message] of cases) {
          const res = await t.api<QueueError>('GET', url)
          assert.equal(res.status, status, url)
          assert.equal(
            res.body.error.code,
            status === 404 ? 'VALKIT_NOT_FOUND' : 'VALKIT_INVALID_ARGUMENT',
            url,
          )
          assert.match(res.body.error.message, message, url)
        }
        const post = await t.api<QueueError>('POST', '/api/queues/nope/retry-all')
        assert.equal(post.status, 404)
        assert.equal(post.body.error.code, 'VALKIT_NOT_FOUND')

        // a queue whose worker runs here, not given to the server: shown, but not acted on
        const other = createWorker(valkit, `${t.name}-other`, () => 'done')
        try {
          const res = await t.api<QueueError>('POST', `/api/queues/${q}-other/pause`)
          assert.equal(res.status, 404)
          assert.match(res.body.error.message, /runs in this process but was not given to the server/)
          const listed = await t.api<{ queues: QueuePanelStats[] }>('GET', '/api/queues')
          const seen = listed.body.queues.find((x) => x.queue === `${t.name}-other`)
          assert.equal(seen?.managed, false)
          assert.equal(seen?.throughput.scope, 'process')
        } finally {
          await other.close()
        }
      } finally {
        await t.close()
      }
    })

    void it('streams the queue section: counts, totals and their rates, workers, wait and processing times, the paused flag', async () => {
      const t = await setUp()
      const { events, close } = await openEvents(t.server)
      const mine = (snap: DashboardSnapshot) => snap.queues.queues.find((x) => x.queue === t.name)
      const seen: DashboardSnapshot[] = []
      /** The first snapshot after `after` where `accept` holds; every snapshot read is kept in `seen`. */
      const next = async (after: number, accept: (q: QueuePanelStats) => boolean) => {
        const event = await events.until((e) => {
          if (e.event !== 'snapshot') return false
          const snap = e.data as DashboardSnapshot
          seen.push(snap)
          const q = mine(snap)
          return snap.at > after && q !== undefined && accept(q)
        }, 20_000)
        return event.data as DashboardSnapshot
      }
      try {
        // two readings: the totals have an interval
        const start = await next(0, (q) => q.totalsInterval !== null)
        t.fix.broken = false
        for (let i = 0; i < 5; i++) await t.queue.add('deliver', { i })
        await t.queue.add('digest', {}, { delay: '1h' })
        await waitFor(async () => (await t.queue.counts()).completed === 5, { what: 'five completed' })
        t.fix.broken = true
        await t.deadJob()
        const doneAt = Date.now()

        const end = await next(doneAt, (q) => (q.totalsInterval?.from ?? 0) > doneAt)
        const q = mine(end)!
        assert.deepEqual(q.counts, { waiting: 0, delayed: 1, active: 0, completed: 5, dead: 1 })
        assert.equal(q.managed, true)
        assert.equal(q.paused, false)
        assert.equal(q.totals?.added.total, 7)
        assert.equal(q.totals?.completed.total, 5)
        assert.equal(q.totals?.failed.total, 2, 'two failed attempts of the dead job')
        assert.equal(q.totals?.dead.total, 1)
        assert.equal(q.throughput.scope, 'queue')
        assert.equal(q.throughput.completed.perSecond, 0, 'nothing ran in the last interval')
        assert.equal(q.workers?.completed?.total, 5)
        assert.equal(q.workers?.retried?.total, 1)
        assert.equal(q.workers?.dead?.total, 1)
        for (const l of [q.wait, q.processing]) {
          assert.equal(l?.observed.total, 7, 'seven attempts')
          const { p50Ms, p95Ms, p99Ms, meanMs } = l ?? {}
          assert.ok(typeof p50Ms === 'number' && typeof p95Ms === 'number' && typeof p99Ms === 'number')
          assert.ok(0 <= p50Ms && p50Ms <= p95Ms && p95Ms <= p99Ms, `p50 ${p50Ms} p95 ${p95Ms} p99 ${p99Ms}`)
          assert.ok(typeof meanMs === 'number' && meanMs >= 0)
        }

        // the totals' intervals follow each other, and rate × interval adds up to what was done
        const intervals = new Map<number, QueuePanelStats>()
        const from0 = mine(start)!.totalsInterval!.to
        for (const snap of seen) {
          const s = mine(snap)
          const iv = s?.totalsInterval
          if (s && iv && iv.to > from0 && iv.to <= q.totalsInterval!.to) intervals.set(iv.to, s)
        }
        let from = from0
        const sum = { completed: 0, failed: 0 }
        for (const s of [...intervals.values()].sort((a, b) => a.totalsInterval!.to - b.totalsInterval!.to)) {
          const iv = s.totalsInterval!
          assert.equal(iv.from, from, 'intervals follow each other without a gap')
          from = iv.to
          sum.completed += ((s.throughput.completed.perSecond ?? 0) * (iv.to - iv.from)) / 1000
          sum.failed += ((s.throughput.failed.perSecond ?? 0) * (iv.to - iv.from)) / 1000
        }
        assert.equal(from, q.totalsInterval!.to)
        const before = mine(start)!.totals!
        assert.ok(Math.abs(sum.completed - (5 - before.completed.total)) < 1e-6, `completed ${sum.completed}`)
        assert.ok(Math.abs(sum.failed - (2 - before.failed.total)) < 1e-6, `failed ${sum.failed}`)

        // an action shows at the next snapshot
        const pausedAt = Date.now()
        assert.equal((await t.api('POST', `/api/queues/${encodeURIComponent(t.name)}/pause`)).status, 200)
        const paused = await next(pausedAt, (x) => x.paused === true)
        assert.equal(mine(paused)?.counts?.dead, 1)
      } finally {
        close()
        await t.close()
      }
    })
  })
}
