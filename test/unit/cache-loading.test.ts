/**
 * getOrSet's loading behaviour without a server (L1 only): stale-while-revalidate, grace, soft
 * and hard loader timeouts, TTL and tags chosen from the value, loads overtaken by an
 * invalidation, setMany and invalidatePattern, and the option checks.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { createValkit, isValkitError } from '../../src/core/index.js'
import { createCache, resolveCacheOptions } from '../../src/cache/index.js'
import { waitFor } from '../../src/testing/index.js'

const valkit = createValkit({ env: {}, logger: false })
after(() => valkit.close())

/** A promise and the function that resolves it. */
function gate<T = void>(): { promise: Promise<T>; open: (value: T) => void } {
  let open!: (value: T) => void
  const promise = new Promise<T>((resolve) => (open = resolve))
  return { promise, open }
}

/** Waits until `ms` have passed by the clock (entries expire by the clock). */
function clockPast(at: number): Promise<true> {
  return waitFor(() => Date.now() > at || undefined, { timeoutMs: 5000, what: 'the TTL to pass' })
}

void describe('getOrSet loading (L1 only)', () => {
  it('stale-while-revalidate: past its TTL the stale value is served at once and refreshed once', async () => {
    const cache = createCache(valkit, { l2: false, jitter: 0, ttl: 40, staleWhileRevalidate: '1m' })
    let version = 0
    const loader = () => `v${++version}`
    assert.equal(await cache.getOrSet('k', loader), 'v1')
    await clockPast(Date.now() + 60)
    const next = gate<string>()
    let refreshes = 0
    const slow = () => {
      refreshes++
      return next.promise
    }
    // Three callers while the refresh runs: all get the stale value, one refresh runs.
    assert.deepEqual(await Promise.all([1, 2, 3].map(() => cache.getOrSet('k', slow, { ttl: '1h' }))), [
      'v1',
      'v1',
      'v1',
    ])
    assert.equal(refreshes, 1)
    next.open('v2')
    await waitFor(async () => (await cache.get('k')) === 'v2' || undefined, { what: 'the refreshed value' })
    assert.equal(await cache.getOrSet('k', slow, { ttl: '1h' }), 'v2')
    assert.equal(refreshes, 1)
    const stats = cache.stats()
    assert.equal(stats.staleServed, 3)
    assert.equal(stats.refreshes, 1)
    await cache.close()
  })

  it('a plain get never returns a stale value', async () => {
    const cache = createCache(valkit, { l2: false, jitter: 0, ttl: 30, grace: '1m' })
    await cache.set('k', 'old')
    await clockPast(Date.now() + 50)
    assert.equal(await cache.get('k'), undefined)
    assert.equal(await cache.has('k'), false)
    await cache.close()
  })

  it('grace: when the loader fails past the TTL, the stale value is served; without grace the error is', async () => {
    const cache = createCache(valkit, { l2: false, jitter: 0, ttl: 30, grace: '1m' })
    await cache.getOrSet('k', () => 'kept')
    await clockPast(Date.now() + 50)
    const failing = () => Promise.reject(new Error('database down'))
    assert.equal(await cache.getOrSet('k', failing), 'kept')
    assert.equal(cache.stats().staleServed, 1)
    // The stale value is not refreshed by a failure: the next call tries the loader again.
    assert.equal(await cache.getOrSet('k', () => 'new'), 'new')

    const strict = createCache(valkit, { l2: false, jitter: 0, ttl: 30, namespace: 'strict' })
    await strict.getOrSet('k', () => 'kept')
    await clockPast(Date.now() + 50)
    await assert.rejects(strict.getOrSet('k', failing), /database down/)
    await cache.close()
    await strict.close()
  })

  it('soft timeout: a slow loader yields the stale value, then its result is stored', async () => {
    const cache = createCache(valkit, { l2: false, jitter: 0, ttl: 30, grace: '1m' })
    await cache.getOrSet('k', () => 'old')
    await clockPast(Date.now() + 50)
    const slow = gate<string>()
    const answer = await cache.getOrSet('k', () => slow.promise, { timeout: { soft: 20 }, ttl: '1h' })
    assert.equal(answer, 'old')
    slow.open('new')
    await waitFor(async () => (await cache.get('k')) === 'new' || undefined, {
      what: 'the late value stored',
    })
    await cache.close()
  })

  it('hard timeout: the loader is aborted; VALKIT_TIMEOUT without a stale value; a late result is not stored', async () => {
    const cache = createCache(valkit, { l2: false, jitter: 0, loaderTimeout: { hard: 30 } })
    const slow = gate<string>()
    let signal: AbortSignal | undefined
    await assert.rejects(
      cache.getOrSet('k', (ctx) => {
        signal = ctx.signal
        return slow.promise
      }),
      (err: unknown) => isValkitError(err, 'VALKIT_TIMEOUT'),
    )
    assert.equal(signal?.aborted, true)
    slow.open('late')
    await new Promise((resolve) => setImmediate(resolve))
    assert.equal(await cache.get('k'), undefined)
    assert.equal(cache.stats().loaderTimeouts, 1)
    assert.equal(await cache.getOrSet('k', () => 'fast'), 'fast')
    await cache.close()
  })

  it('the loader gets its key and the stale value', async () => {
    const cache = createCache(valkit, { l2: false, jitter: 0, ttl: 30, grace: '1m' })
    await cache.getOrSet('k', () => ({ n: 1 }))
    await clockPast(Date.now() + 50)
    const seen = await cache.getOrSet<{ n: number; key?: string }>('k', ({ key, stale }) => ({
      n: (stale?.n ?? 0) + 1,
      key,
    }))
    assert.deepEqual(seen, { n: 2, key: 'k' })
    await cache.close()
  })

  it('TTL and tags chosen from the loaded value', async () => {
    const cache = createCache(valkit, { l2: false, jitter: 0, ttl: '1h' })
    const options = {
      ttl: (doc: { draft: boolean }) => (doc.draft ? 30 : '1h'),
      tags: (doc: { draft: boolean; org: string }) => [`org:${doc.org}`],
    }
    await cache.getOrSet('draft', () => ({ draft: true, org: 'a' }), options)
    await cache.getOrSet('final', () => ({ draft: false, org: 'b' }), options)
    await clockPast(Date.now() + 50)
    assert.equal(await cache.get('draft'), undefined, 'the draft had a 30 ms TTL')
    assert.deepEqual(await cache.get('final'), { draft: false, org: 'b' })
    await cache.invalidateTags(['org:b'])
    assert.equal(await cache.get('final'), undefined, 'tagged by its value')
    await assert.rejects(
      cache.getOrSet('bad', () => 1, { ttl: () => -5 }),
      (err: unknown) => isValkitError(err, 'VALKIT_INVALID_OPTION'),
    )
    await cache.close()
  })

  it('a load overtaken by an invalidation of its tag or key returns its value but does not store it', async () => {
    const cache = createCache(valkit, { l2: false, jitter: 0 })
    for (const invalidate of [() => cache.invalidateTags(['users']), () => cache.delete('u')]) {
      const read = gate<string>()
      const pending = cache.getOrSet('u', () => read.promise, { tags: ['users'] })
      await invalidate()
      read.open('read before the change')
      assert.equal(await pending, 'read before the change')
      assert.equal(await cache.get('u'), undefined, 'not stored')
    }
    assert.equal(cache.stats().discarded, 2)
    assert.equal(await cache.getOrSet('u', () => 'fresh', { tags: ['users'] }), 'fresh')
    assert.equal(await cache.get('u'), 'fresh')
    await cache.close()
  })

  it('setMany stores each value with its TTL and tags; invalidatePattern drops matching keys only', async () => {
    const cache = createCache(valkit, { l2: false, jitter: 0 })
    await cache.setMany([
      { key: 'user:1:profile', value: 1, tags: ['t'] },
      { key: 'user:1:prefs', value: 2, ttl: 30 },
      { key: 'user:2:profile', value: 3 },
    ])
    assert.deepEqual(await cache.getMany(['user:1:profile', 'user:1:prefs', 'user:2:profile']), [1, 2, 3])
    assert.deepEqual(await cache.invalidatePattern('user:1:*'), { deleted: 2 })
    assert.deepEqual(await cache.getMany(['user:1:profile', 'user:1:prefs', 'user:2:profile']), [
      undefined,
      undefined,
      3,
    ])
    await assert.rejects(
      cache.setMany([
        { key: 'ok', value: 1 },
        { key: 'bad', value: undefined },
      ]),
      (err: unknown) => isValkitError(err, 'VALKIT_INVALID_ARGUMENT'),
    )
    assert.equal(await cache.get('ok'), undefined, 'nothing stored when one entry is invalid')
    await assert.rejects(cache.invalidatePattern(''), (err: unknown) =>
      isValkitError(err, 'VALKIT_INVALID_ARGUMENT'),
    )
    await cache.close()
  })

  it('checks the loading options', async () => {
    const path = (fn: () => unknown, expected: string) =>
      assert.throws(
        fn,
        (err: unknown) => isValkitError(err, 'VALKIT_INVALID_OPTION') && err.details?.path === expected,
      )
    path(() => resolveCacheOptions({ loaderTimeout: { soft: '2s', hard: '1s' } }), 'cache.loaderTimeout.soft')
    path(() => resolveCacheOptions({ loaderTimeout: { hard: 0 } }), 'cache.loaderTimeout.hard')
    path(() => resolveCacheOptions({ lease: { ttl: 'forever' } }), 'cache.lease.ttl')
    path(() => resolveCacheOptions({ staleWhileRevalidate: -1 }), 'cache.staleWhileRevalidate')
    const o = resolveCacheOptions({ loaderTimeout: { hard: '10s' } })
    assert.deepEqual(o.lease, { ttlMs: 11_000, waitMs: 11_000 }, 'the lease outlives a hard deadline')
    assert.equal(resolveCacheOptions({ lease: false }).lease, false)
    const cache = createCache(valkit, { l2: false })
    await assert.rejects(
      cache.getOrSet('k', () => 1, { schema: {} as never }),
      (err: unknown) => isValkitError(err, 'VALKIT_INVALID_ARGUMENT'),
    )
    await assert.rejects(
      cache.getOrSet('k', () => 1, { timeout: { soft: 'x' } }),
      (err: unknown) => isValkitError(err, 'VALKIT_INVALID_OPTION'),
    )
    await cache.close()
  })
})
