/**
 * Sessions while Redis is unreachable from one instance (its connection blackholed by a TCP
 * proxy): reads come from its local copy, rotations and revocations fail closed with a typed
 * error, a revoke-all made elsewhere just before still holds there (the message dropped the
 * copy), and the instance goes back to Redis on its own when the network heals.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { createValkit, isValkitError, type Valkit } from '../../src/core/index.js'
import { createSessionStore, type SessionStore, type SessionStoreOptions } from '../../src/session/index.js'
import {
  cleanPrefix,
  startServer,
  tcpProxy,
  testEngines,
  waitFor,
  type ServerHandle,
  type TcpProxy,
} from '../../src/testing/index.js'

const failsClosed = (err: unknown) =>
  isValkitError(err) &&
  (err.code === 'VALKIT_UNAVAILABLE' || err.code === 'VALKIT_TIMEOUT') &&
  err.details?.failClosed === true

for (const engine of testEngines()) {
  void describe(`session chaos: Redis unreachable from one instance (${engine})`, { timeout: 90_000 }, () => {
    let server: ServerHandle
    let proxy: TcpProxy
    let direct: Valkit
    let cut: Valkit
    const stores: SessionStore[] = []
    const prefix = `t-sess-chaos-${randomBytes(4).toString('hex')}`
    const options: SessionStoreOptions = {
      name: 'chaos',
      secrets: [randomBytes(32).toString('base64')],
      encryption: { keys: [{ id: 1, key: randomBytes(32) }], primary: 1 },
      localCopy: { maxStale: '1m' },
      touchInterval: 0,
    }

    before(async () => {
      server = await startServer({ engine })
      proxy = await tcpProxy({ target: { port: server.port } })
      const health = { interval: 100, pingTimeout: 150, failuresToDegrade: 2 }
      direct = createValkit({ url: server.url, env: {}, logger: false, keyPrefix: prefix, health })
      cut = createValkit({
        url: proxy.url,
        env: {},
        logger: false,
        keyPrefix: prefix,
        health,
        commandTimeout: 300,
      })
      await Promise.all([direct, cut].map((v) => v.supervisor.waitFor('ready', 10_000)))
    })
    after(async () => {
      for (const store of stores) await store.close()
      await direct?.close()
      await cut?.close()
      await proxy?.close()
      if (server?.alive) await cleanPrefix(server, `${prefix}:`)
      await server?.stop()
    })

    it('local copy while down, fail-closed rotations and revocations, revoke-all holds, recovery without restart', async () => {
      const a = createSessionStore(direct, options)
      const b = createSessionStore(cut, options)
      const plain = createSessionStore(cut, { ...options, localCopy: false })
      stores.push(a, b, plain)
      await Promise.all([a.ready(), b.ready()])

      const anon = await a.create({ data: { cart: ['tea'] } })
      const user = await a.create({ userId: 'ada', device: 'phone', data: { role: 'admin' } })
      for (const s of [anon, user]) assert.equal((await b.load(s.token)).found, true)
      assert.equal(b.stats().localCopies, 2)

      // Log out everywhere on instance A: B drops its copy at once (the message), before any outage.
      assert.equal(await a.revokeAll('ada'), 1)
      await waitFor(() => b.stats().localCopies === 1 || undefined, {
        what: "B dropping the revoked user's copy",
      })

      proxy.blackhole()
      await cut.supervisor.waitFor('degraded', 10_000)

      const served = await b.load(anon.token)
      assert.ok(served.found)
      assert.equal(served.session.source, 'local-copy')
      assert.equal(served.session.readOnly, true)
      assert.deepEqual(served.session.data, { cart: ['tea'] })
      await assert.rejects(
        b.load(user.token),
        (err: unknown) => isValkitError(err, 'VALKIT_UNAVAILABLE'),
        'revoked: no copy left to serve',
      )
      await assert.rejects(
        plain.load(anon.token),
        (err: unknown) => isValkitError(err, 'VALKIT_UNAVAILABLE'),
        'without localCopy: a typed error',
      )

      await assert.rejects(b.regenerate(served.session, { userId: 'ada' }), failsClosed)
      await assert.rejects(b.destroy(served.session), failsClosed)
      await assert.rejects(b.revokeAll('ada'), failsClosed)
      await assert.rejects(b.revoke('ada', user.handle), failsClosed)
      await assert.rejects(b.update(served.session, { set: { cart: [] } }), (err: unknown) =>
        isValkitError(err),
      )
      assert.ok(b.stats().localReads >= 1)
      assert.ok(b.stats().backendErrors >= 5)
      assert.deepEqual((await a.read(anon.id)).found, true, 'nothing was destroyed by the refused calls')

      proxy.heal()
      proxy.resetConnections()
      await cut.supervisor.waitFor('ready', 20_000)
      const back = await b.load(anon.token)
      assert.ok(back.found)
      assert.equal(back.session.source, 'redis')
      assert.equal(back.session.readOnly, false)
      assert.deepEqual(await b.update(back.session, { set: { cart: ['tea', 'milk'] } }), {
        ok: true,
        version: 2,
      })
      const renewed = await b.regenerate(back.session)
      assert.ok(renewed.ok, 'rotations work again without a restart')
      assert.deepEqual(renewed.session.data, { cart: ['tea', 'milk'] })
    })
  })
}
