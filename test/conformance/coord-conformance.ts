/**
 * The coordination contract, written once and run against every backend: the memory backend
 * (no server), standalone Redis and Valkey, and a Cluster. A behaviour that differs between
 * backends is a bug unless docs/coord.md documents it.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { it } from 'node:test'
import { isValkitError } from '../../src/core/index.js'
import type { Coord, CoordOptions, Lease } from '../../src/coord/index.js'
import { waitFor } from '../../src/testing/index.js'

/** Opens a coord instance on the backend under test (each has its own owner prefix). */
export type OpenCoord = (options?: CoordOptions) => Coord

const name = (label: string): string => `${label}-${randomBytes(4).toString('hex')}`
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void
  const promise = new Promise<void>((resolve) => (open = resolve))
  return { promise, open }
}

async function held(result: Awaited<ReturnType<Coord['acquire']>>): Promise<Lease> {
  assert.equal(result.acquired, true, `expected a grant, got ${JSON.stringify(result)}`)
  return (result as { lease: Lease }).lease
}

/** Registers the contract's tests in the current `describe`. */
export function coordConformance(open: OpenCoord): void {
  it('a mutex is granted to one owner; others are busy; tokens strictly increase per resource', async () => {
    const a = open()
    const b = open()
    const r = name('m')
    const first = await held(await a.acquire(r, { ttl: '30s' }))
    assert.equal(first.held, true)
    assert.ok(Number.isSafeInteger(first.token) && first.token > 0)
    assert.deepEqual(await b.acquire(r, { wait: 0 }), { acquired: false, reason: 'busy' })
    assert.deepEqual(await a.acquire(r, { wait: 0 }), { acquired: false, reason: 'busy' }, 'not re-entrant')
    assert.equal(await first.release(), true)
    assert.equal(await first.release(), true, 'release is idempotent')
    assert.equal(first.held, false)
    const tokens = [first.token]
    for (let i = 0; i < 5; i++) {
      const lease = await held(await (i % 2 ? a : b).acquire(r, { wait: 0 }))
      tokens.push(lease.token)
      await lease.release()
    }
    for (let i = 1; i < tokens.length; i++) assert.ok(tokens[i]! > tokens[i - 1]!, `token ${i} increases`)
    const state = await a.inspect(r)
    assert.equal(state.holders.length, 0)
    assert.equal(state.lastToken, tokens.at(-1))
  })

  it('a waiter is woken by the release, long before the holder’s TTL would free it', async () => {
    const a = open()
    const b = open()
    const r = name('wake')
    const lease = await held(await a.acquire(r, { ttl: '60s' }))
    const waiting = b.acquire(r, { wait: '20s' })
    await waitFor(() => b.stats().waiting === 1, { what: 'the waiter to wait' })
    await lease.release()
    const next = await held(await waiting)
    assert.ok(next.token > lease.token)
    await next.release()
  })

  it('close() stops the watchdogs: a lease of a closed instance expires at its TTL, then another is granted', async () => {
    const a = open()
    const b = open()
    const r = name('closed-hold')
    const lease = await held(await a.acquire(r, { ttl: 400, watchdog: true }))
    await a.close()
    const next = await b.acquire(r, { wait: '5s' })
    assert.equal(next.acquired, true, 'the closed instance kept extending its lease')
    assert.equal(lease.held, false)
    if (next.acquired) await next.lease.release()
  })

  it('close() ends elections: one asked for after close is refused with VALKIT_CLOSED', async () => {
    const a = open()
    await a.close()
    assert.throws(
      () => a.election(name('after-close')),
      (err: unknown) => isValkitError(err, 'VALKIT_CLOSED'),
    )
  })

  it('a wait that runs out answers timeout; an aborted wait answers aborted', async () => {
    const a = open()
    const r = name('timeout')
    const lease = await held(await a.acquire(r, { ttl: '30s' }))
    for (const fair of [false, true]) {
      assert.deepEqual(await a.acquire(r, { wait: 50, fair }), { acquired: false, reason: 'timeout' })
      const controller = new AbortController()
      const pending = a.acquire(r, { wait: '20s', fair, signal: controller.signal })
      controller.abort()
      assert.deepEqual(await pending, { acquired: false, reason: 'aborted' })
    }
    assert.equal(a.stats().waiting, 0)
    await lease.release()
  })

  it('a holder that never releases frees the lock after its TTL; its lease reports lost', async () => {
    const a = open()
    const b = open()
    const r = name('ttl')
    const crashed = await held(await a.acquire(r, { ttl: 150 }))
    const signal = crashed.signal
    const next = await held(await b.acquire(r, { wait: '10s' }))
    assert.ok(next.token > crashed.token)
    assert.equal(crashed.held, false)
    await waitFor(() => signal.aborted || undefined, { what: 'the lost lease to abort its signal' })
    assert.ok(isValkitError(signal.reason, 'VALKIT_LOCK_LOST'))
    assert.equal(await crashed.extend(), false, 'a lost lease cannot be extended')
    assert.equal(await crashed.release(), false, 'nor released: it is not its owner any more')
    assert.equal((await b.inspect(r)).holders[0]?.owner, next.owner)
    await next.release()
  })

  it('extend gives a fresh TTL; an extension that finds another owner fails and aborts the signal', async () => {
    const a = open()
    const b = open()
    const r = name('extend')
    const lease = await held(await a.acquire(r, { ttl: 200 }))
    assert.equal(await lease.extend('30s'), true)
    const until = Date.now() + 400
    await waitFor(() => Date.now() > until || undefined, { what: 'the first TTL to pass' })
    assert.deepEqual(await b.acquire(r, { wait: 0 }), { acquired: false, reason: 'busy' })
    assert.ok(lease.held)
    await lease.release()
    const short = await held(await a.acquire(r, { ttl: 100 }))
    const taker = await held(await b.acquire(r, { wait: '10s' }))
    assert.equal(await short.extend(), false)
    assert.ok(short.signal.aborted)
    await taker.release()
  })

  it('withLock: the watchdog keeps the lock while the function runs, then releases it', async () => {
    const a = open()
    const b = open()
    const r = name('with')
    const inside = gate()
    const finish = gate()
    const run = a.withLock(
      r,
      async (lease) => {
        inside.open()
        await finish.promise
        return lease.token
      },
      // Three TTLs must pass; a TTL of 500 ms (an extension every ~167 ms) survives the event-loop
      // stalls of a loaded CI run, where 150 ms once lost the lock.
      { ttl: 500 },
    )
    await inside.promise
    const until = Date.now() + 1600
    await waitFor(() => Date.now() > until || undefined, { what: 'three TTLs to pass' })
    assert.deepEqual(await b.acquire(r, { wait: 0 }), { acquired: false, reason: 'busy' })
    finish.open()
    const result = await run
    assert.equal(result.acquired, true)
    assert.ok(result.acquired && result.value === result.token)
    const after = await held(await b.acquire(r, { wait: 0 }))
    await after.release()
    assert.ok(a.stats().extended >= 2)
  })

  it('withLock: a function error propagates and the lock is released; busy is a result', async () => {
    const a = open()
    const r = name('with-error')
    await assert.rejects(
      a.withLock(r, () => {
        throw new Error('boom')
      }),
      /boom/,
    )
    const lease = await held(await a.acquire(r, { wait: 0 }))
    assert.deepEqual(await a.withLock(r, () => 1, { wait: 0 }), { acquired: false, reason: 'busy' })
    await lease.release()
  })

  it('withLock rejects with VALKIT_LOCK_LOST when the lease was lost while the function ran', async () => {
    const a = open()
    const b = open()
    const r = name('with-lost')
    const result = a.withLock(
      r,
      async (lease) => {
        // Another owner takes the lock after this one ran out (no watchdog).
        const taken = await held(await b.acquire(r, { wait: '10s' }))
        await taken.release()
        return lease.signal.aborted
      },
      { ttl: 100, watchdog: false },
    )
    await assert.rejects(result, (err: unknown) => isValkitError(err, 'VALKIT_LOCK_LOST'))
  })

  it('fair: waiters are served first in, first out across instances, each with a larger token', async () => {
    const coords = [open({ fair: true }), open({ fair: true }), open({ fair: true })]
    const r = name('fifo')
    const holder = await held(await coords[0]!.acquire(r, { ttl: '30s' }))
    const order: number[] = []
    const tokens: number[] = []
    const waits: Promise<void>[] = []
    for (let i = 0; i < 9; i++) {
      const coord = coords[i % 3]!
      waits.push(
        coord
          .withLock(
            r,
            (lease) => {
              order.push(i)
              tokens.push(lease.token)
            },
            { wait: '20s' },
          )
          .then((result) => assert.equal(result.acquired, true)),
      )
      await waitFor(async () => (await coord.inspect(r)).queued === i + 1, { what: `waiter ${i} to queue` })
    }
    await holder.release()
    await Promise.all(waits)
    assert.deepEqual(order, [0, 1, 2, 3, 4, 5, 6, 7, 8])
    for (let i = 1; i < tokens.length; i++) assert.ok(tokens[i]! > tokens[i - 1]!)
    assert.ok(tokens[0]! > holder.token)
  })

  it('fair: a waiter whose wait ran out leaves the queue and does not block the ones behind it', async () => {
    const a = open({ fair: true })
    const b = open({ fair: true })
    const r = name('fifo-timeout')
    const holder = await held(await a.acquire(r, { ttl: '30s' }))
    const gaveUp = b.acquire(r, { wait: 400 })
    await waitFor(async () => (await a.inspect(r)).queued === 1, { what: 'the first waiter to queue' })
    const patient = a.acquire(r, { wait: '20s' })
    await waitFor(async () => (await a.inspect(r)).queued === 2, { what: 'the second waiter to queue' })
    assert.deepEqual(await gaveUp, { acquired: false, reason: 'timeout' })
    assert.equal((await a.inspect(r)).queued, 1)
    await holder.release()
    const next = await held(await patient)
    await next.release()
  })

  it('fair: when the holder crashes, the head of the queue is served once its grant runs out', async () => {
    const a = open({ fair: true })
    const b = open({ fair: true })
    const r = name('fifo-crash')
    const crashed = await held(await a.acquire(r, { ttl: 150 }))
    const next = await held(await b.acquire(r, { wait: '10s' }))
    assert.ok(next.token > crashed.token)
    await next.release()
  })

  for (const fair of [false, true]) {
    it(`${fair ? 'fair' : 'unfair'}: 60 contenders in 3 instances never overlap and every one is granted`, async () => {
      const coords = [open({ fair }), open({ fair }), open({ fair })]
      const r = name('contend')
      let active = 0
      let overlaps = 0
      const tokens: number[] = []
      const results = await Promise.all(
        Array.from({ length: 60 }, (_, i) =>
          coords[i % 3]!.withLock(
            r,
            async (lease) => {
              if (++active > 1) overlaps++
              tokens.push(lease.token)
              if (i % 4 === 0) await sleep(1)
              active--
            },
            { wait: '30s' },
          ),
        ),
      )
      assert.equal(overlaps, 0)
      assert.equal(results.filter((x) => x.acquired).length, 60)
      for (let i = 1; i < tokens.length; i++)
        assert.ok(tokens[i]! > tokens[i - 1]!, 'tokens follow the grant order')
    })
  }

  it('semaphore: at most `limit` holders, each with its own lease and token; expired permits free themselves', async () => {
    const a = open()
    const b = open()
    const sname = name('sem')
    const semA = a.semaphore(sname, { limit: 3 })
    const semB = b.semaphore(sname, { limit: 3 })
    let active = 0
    let peak = 0
    const results = await Promise.all(
      Array.from({ length: 24 }, (_, i) =>
        (i % 2 ? semA : semB).withPermit(
          async () => {
            peak = Math.max(peak, ++active)
            await sleep(2)
            active--
          },
          { wait: '30s', fair: i % 3 === 0 },
        ),
      ),
    )
    assert.equal(results.filter((x) => x.acquired).length, 24)
    assert.equal(peak, 3)
    const held3 = [
      await held(await semA.acquire({ ttl: 150 })),
      await held(await semA.acquire({ ttl: '30s' })),
      await held(await semB.acquire({ ttl: '30s' })),
    ]
    assert.equal(new Set(held3.map((l) => l.token)).size, 3)
    assert.deepEqual(await semB.acquire({ wait: 0 }), { acquired: false, reason: 'busy' })
    assert.equal((await semA.inspect()).holders.length, 3)
    const fourth = await held(await semB.acquire({ wait: '10s' }))
    assert.equal(held3[0]!.held, false, 'the short permit ran out and gave its place')
    for (const lease of [...held3.slice(1), fourth]) assert.equal(await lease.release(), true)
    assert.throws(
      () => a.semaphore(sname, { limit: 0 }),
      (err: unknown) => isValkitError(err, 'VALKIT_INVALID_OPTION'),
    )
  })

  it('read/write lock: readers share, a writer excludes; fair mode does not let later readers overtake a writer', async () => {
    const a = open()
    const b = open()
    const lname = name('rw')
    const rwA = a.readWriteLock(lname)
    const rwB = b.readWriteLock(lname)
    const r1 = await held(await rwA.acquireRead())
    const r2 = await held(await rwB.acquireRead())
    assert.deepEqual(await rwB.acquireWrite({ wait: 0 }), { acquired: false, reason: 'busy' })
    const order: string[] = []
    const writer = rwB.withWrite(() => void order.push('writer'), { fair: true, wait: '20s' })
    await waitFor(async () => (await rwA.inspect()).queued === 1, { what: 'the writer to queue' })
    const lateReader = rwA.withRead(() => void order.push('late reader'), { fair: true, wait: '20s' })
    await waitFor(async () => (await rwA.inspect()).queued === 2, { what: 'the late reader to queue' })
    await r1.release()
    await r2.release()
    await Promise.all([writer, lateReader])
    assert.deepEqual(order, ['writer', 'late reader'])
    const w = await held(await rwA.acquireWrite())
    assert.equal(w.kind, 'write')
    assert.ok((await rwB.inspect()).writer)
    assert.deepEqual(await rwB.acquireRead({ wait: 0 }), { acquired: false, reason: 'busy' })
    assert.ok(w.token > r2.token, 'readers and writers share one fencing counter')
    await w.release()
  })

  it('fenced store: a write with an older token is refused once a newer one was stored', async () => {
    const a = open()
    const r = name('fence')
    const store = a.fencedStore(name('store'))
    const first = await held(await a.acquire(r))
    await first.release()
    const second = await held(await a.acquire(r))
    assert.deepEqual(await store.write('row', { by: 'second' }, second.token), {
      written: true,
      token: second.token,
    })
    assert.deepEqual(await store.write('row', { by: 'second, again' }, second.token), {
      written: true,
      token: second.token,
    })
    assert.deepEqual(await store.write('row', { by: 'first' }, first.token), {
      written: false,
      reason: 'stale',
      highestToken: second.token,
    })
    assert.deepEqual(await store.read('row'), { value: { by: 'second, again' }, token: second.token })
    assert.equal(await store.read('missing'), undefined)
    assert.equal(a.stats().fencedStale, 1)
    await second.release()
  })

  it('election: one leader per group; stepDown hands over with a larger token; a closed leader is replaced', async () => {
    const group = name('group')
    const events: string[] = []
    const elections = [0, 1, 2].map((i) =>
      open().election(group, {
        ttl: '30s',
        onElected: ({ token }) => events.push(`elected ${i} ${token}`),
        onDemoted: (reason) => events.push(`demoted ${i} ${reason}`),
      }),
    )
    const first = await Promise.race(elections.map((e) => e.elected()))
    await waitFor(() => events.length >= 1 || undefined, { what: 'a leader' })
    const leaders = () => elections.filter((e) => e.isLeader)
    assert.equal(leaders().length, 1)
    const leader = leaders()[0]!
    assert.equal(leader.token, first.token)
    const seen = await leader.leader()
    assert.equal(seen?.token, first.token)
    assert.equal(seen?.self, true)
    assert.ok(seen !== undefined && seen.expiresInMs > 0)
    await leader.stepDown({ pause: '30s' })
    assert.equal(leader.isLeader, false)
    const second = await Promise.race(elections.filter((e) => e !== leader).map((e) => e.elected()))
    assert.ok(second.token > first.token)
    assert.equal(leaders().length, 1)
    const next = leaders()[0]!
    await next.close()
    const third = await Promise.race(
      elections.filter((e) => e !== leader && e !== next).map((e) => e.elected()),
    )
    assert.ok(third.token > second.token)
    assert.equal(leaders().length, 1)
    for (const e of elections) await e.close()
    assert.equal(leaders().length, 0)
    assert.deepEqual(
      events.filter((e) => e.startsWith('demoted')).map((e) => e.split(' ').slice(2).join(' ')),
      ['stepped-down', 'closed', 'closed'],
    )
    assert.equal(events.filter((e) => e.startsWith('elected')).length, 3)
  })

  it('election: a leader whose coord closes is replaced, and waits of the others end with a release message', async () => {
    const group = name('group')
    const a = open()
    const leader = a.election(group, { ttl: '60s' })
    await leader.elected()
    const other = open().election(group, { ttl: '60s' })
    await a.close()
    const term = await other.elected()
    assert.ok(term.token > 0)
    assert.equal(other.isLeader, true)
    await other.close()
  })

  it('deadlock: a cycle of 3 agents in 3 instances is broken by aborting the youngest waiter with VALKIT_DEADLOCK', async () => {
    const coords = [open(), open(), open()]
    const locks = [name('dl1'), name('dl2'), name('dl3')]
    const agents = ['agent-a', 'agent-b', 'agent-c'].map((a) => `${a}-${randomBytes(3).toString('hex')}`)
    const holds = await Promise.all(
      coords.map(async (c, i) => held(await c.acquire(locks[i]!, { agent: agents[i], ttl: '30s' }))),
    )
    // a waits for b's lock, b for c's; c's wait closes the cycle and is the youngest.
    const aWaits = coords[0]!.acquire(locks[1]!, { agent: agents[0], wait: '20s' })
    await waitFor(() => coords[0]!.stats().waiting === 1 || undefined, { what: 'a to wait' })
    const bWaits = coords[1]!.acquire(locks[2]!, { agent: agents[1], wait: '20s' })
    await waitFor(() => coords[1]!.stats().waiting === 1 || undefined, { what: 'b to wait' })
    const cWaits = coords[2]!.acquire(locks[0]!, { agent: agents[2], wait: '20s' })
    await assert.rejects(cWaits, (err: unknown) => {
      if (!isValkitError(err, 'VALKIT_DEADLOCK')) return false
      const cycle = (err.details?.cycle ?? []) as { agent: string }[]
      assert.deepEqual(new Set(cycle.map((m) => m.agent)), new Set(agents))
      return true
    })
    assert.equal(coords[2]!.stats().deadlocksBroken, 1)
    // The victim gives up what it holds; the others go on.
    await holds[2]!.release()
    const bGot = await held(await bWaits)
    await holds[1]!.release()
    await bGot.release()
    const aGot = await held(await aWaits)
    await aGot.release()
    await holds[0]!.release()
    assert.equal(coords[0]!.stats().deadlocksBroken + coords[1]!.stats().deadlocksBroken, 0)
  })

  it('deadlock: an agent waiting for a lock it already holds is told at once', async () => {
    const a = open()
    const r = name('self')
    const agent = `solo-${randomBytes(3).toString('hex')}`
    const lease = await held(await a.acquire(r, { agent, ttl: '30s' }))
    await assert.rejects(a.acquire(r, { agent, wait: '20s' }), (err: unknown) =>
      isValkitError(err, 'VALKIT_DEADLOCK'),
    )
    await lease.release()
  })

  it('a lock an agent holds past deadlock.maxHold is reported and taken back; its holder finds it lost', async () => {
    const a = open({ deadlock: { maxHold: 150, sweepInterval: 50 } })
    const b = open()
    const r = name('stuck')
    const reports: string[] = []
    a.onStuckLock((lock) => reports.push(`${lock.kind} ${lock.resource} ${lock.agent} ${lock.recovered}`))
    const agent = `hog-${randomBytes(3).toString('hex')}`
    // The watchdog extends every ttl / 3: the holder finds the lease lost at its next extension.
    const hog = await held(await a.acquire(r, { agent, ttl: '3s', watchdog: true }))
    const next = await held(await b.acquire(r, { wait: '20s' }))
    assert.ok(next.token > hog.token)
    await waitFor(() => reports.length > 0 || undefined, { what: 'the report' })
    assert.deepEqual(reports, [`mutex ${r} ${agent} true`])
    assert.equal(a.stats().locksRecovered, 1)
    await waitFor(() => hog.signal.aborted || undefined, { what: 'the stuck holder to find its lease lost' })
    await next.release()
  })

  it('versioned values: a write with a stale version conflicts; update retries until it lands', async () => {
    const a = open()
    const b = open()
    const store = a.versioned(name('v'))
    const other = b.versioned(store.name)
    assert.equal(await store.get('k'), undefined)
    assert.deepEqual(await store.set('k', { n: 1 }, { version: 0 }), { swapped: true, version: 1 })
    assert.deepEqual(await other.set('k', { n: 9 }, { version: 0 }), {
      swapped: false,
      reason: 'conflict',
      version: 1,
    })
    assert.deepEqual(await other.set('k', { n: 2 }, { version: 1 }), { swapped: true, version: 2 })
    assert.deepEqual(await store.set('k', { n: 3 }, { version: 1 }), {
      swapped: false,
      reason: 'conflict',
      version: 2,
    })
    assert.deepEqual(await store.get('k'), { value: { n: 2 }, version: 2 })
    // 40 concurrent increments from two instances: none is lost.
    const results = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        (i % 2 ? store : other).update<{ n: number }>('counter', (c) => ({ n: (c?.n ?? 0) + 1 }), {
          retries: 100,
        }),
      ),
    )
    assert.ok(results.every((r) => r.updated))
    assert.deepEqual(await store.get('counter'), { value: { n: 40 }, version: 40 })
    assert.ok(
      results.some((r) => r.attempts > 1),
      'some updates met a conflict and retried',
    )
    assert.deepEqual(await store.delete('k', { version: 1 }), {
      swapped: false,
      reason: 'conflict',
      version: 2,
    })
    assert.deepEqual(await store.delete('k', { version: 2 }), { swapped: true, version: 0 })
    assert.equal(await store.get('k'), undefined)
  })

  it('idempotency: one run per key across instances; concurrent repeats wait for its result; a failed run stores nothing', async () => {
    const a = open().idempotency(name('idem'))
    const b = open().idempotency(a.name)
    let runs = 0
    const release = gate()
    const op = async () => {
      runs++
      await release.promise
      return { charged: 42 }
    }
    const first = a.run('order-1', op)
    await waitFor(() => runs === 1 || undefined, { what: 'the first run to start' })
    const repeats = [a.run('order-1', op), b.run('order-1', op), b.run('order-1', op)]
    await sleep(20)
    release.open()
    assert.deepEqual(await first, { value: { charged: 42 }, outcome: 'ran' })
    for (const repeat of await Promise.all(repeats))
      assert.deepEqual(repeat, { value: { charged: 42 }, outcome: 'waited' })
    assert.deepEqual(await b.run('order-1', op), { value: { charged: 42 }, outcome: 'replayed' })
    assert.equal(runs, 1)
    await assert.rejects(
      a.run('order-2', () => Promise.reject(new Error('card declined'))),
      /card declined/,
    )
    assert.deepEqual(await b.run('order-2', () => 'second try'), { value: 'second try', outcome: 'ran' })
  })

  it('bad input is a typed error', async () => {
    const a = open()
    await assert.rejects(
      async () => a.acquire(''),
      (err: unknown) => isValkitError(err, 'VALKIT_INVALID_ARGUMENT'),
    )
    await assert.rejects(
      async () => a.acquire('a{b}'),
      (err: unknown) => isValkitError(err, 'VALKIT_INVALID_ARGUMENT'),
    )
    await assert.rejects(
      async () => a.acquire('x', { ttl: -1 }),
      (err: unknown) => isValkitError(err, 'VALKIT_INVALID_OPTION'),
    )
  })
}
