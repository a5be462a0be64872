import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { createValkit, isValkitError } from '../../src/core/index.js'
import { createCache, resolveCacheOptions } from '../../src/cache/index.js'
import { decodeFrame, encodeFrame } from '../../src/cache/l2-frame.js'
import { decodeTextFrame, encodeTextFrame, readTextHead } from '../../src/cache/text-frame.js'

const valkit = createValkit({ env: {}, logger: false })
after(() => valkit.close())

function rejectsOption(fn: () => unknown, path: string) {
  assert.throws(
    fn,
    (err: unknown) => isValkitError(err, 'VALKIT_INVALID_OPTION') && err.details?.path === path,
  )
}

void describe('cache options', () => {
  it('applies the defaults', () => {
    const o = resolveCacheOptions()
    assert.equal(o.namespace, 'default')
    assert.deepEqual(o.l1, { maxEntries: 10_000, maxBytes: 32 * 1024 * 1024, policy: 'lru' })
    assert.equal(o.l2, true)
    assert.equal(o.ttlMs, 300_000)
    assert.equal(o.jitter, 0.1)
    assert.equal(o.negativeTtlMs, 0)
    assert.equal(o.maxEntryBytes, 1024 * 1024)
    assert.equal(o.codec.serializer, 'json')
  })

  it('parses durations and nested options', () => {
    const o = resolveCacheOptions({
      ttl: '2s',
      negativeTtl: '500ms',
      l1: { policy: 'lfu' },
      codec: { serializer: 'msgpack' },
    })
    assert.equal(o.ttlMs, 2000)
    assert.equal(o.negativeTtlMs, 500)
    assert.equal(o.l1 && o.l1.policy, 'lfu')
    assert.equal(o.codec.serializer, 'msgpack')
  })

  it('names the path of an invalid option', () => {
    rejectsOption(() => resolveCacheOptions({ namespace: 'a:b' }), 'cache.namespace')
    rejectsOption(() => resolveCacheOptions({ namespace: '{x}' }), 'cache.namespace')
    rejectsOption(() => resolveCacheOptions({ l1: { maxEntries: 0 } }), 'cache.l1.maxEntries')
    rejectsOption(() => resolveCacheOptions({ l1: { policy: 'fifo' as 'lru' } }), 'cache.l1.policy')
    rejectsOption(() => resolveCacheOptions({ ttl: 0 }), 'cache.ttl')
    rejectsOption(() => resolveCacheOptions({ ttl: 'soon' }), 'cache.ttl')
    rejectsOption(() => resolveCacheOptions({ jitter: 1.5 }), 'cache.jitter')
    rejectsOption(() => resolveCacheOptions({ maxEntryBytes: -1 }), 'cache.maxEntryBytes')
    rejectsOption(
      () => resolveCacheOptions({ codec: { serializer: 'xml' as 'json' } }),
      'cache.codec.serializer',
    )
    rejectsOption(() => resolveCacheOptions({ l1: false, l2: false }), 'cache.l1')
    rejectsOption(() => createCache(valkit, { l2: 'yes' as unknown as boolean }), 'cache.l2')
  })
})

void describe('L2 frame', () => {
  it('round-trips values, tags and negative entries; rejects garbage', () => {
    const body = Buffer.from('payload')
    const f = decodeFrame(encodeFrame(body, 1_700_000_000_123, ['a', 'b']))!
    assert.deepEqual(
      [f.negative, f.expiresAt, f.tags, f.body.toString()],
      [false, 1_700_000_000_123, ['a', 'b'], 'payload'],
    )
    const n = decodeFrame(encodeFrame(null, 5, null))!
    assert.deepEqual([n.negative, n.tags, n.body.length], [true, null, 0])
    assert.equal(decodeFrame(Buffer.from('not a frame at all')), undefined)
    assert.equal(decodeFrame(Buffer.from([0xca, 0x02, 0, 0, 0, 0, 0, 1, 0, 50])), undefined)
  })
})

void describe('L2 text frame', () => {
  it('round-trips JSON bodies, base64 bodies, tags, stale windows and negative entries; rejects garbage', () => {
    const at = 1_700_000_000_123
    const f = decodeTextFrame(encodeTextFrame('{"a":"é.~"}', false, at, ['org:1', 'x.y'], 60_000))!
    assert.deepEqual(f, {
      negative: false,
      expiresAt: at,
      staleMs: 60_000,
      tags: ['org:1', 'x.y'],
      body: '{"a":"é.~"}',
      base64: false,
    })
    const b = decodeTextFrame(encodeTextFrame('oWJ5dGVz', true, at, null))!
    assert.deepEqual([b.base64, b.body, b.tags, b.staleMs], [true, 'oWJ5dGVz', null, 0])
    const n = decodeTextFrame(encodeTextFrame(null, false, at, null, 5000))!
    assert.deepEqual([n.negative, n.staleMs, n.body], [true, 0, ''])
    assert.deepEqual(readTextHead(encodeTextFrame('1', false, at, ['t']).slice(0, 11)), {
      negative: false,
      expiresAt: at,
    })
    for (const garbage of [
      '',
      '~',
      'plain text value',
      '~z000000000{}',
      '~2' + '0'.repeat(9) + '9.[',
      '~1' + '0'.repeat(9) + 'x',
    ]) {
      assert.equal(decodeTextFrame(garbage), undefined, JSON.stringify(garbage))
    }
  })
})

void describe('L1-only cache', () => {
  it('get/set/has/delete, with per-call TTL', async () => {
    const cache = createCache(valkit, { l2: false, jitter: 0 })
    assert.equal(await cache.get('a'), undefined)
    await cache.set('a', { n: 1 })
    assert.deepEqual(await cache.get('a'), { n: 1 })
    assert.equal(await cache.has('a'), true)
    await cache.delete('a')
    assert.equal(await cache.has('a'), false)
    await cache.set('short', 1, { ttl: 20 })
    assert.equal(await cache.get('short'), 1)
    const t0 = Date.now()
    while (Date.now() - t0 < 25) await new Promise((r) => setImmediate(r))
    assert.equal(await cache.get('short'), undefined)
    const s = cache.stats()
    assert.ok(s.hitsL1 >= 2 && s.misses >= 2, JSON.stringify(s))
    await cache.close()
  })

  it('coalesces concurrent getOrSet callers into one loader run', async () => {
    const cache = createCache(valkit, { l2: false })
    let runs = 0
    let release!: (v: string) => void
    const gate = new Promise<string>((r) => (release = r))
    const callers = Array.from({ length: 25 }, () =>
      cache.getOrSet('k', () => {
        runs++
        return gate
      }),
    )
    release('loaded')
    assert.deepEqual(await Promise.all(callers), Array(25).fill('loaded'))
    assert.equal(runs, 1)
    assert.equal(await cache.getOrSet('k', () => 'again'), 'loaded')
    assert.equal(cache.stats().loaderRuns, 1)
    assert.equal(cache.stats().coalesced, 24)
    await cache.close()
  })

  it('a loader error rejects every coalesced caller and is not cached', async () => {
    const cache = createCache(valkit, { l2: false })
    const boom = new Error('db down')
    const results = await Promise.allSettled([
      cache.getOrSet('k', () => Promise.reject(boom)),
      cache.getOrSet('k', () => 'never'),
    ])
    assert.deepEqual(
      results.map((r) => r.status),
      ['rejected', 'rejected'],
    )
    assert.equal(await cache.getOrSet('k', () => 'ok'), 'ok')
    await cache.close()
  })

  it('negative caching remembers an undefined loader result for negativeTtl only', async () => {
    const off = createCache(valkit, { l2: false })
    let runs = 0
    const missing = () => {
      runs++
      return undefined
    }
    await off.getOrSet('x', missing)
    await off.getOrSet('x', missing)
    assert.equal(runs, 2)
    const on = createCache(valkit, { l2: false, namespace: 'neg', negativeTtl: '1m' })
    runs = 0
    assert.equal(await on.getOrSet('x', missing), undefined)
    assert.equal(await on.getOrSet('x', missing), undefined)
    assert.equal(runs, 1)
    assert.equal(await on.has('x'), false)
    await off.close()
    await on.close()
  })

  it('tags drop L1 entries; namespaces are isolated; clear drops a namespace and its children', async () => {
    const cache = createCache(valkit, { l2: false })
    await cache.set('a', 1, { tags: ['t1'] })
    await cache.set('b', 2, { tags: ['t1', 't2'] })
    await cache.set('c', 3, { tags: ['t2'] })
    await cache.invalidateTags(['t1'])
    assert.deepEqual(await Promise.all(['a', 'b', 'c'].map((k) => cache.has(k))), [false, false, true])
    const child = cache.namespace('child')
    assert.equal(cache.namespace('child'), child)
    await child.set('c', 'child value')
    assert.equal(await cache.get('c'), 3)
    assert.equal(await child.get('c'), 'child value')
    assert.deepEqual(await cache.getMany(['c', 'nope']), [3, undefined])
    await cache.clear()
    assert.equal(await cache.has('c'), false)
    assert.equal(await child.has('c'), false)
    await cache.close()
    await assert.rejects(cache.get('c'), (err: unknown) => isValkitError(err, 'VALKIT_CLOSED'))
  })

  it('bounds L1 by maxEntries with LRU', async () => {
    const cache = createCache(valkit, { l2: false, l1: { maxEntries: 2 } })
    await cache.set('a', 1)
    await cache.set('b', 2)
    await cache.get('a')
    await cache.set('c', 3)
    assert.deepEqual(await cache.getMany(['a', 'b', 'c']), [1, undefined, 3])
    assert.equal(cache.stats().l1Entries, 2)
    await cache.close()
  })

  it('refuses a value above maxEntryBytes in set, serves it uncached from getOrSet', async () => {
    const cache = createCache(valkit, { l2: false, maxEntryBytes: 100 })
    const big = 'x'.repeat(500)
    await assert.rejects(cache.set('big', big), (err: unknown) =>
      isValkitError(err, 'VALKIT_VALUE_TOO_LARGE'),
    )
    assert.equal(await cache.getOrSet('big', () => big), big)
    assert.equal(await cache.has('big'), false)
    assert.equal(cache.stats().oversize, 1)
    await cache.close()
  })

  it('rejects invalid arguments with VALKIT_INVALID_ARGUMENT', async () => {
    const cache = createCache(valkit, { l2: false })
    const invalid = (err: unknown) => isValkitError(err, 'VALKIT_INVALID_ARGUMENT')
    await assert.rejects(cache.get(42 as unknown as string), invalid)
    await assert.rejects(cache.set('k', undefined), invalid)
    await assert.rejects(cache.set('k', 1, { tags: [''] }), invalid)
    await assert.rejects(cache.getOrSet('k', 'nope' as unknown as () => number), invalid)
    await assert.rejects(cache.set('k', 1, { ttl: -1 }), (err: unknown) =>
      isValkitError(err, 'VALKIT_INVALID_OPTION'),
    )
    await cache.close()
  })

  it('reports metrics in the valkit registry', async () => {
    const cache = createCache(valkit, { l2: false, namespace: 'metrics' })
    await cache.set('a', 1)
    await cache.get('a')
    await cache.get('b')
    const text = valkit.metrics.toPrometheus()
    assert.match(text, /valkit_cache_hits_total\{namespace="metrics",tier="l1"\} 1/)
    assert.match(text, /valkit_cache_misses_total\{namespace="metrics"\} 1/)
    assert.match(text, /valkit_cache_l1_entries\{namespace="metrics"\} 1/)
    // A second cache of the same namespace adds its L1; a closed one stops counting.
    const twin = createCache(valkit, { l2: false, namespace: 'metrics' })
    await twin.setMany([
      { key: 'x', value: 1 },
      { key: 'y', value: 2 },
    ])
    assert.match(valkit.metrics.toPrometheus(), /valkit_cache_l1_entries\{namespace="metrics"\} 3/)
    await cache.close()
    assert.match(valkit.metrics.toPrometheus(), /valkit_cache_l1_entries\{namespace="metrics"\} 2/)
    await twin.close()
    assert.match(valkit.metrics.toPrometheus(), /valkit_cache_l1_entries\{namespace="metrics"\} 0/)
  })

  it('without Redis (memory topology) getOrSet serves the loader and keeps the value in L1', async () => {
    const cache = createCache(valkit, { namespace: 'memtopo' })
    await cache.ready()
    let runs = 0
    assert.equal(await cache.getOrSet('k', () => ++runs), 1)
    assert.equal(await cache.getOrSet('k', () => ++runs), 1)
    await cache.set('s', 'v')
    assert.equal(await cache.get('s'), 'v')
    await cache.delete('s')
    assert.equal(await cache.get('s'), undefined)
    await cache.close()
  })
})
