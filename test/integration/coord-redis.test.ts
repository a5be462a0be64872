/**
 * What only a real server shows: fencing tokens across restarts and a clock that went back,
 * failing closed while Redis/Valkey is down (and the opt-in in-process mode), a watchdog that
 * cannot reach the server, and grants that replicas must confirm.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, describe, it } from 'node:test'
import { createValkit, isValkitError, type Valkit } from '../../src/core/index.js'
import { createCoord, type AcquireResult, type Lease } from '../../src/coord/index.js'
import {
  cleanPrefix,
  startServer,
  tcpProxy,
  testEngines,
  waitFor,
  type ServerHandle,
} from '../../src/testing/index.js'

function leaseOf(result: AcquireResult): Lease {
  assert.equal(result.acquired, true, `expected a grant, got ${JSON.stringify(result)}`)
  return (result as { lease: Lease }).lease
}

async function open(url: string, prefix: string): Promise<Valkit> {
  const valkit = createValkit({ url, env: {}, logger: false, keyPrefix: prefix })
  await valkit.supervisor.waitFor('ready', 10_000)
  return valkit
}

for (const engine of testEngines()) {
  void describe(`coord on ${engine}`, { timeout: 90_000 }, () => {
    const servers: ServerHandle[] = []
    const valkits: Valkit[] = []
    const prefix = `t-coordr-${randomBytes(4).toString('hex')}`
    const server = async (options: Parameters<typeof startServer>[0] = {}) => {
      const s = await startServer({ engine, ...options })
      servers.push(s)
      return s
    }
    let sharedServer: Promise<ServerHandle> | undefined
    const shared = () => (sharedServer ??= server())
    const connect = async (url: string) => {
      const v = await open(url, prefix)
      valkits.push(v)
      return v
    }
    after(async () => {
      for (const v of valkits) await v.close()
      for (const s of servers) {
        if (s.alive) await cleanPrefix(s, `${prefix}:`).catch(() => {})
        await s.stop()
      }
    })

    for (const aof of [true, false]) {
      it(`tokens stay monotonic across a kill -9 and restart (${aof ? 'AOF on' : 'no persistence: the fence key is lost'})`, async () => {
        const s = await server({ aof })
        const valkit = await connect(s.url)
        const coord = createCoord(valkit)
        const tokens: number[] = []
        for (let i = 0; i < 20; i++) {
          const lease = leaseOf(await coord.acquire('orders'))
          tokens.push(lease.token)
          await lease.release()
        }
        const fenceKey = valkit.keys.key('coord', 'orders', 'm', 'f')
        assert.equal(Number(await s.command('GET', fenceKey)), tokens.at(-1))
        if (aof) await s.command('BGREWRITEAOF')
        await s.kill('SIGKILL')
        await s.restart()
        await valkit.supervisor.waitFor('ready', 10_000)
        const stored = await s.command('GET', fenceKey)
        if (aof) assert.ok(stored !== null, 'AOF brought the fence back')
        else assert.equal(stored, null, 'without persistence the fence is gone')
        const next = leaseOf(await coord.acquire('orders', { wait: '5s' }))
        assert.ok(next.token > tokens.at(-1)!, `${next.token} > ${tokens.at(-1)}`)
        await next.release()
        await coord.close()
      })
    }

    it('a server clock that went back (a fence ahead of it) does not make tokens go back', async () => {
      const s = await shared()
      const valkit = await connect(s.url)
      const coord = createCoord(valkit)
      const fenceKey = valkit.keys.key('coord', 'clock', 'm', 'f')
      const ahead = (Date.now() + 3600_000) * 1000
      await s.command('SET', fenceKey, String(ahead))
      const tokens: number[] = []
      for (let i = 0; i < 3; i++) {
        const lease = leaseOf(await coord.acquire('clock'))
        tokens.push(lease.token)
        await lease.release()
      }
      assert.deepEqual(tokens, [ahead + 1, ahead + 2, ahead + 3])
      await coord.close()
    })

    it('while the server is down, grants fail closed with VALKIT_UNAVAILABLE; "local" opts into in-process leases', async () => {
      const s = await server()
      const valkit = await connect(s.url)
      const strict = createCoord(valkit)
      const local = createCoord(valkit, { whenUnavailable: 'local' })
      const before = leaseOf(await strict.acquire('down'))
      await s.kill('SIGKILL')
      await assert.rejects(strict.acquire('down'), (err: unknown) => isValkitError(err, 'VALKIT_UNAVAILABLE'))
      await assert.rejects(strict.acquire('other', { wait: 0 }), (err: unknown) =>
        isValkitError(err, 'VALKIT_UNAVAILABLE'),
      )
      assert.ok(strict.stats().errors >= 2)
      const inProcess = leaseOf(await local.acquire('down'))
      assert.equal(inProcess.local, true)
      assert.deepEqual(await local.acquire('down', { wait: 0 }), { acquired: false, reason: 'busy' })
      assert.equal(local.stats().localGrants, 1)
      await inProcess.release()
      await s.restart()
      await valkit.supervisor.waitFor('ready', 10_000)
      const back = leaseOf(await local.acquire('again'))
      assert.equal(back.local, false)
      await back.release()
      assert.equal(
        await before.release(),
        false,
        'the grant from before the crash did not survive it (no persistence)',
      )
      await strict.close()
      await local.close()
    })

    it('a watchdog that cannot reach the server gives the lease up when its local expiry passes', async () => {
      const s = await shared()
      const proxy = await tcpProxy({ target: { port: s.port } })
      try {
        const valkit = await connect(proxy.url)
        const coord = createCoord(valkit)
        const direct = createCoord(await connect(s.url))
        const result = coord.withLock(
          'watched',
          async (lease) => {
            proxy.blackhole()
            await new Promise((resolve) => lease.signal.addEventListener('abort', resolve))
            return lease.held
          },
          { ttl: 300 },
        )
        await assert.rejects(result, (err: unknown) => isValkitError(err, 'VALKIT_LOCK_LOST'))
        proxy.heal()
        const taker = leaseOf(await direct.acquire('watched', { wait: '5s' }))
        await taker.release()
        assert.ok(coord.stats().lost >= 1)
        await coord.close()
        await direct.close()
      } finally {
        await proxy.close()
      }
    })

    it('a leader cut off from the server is demoted before another candidate can be elected (drift allowance)', async () => {
      const s = await shared()
      const proxy = await tcpProxy({ target: { port: s.port } })
      try {
        const times: Record<string, number> = {}
        const cutOff = createCoord(await connect(proxy.url), { driftMs: 50 })
        const leader = cutOff.election('drift', {
          ttl: 600,
          onDemoted: (reason) => (times[`demoted ${reason}`] = performance.now()),
        })
        await leader.elected()
        const other = createCoord(await connect(s.url)).election('drift', {
          ttl: 600,
          onElected: () => (times.elected = performance.now()),
        })
        proxy.blackhole()
        await other.elected()
        assert.ok(times['demoted lost'] !== undefined, 'the cut-off leader was demoted')
        assert.ok(times['demoted lost'] < times.elected!, 'before the other candidate was elected')
        assert.equal(leader.isLeader, false)
        proxy.heal()
        await other.close()
        await leader.close()
      } finally {
        await proxy.close()
      }
    })

    it('transaction: WATCH / MULTI / EXEC runs the function again when a watched key changed', async () => {
      const s = await shared()
      const valkit = await connect(s.url)
      const coord = createCoord(valkit)
      const a = `${prefix}:{acct}:a`
      const b = `${prefix}:{acct}:b`
      await s.command('SET', a, '100')
      await s.command('SET', b, '0')
      let calls = 0
      const moved = await coord.transaction([a, b], async (tx) => {
        calls++
        const balance = Number(await tx.get(a))
        // Another client writes between the read and EXEC, once.
        if (calls === 1) await s.command('INCRBY', a, '5')
        return [
          ['SET', a, String(balance - 10)],
          ['INCRBY', b, '10'],
        ]
      })
      assert.equal(moved.committed, true)
      assert.equal(moved.attempts, 2)
      assert.equal(await s.command('GET', a), '95')
      assert.equal(await s.command('GET', b), '10')
      assert.deepEqual(await coord.transaction([a], () => null), {
        committed: false,
        reason: 'aborted',
        attempts: 1,
      })
      const stuck = await coord.transaction(
        [a],
        async (tx) => {
          await tx.get(a)
          await s.command('INCR', a)
          return [['SET', a, '0']]
        },
        { retries: 2 },
      )
      assert.deepEqual(stuck, { committed: false, reason: 'conflict', attempts: 3 })
      await coord.close()
    })

    it('transaction: close() refuses queued and later transactions with VALKIT_CLOSED and leaves no connection of its own open', async () => {
      const s = await shared()
      const valkit = await connect(s.url)
      const clients = async () => Number((await s.info('clients')).connected_clients)
      const baseline = await clients()
      const coord = createCoord(valkit)
      const key = `${prefix}:{tx-close}:a`
      let open!: () => void
      const gate = new Promise<void>((resolve) => (open = resolve))
      let running!: () => void
      const started = new Promise<void>((resolve) => (running = resolve))
      const first = coord
        .transaction([key], async () => {
          running()
          await gate
          return null
        })
        .catch((err: unknown) => err)
      const queued = coord.transaction([key], () => null)
      await started
      const closing = coord.close()
      open()
      await closing
      await assert.rejects(queued, (err: unknown) => isValkitError(err, 'VALKIT_CLOSED'))
      await assert.rejects(
        coord.transaction([key], () => null),
        (err: unknown) => isValkitError(err, 'VALKIT_CLOSED'),
      )
      await first
      await waitFor(async () => (await clients()) === baseline, {
        what: `the transaction connection to close (baseline ${baseline} clients)`,
      })
      await valkit.close()
    })

    it('durable grants need replicas: without one the grant is given back with VALKIT_NOT_DURABLE', async () => {
      const s = await shared()
      const valkit = await connect(s.url)
      const coord = createCoord(valkit, { durable: { replicas: 1, timeout: 20 } })
      await assert.rejects(coord.acquire('durable'), (err: unknown) =>
        isValkitError(err, 'VALKIT_NOT_DURABLE'),
      )
      assert.equal((await coord.inspect('durable')).holders.length, 0, 'the unconfirmed grant was given back')
      await coord.close()
    })

    it('a closed instance withdraws its fair waiters from the server queue', async () => {
      const s = await shared()
      const a = createCoord(await connect(s.url), { fair: true })
      const b = createCoord(await connect(s.url), { fair: true })
      const holder = leaseOf(await a.acquire('closing', { ttl: '30s' }))
      const pending = b.acquire('closing', { wait: '20s' })
      await waitFor(async () => (await a.inspect('closing')).queued === 1, { what: 'the waiter to queue' })
      await b.close()
      const outcome = await pending.then(
        (x) => JSON.stringify(x),
        (err: unknown) => (isValkitError(err) ? err.code : String(err)),
      )
      assert.equal(outcome, 'VALKIT_CLOSED')
      assert.equal((await a.inspect('closing')).queued, 0)
      await holder.release()
      assert.equal((await a.inspect('closing')).holders.length, 0, 'nothing was handed to the closed waiter')
      await a.close()
    })

    it('unfair: a release wakes a waiter of its own instance at once, even behind an acquire of the same turn', async () => {
      const s = await shared()
      const a = createCoord(await connect(s.url))
      const holder = leaseOf(await a.acquire('same-turn', { ttl: '20s' }))
      const waiter = a.acquire('same-turn', { wait: '5s' })
      await waitFor(() => a.stats().waiting === 1 || undefined, { what: 'the waiter to wait' })
      // In one turn: an acquire that opens this turn's batch, then the release. Whichever way
      // the waiter is woken (its ask behind the release, or the release's message), it is
      // granted in a round trip or two, not at the holder's 20 s TTL. Run alone, this is also
      // the first release on a fresh server: NOSCRIPT, then the release retried after the ask.
      const late = a.acquire('same-turn', { wait: '5s' })
      const released = holder.release()
      const startedAt = performance.now()
      const first = await Promise.race([waiter, late])
      assert.equal(first.acquired, true)
      assert.ok(performance.now() - startedAt < 2000, 'woken by the release, not by a timer')
      await (first.acquired ? first.lease.release() : undefined)
      const second = first === (await waiter) ? await late : await waiter
      assert.equal(second.acquired, true)
      if (second.acquired) await second.lease.release()
      assert.equal(await released, true)
      await a.close()
    })

    it('a release skips a queued waiter whose instance was cut off past its deadline and serves the next', async () => {
      const s = await shared()
      const proxy = await tcpProxy({ target: { port: s.port } })
      try {
        const a = createCoord(await connect(s.url), { fair: true })
        const cutOff = createCoord(await connect(proxy.url), { fair: true })
        const c = createCoord(await connect(s.url), { fair: true })
        const holder = leaseOf(await a.acquire('stale-head', { ttl: '30s' }))
        const lost = cutOff.acquire('stale-head', { wait: 300 })
        await waitFor(async () => (await a.inspect('stale-head')).queued === 1, {
          what: 'the first waiter to queue',
        })
        // Its withdrawal at the deadline cannot reach the server: its entry stays at the head.
        proxy.blackhole()
        const next = c.acquire('stale-head', { wait: '20s' })
        await waitFor(async () => (await a.inspect('stale-head')).queued === 2, {
          what: 'the second waiter to queue',
        })
        const first = await lost.then(
          (x) => (x.acquired ? 'granted' : x.reason),
          (err: unknown) => (isValkitError(err) ? err.code : String(err)),
        )
        assert.notEqual(first, 'granted')
        assert.equal((await a.inspect('stale-head')).queued, 2, 'the stale entry is still queued')
        await holder.release()
        const lease = leaseOf(await next)
        const seen = await a.inspect('stale-head')
        assert.deepEqual(
          seen.holders.map((h) => h.token),
          [lease.token],
          'the live waiter behind the stale entry holds it',
        )
        assert.ok(lease.token > holder.token)
        assert.equal(seen.queued, 0, 'the stale entry left the queue')
        await lease.release()
        await Promise.all([a.close(), c.close(), cutOff.close()])
      } finally {
        await proxy.close()
      }
    })
  })
}
