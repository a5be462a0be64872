/**
 * The cache against real servers: L2 round trip, tags with hard delete, cross-instance L1
 * invalidation (two valkit instances), corrupted values, Redis killed and restarted, clear().
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { after, before, describe, it } from 'node:test'
import { createValkit, type Valkit } from '../../src/core/index.js'
import { createCache, type Cache, type CacheOptions } from '../../src/cache/index.js'
import { cleanPrefix, startServer, testEngines, waitFor, type ServerHandle } from '../../src/testing/index.js'

const COMMAND_TIMEOUT_MS = 500

for (const engine of testEngines()) {
  void describe(`cache on ${engine}`, { timeout: 60_000 }, () => {
    let server: ServerHandle
    const prefix = `t-cache-${randomBytes(4).toString('hex')}`
    const open: { valkit: Valkit; caches: Cache[] }[] = []

    before(async () => {
      server = await startServer({ engine })
    })
    after(async () => {
      for (const { valkit, caches } of open) {
        for (const cache of caches) await cache.close()
        await valkit.close()
      }
      if (server?.alive) await cleanPrefix(server, `${prefix}:`)
      await server?.stop()
    })

    /** A valkit instance of its own (its own connections) with caches on it, ready. */
    async function instance(...options: CacheOptions[]): Promise<{ valkit: Valkit; caches: Cache[] }> {
      const valkit = createValkit({
        url: server.url,
        env: {},
        logger: false,
        keyPrefix: prefix,
        commandTimeout: COMMAND_TIMEOUT_MS,
      })
      await valkit.supervisor.waitFor('ready', 10_000)
      const caches = options.map((o) => createCache(valkit, { jitter: 0, ...o }))
      await Promise.all(caches.map((c) => c.ready()))
      const handle = { valkit, caches }
      open.push(handle)
      return handle
    }

    it('L2 round trip: a value set in one instance is read from Redis by another', async () => {
      const a = (await instance({ namespace: 'rt' })).caches[0]!
      const b = (await instance({ namespace: 'rt' })).caches[0]!
      await a.set('user:1', { name: 'Ada', roles: ['admin'] }, { ttl: '1m' })
      assert.deepEqual(await b.get('user:1'), { name: 'Ada', roles: ['admin'] })
      assert.equal(b.stats().hitsL2, 1)
      assert.deepEqual(await b.get('user:1'), { name: 'Ada', roles: ['admin'] })
      assert.equal(b.stats().hitsL1, 1, 'second read from L1')
      assert.deepEqual(await b.getMany(['user:1', 'user:2']), [{ name: 'Ada', roles: ['admin'] }, undefined])
      await a.set('user:2', 2)
      const c = (await instance({ namespace: 'rt', l1: false })).caches[0]!
      assert.deepEqual(await c.getMany(['user:2', 'user:1', 'none']), [
        2,
        { name: 'Ada', roles: ['admin'] },
        undefined,
      ])
      const pttl = Number(await server.command('PTTL', `${prefix}:v1:cache:{rt}:v:user:1`))
      assert.ok(pttl > 50_000 && pttl <= 60_000, `PTTL ${pttl}`)
    })

    it('L1 keeps a value read from L2 no longer than L2 does, even when decoding it took a while', async () => {
      const a = (await instance({ namespace: 'late' })).caches[0]!
      const b = (await instance({ namespace: 'late' })).caches[0]!
      await a.set('slow', { n: 1 }, { ttl: 400 })
      const writtenAt = performance.now()
      // A schema that takes 250 ms to validate: the reply is handled long after it was read.
      const slow = {
        parse(value: unknown) {
          const until = performance.now() + 250
          while (performance.now() < until);
          return value
        },
      }
      assert.deepEqual(await b.get('slow', { schema: slow }), { n: 1 })
      await waitFor(() => performance.now() - writtenAt > 500, { what: 'the value to pass its TTL' })
      assert.equal(await b.get('slow'), undefined, 'served from L1 past its TTL')
    })

    it('getOrSet across instances: the second instance reads the first one’s loaded value', async () => {
      const a = (await instance({ namespace: 'gos' })).caches[0]!
      const b = (await instance({ namespace: 'gos' })).caches[0]!
      let runs = 0
      const loader = async () => ({ run: ++runs })
      const callers = Array.from({ length: 20 }, () => a.getOrSet('k', loader))
      assert.ok((await Promise.all(callers)).every((v) => v.run === 1))
      assert.deepEqual(await b.getOrSet('k', loader), { run: 1 })
      assert.equal(runs, 1)
    })

    it('tags: invalidateTags deletes every tagged value; has() is false right after, everywhere', async () => {
      const a = (await instance({ namespace: 'tags' })).caches[0]!
      const b = (await instance({ namespace: 'tags' })).caches[0]!
      await a.set('p1', 1, { tags: ['org:1'] })
      await a.set('p2', 2, { tags: ['org:1', 'org:2'] })
      await a.set('p3', 3, { tags: ['org:2'] })
      assert.deepEqual(await b.getMany(['p1', 'p2', 'p3']), [1, 2, 3]) // now in b's L1 too
      await a.invalidateTags(['org:1'])
      assert.equal(await a.has('p1'), false)
      assert.equal(await a.has('p2'), false)
      assert.equal(await a.has('p3'), true)
      const c = (await instance({ namespace: 'tags', l1: false })).caches[0]!
      assert.deepEqual(await Promise.all(['p1', 'p2', 'p3'].map((k) => c.has(k))), [false, false, true])
      await waitFor(async () => !(await b.has('p1')) && !(await b.has('p2')), {
        timeoutMs: 2000,
        what: 'b drops the entries of the invalidated tag from its L1',
      })
      assert.equal(await b.get('p3'), 3)
      assert.equal(
        Number(await server.command('EXISTS', `${prefix}:v1:cache:{tags}:t:org:1`)),
        0,
        'tag set gone',
      )
    })

    it('tags survive a read through L2: an instance that read a tagged value drops it on invalidation', async () => {
      const a = (await instance({ namespace: 'tags2' })).caches[0]!
      const b = (await instance({ namespace: 'tags2' })).caches[0]!
      await a.set('k', 'v', { tags: ['t'] })
      assert.equal(await b.get('k'), 'v')
      // A read that overlaps an invalidation message does not fill L1: read until L1 holds it.
      await waitFor(
        async () => {
          const before = b.stats().hitsL1
          await b.get('k')
          return b.stats().hitsL1 > before
        },
        { timeoutMs: 2000, what: "k in b's L1 (read from L2, with its tags)" },
      )
      await a.invalidateTags(['t'])
      await waitFor(async () => (await b.get('k')) === undefined, { timeoutMs: 2000, what: 'b drops k' })
      assert.ok(b.stats().remoteInvalidations >= 1)
    })

    it('cross-instance: set and delete in one instance remove the entry from the other’s L1', async () => {
      const a = (await instance({ namespace: 'coh' })).caches[0]!
      const b = (await instance({ namespace: 'coh' })).caches[0]!
      await a.set('k', 'v1')
      assert.equal(await b.get('k'), 'v1')
      assert.equal(await b.get('k'), 'v1')
      assert.equal(b.stats().hitsL1, 1)
      await a.set('k', 'v2')
      await waitFor(async () => (await b.get('k')) === 'v2', { timeoutMs: 2000, what: 'b sees v2' })
      await a.delete('k')
      await waitFor(async () => (await b.get('k')) === undefined, {
        timeoutMs: 2000,
        what: 'b sees the delete',
      })
      assert.ok(b.stats().remoteInvalidations >= 2)
      // A's own messages do not drop A's own fresh entry.
      await a.set('own', 1)
      await b.set('other', 1)
      await waitFor(async () => a.stats().remoteInvalidations >= 0 && (await a.get('own')) === 1, {
        timeoutMs: 1000,
        what: 'own entry kept',
      })
      assert.equal(a.stats().hitsL1 >= 1, true)
    })

    it('a corrupted L2 value is a miss, counted, and getOrSet replaces it', async () => {
      const a = (await instance({ namespace: 'corrupt' })).caches[0]!
      await server.command('SET', `${prefix}:v1:cache:{corrupt}:v:k`, 'garbage')
      assert.equal(await a.get('k'), undefined)
      assert.equal(a.stats().corrupt, 1)
      await server.command(
        'SET',
        `${prefix}:v1:cache:{corrupt}:v:k2`,
        Buffer.from([0xca, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3]).toString('latin1'),
      )
      assert.equal(await a.getOrSet('k2', () => 'fresh'), 'fresh')
      assert.equal(a.stats().corrupt, 2)
      const b = (await instance({ namespace: 'corrupt' })).caches[0]!
      assert.equal(await b.get('k2'), 'fresh')
    })

    it('clear() removes only its namespace (and sub-namespaces), in L2 and in other instances’ L1', async () => {
      const [a, other] = (await instance({ namespace: 'clr' }, { namespace: 'clr2' })).caches as [
        Cache,
        Cache,
      ]
      const b = (await instance({ namespace: 'clr' })).caches[0]!
      const child = a.namespace('child')
      await child.ready()
      for (let i = 0; i < 50; i++) await a.set(`k${i}`, i, { tags: ['all'] })
      await child.set('c', 'child')
      await other.set('k1', 'keep')
      assert.equal(await b.get('k1'), 1)
      const progress: number[] = []
      const { deleted } = await a.clear({ onProgress: (p) => progress.push(p.deleted) })
      assert.equal(deleted, 52) // 50 values + the tag set + the child's value
      assert.equal(progress.at(-1), 52)
      assert.equal(await a.has('k1'), false)
      assert.equal(await child.has('c'), false)
      assert.equal(await other.get('k1'), 'keep')
      assert.equal(Number(await server.command('EXISTS', `${prefix}:v1:cache:{clr2}:v:k1`)), 1)
      await waitFor(async () => (await b.get('k1')) === undefined, { timeoutMs: 2000, what: 'b L1 cleared' })
    })

    it('Redis killed: get/getOrSet/set/delete keep working from L1 and the loader; restart: L2 again', async (t) => {
      const a = (await instance({ namespace: 'down' })).caches[0]!
      const { valkit: vb, caches } = await instance({ namespace: 'down' })
      const b = caches[0]!
      await a.set('warm', 'from-l1')
      assert.equal(await a.get('warm'), 'from-l1')
      await server.kill()
      await waitFor(() => open.every(({ valkit }) => valkit.supervisor.state !== 'ready'), {
        timeoutMs: 5000,
        what: 'every instance degraded',
      })
      const started = performance.now()
      assert.equal(await a.get('warm'), 'from-l1')
      assert.equal(await a.get('cold'), undefined)
      let runs = 0
      assert.equal(await a.getOrSet('fresh', () => `loaded-${++runs}`), 'loaded-1')
      assert.equal(await a.getOrSet('fresh', () => `loaded-${++runs}`), 'loaded-1', 'kept in L1')
      await a.set('written', 'while-down')
      assert.equal(await a.get('written'), 'while-down')
      await a.delete('warm')
      assert.equal(await a.get('warm'), undefined)
      await a.invalidateTags(['x'])
      assert.equal(await a.has('fresh'), true)
      const elapsed = performance.now() - started
      t.diagnostic(`10 calls while down took ${elapsed.toFixed(1)} ms`)
      assert.ok(elapsed < COMMAND_TIMEOUT_MS, `took ${elapsed.toFixed(0)} ms`)

      await server.restart()
      await waitFor(() => open.every(({ valkit }) => valkit.supervisor.state === 'ready'), {
        timeoutMs: 10_000,
        what: 'every instance ready again',
      })
      // L1 entries made while down were dropped on recovery; the write made while down was
      // replayed as an L2 deletion.
      assert.equal(await a.has('written'), false)
      await a.set('after', 'restart')
      const hits = b.stats().hitsL2
      assert.equal(await b.get('after'), 'restart')
      assert.equal(b.stats().hitsL2, hits + 1, 'read from L2 after recovery')
      assert.equal(vb.supervisor.backend, 'redis')
    })
  })
}
