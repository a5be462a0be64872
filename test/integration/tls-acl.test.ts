import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from '../../src/core/create-valkit.js'
import { isValkitError } from '../../src/core/errors.js'
import {
  cleanPrefix,
  generateTlsCertificates,
  randomPrefix,
  startServer,
  testEngines,
  type ServerHandle,
  type TlsMaterial,
} from '../../src/testing/index.js'

const PASSWORD = 'Sup3r-Secret-Pw-91f2'
const WRONG_PASSWORD = 'Wr0ng-Secret-Pw-77ab'

/** Every place a secret could leak from an error: message, JSON, cause chain, stack. */
function leakSurface(err: unknown): string {
  const parts: string[] = []
  for (let e = err, depth = 0; e !== undefined && depth < 6; depth++) {
    if (e instanceof Error) {
      parts.push(e.message, e.stack ?? '', JSON.stringify(e))
      e = e.cause
    } else {
      parts.push(JSON.stringify(e) ?? typeof e)
      break
    }
  }
  return parts.join('\n')
}

for (const engine of testEngines()) {
  void describe(`TLS on ${engine}`, () => {
    let server: ServerHandle
    let mutual: ServerHandle
    let otherDir: string
    let other: TlsMaterial

    before(async () => {
      server = await startServer({ engine, tls: { authClients: 'no' } })
      mutual = await startServer({ engine, tls: { authClients: 'yes' } })
      otherDir = await mkdtemp(join(tmpdir(), 'valkit-other-ca-'))
      other = await generateTlsCertificates(otherDir)
    })
    after(async () => {
      await server?.stop()
      await mutual?.stop()
      if (otherDir) await rm(otherDir, { recursive: true, force: true })
    })

    void it('connects over rediss:// with the right CA', async () => {
      assert.match(server.url, /^rediss:\/\//)
      const valkit = await connect({ url: server.url, tls: { ca: server.tls!.ca }, env: {}, logger: false })
      try {
        assert.equal(await valkit.connection.command(['PING']), 'PONG')
        assert.match(valkit.config.describe(), /tls=on/)
      } finally {
        await valkit.close()
      }
    })

    void it('a server signed by another CA rejects VALKIT_TLS and the message points at the CA', async () => {
      await assert.rejects(
        connect({ url: server.url, tls: { ca: other.ca }, env: {}, logger: false, connectTimeout: '2s' }),
        (err) => {
          assert.ok(isValkitError(err, 'VALKIT_TLS'), leakSurface(err))
          assert.match(err.message, /\bCA\b|tls\.ca/)
          assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${server.port}`))
          return true
        },
      )
    })

    void it('a server requiring client certificates accepts cert+key', async () => {
      const tls = mutual.tls!
      const valkit = await connect({
        url: mutual.url,
        tls: { ca: tls.ca, cert: tls.cert, key: tls.key },
        env: {},
        logger: false,
      })
      try {
        assert.equal(await valkit.connection.command(['PING']), 'PONG')
        assert.match(valkit.config.describe(), /client-cert/)
        assert.ok(!valkit.config.describe().includes(tls.key), 'the key is not in describe()')
      } finally {
        await valkit.close()
      }
    })

    void it('without a client certificate, rejects VALKIT_TLS mentioning the client certificate', async () => {
      await assert.rejects(
        connect({
          url: mutual.url,
          tls: { ca: mutual.tls!.ca },
          env: {},
          logger: false,
          connectTimeout: '2s',
        }),
        (err) => {
          assert.ok(isValkitError(err, 'VALKIT_TLS'), leakSurface(err))
          assert.match(err.message, /client certificate/)
          return true
        },
      )
    })
  })

  void describe(`ACL on ${engine}`, () => {
    let server: ServerHandle
    const prefix = randomPrefix('acl')

    before(async () => {
      server = await startServer({
        engine,
        defaultUser: 'off',
        users: [
          {
            username: 'app',
            password: PASSWORD,
            rules: ['resetkeys', `~${prefix}*`, '+@read', '+@write', '+@connection', '+info', '-@dangerous'],
          },
        ],
      })
    })
    after(async () => {
      if (server?.alive) await cleanPrefix(server, prefix)
      await server?.stop()
    })

    void it('a limited user runs allowed commands; a forbidden one rejects VALKIT_AUTH (NOPERM)', async () => {
      const valkit = await connect({ url: server.urlFor('app'), env: {}, logger: false })
      try {
        assert.equal(await valkit.connection.command(['SET', `${prefix}k`, 'v']), 'OK')
        assert.equal(await valkit.connection.command(['GET', `${prefix}k`]), 'v')
        await assert.rejects(valkit.connection.command(['FLUSHALL']), (err) => {
          assert.ok(isValkitError(err, 'VALKIT_AUTH'), leakSurface(err))
          assert.match(err.message, /NOPERM/)
          assert.ok(!leakSurface(err).includes(PASSWORD))
          return true
        })
        await assert.rejects(valkit.connection.command(['SET', 'outside-the-prefix', 'v']), (err) =>
          isValkitError(err, 'VALKIT_AUTH'),
        )
        assert.equal(await server.command('DBSIZE'), 1, 'nothing else was written')
        // The password is in the configuration, never in what is shown of it.
        assert.ok(valkit.config.password === PASSWORD)
        assert.ok(!valkit.config.describe().includes(PASSWORD))
        assert.ok(!JSON.stringify(valkit.config).includes(PASSWORD))
      } finally {
        await valkit.close()
      }
    })

    void it('a wrong password rejects VALKIT_AUTH (WRONGPASS) and no password appears anywhere', async () => {
      const url = server.urlFor('app').replace(encodeURIComponent(PASSWORD), WRONG_PASSWORD)
      assert.ok(url.includes(WRONG_PASSWORD), 'test setup: the URL carries the wrong password')
      await assert.rejects(connect({ url, env: {}, logger: false }), (err) => {
        assert.ok(isValkitError(err, 'VALKIT_AUTH'), leakSurface(err))
        assert.match(err.message, /WRONGPASS/)
        const surface = leakSurface(err)
        assert.ok(!surface.includes(WRONG_PASSWORD), 'the wrong password leaked into the error')
        assert.ok(!surface.includes(PASSWORD))
        return true
      })
      await assert.rejects(
        connect({ url: server.url, username: 'app', password: WRONG_PASSWORD, env: {}, logger: false }),
        (err) => isValkitError(err, 'VALKIT_AUTH') && !leakSurface(err).includes(WRONG_PASSWORD),
      )
    })
  })
}
