/**
 * Redlock over three independent servers: a majority grants, a minority cannot, tokens agreed
 * over the quorum keep increasing when the quorum changes, one server down still grants and two
 * down fail closed, and two instances contending never overlap.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { createValkit, isValkitError, type Valkit } from '../../src/core/index.js'
import { createRedlock, type AcquireResult, type Lease } from '../../src/coord/index.js'
import { cleanPrefix, startServer, testEngines, waitFor, type ServerHandle } from '../../src/testing/index.js'

function leaseOf(result: AcquireResult): Lease {
  assert.equal(result.acquired, true, `expected a grant, got ${JSON.stringify(result)}`)
  return (result as { lease: Lease }).lease
}

for (const engine of testEngines()) {
  void describe(`redlock over three ${engine} servers`, { timeout: 90_000 }, () => {
    const servers: ServerHandle[] = []
    const valkits: Valkit[] = []
    const prefix = `t-redlock-${randomBytes(4).toString('hex')}`
    /** A fresh set of valkit instances on the three servers (what another process would have). */
    const clients = async (which: readonly ServerHandle[] = servers): Promise<Valkit[]> => {
      const set = which.map((s) =>
        createValkit({ url: s.url, env: {}, logger: false, keyPrefix: prefix, commandTimeout: '500ms' }),
      )
      await Promise.all(set.map((v) => v.supervisor.waitFor('ready', 10_000)))
      valkits.push(...set)
      return set
    }
    before(async () => {
      servers.push(...(await Promise.all([0, 1, 2].map(() => startServer({ engine })))))
    })
    after(async () => {
      for (const v of valkits) await v.close()
      for (const s of servers) {
        if (s.alive) await cleanPrefix(s, `${prefix}:`).catch(() => {})
        await s.stop()
      }
    })

    it('a majority grants; the lock is on every server; a second caller is refused until the release', async () => {
      const redlock = createRedlock(await clients())
      const other = createRedlock(await clients())
      assert.equal(redlock.quorum, 2)
      const lease = leaseOf(await redlock.acquire('report', { ttl: '5s' }))
      assert.equal(lease.held, true)
      assert.ok(lease.remainingMs > 4000 && lease.remainingMs <= 5000, `remaining ${lease.remainingMs}`)
      for (const s of servers) {
        const holder = await s.command('GET', `${prefix}:v1:coord:{report}:rl:x`)
        assert.ok(typeof holder === 'string' && holder.length > 0, `no holder on ${s.port}`)
      }
      assert.deepEqual(await other.acquire('report', { wait: 0 }), { acquired: false, reason: 'busy' })
      const waiting = other.acquire('report', { wait: '3s' })
      assert.equal(await lease.release(), true)
      const next = leaseOf(await waiting)
      assert.ok(next.token > lease.token, `${next.token} after ${lease.token}`)
      await next.release()
      assert.equal(other.stats().granted, 1)
      assert.ok(other.stats().attempts >= 2)
      await Promise.all([redlock.close(), other.close()])
    })

    it('a minority held elsewhere does not block a grant; a majority held elsewhere does', async () => {
      const mine = await clients()
      const single = createRedlock([mine[0]!])
      const pair = createRedlock([mine[0]!, mine[1]!])
      const redlock = createRedlock(await clients())
      const one = leaseOf(await single.acquire('minority'))
      const got = leaseOf(await redlock.acquire('minority', { wait: 0 }))
      await got.release()
      await one.release()
      const two = leaseOf(await pair.acquire('majority'))
      assert.deepEqual(await redlock.acquire('majority', { wait: '200ms' }), {
        acquired: false,
        reason: 'timeout',
      })
      // The rounds that got one server gave it back: after the release the third server is free.
      await two.release()
      leaseOf(await redlock.acquire('majority', { wait: 0 }))
      assert.ok(redlock.stats().quorumMisses >= 1)
      await Promise.all([single.close(), pair.close(), redlock.close()])
    })

    it('tokens keep increasing when the quorum changes: the agreed token is written into every fence', async () => {
      // The first server's clock "runs an hour ahead": its fence is far above the others'.
      const ahead = (Date.now() + 3600_000) * 1000
      await servers[0]!.command('SET', `${prefix}:v1:coord:{moving}:rl:f`, String(ahead))
      const redlock = createRedlock(await clients())
      const first = leaseOf(await redlock.acquire('moving'))
      assert.equal(first.token, ahead + 1)
      await first.release()
      // Now a quorum without the first server: the other two must still grant larger tokens.
      const withoutFirst = createRedlock(await clients([servers[1]!, servers[2]!]))
      const second = leaseOf(await withoutFirst.acquire('moving'))
      assert.ok(second.token > first.token, `${second.token} after ${first.token}`)
      await second.release()
      await Promise.all([redlock.close(), withoutFirst.close()])
    })

    it('two instances contending never hold at once, and tokens increase in grant order', async () => {
      const a = createRedlock(await clients(), { retryDelay: '5ms' })
      const b = createRedlock(await clients(), { retryDelay: '5ms' })
      let inside = 0
      let overlaps = 0
      const tokens: number[] = []
      const work = (redlock: typeof a) =>
        redlock.withLock(
          'contended',
          async (lease) => {
            if (++inside > 1) overlaps++
            tokens.push(lease.token)
            await new Promise((r) => setTimeout(r, 2))
            inside--
          },
          { wait: '20s', ttl: '2s' },
        )
      const results = await Promise.all(Array.from({ length: 40 }, (_, i) => work(i % 2 === 0 ? a : b)))
      assert.equal(overlaps, 0)
      assert.ok(results.every((r) => r.acquired))
      assert.equal(tokens.length, 40)
      for (let i = 1; i < tokens.length; i++) assert.ok(tokens[i]! > tokens[i - 1]!, `token ${i} went back`)
      await Promise.all([a.close(), b.close()])
    })

    it('the watchdog keeps a lock past its TTL; without it the lease is lost when the TTL runs out', async () => {
      const redlock = createRedlock(await clients())
      const other = createRedlock(await clients())
      const kept = await redlock.withLock(
        'watched',
        async () => {
          await new Promise((r) => setTimeout(r, 700))
          return (await other.acquire('watched', { wait: 0 })).acquired
        },
        { ttl: '300ms' },
      )
      assert.deepEqual(kept.acquired && kept.value, false)
      const lease = leaseOf(await redlock.acquire('unwatched', { ttl: '200ms' }))
      const lost = new Promise<unknown>((resolve) =>
        lease.signal.addEventListener('abort', () => resolve(lease.signal.reason)),
      )
      assert.ok(isValkitError(await lost, 'VALKIT_LOCK_LOST'))
      assert.equal(lease.held, false)
      assert.equal(await lease.extend(), false)
      // The local expiry comes before the servers' (drift allowance): the next grant may wait a moment.
      leaseOf(await other.acquire('unwatched', { wait: '1s' }))
      assert.equal(redlock.stats().lost, 1)
      await Promise.all([redlock.close(), other.close()])
    })
  })

  void describe(`redlock on ${engine} with servers going away`, { timeout: 90_000 }, () => {
    const servers: ServerHandle[] = []
    const valkits: Valkit[] = []
    before(async () => {
      servers.push(...(await Promise.all([0, 1, 2].map(() => startServer({ engine })))))
      valkits.push(
        ...servers.map((s) => createValkit({ url: s.url, env: {}, logger: false, commandTimeout: '300ms' })),
      )
      await Promise.all(valkits.map((v) => v.supervisor.waitFor('ready', 10_000)))
    })
    after(async () => {
      for (const v of valkits) await v.close()
      for (const s of servers) await s.stop()
    })

    it('one server down: held leases stay held and extend, new grants still come; two down: VALKIT_UNAVAILABLE', async () => {
      const redlock = createRedlock(valkits)
      const held = leaseOf(await redlock.acquire('ha', { ttl: '5s' }))
      await servers[2]!.kill('SIGKILL')
      await waitFor(() => valkits[2]!.supervisor.state !== 'ready', { timeoutMs: 5000 })
      assert.equal(await held.extend(), true)
      assert.equal(held.held, true)
      assert.equal(await held.release(), true)
      const again = leaseOf(await redlock.acquire('ha', { wait: 0 }))
      await again.release()
      await servers[1]!.kill('SIGKILL')
      await waitFor(() => valkits[1]!.supervisor.state !== 'ready', { timeoutMs: 5000 })
      await assert.rejects(redlock.acquire('ha', { wait: '1s' }), (err: unknown) =>
        isValkitError(err, 'VALKIT_UNAVAILABLE'),
      )
      assert.equal(redlock.stats().unavailable, 1)
      await redlock.close()
    })
  })
}

void describe('redlock options', () => {
  it('rejects the same server twice, an empty list and per-call options it cannot honour', async () => {
    const a = createValkit({ url: 'redis://127.0.0.1:1', env: {}, logger: false })
    const b = createValkit({ url: 'redis://127.0.0.1:1/2', env: {}, logger: false })
    try {
      assert.throws(
        () => createRedlock([a, b]),
        (err: unknown) =>
          isValkitError(err, 'VALKIT_INVALID_OPTION') && /servers\[1\]/.test((err as Error).message),
      )
      assert.throws(
        () => createRedlock([]),
        (err: unknown) => isValkitError(err, 'VALKIT_INVALID_OPTION'),
      )
      assert.throws(
        () => createRedlock([a], { retryDelay: -1 }),
        (err: unknown) =>
          isValkitError(err, 'VALKIT_INVALID_OPTION') && /redlock\.retryDelay/.test((err as Error).message),
      )
      const redlock = createRedlock([a])
      await assert.rejects(redlock.acquire('x', { fair: true } as never), (err: unknown) =>
        isValkitError(err, 'VALKIT_INVALID_OPTION'),
      )
      await assert.rejects(redlock.acquire('bad{name}'), (err: unknown) =>
        isValkitError(err, 'VALKIT_INVALID_ARGUMENT'),
      )
      await redlock.close()
    } finally {
      await Promise.all([a.close(), b.close()])
    }
  })

  it('runs on the memory backend: three in-process tables, a quorum of two', async () => {
    const set = [0, 1, 2].map(() => createValkit({ env: {}, logger: false }))
    try {
      const redlock = createRedlock(set)
      const lease = leaseOf(await redlock.acquire('mem'))
      assert.deepEqual(await redlock.acquire('mem', { wait: 0 }), { acquired: false, reason: 'busy' })
      await lease.release()
      const next = leaseOf(await redlock.acquire('mem'))
      assert.ok(next.token > lease.token)
      await next.release()
      await redlock.close()
    } finally {
      await Promise.all(set.map((v) => v.close()))
    }
  })
})
