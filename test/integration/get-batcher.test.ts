/**
 * The GET batcher on real servers: the reads of one turn of the event loop travel as one MGET,
 * each caller with its own value; a lone read is a plain GET; Buffers on request.
 */
import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { createClient } from '@redis/client'
import { startServer, testEngines, type ServerHandle } from '../../src/testing/index.js'
import { createGetBatcher, type CommandTarget } from '../../src/core/batching/index.js'
import type { RedisReply } from '../../src/core/driver/port.js'

for (const engine of testEngines()) {
  void describe(`GET batcher on ${engine}`, () => {
    let server: ServerHandle
    let client: ReturnType<typeof createClient>
    const sent: string[] = []
    const prefix = `test-${randomBytes(4).toString('hex')}`
    let target: CommandTarget

    before(async () => {
      server = await startServer({ engine })
      client = createClient({ url: server.url, commandOptions: { timeout: 0 } })
      client.on('error', () => undefined)
      await client.connect()
      target = {
        async command(args, options) {
          sent.push(String(args[0]))
          const command = args.map((a) => (typeof a === 'number' ? String(a) : a))
          const reply: unknown = options?.buffers
            ? await client.withTypeMapping({ [36]: Buffer }).sendCommand(command)
            : await client.sendCommand(command)
          return reply as RedisReply
        },
      }
    })
    after(async () => {
      await client?.close()
      await server?.stop()
    })

    void it('reads of one turn go as one MGET, each caller with its own value or null', async () => {
      for (const k of ['a', 'b', 'c']) await server.command('SET', `${prefix}:${k}`, `value-${k}`)
      await server.command('LPUSH', `${prefix}:list`, 'x')
      const reads = createGetBatcher(target)
      sent.length = 0
      const values = await Promise.all(
        ['a', 'missing', 'b', 'list', 'c'].map((k) => reads.get(`${prefix}:${k}`)),
      )
      // A key of another type reads as null in a batch, as MGET answers it.
      assert.deepEqual(values, ['value-a', null, 'value-b', null, 'value-c'])
      assert.deepEqual(sent, ['MGET'])
    })

    void it('a lone read is a GET, batches split at maxCalls, Buffers on request', async () => {
      await server.command('SET', `${prefix}:bin`, Buffer.from([0, 255, 1]))
      const reads = createGetBatcher(target, { maxCalls: 2, buffers: true })
      sent.length = 0
      const one = await reads.get(`${prefix}:bin`)
      assert.ok(Buffer.isBuffer(one))
      assert.deepEqual([...one], [0, 255, 1])
      assert.deepEqual(sent, ['GET'])
      sent.length = 0
      const many = await Promise.all([1, 2, 3, 4, 5].map(() => reads.get(`${prefix}:bin`)))
      assert.ok(many.every((v) => Buffer.isBuffer(v) && v.equals(Buffer.from([0, 255, 1]))))
      assert.deepEqual(sent, ['MGET', 'MGET', 'GET'])
    })

    void it('a transport error rejects every read of the batch', async () => {
      const failing: CommandTarget = { command: () => Promise.reject(new Error('connection lost')) }
      const reads = createGetBatcher(failing)
      const results = await Promise.allSettled([reads.get('x'), reads.get('y')])
      assert.deepEqual(
        results.map((r) => r.status),
        ['rejected', 'rejected'],
      )
    })
  })
}
