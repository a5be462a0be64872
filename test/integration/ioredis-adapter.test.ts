import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { Redis } from 'ioredis'
import { createValkit } from '../../src/core/create-valkit.js'
import { isValkitError } from '../../src/core/errors.js'
import {
  cleanPrefix,
  randomPrefix,
  startServer,
  testEngines,
  waitFor,
  type ServerHandle,
} from '../../src/testing/index.js'

for (const engine of testEngines()) {
  void describe(`ioredis adapter on ${engine}`, () => {
    let server: ServerHandle
    const prefix = randomPrefix('ioredis')
    const k = (name: string) => `${prefix}${name}`

    before(async () => {
      server = await startServer({ engine })
    })
    after(async () => {
      if (server?.alive) await cleanPrefix(server, prefix)
      await server?.stop()
    })

    void it('runs commands, pipelines and Buffers through a user-supplied ioredis client', async () => {
      const client = new Redis(server.url)
      const valkit = createValkit({ driver: { ioredis: client }, env: {}, logger: false })
      try {
        await valkit.supervisor.waitFor('ready', 10_000)
        assert.equal(valkit.connection.driverName, 'ioredis')
        assert.equal(await valkit.connection.command(['SET', k('a'), 7]), 'OK')
        assert.equal(await valkit.connection.command(['INCRBY', k('a'), 5]), 12)
        const bytes = Buffer.from([0, 255, 1])
        await valkit.connection.command(['SET', k('b'), bytes])
        assert.deepEqual(await valkit.connection.command(['GET', k('b')], { buffers: true }), bytes)
        const replies = await valkit.connection.pipeline([
          ['GET', k('a')],
          ['HGET', k('a'), 'f'],
        ])
        assert.equal(replies[0], '12')
        assert.ok(isValkitError(replies[1], 'VALKIT_COMMAND'))
        assert.equal((await valkit.health()).driver, 'ioredis')
      } finally {
        await valkit.close()
        // The client belongs to the user: valkit.close() leaves it open.
        assert.equal(client.status, 'ready')
        client.disconnect()
      }
    })

    void it('subscribe receives a published message', async () => {
      const client = new Redis(server.url)
      const valkit = createValkit({ driver: { ioredis: client }, env: {}, logger: false })
      try {
        await valkit.supervisor.waitFor('ready', 10_000)
        const channel = k('events')
        const got = new Promise<string>((resolve, reject) => {
          const guard = setTimeout(() => reject(new Error('no message within 5 s')), 5000)
          void valkit.connection.subscribe(channel, (message) => {
            clearTimeout(guard)
            resolve(message.toString())
          })
        })
        await waitForSubscriber(server, channel)
        await server.command('PUBLISH', channel, 'hi from ioredis')
        assert.equal(await got, 'hi from ioredis')
      } finally {
        await valkit.close()
        client.disconnect()
      }
    })

    void it('the supervisor follows the ioredis connection: degraded (fail fast) when the server dies, ready and resubscribed when it returns', async () => {
      const own = await startServer({ engine })
      const client = new Redis(own.url, { retryStrategy: () => 50 })
      client.on('error', () => {})
      const valkit = createValkit({ driver: { ioredis: client }, env: {}, logger: false })
      try {
        await valkit.supervisor.waitFor('ready', 10_000)
        const channel = k('restart')
        const messages: string[] = []
        await valkit.connection.subscribe(channel, (m) => messages.push(m.toString()))
        await own.kill()
        await valkit.supervisor.waitFor('degraded', 5000)
        await assert.rejects(valkit.connection.command(['GET', k('x')]), (err) => {
          assert.ok(isValkitError(err, 'VALKIT_UNAVAILABLE'), String(err))
          assert.match(err.message, new RegExp(`127\\.0\\.0\\.1:${own.port}`))
          return true
        })
        await own.restart()
        await valkit.supervisor.waitFor('ready', 5000)
        assert.equal(await valkit.connection.command(['PING']), 'PONG')
        await waitFor(async () => Number(await own.command('PUBLISH', channel, 'back')) > 0, {
          what: 'the subscription to be restored',
        })
        await waitFor(() => messages.includes('back'), { what: 'the message after restart' })
      } finally {
        await valkit.close()
        client.disconnect()
        await own.stop()
      }
    })
  })
}

async function waitForSubscriber(server: ServerHandle, channel: string): Promise<void> {
  await waitFor(
    async () => {
      const reply = (await server.command('PUBSUB', 'NUMSUB', channel)) as [string, number]
      return Number(reply[1]) > 0
    },
    { what: `a subscriber on ${channel}` },
  )
}
