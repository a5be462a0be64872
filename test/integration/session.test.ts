/**
 * Session store on real servers, looking at what Redis/Valkey actually holds: no plaintext at
 * rest, records bound to their ID, quarantine of corrupt or foreign records, a destroy racing
 * updates over several connections, the index staying free of dead sessions, and the metrics.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { createValkit, type Valkit } from '../../src/core/index.js'
import {
  createSessionStore,
  createStateStore,
  type Session,
  type SessionStore,
  type SessionStoreOptions,
} from '../../src/session/index.js'
import { cleanPrefix, startServer, testEngines, waitFor, type ServerHandle } from '../../src/testing/index.js'

type Raw = string | Buffer | number | null | Raw[]

for (const engine of testEngines()) {
  void describe(`session store on ${engine}`, { timeout: 120_000 }, () => {
    let server: ServerHandle
    const valkits: Valkit[] = []
    const stores: SessionStore[] = []
    const prefix = `t-sess-int-${randomBytes(4).toString('hex')}`
    const base: SessionStoreOptions = {
      secrets: [randomBytes(32).toString('base64')],
      encryption: { keys: [{ id: 1, key: randomBytes(32) }], primary: 1 },
      touchInterval: 0,
    }
    let n = 0

    before(async () => {
      server = await startServer({ engine })
    })
    after(async () => {
      for (const store of stores) await store.close()
      for (const valkit of valkits) await valkit.close()
      if (server?.alive) await cleanPrefix(server, `${prefix}:`)
      await server?.stop()
    })

    async function connect(): Promise<Valkit> {
      const valkit = createValkit({ url: server.url, env: {}, logger: false, keyPrefix: prefix })
      valkits.push(valkit)
      await valkit.supervisor.waitFor('ready', 10_000)
      return valkit
    }

    async function open(options: Partial<SessionStoreOptions> = {}, valkit?: Valkit): Promise<SessionStore> {
      const store = createSessionStore(valkit ?? (await connect()), { ...base, name: `i${n++}`, ...options })
      stores.push(store)
      return store
    }

    const recordKey = (store: SessionStore, s: Session) =>
      `${prefix}:v1:session:{${s.id.split('.')[0]}}:${store.name}:s:${s.handle}`

    /** Every key of this test's prefix and everything in it, as text (binary-safe: latin1). */
    async function dumpAll(): Promise<string> {
      let out = ''
      let cursor = '0'
      do {
        const [next, keys] = (await server.command(
          'SCAN',
          cursor,
          'MATCH',
          `${prefix}:*`,
          'COUNT',
          1000,
        )) as [string, string[]]
        cursor = next
        for (const key of keys) {
          const type = (await server.command('TYPE', key)) as string
          const value: Raw =
            type === 'hash'
              ? await server.command('HGETALL', key)
              : type === 'zset'
                ? await server.command('ZRANGE', key, 0, -1, 'WITHSCORES')
                : await server.command('DUMP', key)
          out += `${key}\n${JSON.stringify(value, (_k, v: unknown) => (Buffer.isBuffer(v) ? v.toString('latin1') : v))}\n`
        }
      } while (cursor !== '0')
      return out
    }

    it('Redis holds no plaintext: not the data, its field names, the user id, the device or the session ID', async () => {
      const store = await open()
      const s = await store.create({
        userId: 'user-marker-5521',
        device: 'DEVICE-MARKER Firefox',
        data: {
          secretNote: 'PLAINTEXT-MARKER-7f3a',
          email: 'ada@example.org',
          nested: { card: 'CARD-4111-1111' },
        },
      })
      await store.update(s, { set: { later: 'LATE-MARKER-91' } })
      const login = await store.regenerate(s, { changes: { set: { role: 'ROLE-MARKER' } } })
      assert.ok(login.ok)
      const raw = await dumpAll()
      assert.ok(raw.includes(':s:'), 'the dump saw the session records')
      for (const marker of [
        'PLAINTEXT-MARKER',
        'secretNote',
        'ada@example.org',
        // not the bare digits: the plain fields hold timestamps, where any four digits can occur
        'CARD-4111',
        'LATE-MARKER',
        'ROLE-MARKER',
        'user-marker-5521',
        'DEVICE-MARKER',
        s.id.split('.')[1]!,
        login.session.id.split('.')[1]!,
      ]) {
        assert.equal(raw.includes(marker), false, `"${marker}" is stored in clear`)
      }
      assert.deepEqual(found(await store.load(login.session.token)).data.secretNote, 'PLAINTEXT-MARKER-7f3a')
    })

    it('a record copied under another session ID fails to decrypt: quarantined, counted, no session', async () => {
      // cacheEntries 0: this instance has not kept an authenticated copy (see the cache test below).
      const store = await open({ cacheEntries: 0 })
      const victim = await store.create({ data: { role: 'admin' } })
      const attacker = await store.create({ data: { role: 'guest' } })
      // Whole record copied over the attacker's key.
      await server.command('COPY', recordKey(store, victim), recordKey(store, attacker), 'REPLACE')
      assert.deepEqual(await store.load(attacker.token), { found: false, reason: 'corrupt' })
      assert.equal(await server.command('EXISTS', recordKey(store, attacker)), 0, 'moved out of the way')
      const quarantined = recordKey(store, attacker).replace(':s:', ':q:')
      assert.equal(await server.command('EXISTS', quarantined), 1, 'kept for inspection')
      assert.ok(((await server.command('PTTL', quarantined)) as number) > 0, 'with a time to live')
      // One field copied from another session into the same field name of this one.
      const third = await store.create({ data: { role: 'guest' } })
      // Copied on the server, byte for byte: the victim's encrypted data over the third's.
      await server.command(
        'EVAL',
        "return redis.call('HSET', KEYS[2], 'd', redis.call('HGET', KEYS[1], 'd'))",
        2,
        recordKey(store, victim),
        recordKey(store, third),
      )
      assert.deepEqual(await store.load(third.token), { found: false, reason: 'corrupt' })
      assert.equal(found(await store.load(victim.token)).data.role, 'admin', 'the victim is untouched')
      assert.equal(store.stats().quarantined, 2)
      const text = valkits.at(-1)!.metrics.toPrometheus()
      assert.match(
        text,
        new RegExp(`valkit_session_quarantined_total\\{store="${store.name}",reason="authentication"\\} 2`),
      )
    })

    it('tampered, truncated, wrong-type and malformed records are quarantined and read as no session', async () => {
      const store = await open({ cacheEntries: 0 })
      const cases: [string, (key: string) => Promise<unknown>][] = [
        [
          'flipped byte',
          // On the server, byte for byte: one byte of the GCM tag changes.
          (key) =>
            server.command(
              'EVAL',
              "local v = redis.call('HGET', KEYS[1], 'd'); local p = #v - 4; " +
                "return redis.call('HSET', KEYS[1], 'd', string.sub(v, 1, p - 1) .. string.char((string.byte(v, p) + 1) % 256) .. string.sub(v, p + 1))",
              1,
              key,
            ),
        ],
        ['truncated', (key) => server.command('HSET', key, 'd', Buffer.from([0xa1, 0x10, 0x01]))],
        [
          'plain value planted',
          (key) => server.command('HSET', key, 'd', Buffer.from([0xa1, 0x00, 0x7b, 0x7d])),
        ],
        ['not a hash', (key) => server.command('SET', key, 'hello')],
        ['bad version field', (key) => server.command('HSET', key, 'v', 'abc')],
        // checked only by reads that ask whether renewal is due (renewAfter is on by default)
        ['bad renewal field', (key) => server.command('HSET', key, 'n', 'abc')],
        ['data missing', (key) => server.command('HDEL', key, 'd')],
      ]
      for (const [label, damage] of cases) {
        const s = await store.create({ data: { n: 1 } })
        await damage(recordKey(store, s))
        assert.deepEqual(await store.load(s.token), { found: false, reason: 'corrupt' }, label)
        assert.deepEqual(
          await store.load(s.token),
          { found: false, reason: 'none' },
          `${label}: gone afterwards`,
        )
        assert.deepEqual(
          await store.update(s, { set: { n: 2 } }),
          { ok: false, reason: 'none' },
          `${label}: not revived`,
        )
      }
      assert.equal(store.stats().quarantined, cases.length)
      const text = valkits.at(-1)!.metrics.toPrometheus()
      for (const reason of ['authentication', 'truncated', 'not-encrypted', 'malformed']) {
        assert.ok(
          text.includes(`valkit_session_quarantined_total{store="${store.name}",reason="${reason}"}`),
          reason,
        )
      }
    })

    it('the decode cache never serves tampered bytes: the instance keeps its authenticated copy, a fresh one quarantines', async () => {
      const store = await open()
      const s = await store.create({ data: { role: 'guest' } })
      assert.equal(found(await store.load(s.token)).data.role, 'guest')
      const victim = await store.create({ data: { role: 'admin' } })
      await server.command('COPY', recordKey(store, victim), recordKey(store, s), 'REPLACE')
      // Same version number, other bytes: this instance still answers with what it authenticated.
      assert.equal(found(await store.load(s.token)).data.role, 'guest', 'never the copied data')
      const fresh = await open({ name: store.name })
      assert.deepEqual(await fresh.load(s.token), { found: false, reason: 'corrupt' })
      assert.deepEqual(
        await store.load(s.token),
        { found: false, reason: 'none' },
        'quarantined for everyone',
      )
    })

    it('a destroy racing updates from other connections stays destroyed (200 rounds)', async () => {
      const name = `race${n++}`
      const [a, b, c] = await Promise.all([connect(), connect(), connect()])
      const writers = [await open({ name }, a), await open({ name }, b)]
      const destroyer = await open({ name }, c)
      let applied = 0
      for (let round = 0; round < 200; round++) {
        const s = await writers[0]!.create({ data: { round } })
        const results = await Promise.all([
          // Updates of the session as read (one round trip each, as a request does), the destroy
          // issued after the first ones and before the last, each writer on its own connection.
          ...writers.flatMap((w, i) => [
            w.update(s, { set: { [`a${i}`]: round } }),
            w.update(s, { set: { [`b${i}`]: round } }),
          ]),
          destroyer.destroy(s.id),
          ...writers.map((w, i) => w.update(s, { set: { [`c${i}`]: round } })),
        ])
        applied += results.filter((r) => typeof r === 'object' && r.ok).length
        assert.equal(
          await server.command('EXISTS', recordKey(destroyer, s)),
          0,
          `round ${round}: nothing left in Redis`,
        )
        assert.deepEqual(await writers[1]!.read(s.id), { found: false, reason: 'none' }, `round ${round}`)
      }
      assert.ok(applied > 0, 'some updates did land before the destroy (the race was real)')
    })

    it('a record key outlives its idle deadline by 60 s or more, its expiry rewritten only when it would fall short', async () => {
      // Every read touches (touchInterval 0): with the default 1 s, whether the first touch
      // fell in the first or the second round of reads depended on how fast the machine was.
      const store = await open({ idleTimeout: '10m', absoluteTimeout: '1h', touchInterval: 0 })
      const s = await store.create({ data: { n: 1 } })
      const key = recordKey(store, s)
      const expiryOf = async () => Number(await server.command('HGET', key, 'e'))
      const created = await expiryOf()
      let last = found(await store.load(s.token))
      for (let i = 0; i < 5; i++) last = found(await store.load(s.token))
      // The key's expiry moved past the slid deadline plus 60 s, and not on every read.
      const after = await expiryOf()
      assert.ok(after >= last.expiresAt + 60_000, `key expiry ${after} >= deadline ${last.expiresAt} + 60 s`)
      assert.ok(after >= created)
      for (let i = 0; i < 5; i++) found(await store.load(s.token))
      assert.equal(await expiryOf(), after, 'reads within the slack leave the key expiry as it was')
      const ttl = (await server.command('PTTL', key)) as number
      assert.ok(ttl >= last.expiresAt + 60_000 - Date.now() - 1000, `PTTL ${ttl}`)
    })

    it("the user's index never holds dead sessions, and revoke-all leaves no record behind", async () => {
      const store = await open({ idleTimeout: 150, absoluteTimeout: '1h' })
      const long = await open({ name: store.name })
      const indexKey = (s: Session) => `${prefix}:v1:session:{${s.id.split('.')[0]}}:${store.name}:idx`
      const dead = await Promise.all(Array.from({ length: 10 }, () => store.create({ userId: 'ix' })))
      await waitFor(() => Date.now() > dead.at(-1)!.expiresAt + 5 || undefined, {
        what: 'the sessions to expire',
      })
      const live = await long.create({ userId: 'ix' })
      assert.equal(await server.command('ZCARD', indexKey(live)), 1, 'the expired entries were trimmed')
      assert.ok(((await server.command('PTTL', indexKey(live))) as number) > 0, 'the index itself expires')
      await long.create({ userId: 'ix' })
      assert.equal(await long.revokeAll('ix'), 2)
      assert.equal(await server.command('EXISTS', indexKey(live)), 0)
      assert.equal(await server.command('EXISTS', recordKey(long, live)), 0)
    })

    it('agent state: a sensitive document holds no plaintext and cannot be moved to another id', async () => {
      const valkit = await connect()
      const state = createStateStore<{ note: string }>(valkit, {
        name: 'agents',
        sensitive: true,
        encryption: { keys: [{ id: 1, key: randomBytes(32) }], primary: 1 },
        history: 2,
      })
      try {
        await state.put('run-a', { note: 'STATE-MARKER-secret' })
        await state.put('run-a', { note: 'STATE-MARKER-second' })
        await state.put('run-b', { note: 'other' })
        const raw = await dumpAll()
        assert.ok(raw.includes(':state:{agents:run-a}:doc'), 'document and history share the tag {store:id}')
        assert.equal(raw.includes('STATE-MARKER'), false, 'stored in clear')
        const docA = `${prefix}:v1:state:{agents:run-a}:doc`
        const docB = `${prefix}:v1:state:{agents:run-b}:doc`
        await server.command(
          'EVAL',
          "return redis.call('HSET', KEYS[2], 'd', redis.call('HGET', KEYS[1], 'd'))",
          2,
          docA,
          docB,
        )
        assert.equal(
          await state.get('run-b'),
          undefined,
          'a value copied from another document reads as missing',
        )
        assert.equal(state.stats().corrupt, 1)
        assert.deepEqual((await state.get('run-a'))!.value, { note: 'STATE-MARKER-second' })
        assert.deepEqual(
          (await state.history('run-a')).map((d) => d.value.note),
          ['STATE-MARKER-secret'],
        )
      } finally {
        await state.close()
      }
    })

    it('metrics: created, rotated, destroyed, rejected tokens, reads and the active gauge', async () => {
      const valkit = await connect()
      const store = await open({}, valkit)
      const s = await store.create({ userId: 'm1' })
      await store.load(s.token)
      await store.load('forged.token')
      const next = await store.regenerate(s)
      assert.ok(next.ok)
      await store.destroy(next.session)
      const text = valkit.metrics.toPrometheus()
      const store$ = `store="${store.name}"`
      for (const line of [
        `valkit_session_created_total{${store$}} 2`,
        `valkit_session_rotated_total{${store$}} 1`,
        `valkit_session_destroyed_total{${store$},reason="destroy"} 1`,
        `valkit_session_rejected_tokens_total{${store$},reason="malformed"} 1`,
        `valkit_session_reads_total{${store$},result="live"} 1`,
      ]) {
        assert.ok(text.includes(line), `missing: ${line}`)
      }
      assert.ok(text.includes('# TYPE valkit_session_active gauge'))
    })
  })
}

function found(lookup: Awaited<ReturnType<SessionStore['load']>>): Session {
  assert.ok(lookup.found, `expected a session, got ${lookup.found ? '' : lookup.reason}`)
  return lookup.session
}
