/**
 * The session store's contract, written once and run against every backend: the memory backend
 * (no server), standalone Redis and Valkey, and a Cluster. A behaviour that differs between
 * backends is a bug unless docs/session.md documents it.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { it } from 'node:test'
import { isValkitError } from '../../src/core/index.js'
import type { Session, SessionStore, SessionStoreOptions } from '../../src/session/index.js'
import { waitFor } from '../../src/testing/index.js'

/** Two instances of one store (same name and secrets, each on its own valkit connection). */
export interface StorePair {
  readonly store: SessionStore
  readonly peer: SessionStore
}

/** Opens a store on the backend under test; every call gets a fresh store name. */
export type OpenStore = (options?: Partial<SessionStoreOptions>) => Promise<StorePair>

/** Options every store of a suite gets (a fixed secret and key per suite). */
export function baseOptions(): SessionStoreOptions {
  return {
    secrets: [randomBytes(32).toString('base64')],
    encryption: { keys: [{ id: 1, key: randomBytes(32) }], primary: 1 },
    touchInterval: 0,
  }
}

const clockPast = (at: number) =>
  waitFor(() => Date.now() > at || undefined, {
    timeoutMs: 10_000,
    intervalMs: 10,
    what: 'a deadline to pass',
  })

function found(lookup: Awaited<ReturnType<SessionStore['load']>>): Session {
  assert.ok(lookup.found, `expected a session, got ${lookup.found ? '' : lookup.reason}`)
  return lookup.session
}

/** Registers the contract's tests in the current `describe`. */
export function sessionConformance(open: OpenStore): void {
  it('create / load / update (partial) / destroy, with unguessable IDs and signed tokens', async () => {
    const { store } = await open()
    const a = await store.create({ data: { cart: ['apple'], theme: 'dark' } })
    const b = await store.create()
    assert.notEqual(a.id, b.id)
    assert.match(a.id, /^a[\w-]{10}\.[\w-]{24}$/, '144 random bits after the tag')
    assert.ok(a.token.startsWith(`${a.id}.`))
    assert.equal(a.userId, null)
    assert.equal(a.version, 1)
    assert.ok(a.expiresAt <= a.absoluteExpiresAt)

    const read = found(await store.load(a.token))
    assert.deepEqual(read.data, { cart: ['apple'], theme: 'dark' })
    assert.equal(read.readOnly, false)
    assert.equal(JSON.stringify(read).includes(a.id), false, 'the ID stays out of JSON')

    const updated = await store.update(read, { set: { cart: ['apple', 'pear'] }, unset: ['theme'] })
    assert.deepEqual(updated, { ok: true, version: 2 })
    assert.deepEqual(found(await store.read(a.id)).data, { cart: ['apple', 'pear'] })
    await store.update(a.id, { set: { lang: 'fr', theme: undefined } })
    assert.deepEqual(found(await store.read(a.id)).data, { cart: ['apple', 'pear'], lang: 'fr' })

    assert.equal(await store.destroy(a), true)
    assert.equal(await store.destroy(a), false)
    assert.deepEqual(await store.load(a.token), { found: false, reason: 'none' })
    assert.deepEqual(await store.update(a, { set: { back: true } }), { ok: false, reason: 'none' })
    assert.deepEqual(
      await store.load(a.token),
      { found: false, reason: 'none' },
      'an update never revives it',
    )
    await assert.rejects(
      store.update(b, { set: JSON.parse('{"__proto__": 1}') as Record<string, unknown> }),
      (err: unknown) => isValkitError(err, 'VALKIT_INVALID_ARGUMENT'),
    )
  })

  it('malformed and forged tokens are misses with a reason and a count, never errors', async () => {
    const { store } = await open()
    const s = await store.create({ data: { n: 1 } })
    const other = await open({ secrets: [randomBytes(32).toString('base64')] })
    const cases: [unknown, string][] = [
      [undefined, 'none'],
      ['', 'none'],
      ['garbage', 'malformed'],
      ['x'.repeat(5000), 'malformed'],
      [`${s.id}.${'A'.repeat(32)}`, 'forged'],
      [`${s.token.slice(0, -1)}${s.token.endsWith('A') ? 'B' : 'A'}`, 'forged'],
      [s.token.replace(/^a/, 'u'), 'malformed'],
      [other.store.sign(s.id), 'forged'], // signed with another store's secret
      [{ toString: () => s.token }, 'malformed'],
    ]
    for (const [token, reason] of cases) {
      assert.deepEqual(
        await store.load(token as string),
        { found: false, reason },
        String(token).slice(0, 60),
      )
    }
    assert.equal(store.stats().rejectedTokens, 7)
    assert.deepEqual(await store.read('not-an-id'), { found: false, reason: 'malformed' })
    assert.equal(found(await store.load(s.token)).data.n, 1)
  })

  it('concurrent updates of different fields all stay (field-level merge); ifVersion is check-and-set', async () => {
    const { store, peer } = await open()
    const s = await store.create({ data: { base: 0 } })
    const writes = Array.from({ length: 20 }, (_, i) =>
      (i % 2 === 0 ? store : peer).update(s.id, { set: { [`f${i}`]: i } }),
    )
    const results = await Promise.all(writes)
    assert.ok(results.every((r) => r.ok))
    const read = found(await peer.read(s.id))
    assert.equal(read.version, 21)
    for (let i = 0; i < 20; i++) assert.equal(read.data[`f${i}`], i)

    const first = await store.update(read, { set: { base: 1 } }, { ifVersion: read.version })
    assert.deepEqual(first, { ok: true, version: 22 })
    const stale = await peer.update(read, { set: { base: 2 } }, { ifVersion: read.version })
    assert.deepEqual(stale, { ok: false, reason: 'conflict', version: 22 })
    assert.equal(found(await store.read(s.id)).data.base, 1)
    assert.equal(store.stats().conflicts + peer.stats().conflicts, 1)
  })

  it('a destroy racing updates stays destroyed', async () => {
    const { store, peer } = await open()
    for (let round = 0; round < 20; round++) {
      const s = await store.create({ data: { round } })
      const racers = [
        ...Array.from({ length: 5 }, (_, i) => peer.update(s.id, { set: { [`w${i}`]: round } })),
        store.destroy(s),
        ...Array.from({ length: 5 }, (_, i) => store.update(s.id, { set: { [`x${i}`]: round } })),
      ]
      await Promise.all(racers)
      assert.deepEqual(await peer.read(s.id), { found: false, reason: 'none' }, `round ${round}`)
    }
  })

  it('idle timeout: a session not read for idleTimeout expires; a read slides it', async () => {
    const { store } = await open({ idleTimeout: 300, absoluteTimeout: '1h' })
    const s = await store.create()
    const kept = await store.create()
    const deadline = s.expiresAt
    await clockPast(s.createdAt + 150)
    const touched = found(await store.read(kept.id))
    assert.ok(touched.expiresAt > kept.expiresAt, 'the read slid the idle deadline')
    await clockPast(deadline + 20)
    assert.deepEqual(await store.read(s.id), { found: false, reason: 'expired' })
    assert.equal(found(await store.read(kept.id)).id, kept.id)
    const untouched = await store.create()
    const peek = found(await store.read(untouched.id, { touch: false }))
    assert.equal(peek.expiresAt, untouched.expiresAt, 'touch: false does not slide')
  })

  it("a listing reports each session's expiry as its last touch left it, soonest first", async () => {
    const { store, peer } = await open({ idleTimeout: '10m', absoluteTimeout: '1h' })
    const first = await store.create({ userId: 'exp', device: 'first' })
    const second = await store.create({ userId: 'exp', device: 'second' })
    await clockPast(second.createdAt + 5)
    const touched = found(await store.read(first.id))
    assert.ok(touched.expiresAt > first.expiresAt)
    const listed = await peer.list('exp')
    assert.deepEqual(
      listed.map((i) => [i.device, i.expiresAt, i.lastSeenAt]),
      [
        ['second', second.expiresAt, second.lastSeenAt],
        ['first', touched.expiresAt, touched.lastSeenAt],
      ],
    )
  })

  it('a session that idled out after a touch is not listed, though its index entry may linger', async () => {
    const { store, peer } = await open({ idleTimeout: 2000, absoluteTimeout: '1h' })
    const gone = await store.create({ userId: 'idle', device: 'old' })
    await clockPast(gone.createdAt + 5)
    const touched = found(await store.read(gone.id))
    const kept = await store.create({ userId: 'idle', device: 'new' })
    await clockPast(touched.expiresAt - 1000)
    found(await store.read(kept.id)) // slides its expiry a second past the other's
    await clockPast(touched.expiresAt + 20)
    const stillThere = found(await store.read(kept.id))
    assert.deepEqual(
      (await peer.list('idle')).map((i) => i.device),
      ['new'],
      'the expired session is not listed',
    )
    assert.ok(stillThere.expiresAt > Date.now())
    assert.deepEqual(await store.read(gone.id), { found: false, reason: 'expired' })
  })

  it('absolute timeout holds under constant activity', async () => {
    const { store } = await open({ idleTimeout: 400, absoluteTimeout: 900 })
    const s = await store.create({ userId: 'ada' })
    let reads = 0
    let last: Session | undefined
    for (;;) {
      const lookup = await store.read(s.id)
      if (!lookup.found) {
        assert.equal(lookup.reason, 'expired')
        assert.ok(Date.now() >= s.absoluteExpiresAt, 'it ended at the absolute deadline, not from idleness')
        break
      }
      reads++
      last = lookup.session
      assert.ok(lookup.session.expiresAt <= s.absoluteExpiresAt, 'never extended past the absolute deadline')
      await clockPast(Date.now() + 20)
    }
    assert.ok(reads >= 10, `the session stayed readable while active (${reads} reads)`)
    assert.ok(last !== undefined && last.lastSeenAt < s.absoluteExpiresAt)
    assert.deepEqual(await store.list('ada'), [], 'the index holds no dead session')
    const renewed = await store.regenerate(s)
    assert.equal(renewed.ok, false, 'an expired session cannot be renewed either')
  })

  it('reads at a version the store already holds report the same session as a first read elsewhere', async () => {
    const { store, peer } = await open({ idleTimeout: '10m', absoluteTimeout: '1h', overlap: '1m' })
    const s = await store.create({ userId: 'held', device: 'tablet', data: { n: 1 } })
    const view = (x: Session) => ({
      id: x.id,
      userId: x.userId,
      device: x.device,
      version: x.version,
      createdAt: x.createdAt,
      lastSeenAt: x.lastSeenAt,
      expiresAt: x.expiresAt,
      absoluteExpiresAt: x.absoluteExpiresAt,
      readOnly: x.readOnly,
      data: x.data,
    })
    for (let round = 0; round < 3; round++) {
      const mine = found(await store.read(s.id))
      assert.ok(mine.lastSeenAt >= s.lastSeenAt)
      assert.deepEqual(view(found(await peer.read(s.id, { touch: false }))), view(mine), `round ${round}`)
      assert.deepEqual(
        [mine.createdAt, mine.absoluteExpiresAt, mine.version],
        [s.createdAt, s.absoluteExpiresAt, 1],
      )
    }
    const renewed = await store.regenerate(found(await store.read(s.id)))
    assert.ok(renewed.ok)
    // the old ID, now read-only within its overlap window: twice from the store, once from its peer
    const first = found(await store.read(s.id))
    const again = found(await store.read(s.id))
    const elsewhere = found(await peer.read(s.id))
    assert.equal(again.readOnly, true)
    assert.deepEqual(view(again), view(first))
    assert.deepEqual(view(elsewhere), view(first))
  })

  it('renewal: a read reports renewDue once the ID is renewAfter old; regenerate keeps the deadlines', async () => {
    const { store } = await open({ renewAfter: 150, idleTimeout: '1m', absoluteTimeout: '1h' })
    const s = await store.create({ userId: 7, device: 'laptop', data: { role: 'user' } })
    assert.equal(found(await store.read(s.id)).renewDue, false)
    await clockPast(s.createdAt + 200)
    const due = found(await store.read(s.id))
    assert.equal(due.renewDue, true)
    const renewed = await store.regenerate(due)
    assert.ok(renewed.ok)
    assert.notEqual(renewed.session.id, s.id)
    assert.equal(renewed.session.userId, '7')
    assert.equal(renewed.session.device, 'laptop')
    assert.equal(renewed.session.createdAt, s.createdAt)
    assert.equal(renewed.session.absoluteExpiresAt, s.absoluteExpiresAt)
    assert.deepEqual(renewed.session.data, { role: 'user' })
    assert.equal(found(await store.read(renewed.session.id)).renewDue, false)
  })

  it('regenerate: the old ID is read-only during the overlap, then gone; login starts a new lifetime', async () => {
    const { store, peer } = await open({ overlap: 300 })
    const anonymous = await store.create({ data: { cart: ['book'] } })
    const login = await store.regenerate(anonymous, {
      userId: 'grace',
      device: 'phone',
      changes: { set: { role: 'admin' } },
    })
    assert.ok(login.ok)
    const fresh = login.session
    assert.equal(fresh.userId, 'grace')
    assert.deepEqual(fresh.data, { cart: ['book'], role: 'admin' })
    assert.ok(fresh.createdAt >= anonymous.createdAt)

    const old = found(await peer.load(anonymous.token))
    assert.equal(old.readOnly, true)
    assert.deepEqual(old.data, { cart: ['book'] }, 'the old ID never sees the new privileges')
    assert.deepEqual(await peer.update(anonymous, { set: { x: 1 } }), { ok: false, reason: 'rotated' })
    assert.deepEqual(await peer.regenerate(anonymous), { ok: false, reason: 'rotated' })
    await clockPast(Date.now() + 320)
    const after = await peer.load(anonymous.token)
    assert.equal(after.found, false)
    assert.ok(!after.found && (after.reason === 'rotated' || after.reason === 'none'))

    const logout = await store.regenerate(fresh, { userId: null })
    assert.ok(logout.ok)
    assert.equal(logout.session.userId, null)
    const listed = await store.list('grace')
    assert.equal(listed.length, 1, 'the old ID stays listed during its overlap window')
    assert.equal(listed[0]!.rotated, true)
    const conflict = await store.regenerate(logout.session, { ifVersion: 99 })
    assert.deepEqual(conflict, { ok: false, reason: 'conflict', version: 1 })
  })

  it('regenerate with no overlap: the old ID is gone at once, the user stays logged in', async () => {
    const { store } = await open({ overlap: 0 })
    const s = await store.create({ userId: 'no-overlap', data: { a: 1 } })
    const next = await store.regenerate(s)
    assert.ok(next.ok)
    assert.deepEqual(await store.read(s.id), { found: false, reason: 'none' })
    assert.deepEqual(found(await store.read(next.session.id)).data, { a: 1 })
    assert.deepEqual(
      (await store.list('no-overlap')).map((i) => i.handle),
      [next.session.handle],
    )
  })

  it("a user's index: list with device, created and last seen; revoke one; revoke all except the current one", async () => {
    const { store, peer } = await open()
    const phone = await store.create({ userId: 'u1', device: 'phone' })
    const laptop = await store.create({ userId: 'u1', device: 'laptop' })
    const tablet = await store.create({ userId: 'u1', device: 'tablet' })
    const someoneElse = await store.create({ userId: 'u2', device: 'desk' })
    const listed = await peer.list('u1')
    assert.deepEqual(listed.map((i) => i.device).sort(), ['laptop', 'phone', 'tablet'])
    for (const info of listed) {
      assert.ok(info.lastSeenAt >= info.createdAt && info.expiresAt > info.lastSeenAt)
      assert.equal(JSON.stringify(info).includes(phone.id.split('.')[1]!), false, 'no secret in a listing')
    }
    assert.equal(await peer.revoke('u1', tablet.handle), true)
    assert.deepEqual(await store.read(tablet.id), { found: false, reason: 'none' })
    const n = await peer.revokeAll('u1', { except: laptop })
    assert.equal(n, 1)
    assert.deepEqual(await store.read(phone.id), { found: false, reason: 'none' })
    assert.equal(found(await store.read(laptop.id)).device, 'laptop')
    assert.equal(found(await store.read(someoneElse.id)).userId, 'u2')
    assert.deepEqual(
      (await store.list('u1')).map((i) => i.handle),
      [laptop.handle],
    )
    await assert.rejects(store.revoke('u1', 'not a handle'), (err: unknown) =>
      isValkitError(err, 'VALKIT_INVALID_ARGUMENT'),
    )
  })

  it('reads made at once each get their own answer: live, destroyed, revoked, expired, peeked', async () => {
    const { store, peer } = await open({ idleTimeout: 1000, absoluteTimeout: '1h' })
    const live = await store.create({ data: { n: 'live' }, userId: 'at-once' })
    const gone = await store.create({ data: { n: 'gone' } })
    const revoked = await store.create({ data: { n: 'revoked' }, userId: 'at-once-2' })
    const stale = await store.create({ data: { n: 'stale' } })
    await store.destroy(gone)
    await store.revokeAll('at-once-2')
    await clockPast(stale.createdAt + 500)
    found(await store.read(live.id)) // slides live's idle deadline past stale's
    await clockPast(stale.expiresAt + 20)
    // Issued in one turn (on Redis: one script run), from another instance.
    const [a, b, c, d, e, f] = await Promise.all([
      peer.read(live.id),
      peer.read(gone.id),
      peer.read(revoked.id),
      peer.read(stale.id),
      peer.read(live.id, { touch: false }),
      peer.read('not-an-id'),
    ])
    assert.deepEqual(found(a).data, { n: 'live' })
    assert.equal(found(a).userId, 'at-once')
    assert.deepEqual(b, { found: false, reason: 'none' })
    assert.equal(c.found, false)
    assert.deepEqual(d, { found: false, reason: 'expired' })
    assert.deepEqual(found(e).data, { n: 'live' })
    assert.deepEqual(f, { found: false, reason: 'malformed' })
  })

  it('revoke-all takes effect for every instance at once, including sessions it did not list', async () => {
    const { store, peer } = await open()
    const sessions = await Promise.all(
      Array.from({ length: 5 }, (_, i) => store.create({ userId: 'many', device: `d${i}` })),
    )
    for (const s of sessions) assert.equal(found(await peer.read(s.id)).userId, 'many')
    await store.revokeAll('many')
    for (const s of sessions) {
      const lookup = await peer.read(s.id)
      assert.equal(lookup.found, false)
    }
    for (const s of sessions) assert.equal((await peer.update(s, { set: { x: 1 } })).ok, false)
    assert.deepEqual(await peer.list('many'), [])
  })

  it('the per-user limit logs out the session closest to expiry; dead sessions leave the index', async () => {
    const { store } = await open({ name: 'cap', maxSessionsPerUser: 3 })
    const { store: quick } = await open({
      name: 'cap',
      maxSessionsPerUser: 3,
      idleTimeout: 150,
      absoluteTimeout: '1h',
    })
    const short = await quick.create({ userId: 'cap' })
    await clockPast(short.expiresAt + 10)
    const kept = []
    for (let i = 0; i < 3; i++) {
      kept.push(await store.create({ userId: 'cap', device: `k${i}` }))
      await clockPast(Date.now() + 2) // distinct expiries: the oldest is the one closest to expiry
    }
    assert.equal((await store.list('cap')).length, 3, 'the expired one was trimmed, not counted')
    const fourth = await store.create({ userId: 'cap', device: 'k3' })
    const devices = (await store.list('cap')).map((i) => i.device).sort()
    assert.deepEqual(devices, ['k1', 'k2', 'k3'])
    assert.deepEqual(await store.read(kept[0]!.id), { found: false, reason: 'revoked' })
    assert.equal(found(await store.read(fourth.id)).device, 'k3')
  })

  it('erase a user and export what the store holds about them', async () => {
    const { store, peer } = await open()
    const a = await store.create({ userId: 'gdpr', device: 'a', data: { email: 'x@example.org' } })
    await store.create({ userId: 'gdpr', device: 'b', data: { prefs: { dark: true } } })
    const other = await store.create({ userId: 'keep', data: { n: 1 } })
    const exported = await peer.exportUser('gdpr')
    assert.equal(exported.userId, 'gdpr')
    assert.deepEqual(
      exported.sessions.map((s) => s.data).sort((x, y) => JSON.stringify(x).localeCompare(JSON.stringify(y))),
      [{ email: 'x@example.org' }, { prefs: { dark: true } }],
    )
    assert.deepEqual(await peer.eraseUser('gdpr'), { sessions: 2, quarantined: 0 })
    assert.deepEqual(await store.read(a.id), { found: false, reason: 'none' })
    assert.deepEqual((await store.exportUser('gdpr')).sessions, [])
    assert.equal(found(await store.read(other.id)).data.n, 1)
  })

  it('key rotation: old sessions stay readable and are re-encrypted on their next write', async () => {
    const k1 = { id: 1, key: randomBytes(32) }
    const k2 = { id: 2, key: randomBytes(32) }
    const secrets = [randomBytes(32).toString('base64')]
    const { store: before } = await open({ name: 'rot', secrets, encryption: { keys: [k1], primary: 1 } })
    const s = await before.create({ userId: 'rk', data: { a: 1, b: 2 } })
    const { store: during } = await open({ name: 'rot', secrets, encryption: { keys: [k2, k1], primary: 2 } })
    const read = found(await during.read(s.id))
    assert.deepEqual(read.data, { a: 1, b: 2 })
    const { store: after } = await open({ name: 'rot', secrets, encryption: { keys: [k2], primary: 2 } })
    assert.deepEqual(
      await after.read(s.id, { touch: false }),
      { found: false, reason: 'corrupt' },
      'k1 is still needed',
    )
    const s2 = await before.create({ userId: 'rk', data: { a: 1, b: 2 } })
    const read2 = found(await during.read(s2.id))
    assert.deepEqual(await during.update(read2, { set: { c: 3 } }), { ok: true, version: 2 })
    assert.deepEqual(found(await after.read(s2.id)).data, { a: 1, b: 2, c: 3 }, 'every value moved to k2')
    assert.ok(after.stats().quarantined >= 1)
  })

  it('bad arguments are typed errors naming what to fix', async () => {
    const { store } = await open()
    await assert.rejects(store.create({ userId: '' }), (err: unknown) =>
      isValkitError(err, 'VALKIT_INVALID_ARGUMENT'),
    )
    await assert.rejects(store.create({ device: 'x'.repeat(300) }), (err: unknown) =>
      isValkitError(err, 'VALKIT_INVALID_ARGUMENT'),
    )
    const s = await store.create()
    await assert.rejects(store.update(s, { set: { big: 'x'.repeat(70_000) } }), (err: unknown) =>
      isValkitError(err, 'VALKIT_VALUE_TOO_LARGE'),
    )
    await assert.rejects(store.update(s, { set: { a: 1 } }, { ifVersion: 0 }), (err: unknown) =>
      isValkitError(err, 'VALKIT_INVALID_ARGUMENT'),
    )
    const { store: small } = await open({ maxFields: 2 })
    const t = await small.create({ data: { a: 1 } })
    assert.deepEqual(await small.update(t, { set: { b: 2, c: 3 } }), { ok: false, reason: 'too-many-fields' })
    assert.deepEqual(await small.update(t, { set: { a: 2, b: 2 } }), { ok: true, version: 2 })
  })
}
