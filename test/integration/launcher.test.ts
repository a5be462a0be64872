import assert from 'node:assert/strict'
import net from 'node:net'
import tls from 'node:tls'
import { after, before, describe, it } from 'node:test'
import { isValkitError } from '../../src/core/errors.js'
import { RespClient, startServer, testEngines, type ServerHandle } from '../../src/testing/index.js'

/** Resolves with PING's reply, or rejects, within `ms`. */
async function pingWithin(port: number, ms: number): Promise<string> {
  const client = await RespClient.connect({ port, commandTimeoutMs: ms })
  try {
    return String(await client.command('PING'))
  } finally {
    client.close()
  }
}

for (const engine of testEngines()) {
  void describe(`launcher: standalone ${engine}`, () => {
    let server: ServerHandle

    before(async () => {
      server = await startServer({ engine })
    })
    after(async () => {
      await server.stop()
    })

    void it('starts a server that answers on its port', async () => {
      assert.equal(server.engine, engine)
      assert.equal(server.url, `redis://127.0.0.1:${server.port}`)
      assert.equal(await pingWithin(server.port, 2000), 'PONG')
      assert.equal(await server.command('SET', 'launcher:k', 'v'), 'OK')
      assert.equal(await server.command('GET', 'launcher:k'), 'v')
    })

    void it('runs the requested engine', async () => {
      const info = await server.info('server')
      if (engine === 'valkey') {
        assert.equal(info.server_name, 'valkey')
        assert.ok(info.valkey_version, 'valkey_version is reported')
      } else {
        assert.equal(info.server_name, undefined)
        assert.equal(info.valkey_version, undefined)
        assert.ok(info.redis_version)
      }
      assert.equal(info.tcp_port, String(server.port))
    })

    void it('starts without persistence by default', async () => {
      const config = (await server.command('CONFIG', 'GET', 'save')) as string[]
      assert.equal(config[1], '')
      const aof = (await server.command('CONFIG', 'GET', 'appendonly')) as string[]
      assert.equal(aof[1], 'no')
    })

    void it('restart keeps the port and the data', async () => {
      const { port } = server
      const oldPid = server.pid
      await server.command('SET', 'launcher:restart', 'kept')
      await server.restart()
      assert.equal(server.port, port)
      assert.notEqual(server.pid, oldPid)
      assert.equal(await server.command('GET', 'launcher:restart'), 'kept')
    })

    void it('pause blocks clients until resume', async () => {
      await server.pause()
      assert.equal(server.paused, true)
      await assert.rejects(pingWithin(server.port, 300), (err) => isValkitError(err, 'VALKIT_TIMEOUT'))
      await server.resume()
      assert.equal(await pingWithin(server.port, 2000), 'PONG')
    })

    void it('clientPause blocks commands for the given time', async () => {
      await server.clientPause(300)
      const started = Date.now()
      assert.equal(await pingWithin(server.port, 2000), 'PONG')
      // PING is not a write but CLIENT PAUSE ALL blocks every command.
      assert.ok(Date.now() - started >= 200, `PING answered after ${Date.now() - started} ms`)
    })

    void it('kill ends the process and the handle reports it', async () => {
      const victim = await startServer({ engine })
      try {
        const info = await victim.kill()
        assert.equal(info.signal, 'SIGKILL')
        assert.equal(victim.alive, false)
        assert.equal(victim.pid, undefined)
        await assert.rejects(pingWithin(victim.port, 500))
        await assert.rejects(victim.command('PING'), (err) => isValkitError(err, 'VALKIT_LAUNCHER'))
        await victim.restart()
        assert.equal(await victim.command('PING'), 'PONG')
      } finally {
        await victim.stop()
      }
    })

    void it('fails with VALKIT_LAUNCHER and the log tail when the server cannot start', async () => {
      await assert.rejects(startServer({ engine, args: ['--no-such-option', 'x'] }), (err) => {
        assert.ok(isValkitError(err, 'VALKIT_LAUNCHER'))
        assert.match(err.message, /no-such-option|Bad directive|Unrecognized|FATAL/i)
        return true
      })
    })

    void it('applies maxmemory, aof and extra args', async () => {
      const tuned = await startServer({
        engine,
        aof: true,
        maxmemory: '16mb',
        maxmemoryPolicy: 'allkeys-lru',
        args: ['--hz', '50'],
      })
      try {
        const get = async (name: string) => ((await tuned.command('CONFIG', 'GET', name)) as string[])[1]
        assert.equal(await get('maxmemory'), String(16 * 1024 * 1024))
        assert.equal(await get('maxmemory-policy'), 'allkeys-lru')
        assert.equal(await get('appendonly'), 'yes')
        assert.equal(await get('hz'), '50')
        await tuned.command('SET', 'aof:k', 'v')
        await tuned.kill()
        await tuned.restart()
        assert.equal(await tuned.command('GET', 'aof:k'), 'v', 'AOF keeps the write across kill -9')
      } finally {
        await tuned.stop()
      }
    })
  })

  void describe(`launcher: TLS and ACL on ${engine}`, () => {
    void it('TLS with client auth accepts the client certificate and rejects a client without one', async () => {
      const server = await startServer({ engine, tls: { authClients: 'yes' } })
      try {
        assert.ok(server.tls)
        assert.match(server.url, /^rediss:\/\/127\.0\.0\.1:\d+$/)
        const reply = await new Promise<string>((resolve, reject) => {
          const socket = tls.connect(
            {
              host: '127.0.0.1',
              port: server.port,
              servername: 'localhost',
              ca: server.tls!.ca,
              cert: server.tls!.cert,
              key: server.tls!.key,
            },
            () => socket.write('*1\r\n$4\r\nPING\r\n'),
          )
          socket.once('data', (d: Buffer) => {
            socket.destroy()
            resolve(d.toString())
          })
          socket.once('error', reject)
        })
        assert.equal(reply, '+PONG\r\n')

        // Without a client certificate the server refuses the session.
        await assert.rejects(
          new Promise((resolve, reject) => {
            const socket = tls.connect(
              { host: '127.0.0.1', port: server.port, servername: 'localhost', ca: server.tls!.ca },
              () => socket.write('*1\r\n$4\r\nPING\r\n'),
            )
            socket.once('data', resolve)
            socket.once('error', reject)
            socket.once('close', () => reject(new Error('closed without a reply')))
          }),
        )
        // Plain TCP is not served at all.
        await assert.rejects(
          new Promise((resolve, reject) => {
            const socket = net.connect({ host: '127.0.0.1', port: server.port }, () =>
              socket.write('PING\r\n'),
            )
            socket.once('data', (d) =>
              d.toString().startsWith('+PONG') ? resolve(d) : reject(new Error(String(d))),
            )
            socket.once('error', reject)
            socket.once('close', () => reject(new Error('closed')))
          }),
        )
      } finally {
        await server.stop()
      }
    })

    void it('ACL user runs allowed commands and gets NOPERM on others; default user off', async () => {
      const server = await startServer({
        engine,
        defaultUser: 'off',
        users: [{ username: 'app', password: 'app-secret', rules: '~app:* +get +set +info' }],
      })
      try {
        const app = await RespClient.connect({ port: server.port, username: 'app', password: 'app-secret' })
        try {
          assert.equal(await app.command('SET', 'app:k', 'v'), 'OK')
          assert.equal(await app.command('GET', 'app:k'), 'v')
          await assert.rejects(app.command('DEL', 'app:k'), /NOPERM/)
          await assert.rejects(app.command('GET', 'other:k'), /NOPERM/)
        } finally {
          app.close()
        }
        // The default user cannot be used: unauthenticated clients are refused.
        const anonymous = await RespClient.connect({ port: server.port })
        try {
          await assert.rejects(anonymous.command('GET', 'app:k'), /NOAUTH/)
        } finally {
          anonymous.close()
        }
        await assert.rejects(RespClient.connect({ port: server.port, password: 'anything' }), /WRONGPASS/)
        assert.equal(server.urlFor('app'), `redis://app:app-secret@127.0.0.1:${server.port}`)
        // Users survive a restart (they live in an ACL file).
        await server.restart()
        const again = await RespClient.connect({ port: server.port, username: 'app', password: 'app-secret' })
        assert.equal(await again.command('GET', 'app:k'), 'v')
        again.close()
      } finally {
        await server.stop()
      }
    })

    void it('password protects the default user', async () => {
      const server = await startServer({ engine, password: 'pw1' })
      try {
        const anonymous = await RespClient.connect({ port: server.port })
        await assert.rejects(anonymous.command('PING'), /NOAUTH/)
        anonymous.close()
        const authed = await RespClient.connect({ port: server.port, password: 'pw1' })
        assert.equal(await authed.command('PING'), 'PONG')
        authed.close()
        assert.equal(server.urlFor(), `redis://default:pw1@127.0.0.1:${server.port}`)
      } finally {
        await server.stop()
      }
    })
  })
}
