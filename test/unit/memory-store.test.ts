import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, it } from 'node:test'
import { isValkitError } from '../../src/core/errors.js'
import { compileGlob, createMemoryStore, estimateSize } from '../../src/core/memory/index.js'
import type { EvictionReason } from '../../src/core/memory/index.js'

function fakeClock(start = 1_000_000) {
  let t = start
  return { now: () => t, advance: (ms: number) => void (t += ms) }
}

function recordEvictions<V>(store: { onEvict(l: (k: string, v: V, r: EvictionReason) => void): () => void }) {
  const log: Array<[string, EvictionReason]> = []
  store.onEvict((key, _value, reason) => log.push([key, reason]))
  return log
}

void describe('memory store: LRU', () => {
  void it('evicts the least recently used entry, and get refreshes recency but peek does not', () => {
    const store = createMemoryStore<number>({ maxEntries: 3, sweepIntervalMs: 0 })
    const evicted = recordEvictions(store)
    store.set('a', 1)
    store.set('b', 2)
    store.set('c', 3)
    assert.equal(store.get('a'), 1) // a is now most recent; b is least recent
    assert.equal(store.peek('b'), 2) // peek must not save b
    store.set('d', 4)
    assert.deepEqual(evicted, [['b', 'lru']])
    assert.deepEqual([...store.keys()].sort(), ['a', 'c', 'd'])
    store.set('e', 5)
    assert.deepEqual(evicted.at(-1), ['c', 'lru'])
  })

  void it('overwriting a key keeps one entry, refreshes it, and adjusts bytes', () => {
    const store = createMemoryStore<string>({ maxEntries: 2, sweepIntervalMs: 0 })
    store.set('a', 'xx')
    store.set('b', 'yy')
    store.set('a', 'zzzz')
    assert.equal(store.size, 2)
    assert.equal(store.bytes, 8 + 4)
    store.set('c', 'q')
    assert.equal(store.has('b'), false)
    assert.equal(store.get('a'), 'zzzz')
  })
})

void describe('memory store: LFU', () => {
  void it('keeps frequently used entries under a churn of one-hit keys', () => {
    const store = createMemoryStore<number>({ maxEntries: 100, policy: 'lfu', sweepIntervalMs: 0 })
    const hot = Array.from({ length: 20 }, (_, i) => `hot:${i}`)
    for (const key of hot) store.set(key, 1)
    for (let round = 0; round < 50; round++) {
      for (const key of hot) store.get(key)
      for (let i = 0; i < 200; i++) store.set(`cold:${round}:${i}`, i)
    }
    for (const key of hot) assert.equal(store.has(key), true, `${key} survived the churn`)
    assert.equal(store.size, 100)
    assert.ok(store.stats().evictions > 9_000)
  })

  void it('an LRU store under the same churn loses the hot keys (the test can fail)', () => {
    const store = createMemoryStore<number>({ maxEntries: 100, policy: 'lru', sweepIntervalMs: 0 })
    for (let i = 0; i < 20; i++) store.set(`hot:${i}`, 1)
    for (let i = 0; i < 20; i++) store.get(`hot:${i}`)
    for (let i = 0; i < 200; i++) store.set(`cold:${i}`, i)
    assert.equal(store.has('hot:0'), false)
  })

  void it('reports reason lfu', () => {
    const store = createMemoryStore<number>({ maxEntries: 2, policy: 'lfu', sweepIntervalMs: 0 })
    const evicted = recordEvictions(store)
    store.set('old', 1)
    for (let i = 0; i < 100; i++) store.get('old')
    store.set('x', 1)
    store.set('y', 1)
    assert.deepEqual(evicted, [['x', 'lfu']])
  })

  void it('ages counts, so a past favourite loses to a newer one used less in total', () => {
    const store = createMemoryStore<number>({ maxEntries: 2, policy: 'lfu', sweepIntervalMs: 0 })
    const evicted = recordEvictions(store)
    store.set('past', 1)
    for (let i = 0; i < 1_000; i++) store.get('past')
    store.set('now', 1)
    for (let i = 0; i < 600; i++) store.get('now') // counts are halved once on the way
    store.set('z', 1)
    assert.deepEqual(evicted, [['past', 'lfu']])
    assert.equal(store.get('now'), 1)
  })

  void it('overwriting the only low-frequency key does not evict the key being written', () => {
    const store = createMemoryStore<string>({
      maxEntries: 3,
      maxBytes: 20,
      policy: 'lfu',
      sweepIntervalMs: 0,
    })
    store.set('a', 'aa')
    store.set('b', 'bb')
    for (let i = 0; i < 5; i++) store.get('b')
    store.set('a', 'aaaaaaaaa') // 18 bytes + b's 4 > 20: b must go, not a
    assert.equal(store.get('a'), 'aaaaaaaaa')
    assert.equal(store.has('b'), false)
    assert.ok(store.bytes <= 20)
  })
})

void describe('memory store: byte bound', () => {
  void it('never holds more than maxBytes, evicting with reason size', () => {
    const store = createMemoryStore<Buffer>({ maxEntries: 1_000, maxBytes: 10_000, sweepIntervalMs: 0 })
    const reasons = new Set<EvictionReason>()
    store.onEvict((_k, _v, reason) => reasons.add(reason))
    for (let i = 0; i < 500; i++) {
      store.set(`k${i}`, Buffer.alloc(100 + (i % 7) * 50))
      assert.ok(store.bytes <= 10_000, `bytes ${store.bytes} after ${i}`)
    }
    assert.deepEqual([...reasons], ['size'])
    let sum = 0
    for (const [, value] of store) sum += value.length
    assert.equal(sum, store.bytes)
  })

  void it('rejects a value larger than maxBytes with false and drops the old value of that key', () => {
    const store = createMemoryStore<string>({ maxBytes: 100, sweepIntervalMs: 0 })
    const evicted = recordEvictions(store)
    assert.equal(store.set('k', 'small'), true)
    assert.equal(store.set('k', 'x'.repeat(51)), false)
    assert.equal(store.get('k'), undefined)
    assert.deepEqual(evicted, [['k', 'size']])
    assert.equal(store.stats().rejected, 1)
    assert.equal(store.set('big', 'whatever', { sizeBytes: 101 }), false)
    assert.equal(store.set('ok', 'x'.repeat(1000), { sizeBytes: 100 }), true)
  })

  void it('uses sizeOf when given, and estimateSize by default', () => {
    const store = createMemoryStore<object>({ sizeOf: () => 7, sweepIntervalMs: 0 })
    store.set('a', { big: 'x'.repeat(1000) })
    assert.equal(store.bytes, 7)
    assert.equal(estimateSize('abc'), 6)
    assert.equal(estimateSize(Buffer.alloc(33)), 33)
    const cyclic: Record<string, unknown> = { a: 'xx' }
    cyclic.self = cyclic
    assert.ok(estimateSize(cyclic) > 4 && estimateSize(cyclic) < 200)
  })
})

void describe('memory store: expiry', () => {
  void it('expires lazily on access, with ttl() reporting ms left, -1 and -2', () => {
    const clock = fakeClock()
    const store = createMemoryStore<string>({ now: clock.now, sweepIntervalMs: 0 })
    const evicted = recordEvictions(store)
    store.set('t', 'v', { ttlMs: 1_000 })
    store.set('forever', 'v')
    assert.equal(store.ttl('t'), 1_000)
    assert.equal(store.ttl('forever'), -1)
    assert.equal(store.ttl('missing'), -2)
    clock.advance(999)
    assert.equal(store.get('t'), 'v')
    assert.equal(store.ttl('t'), 1)
    clock.advance(1)
    assert.equal(store.get('t'), undefined)
    assert.equal(store.ttl('t'), -2)
    assert.deepEqual(evicted, [['t', 'expired']])
    assert.equal(store.stats().expirations, 1)
    assert.equal(store.size, 1)
  })

  void it('expire() sets, moves and (<= 0) applies a TTL; persist() removes it', () => {
    const clock = fakeClock()
    const store = createMemoryStore<number>({ now: clock.now, sweepIntervalMs: 0 })
    store.set('a', 1)
    assert.equal(store.expire('a', 500), true)
    assert.equal(store.expire('nope', 500), false)
    assert.equal(store.ttl('a'), 500)
    assert.equal(store.persist('a'), true)
    clock.advance(10_000)
    assert.equal(store.get('a'), 1)
    assert.equal(store.expire('a', 0), true)
    assert.equal(store.has('a'), false)
  })

  void it('sweep() removes expired entries without access, bounded per call, earliest first', () => {
    const clock = fakeClock()
    const store = createMemoryStore<number>({ now: clock.now, sweepIntervalMs: 0 })
    for (let i = 0; i < 10; i++) store.set(`k${i}`, i, { ttlMs: 100 + i })
    store.set('keep', 1, { ttlMs: 10_000 })
    clock.advance(200)
    assert.equal(store.sweep(4), 4)
    assert.deepEqual([...store.keys('k[0-9]*')].length, 0) // keys() hides expired entries
    assert.equal(store.size, 7)
    assert.equal(store.sweep(), 6)
    assert.equal(store.size, 1)
    assert.equal(store.bytes, 8)
    assert.equal(store.sweep(), 0)
  })

  void it('the background sweeper removes expired entries on its own', async () => {
    const clock = fakeClock()
    const store = createMemoryStore<number>({ now: clock.now, sweepIntervalMs: 5 })
    const expired = new Promise<string>((resolve) => {
      store.onEvict((key, _v, reason) => reason === 'expired' && resolve(key))
    })
    store.set('soon', 1, { ttlMs: 50 })
    clock.advance(51)
    assert.equal(await expired, 'soon')
    assert.equal(store.size, 0)
    store.close()
  })

  void it('the sweeper timer never keeps the process alive', async () => {
    const storeModule = fileURLToPath(new URL('../../src/core/memory/index.ts', import.meta.url))
    const script = `import { createMemoryStore } from ${JSON.stringify(storeModule)}
      const s = createMemoryStore({ sweepIntervalMs: 10 }); s.set('k', 1, { ttlMs: 60000 }); console.log('set')`
    // If the timer kept the process alive, execFile's timeout would kill it and reject.
    const { stdout } = await promisify(execFile)(
      process.execPath,
      ['--import', 'tsx', '--input-type=module', '-e', script],
      // Without NODE_TEST_CONTEXT, or the child would run as a test-runner child that exits on its own.
      { timeout: 10_000, env: { ...process.env, NODE_TEST_CONTEXT: undefined } },
    )
    assert.equal(stdout.trim(), 'set')
  })

  void it('prefers evicting an expired entry over a live one', () => {
    const clock = fakeClock()
    const store = createMemoryStore<number>({ maxEntries: 2, now: clock.now, sweepIntervalMs: 0 })
    store.set('live', 1)
    store.set('dying', 2, { ttlMs: 10 })
    store.get('dying')
    clock.advance(20)
    store.set('new', 3)
    assert.equal(store.get('live'), 1)
    assert.equal(store.stats().evictions, 0)
    assert.equal(store.stats().expirations, 1)
  })

  void it('rejects invalid TTLs and options with typed errors', () => {
    const store = createMemoryStore({ sweepIntervalMs: 0 })
    assert.throws(
      () => store.set('a', 1, { ttlMs: -5 }),
      (e) => isValkitError(e, 'VALKIT_INVALID_ARGUMENT'),
    )
    assert.throws(
      () => store.set('a', 1, { ttlMs: Number.NaN }),
      (e) => isValkitError(e, 'VALKIT_INVALID_ARGUMENT'),
    )
    assert.throws(
      () => createMemoryStore({ maxEntries: 0 }),
      (e) => isValkitError(e, 'VALKIT_INVALID_OPTION') && e.message.includes('memory.maxEntries'),
    )
    assert.throws(
      () => createMemoryStore({ policy: 'fifo' as 'lru' }),
      (e) => isValkitError(e, 'VALKIT_INVALID_OPTION'),
    )
  })
})

void describe('memory store: counters, keys, stats', () => {
  void it('incrBy creates, adds, and sets the TTL only once', () => {
    const clock = fakeClock()
    const store = createMemoryStore<number | string>({ now: clock.now, sweepIntervalMs: 0 })
    assert.equal(store.incrBy('c', 2, 1_000), 2)
    clock.advance(600)
    assert.equal(store.incrBy('c', 3, 1_000), 5)
    assert.equal(store.ttl('c'), 400) // window not pushed back
    clock.advance(400)
    assert.equal(store.incrBy('c', 1), 1) // new window, no TTL
    assert.equal(store.ttl('c'), -1)
    store.set('s', 'text')
    assert.throws(
      () => store.incrBy('s', 1),
      (e) => isValkitError(e, 'VALKIT_INVALID_ARGUMENT'),
    )
    assert.throws(
      () => store.incrBy('c', Number.POSITIVE_INFINITY),
      (e) => isValkitError(e, 'VALKIT_INVALID_ARGUMENT'),
    )
  })

  void it('keys() matches Redis-style globs', () => {
    const store = createMemoryStore({ sweepIntervalMs: 0 })
    for (const k of ['user:1', 'user:2', 'user:10', 'session:1', 'a*b', 'a-b']) store.set(k, 1)
    assert.deepEqual([...store.keys('user:?')].sort(), ['user:1', 'user:2'])
    assert.deepEqual([...store.keys('user:*')].sort(), ['user:1', 'user:10', 'user:2'])
    assert.deepEqual([...store.keys('*:[12]')].sort(), ['session:1', 'user:1', 'user:2'])
    assert.deepEqual([...store.keys('a\\*b')], ['a*b'])
    assert.deepEqual([...store.keys('[^u]*')].sort(), ['a*b', 'a-b', 'session:1'])
    assert.equal(compileGlob('user:[0-9]')('user:7'), true)
    assert.equal(compileGlob('user:[!0-9]')('user:7'), false)
    assert.equal(compileGlob('a.b')('axb'), false)
  })

  void it('stats count hits, misses, sets, deletions are not evictions, clear notifies', () => {
    const store = createMemoryStore<number>({ sweepIntervalMs: 0 })
    const evicted = recordEvictions(store)
    store.set('a', 1)
    store.set('b', 2)
    store.get('a')
    store.get('zz')
    store.peek('b')
    assert.equal(store.delete('a'), true)
    assert.equal(store.delete('a'), false)
    store.clear()
    assert.deepEqual(store.stats(), {
      hits: 1,
      misses: 1,
      sets: 2,
      evictions: 0,
      expirations: 0,
      rejected: 0,
      entries: 0,
      bytes: 0,
    })
    assert.deepEqual(evicted, [
      ['a', 'deleted'],
      ['b', 'deleted'],
    ])
  })

  void it('a throwing listener does not break the store; unsubscribe works', async () => {
    const store = createMemoryStore<number>({ sweepIntervalMs: 0 })
    const warned = once(process, 'warning')
    const off = store.onEvict(() => {
      throw new Error('boom')
    })
    store.set('a', 1)
    assert.equal(store.delete('a'), true)
    const [warning] = (await warned) as [Error]
    assert.equal(warning.message, 'boom')
    off()
    store.set('b', 1)
    assert.equal(store.delete('b'), true)
    assert.equal(store.size, 0)
  })
})

void describe('memory store: randomized consistency', () => {
  for (const policy of ['lru', 'lfu'] as const) {
    void it(`${policy}: contents, bounds and evictions stay consistent under random operations`, () => {
      let seed = 42
      const random = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff
      const clock = fakeClock()
      const store = createMemoryStore<string>({
        policy,
        maxEntries: 50,
        maxBytes: 2_000,
        now: clock.now,
        sweepIntervalMs: 0,
      })
      const model = new Map<string, string>()
      store.onEvict((key, value, reason) => {
        assert.equal(model.get(key), value, `evicted ${key} (${reason}) held what the store had`)
        model.delete(key)
      })
      for (let step = 0; step < 50_000; step++) {
        const key = `k${Math.floor(random() * 120)}`
        const r = random()
        if (r < 0.45) store.get(key)
        else if (r < 0.75) {
          const value = 'v'.repeat(Math.floor(random() * 60))
          const ttlMs = random() < 0.3 ? 1 + Math.floor(random() * 50) : undefined
          if (store.set(key, value, { ttlMs })) model.set(key, value)
        } else if (r < 0.82) store.delete(key)
        else if (r < 0.88) store.expire(key, Math.floor(random() * 40) - 5)
        else if (r < 0.93) clock.advance(Math.floor(random() * 10))
        else if (r < 0.96) store.sweep(3)
        else store.peek(key)
        assert.ok(store.size <= 50 && store.bytes <= 2_000)
      }
      store.sweep(Infinity)
      assert.deepEqual(new Map(store.entries()), model)
      let bytes = 0
      for (const value of model.values()) bytes += value.length * 2
      assert.equal(store.bytes, bytes)
      assert.equal(store.size, model.size)
    })
  }
})
