/**
 * getOrSet across instances against real servers: one loader for a whole deployment (the
 * lease), waiters that take over when the holder fails or vanishes, a load overtaken by
 * another instance's tag invalidation, stale-while-revalidate through L2, L1 entries that
 * missed invalidations during a network cut, schemas on L2 reads, setMany and invalidatePattern.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { createValkit, type Valkit } from '../../src/core/index.js'
import { createCache, type Cache, type CacheOptions } from '../../src/cache/index.js'
import {
  cleanPrefix,
  startServer,
  tcpProxy,
  testEngines,
  waitFor,
  type ServerHandle,
  type TcpProxy,
} from '../../src/testing/index.js'

function gate<T = void>(): { promise: Promise<T>; open: (value: T) => void } {
  let open!: (value: T) => void
  const promise = new Promise<T>((resolve) => (open = resolve))
  return { promise, open }
}

for (const engine of testEngines()) {
  void describe(`cache loading across instances on ${engine}`, { timeout: 90_000 }, () => {
    let server: ServerHandle
    const prefix = `t-load-${randomBytes(4).toString('hex')}`
    const valkits: Valkit[] = []
    const caches: Cache[] = []
    const proxies: TcpProxy[] = []

    before(async () => {
      server = await startServer({ engine })
    })
    after(async () => {
      for (const cache of caches) await cache.close()
      for (const valkit of valkits) await valkit.close()
      for (const proxy of proxies) await proxy.close()
      if (server?.alive) await cleanPrefix(server, `${prefix}:`)
      await server?.stop()
    })

    /** A cache on a valkit of its own (its own connections), subscribed. */
    async function instance(options: CacheOptions, url = server.url): Promise<Cache> {
      const valkit = createValkit({ url, env: {}, logger: false, keyPrefix: prefix, commandTimeout: 500 })
      valkits.push(valkit)
      await valkit.supervisor.waitFor('ready', 10_000)
      const cache = createCache(valkit, { jitter: 0, ...options })
      caches.push(cache)
      await cache.ready()
      return cache
    }

    it('4 instances × 25 concurrent callers on a fresh key: one loader run in the whole deployment', async () => {
      const instances = await Promise.all([1, 2, 3, 4].map(() => instance({ namespace: 'stampede' })))
      for (let round = 0; round < 3; round++) {
        let runs = 0
        const loader = async () => {
          runs++
          await new Promise((resolve) => setTimeout(resolve, 30))
          return { round, answer: 42 }
        }
        const answers = await Promise.all(
          instances.flatMap((cache) =>
            Array.from({ length: 25 }, () => cache.getOrSet(`fresh-${round}`, loader)),
          ),
        )
        assert.equal(runs, 1, `round ${round}: one loader run for 100 callers on 4 instances`)
        assert.equal(answers.length, 100)
        for (const answer of answers) assert.deepEqual(answer, { round, answer: 42 })
      }
      const waits = instances.reduce((n, c) => n + c.stats().leaseWaits, 0)
      assert.ok(waits >= 3 * 3, `the other instances waited for the holder (${waits} waits)`)
    })

    it('the lease holder’s loader fails: a waiting instance loads instead', async () => {
      const [a, b] = await Promise.all([
        instance({ namespace: 'takeover' }),
        instance({ namespace: 'takeover' }),
      ])
      const started = gate()
      const fail = gate()
      const holder = a.getOrSet('k', async () => {
        started.open()
        await fail.promise
        throw new Error('upstream 503')
      })
      await started.promise
      let bRuns = 0
      const waiter = b.getOrSet('k', () => {
        bRuns++
        return 'loaded by b'
      })
      await waitFor(() => b.stats().leaseWaits > 0 || undefined, { what: 'b waiting for the lease' })
      fail.open()
      await assert.rejects(holder, /upstream 503/)
      assert.equal(await waiter, 'loaded by b')
      assert.equal(bRuns, 1)
      assert.equal(await a.get('k'), 'loaded by b')
    })

    it('the lease holder vanishes (its loader never answers): waiters take over when the lease expires', async () => {
      const options: CacheOptions = { namespace: 'vanish', lease: { ttl: 300 } }
      const [a, b] = await Promise.all([instance(options), instance(options)])
      const started = gate()
      void a.getOrSet('k', () => {
        started.open()
        return new Promise<string>(() => {})
      })
      await started.promise
      assert.equal(await b.getOrSet('k', () => 'b took over'), 'b took over')
      assert.ok(b.stats().leaseWaits >= 1)
    })

    it('a load overtaken by another instance’s invalidation of its tag is not stored', async () => {
      const [a, b] = await Promise.all([instance({ namespace: 'race' }), instance({ namespace: 'race' })])
      const read = gate<string>()
      const started = gate()
      const pending = a.getOrSet(
        'row:1',
        async () => {
          started.open()
          return read.promise
        },
        { tags: ['table:rows'] },
      )
      await started.promise
      // The row changes and another instance invalidates, while `a` still holds the old row.
      await b.invalidateTags(['table:rows'])
      read.open('old row')
      assert.equal(await pending, 'old row', 'the caller gets what was read')
      assert.equal(a.stats().discarded, 1)
      assert.equal(await a.get('row:1'), undefined, 'not in L1')
      assert.equal(await b.get('row:1'), undefined, 'not in L2')
      assert.equal(await b.getOrSet('row:1', () => 'new row', { tags: ['table:rows'] }), 'new row')
      assert.equal(await a.get('row:1'), 'new row')
    })

    it('a loader whose lease was lost (it expired, another loader stored) does not store its older value', async () => {
      const [a, b] = await Promise.all([instance({ namespace: 'fence' }), instance({ namespace: 'fence' })])
      const read = gate<string>()
      const started = gate()
      const pending = a.getOrSet('k', () => {
        started.open()
        return read.promise
      })
      await started.promise
      // The lease vanishes as if it had expired while a's loader was stuck; b loads and stores.
      await server.command('DEL', `${prefix}:v1:cache:{fence}:l:k`)
      assert.equal(await b.getOrSet('k', () => 'new'), 'new')
      read.open('old')
      assert.equal(await pending, 'old', 'a’s caller still gets what a read')
      assert.equal(a.stats().discarded, 1)
      assert.equal(await b.get('k'), 'new')
      const c = await instance({ namespace: 'fence', l1: false })
      assert.equal(await c.get('k'), 'new', 'L2 keeps the newer value')
    })

    it('a value begin-load returns is kept out of L1 when an invalidation arrives before the reply', async () => {
      const options: CacheOptions = { namespace: 'seq', ttl: '10m' }
      const [a, b, c] = await Promise.all([instance(options), instance(options), instance(options)])
      const connection = valkits[valkits.length - 3]!.connection
      // Counts the messages a's subscriber has dispatched (its cache's listener runs in the same loop).
      let messages = 0
      await connection.subscribe(`${prefix}:v1:cache:{seq}:events`, () => messages++)
      const script = connection.script.bind(connection)
      // Between a's GET miss and begin-load, c stores v1; right after begin-load ran, b writes v2,
      // and its message reaches a before a handles the reply.
      connection.script = async (...args: Parameters<typeof script>) => {
        if (!String(args[0].name).startsWith('begin-load')) return script(...args)
        await c.set('k', 'v1')
        const reply = await script(...args)
        await b.set('k', 'v2')
        await waitFor(() => messages >= 2 || undefined, { what: 'a to receive c’s and b’s messages' })
        return reply
      }
      try {
        assert.equal(await a.getOrSet('k', () => 'loaded'), 'v1', 'the caller gets what begin-load saw')
      } finally {
        connection.script = script
      }
      assert.equal(await a.get('k'), 'v2', 'a did not keep v1 in L1')
    })

    it('a refresh that answered with the stale value does not answer a caller after a delete', async () => {
      const options: CacheOptions = { namespace: 'swr-delete', staleWhileRevalidate: '10s' }
      const [a, b] = await Promise.all([instance(options), instance(options)])
      await a.getOrSet('k', () => 'v1', { ttl: 100 })
      const writtenAt = Date.now()
      await waitFor(() => Date.now() > writtenAt + 150 || undefined, { what: 'the TTL to pass' })
      const slow = gate<string>()
      assert.equal(await b.getOrSet('k', () => slow.promise, { ttl: 100 }), 'v1', 'stale, refreshing')
      await b.delete('k')
      assert.equal(await b.getOrSet('k', () => 'after delete'), 'after delete')
      slow.open('refreshed')
    })

    it('when only the subscriber connection drops, L1 entries that missed messages are revalidated', async () => {
      const [a, b] = await Promise.all([
        instance({ namespace: 'subdrop' }),
        instance({ namespace: 'subdrop' }),
      ])
      await b.set('k', 'v1')
      assert.equal(await a.get('k'), 'v1')
      assert.equal(a.stats().l1Entries, 1)
      // Redis drops every pub/sub client (as past client-output-buffer-limit pubsub); commands go on.
      await server.command('CLIENT', 'KILL', 'TYPE', 'pubsub')
      await b.set('k', 'v2')
      await waitFor(async () => (await a.get('k')) === 'v2' || undefined, {
        what: 'a to revalidate after its subscriber came back',
      })
      await b.set('k', 'v3')
      await waitFor(async () => (await a.get('k')) === 'v3' || undefined, {
        what: 'a to be subscribed again',
      })
    })

    it('a waiter of a closed cache neither runs its loader nor stores', async () => {
      const options: CacheOptions = { namespace: 'closing', lease: { ttl: '5s' } }
      const [x, y] = await Promise.all([instance(options), instance(options)])
      const holding = gate<string>()
      const started = gate()
      const held = x.getOrSet('k', () => {
        started.open()
        return holding.promise
      })
      await started.promise
      let yRan = false
      const waiting = y.getOrSet('k', () => {
        yRan = true
        return 'y'
      })
      const outcome = waiting.then(
        () => 'resolved',
        (err: unknown) => (err as { code?: string }).code,
      )
      await waitFor(() => y.stats().leaseWaits > 0 || undefined, { what: 'y waiting for x' })
      await y.close()
      assert.equal(await outcome, 'VALKIT_CLOSED')
      assert.equal(yRan, false)
      holding.open('x')
      assert.equal(await held, 'x')
    })

    it('stale-while-revalidate through L2: another instance serves the stale value and refreshes it once', async () => {
      const options: CacheOptions = { namespace: 'swr', ttl: 100, staleWhileRevalidate: '1m' }
      const [a, b] = await Promise.all([instance(options), instance(options)])
      await a.set('page', 'v1')
      const writtenAt = Date.now()
      await waitFor(() => Date.now() > writtenAt + 150 || undefined, { what: 'the TTL to pass' })
      let runs = 0
      const refresh = async () => {
        runs++
        return 'v2'
      }
      assert.equal(await b.getOrSet('page', refresh, { ttl: '1h' }), 'v1', 'stale at once')
      await waitFor(async () => (await a.get('page')) === 'v2' || undefined, {
        what: 'the refreshed value in L2',
      })
      assert.equal(runs, 1)
      assert.equal(b.stats().staleServed, 1)
      assert.equal(await b.has('page'), true)
    })

    it('after a network cut, L1 entries that missed an invalidation are revalidated, not served', async () => {
      const proxy = await tcpProxy({ target: { port: server.port } })
      proxies.push(proxy)
      const a = await instance({ namespace: 'cut' }, proxy.url)
      const b = await instance({ namespace: 'cut' })
      await b.set('config', 'old')
      assert.equal(await a.get('config'), 'old')
      assert.equal(await a.get('config'), 'old', 'now from L1')
      const aValkit = valkits[valkits.length - 2]!
      proxy.blackhole()
      await waitFor(() => aValkit.supervisor.state !== 'ready' || undefined, {
        timeoutMs: 10_000,
        what: 'a degraded',
      })
      assert.equal(await a.get('config'), 'old', 'L1 serves while Redis is away')
      await b.set('config', 'new') // a never hears of it
      proxy.heal()
      proxy.resetConnections()
      await waitFor(() => aValkit.supervisor.state === 'ready' || undefined, {
        timeoutMs: 15_000,
        what: 'a ready',
      })
      assert.equal(await a.get('config'), 'new')
      await b.delete('config')
      await waitFor(async () => (await a.get('config')) === undefined || undefined, {
        what: 'the delete to reach a',
      })
    })

    it('a schema checks values read from L2: a failing one is a miss and getOrSet reloads it', async () => {
      const [a, b] = await Promise.all([instance({ namespace: 'schema' }), instance({ namespace: 'schema' })])
      const user = {
        parse(value: unknown) {
          if (
            typeof value !== 'object' ||
            value === null ||
            typeof (value as { name?: unknown }).name !== 'string'
          ) {
            throw new TypeError('not a user')
          }
          return value as { name: string }
        },
      }
      await a.set('u:1', { name: 'Ada' })
      await a.set('u:2', { nom: 'written by an old release' })
      assert.deepEqual(await b.get('u:1', { schema: user }), { name: 'Ada' })
      assert.equal(await b.get('u:2', { schema: user }), undefined)
      assert.deepEqual(await b.getMany(['u:1', 'u:2'], { schema: user }), [{ name: 'Ada' }, undefined])
      assert.deepEqual(await b.getOrSet('u:2', () => ({ name: 'Grace' }), { schema: user }), {
        name: 'Grace',
      })
      assert.ok(b.stats().invalid >= 3, `invalid reads counted (${b.stats().invalid})`)
      await waitFor(async () => (await a.get<{ name?: string }>('u:2'))?.name === 'Grace' || undefined, {
        what: 'a to drop its old L1 entry and read the reloaded value',
      })
    })

    it('encrypted and MessagePack caches store binary frames; values, tags and stale windows round-trip', async () => {
      const key = randomBytes(32).toString('base64')
      for (const codec of [
        { encryption: { keys: [{ id: 'k1', key }], primary: 'k1' } },
        { serializer: 'msgpack' as const },
        { compressThresholdBytes: 64 },
      ]) {
        const options: CacheOptions = {
          namespace: `bin-${Object.keys(codec)[0]}`,
          l1: false,
          codec,
          grace: '1m',
        }
        const [a, b] = await Promise.all([instance(options), instance(options)])
        const value = { text: 'x'.repeat(300), bytes: [1, 2, 3], nested: { ok: true } }
        await a.set('v', value, { tags: ['t'] })
        await a.set('raw', Buffer.from([0, 0xca, 0x7e, 255]))
        assert.deepEqual(await b.get('v'), value)
        assert.deepEqual(await b.get('raw'), Buffer.from([0, 0xca, 0x7e, 255]))
        assert.equal(await b.has('v'), true)
        await b.invalidateTags(['t'])
        assert.equal(await a.has('v'), false)
      }
    })

    it('before its channel is subscribed, a cache works on L2 alone and fills no L1 entry', async () => {
      const valkit = createValkit({ url: server.url, env: {}, logger: false, keyPrefix: prefix })
      valkits.push(valkit)
      await valkit.supervisor.waitFor('ready', 10_000)
      const early = createCache(valkit, { namespace: 'early', jitter: 0 })
      caches.push(early)
      // Same tick as createCache: the SUBSCRIBE has not been answered yet.
      const wrote = early.set('k', 'v')
      const read = early.get('k')
      await wrote
      assert.equal(await read, 'v')
      assert.equal(early.stats().l1Entries, 0, 'nothing in L1 before the subscription')
      await early.ready()
      assert.equal(await early.get('k'), 'v')
      assert.equal(early.stats().l1Entries, 1, 'L1 in use once subscribed')
    })

    it('counts its values in L2 (root and sub-namespaces), for stats() and the l2_entries gauge', async () => {
      const cache = await instance({ namespace: 'count' })
      const other = await instance({ namespace: 'count-other' })
      await cache.setMany(Array.from({ length: 25 }, (_, i) => ({ key: `k${i}`, value: i, tags: ['t'] })))
      await cache.namespace('child').setMany([1, 2, 3, 4, 5].map((i) => ({ key: `c${i}`, value: i })))
      await other.set('not-counted', 1)
      await waitFor(() => cache.stats().l2Entries === 30 || undefined, {
        timeoutMs: 20_000,
        what: `an L2 count of 30 (last: ${cache.stats().l2Entries})`,
      })
      const valkit = valkits[valkits.length - 2]!
      assert.match(valkit.metrics.toPrometheus(), /valkit_cache_l2_entries\{namespace="count"\} 30/)
    })

    it('setMany writes every value in one call; invalidatePattern deletes matches in L2 and every L1', async () => {
      const [a, b] = await Promise.all([instance({ namespace: 'bulk' }), instance({ namespace: 'bulk' })])
      await a.setMany([
        { key: 'user:1:profile', value: { n: 1 }, tags: ['org:1'] },
        { key: 'user:1:prefs', value: { n: 2 }, tags: ['org:1', 'prefs'] },
        { key: 'user:2:profile', value: { n: 3 }, ttl: '1m' },
      ])
      assert.deepEqual(await b.getMany(['user:1:profile', 'user:1:prefs', 'user:2:profile']), [
        { n: 1 },
        { n: 2 },
        { n: 3 },
      ])
      await b.invalidateTags(['prefs'])
      assert.equal(await b.has('user:1:prefs'), false, 'setMany recorded the tags in L2')
      await waitFor(async () => !(await a.has('user:1:prefs')) || undefined, {
        what: 'a to drop the entry of the invalidated tag',
      })
      assert.deepEqual(await b.get('user:1:profile'), { n: 1 }, 'b has it in L1 now')
      const progress: number[] = []
      const { deleted } = await a.invalidatePattern('user:1:*', {
        onProgress: (p) => progress.push(p.deleted),
      })
      assert.equal(deleted, 1)
      assert.ok(progress.length >= 1)
      await waitFor(async () => (await b.get('user:1:profile')) === undefined || undefined, {
        what: 'b to drop the matching L1 entry',
      })
      assert.deepEqual(await b.get('user:2:profile'), { n: 3 }, 'non-matching keys stay')
    })
  })
}
