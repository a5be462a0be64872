/**
 * The agent state store's contract, run against every backend next to the session contract.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { it } from 'node:test'
import { isValkitError } from '../../src/core/index.js'
import type { StateStore, StateStoreOptions } from '../../src/session/index.js'
import { waitFor } from '../../src/testing/index.js'

/** Two instances of one state store (same name, each on its own valkit connection). */
export type OpenState = <T>(
  options?: StateStoreOptions<T>,
) => Promise<{ store: StateStore<T>; peer: StateStore<T> }>

/** Registers the contract's tests in the current `describe`. */
export function stateConformance(open: OpenState): void {
  it('state: versions, optimistic concurrency with the current document on conflict, delete', async () => {
    const { store, peer } = await open<{ step: number }>()
    assert.equal(await store.get('run-1'), undefined)
    assert.deepEqual(await store.put('run-1', { step: 1 }, { ifVersion: 0 }), {
      ok: true,
      version: 1,
      updatedAt: (await peer.get('run-1'))!.updatedAt,
    })
    const doc = (await peer.get('run-1'))!
    assert.deepEqual([doc.id, doc.version, doc.value, doc.expiresAt], ['run-1', 1, { step: 1 }, null])
    const again = await peer.put('run-1', { step: 99 }, { ifVersion: 0 })
    assert.ok(!again.ok)
    assert.deepEqual([again.reason, again.version, again.current?.value], ['conflict', 1, { step: 1 }])
    assert.equal((await store.put('run-1', { step: 2 }, { ifVersion: 1 })).ok, true)
    const stale = await peer.put('run-1', { step: 3 }, { ifVersion: 1 })
    assert.ok(!stale.ok && stale.version === 2 && stale.current?.value.step === 2)
    assert.equal((await store.put('run-1', { step: 10 })).ok, true, 'a blind write')
    assert.equal((await store.get('run-1'))!.version, 3)
    assert.equal(await peer.delete('run-1', { ifVersion: 2 }), false)
    assert.equal(await peer.delete('run-1', { ifVersion: 3 }), true)
    assert.equal(await store.get('run-1'), undefined)
    assert.equal(await store.delete('run-1'), false)
    assert.equal(store.stats().conflicts + peer.stats().conflicts, 3)
    await assert.rejects(store.put('bad{id}', { step: 1 }), (err: unknown) =>
      isValkitError(err, 'VALKIT_INVALID_ARGUMENT'),
    )
    await assert.rejects(store.put('u', undefined as unknown as { step: number }), (err: unknown) =>
      isValkitError(err, 'VALKIT_INVALID_ARGUMENT'),
    )
  })

  it('state: concurrent read-modify-write from two instances loses no increment', async () => {
    const { store, peer } = await open<{ n: number }>()
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        (i % 2 === 0 ? store : peer).update('counter', (v) => ({ n: (v?.n ?? 0) + 1 }), { retries: 50 }),
      ),
    )
    assert.ok(results.every((r) => r.ok))
    const doc = (await store.get('counter'))!
    assert.deepEqual([doc.value.n, doc.version], [20, 20])
  })

  it('state: TTL per store and per write; history keeps the last N versions', async () => {
    const { store } = await open<string>({ ttl: 150, history: 3 })
    await store.put('ctx', 'v1')
    const doc = (await store.get('ctx'))!
    assert.ok(doc.expiresAt !== null && doc.expiresAt > doc.updatedAt)
    for (const v of ['v2', 'v3', 'v4', 'v5']) await store.put('ctx', v, { ttl: '1h' })
    assert.deepEqual(
      (await store.history('ctx')).map((d) => [d.version, d.value]),
      [
        [4, 'v4'],
        [3, 'v3'],
        [2, 'v2'],
      ],
    )
    await store.put('short', 'gone soon')
    await waitFor(async () => (await store.get('short')) === undefined || undefined, {
      what: 'the TTL to pass',
      intervalMs: 20,
    })
    assert.equal((await store.get('ctx'))!.value, 'v5', 'the per-write TTL kept it')
    await store.delete('ctx')
    assert.deepEqual(await store.history('ctx'), [])
  })

  it('state: sensitive stores round-trip; values failing validate read as missing and are counted', async () => {
    const encryption = { keys: [{ id: 'k1', key: randomBytes(32) }], primary: 'k1' }
    const { store } = await open<{ secret: string }>({ sensitive: true, encryption })
    await store.put('cred', { secret: 'hunter2' })
    assert.deepEqual((await store.get('cred'))!.value, { secret: 'hunter2' })
    const strict = await open<{ n: number }>({
      validate: (v) => {
        if (typeof v !== 'object' || v === null || typeof (v as { n?: unknown }).n !== 'number')
          throw new Error('bad shape')
        return v as { n: number }
      },
    })
    await strict.store.put('a', { n: 1 })
    await strict.store.put('b', { wrong: true } as unknown as { n: number })
    assert.deepEqual((await strict.peer.get('a'))!.value, { n: 1 })
    assert.equal(await strict.peer.get('b'), undefined)
    assert.equal(strict.peer.stats().corrupt, 1)
  })
}
