/**
 * The cache's contract, written once and run against every backend: the memory backend (no
 * server), standalone Redis and Valkey, and a Cluster, with and without L1. A behaviour that
 * differs between backends is a bug unless docs/cache.md documents it.
 */
import assert from 'node:assert/strict'
import { it } from 'node:test'
import { isValkitError } from '../../src/core/index.js'
import type { Cache, CacheOptions } from '../../src/cache/index.js'
import { waitFor } from '../../src/testing/index.js'

/** Opens a cache on the backend under test; every call gets a fresh namespace. */
export type OpenCache = (options?: CacheOptions) => Promise<Cache>

function gate<T = void>(): { promise: Promise<T>; open: (value: T) => void } {
  let open!: (value: T) => void
  const promise = new Promise<T>((resolve) => (open = resolve))
  return { promise, open }
}

const clockPast = (at: number) =>
  waitFor(() => Date.now() > at || undefined, { timeoutMs: 5000, what: 'a TTL to pass' })

/** Registers the contract's tests in the current `describe`. */
export function cacheConformance(open: OpenCache): void {
  it('get / set / has / delete, and a per-call TTL', async () => {
    const cache = await open()
    assert.equal(await cache.get('a'), undefined)
    assert.equal(await cache.has('a'), false)
    await cache.set('a', { n: 1, list: [1, 'two'], nested: { ok: true } })
    assert.deepEqual(await cache.get('a'), { n: 1, list: [1, 'two'], nested: { ok: true } })
    assert.equal(await cache.has('a'), true)
    await cache.delete('a')
    assert.equal(await cache.get('a'), undefined)
    // 300 ms: a loaded CI machine once took longer than a 40 ms TTL between the set and the get.
    const setAt = Date.now()
    await cache.set('short', 'lived', { ttl: 300 })
    const read = await cache.get('short')
    if (Date.now() - setAt < 300) assert.equal(read, 'lived')
    await clockPast(setAt + 320)
    assert.equal(await cache.get('short'), undefined)
    await assert.rejects(cache.set('u', undefined), (err: unknown) =>
      isValkitError(err, 'VALKIT_INVALID_ARGUMENT'),
    )
  })

  it('getOrSet: concurrent callers share one loader run; a loader error is not cached', async () => {
    const cache = await open()
    let runs = 0
    const loader = async () => {
      runs++
      await new Promise((resolve) => setTimeout(resolve, 10))
      return { loaded: runs }
    }
    const answers = await Promise.all(Array.from({ length: 20 }, () => cache.getOrSet('k', loader)))
    assert.equal(runs, 1)
    for (const answer of answers) assert.deepEqual(answer, { loaded: 1 })
    assert.deepEqual(await cache.getOrSet('k', loader), { loaded: 1 })
    await assert.rejects(
      cache.getOrSet('e', () => Promise.reject(new Error('boom'))),
      /boom/,
    )
    assert.equal(await cache.getOrSet('e', () => 'recovered'), 'recovered')
  })

  it('negative caching remembers an undefined result for negativeTtl', async () => {
    const cache = await open({ negativeTtl: '1m' })
    let runs = 0
    const missing = () => {
      runs++
      return undefined
    }
    assert.equal(await cache.getOrSet('none', missing), undefined)
    assert.equal(await cache.getOrSet('none', missing), undefined)
    assert.equal(runs, 1)
    assert.equal(await cache.has('none'), false)
  })

  it('tags are a hard delete: has() is false as soon as invalidateTags resolves', async () => {
    const cache = await open()
    await cache.set('p1', 1, { tags: ['org:1'] })
    await cache.set('p2', 2, { tags: ['org:1', 'org:2'] })
    await cache.set('p3', 3, { tags: ['org:2'] })
    await cache.getOrSet('p4', () => 4, { tags: ['org:1'] })
    await cache.invalidateTags(['org:1'])
    assert.deepEqual(await Promise.all(['p1', 'p2', 'p3', 'p4'].map((k) => cache.has(k))), [
      false,
      false,
      true,
      false,
    ])
    assert.deepEqual(await cache.getMany(['p1', 'p3']), [undefined, 3])
  })

  it('getMany and setMany keep order, TTLs and tags', async () => {
    const cache = await open()
    // m2's TTL leaves room for a loaded CI machine between the write and the first read (40 ms
    // did not, on a Cluster, once)
    const written = Date.now()
    await cache.setMany([
      { key: 'm1', value: 'one', tags: ['t'] },
      { key: 'm2', value: 'two', ttl: 500 },
      { key: 'm3', value: 'three' },
    ])
    assert.deepEqual(await cache.getMany(['m3', 'missing', 'm1', 'm2']), ['three', undefined, 'one', 'two'])
    await cache.invalidateTags(['t'])
    await clockPast(written + 520)
    assert.deepEqual(await cache.getMany(['m1', 'm2', 'm3']), [undefined, undefined, 'three'])
  })

  it('invalidatePattern deletes matching keys only', async () => {
    const cache = await open()
    await cache.setMany([
      { key: 'user:1:a', value: 1 },
      { key: 'user:1:b', value: 2 },
      { key: 'user:10:a', value: 3 },
      { key: 'team:1', value: 4 },
    ])
    await cache.invalidatePattern('user:1:*')
    assert.deepEqual(await cache.getMany(['user:1:a', 'user:1:b', 'user:10:a', 'team:1']), [
      undefined,
      undefined,
      3,
      4,
    ])
  })

  it('namespaces are isolated; clear() drops a namespace and its sub-namespaces, not its siblings', async () => {
    const cache = await open()
    const tenantA = cache.namespace('tenant-a')
    const tenantB = cache.namespace('tenant-b')
    assert.equal(cache.namespace('tenant-a'), tenantA, 'the same object for the same name')
    await cache.set('k', 'root')
    await tenantA.set('k', 'a')
    await tenantB.set('k', 'b')
    assert.deepEqual(await Promise.all([cache.get('k'), tenantA.get('k'), tenantB.get('k')]), [
      'root',
      'a',
      'b',
    ])
    await tenantA.clear()
    assert.deepEqual(await Promise.all([cache.get('k'), tenantA.get('k'), tenantB.get('k')]), [
      'root',
      undefined,
      'b',
    ])
    await cache.clear()
    assert.deepEqual(await Promise.all([cache.get('k'), tenantB.get('k')]), [undefined, undefined])
  })

  it('TTL and tags chosen from the loaded value', async () => {
    const cache = await open()
    const options = {
      ttl: (doc: { draft: boolean }) => (doc.draft ? 40 : '1h'),
      tags: (doc: { org: string }) => [`org:${doc.org}`],
    }
    await cache.getOrSet('draft', () => ({ draft: true, org: 'x' }), options)
    await cache.getOrSet('final', () => ({ draft: false, org: 'y' }), options)
    await cache.invalidateTags(['org:y'])
    assert.equal(await cache.has('final'), false)
    await clockPast(Date.now() + 60)
    assert.equal(await cache.get('draft'), undefined)
  })

  it('stale-while-revalidate and grace', async () => {
    const cache = await open({ ttl: 40, staleWhileRevalidate: '1m' })
    await cache.set('swr', 'old')
    await clockPast(Date.now() + 60)
    assert.equal(await cache.getOrSet('swr', async () => 'new', { ttl: '1h' }), 'old')
    await waitFor(async () => (await cache.get('swr')) === 'new' || undefined, { what: 'the refresh' })

    const graceful = await open({ ttl: 40, grace: '1m' })
    await graceful.set('g', 'kept')
    await clockPast(Date.now() + 60)
    assert.equal(await graceful.get('g'), undefined, 'a plain get is fresh-only')
    assert.equal(await graceful.getOrSet('g', () => Promise.reject(new Error('down'))), 'kept')
  })

  it('a load overtaken by an invalidation of its tag is returned but not stored', async () => {
    const cache = await open()
    const read = gate<string>()
    const started = gate()
    const pending = cache.getOrSet(
      'row',
      () => {
        started.open()
        return read.promise
      },
      { tags: ['table'] },
    )
    await started.promise
    await cache.invalidateTags(['table'])
    read.open('old')
    assert.equal(await pending, 'old')
    assert.equal(await cache.has('row'), false)
  })

  it('a value above maxEntryBytes: set throws, getOrSet serves it without caching', async () => {
    const cache = await open({ maxEntryBytes: 64 })
    const big = 'x'.repeat(200)
    await assert.rejects(cache.set('big', big), (err: unknown) =>
      isValkitError(err, 'VALKIT_VALUE_TOO_LARGE'),
    )
    assert.equal(await cache.getOrSet('big', () => big), big)
    assert.equal(await cache.has('big'), false)
  })

  it('rejects bad keys and options with typed errors; a closed cache says so', async () => {
    const cache = await open()
    await assert.rejects(cache.get(42 as unknown as string), (err: unknown) =>
      isValkitError(err, 'VALKIT_INVALID_ARGUMENT'),
    )
    await assert.rejects(cache.set('k', 1, { tags: [''] }), (err: unknown) =>
      isValkitError(err, 'VALKIT_INVALID_ARGUMENT'),
    )
    await assert.rejects(cache.set('k', 1, { ttl: -1 }), (err: unknown) =>
      isValkitError(err, 'VALKIT_INVALID_OPTION'),
    )
    await cache.close()
    await assert.rejects(cache.get('k'), (err: unknown) => isValkitError(err, 'VALKIT_CLOSED'))
  })
}
