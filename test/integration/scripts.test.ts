import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { createClient } from '@redis/client'
import { startServer, testEngines, type ServerHandle } from '../../src/testing/index.js'
import {
  batchedScript,
  createMultiCallBatcher,
  createScriptBatcher,
  defineScript,
  loadScript,
  preloadScripts,
  runScript,
  type ScriptTarget,
} from '../../src/core/scripts/index.js'
import { createKeySpace } from '../../src/core/keys/index.js'
import type { RedisReply } from '../../src/core/driver/port.js'
import { isValkitError } from '../../src/core/errors.js'
import { createValkit } from '../../src/core/create-valkit.js'

const incrCapped = loadScript(new URL('../fixtures/scripts/incr-capped-1.lua', import.meta.url))
const busyWait = loadScript(new URL('../fixtures/scripts/busy-wait-1.lua', import.meta.url))

/** A real @redis/client connection behind the ScriptTarget port; remembers which verbs it sent. */
async function connect(url: string) {
  const client = createClient({ url, commandOptions: { timeout: 0 } })
  client.on('error', () => undefined)
  await client.connect()
  const sent: string[] = []
  const target: ScriptTarget = {
    async command(args) {
      sent.push(String(args[0]))
      const reply: unknown = await client.sendCommand(
        args.map((a) => (typeof a === 'number' ? String(a) : a)),
      )
      return reply as RedisReply
    },
  }
  return { target, sent, close: () => client.close() }
}

for (const engine of testEngines()) {
  void describe(`scripts on ${engine}`, () => {
    let server: ServerHandle
    let conn: Awaited<ReturnType<typeof connect>>
    const ks = createKeySpace({ prefix: `test-${randomBytes(4).toString('hex')}` })
    const counter = (name: string) => ks.key('test', name, 'counter')

    before(async () => {
      server = await startServer({ engine })
      conn = await connect(server.url)
    })
    after(async () => {
      await conn?.close()
      await server?.stop()
    })

    void it('falls back to EVAL once on a fresh server, then hits EVALSHA', async () => {
      assert.deepEqual(await server.command('SCRIPT', 'EXISTS', incrCapped.sha), [0])
      conn.sent.length = 0
      assert.equal(await runScript(conn.target, incrCapped, [counter('fresh')], [10, 60_000]), 1)
      assert.deepEqual(conn.sent, ['EVALSHA', 'EVAL'])
      assert.deepEqual(await server.command('SCRIPT', 'EXISTS', incrCapped.sha), [1])
      assert.equal(await runScript(conn.target, incrCapped, [counter('fresh')], [10, 60_000]), 2)
      assert.deepEqual(conn.sent, ['EVALSHA', 'EVAL', 'EVALSHA'])
    })

    void it('survives SCRIPT FLUSH between calls', async () => {
      const key = counter('flush')
      assert.equal(await runScript(conn.target, incrCapped, [key], [10, 60_000]), 1)
      await server.command('SCRIPT', 'FLUSH')
      conn.sent.length = 0
      assert.equal(await runScript(conn.target, incrCapped, [key], [10, 60_000]), 2)
      assert.deepEqual(conn.sent, ['EVALSHA', 'EVAL'])
      assert.equal(await server.command('GET', key), '2')
    })

    void it('returns domain outcomes as negative integers', async () => {
      const key = counter('cap')
      assert.equal(await runScript(conn.target, incrCapped, [key], [1, 60_000]), 1)
      assert.equal(await runScript(conn.target, incrCapped, [key], [1, 60_000]), -1)
      assert.equal(await server.command('GET', key), '1')
    })

    void it('surfaces errors raised by a script as VALKIT_SCRIPT with the cause', async () => {
      await assert.rejects(runScript(conn.target, incrCapped, [counter('bad')], ['many', 60_000]), (err) => {
        assert.ok(isValkitError(err, 'VALKIT_SCRIPT'), String(err))
        assert.match(err.message, /incr-capped/)
        assert.match(err.message, /cap must be an integer/)
        assert.ok(err.cause instanceof Error)
        assert.equal(err.details?.script, 'incr-capped')
        return true
      })
      // A runtime error inside Lua (PEXPIRE with a non-integer TTL) is mapped the same way.
      await assert.rejects(runScript(conn.target, incrCapped, [counter('ttl')], [5, 'soon']), (err) =>
        isValkitError(err, 'VALKIT_SCRIPT'),
      )
    })

    void it('connection.script() honours a per-call timeoutMs', async () => {
      const valkit = createValkit({ url: server.url, env: {}, logger: false, commandTimeout: '5s' })
      try {
        await valkit.supervisor.waitFor('ready', 10_000)
        await assert.rejects(
          valkit.connection.script(busyWait, [counter('busy')], [50_000_000], { timeoutMs: 100 }),
          (err: unknown) => isValkitError(err, 'VALKIT_TIMEOUT'),
        )
        // Without it the configured 5 s deadline applies, and the same script completes.
        assert.equal(await valkit.connection.script(busyWait, [counter('busy')], [1000]), 1)
      } finally {
        await valkit.close()
      }
    })

    void it('a batcher runs the calls of one turn in one script run, in order, each with its own reply', async () => {
      const batcher = createScriptBatcher(conn.target, incrCapped)
      const key = counter('batched')
      conn.sent.length = 0
      // Five increments capped at 3 on one key, plus one on another key with a bad cap.
      const runs = [1, 2, 3, 4, 5].map(() => batcher.run([key], [3, 60_000]))
      const bad = batcher.run([counter('batched-bad')], ['many', 60_000])
      assert.deepEqual(await Promise.all(runs), [1, 2, 3, -1, -1])
      await assert.rejects(bad, (err) => {
        assert.ok(isValkitError(err, 'VALKIT_SCRIPT'), String(err))
        assert.match(err.message, /incr-capped/)
        assert.match(err.message, /cap must be an integer/)
        return true
      })
      // One script run for the six calls: EVALSHA, and EVAL once because the server lacked it.
      assert.deepEqual(conn.sent, ['EVALSHA', 'EVAL'])
      assert.deepEqual(await server.command('SCRIPT', 'EXISTS', batchedScript(incrCapped).sha), [1])
      assert.equal(await server.command('GET', key), '3')
    })

    void it('a batcher sends a lone call as the script itself and splits turns at maxCalls', async () => {
      await server.command('SCRIPT', 'FLUSH')
      await preloadScripts([conn.target], [incrCapped, batchedScript(incrCapped)])
      const batcher = createScriptBatcher(conn.target, incrCapped, { maxCalls: 2 })
      const key = counter('split')
      conn.sent.length = 0
      assert.equal(await batcher.run([key], [100, 60_000]), 1)
      assert.deepEqual(conn.sent, ['EVALSHA'])
      conn.sent.length = 0
      const replies = await Promise.all([1, 2, 3, 4, 5].map(() => batcher.run([key], [100, 60_000])))
      assert.deepEqual(replies, [2, 3, 4, 5, 6])
      // 2 + 2 + 1 calls: three runs.
      assert.deepEqual(conn.sent, ['EVALSHA', 'EVALSHA', 'EVALSHA'])
    })

    void it('a batch of calls with different key and argument counts runs each with its own', async () => {
      const batcher = createScriptBatcher(conn.target, incrCapped)
      const a = counter('shape-a')
      const b = counter('shape-b')
      conn.sent.length = 0
      // Uniform batches send the counts once; this one has to send them per call.
      const replies = await Promise.all([
        batcher.run([a], [2, 60_000]),
        batcher.run([b, a], [5, 60_000, 'ignored']),
        batcher.run([a], [2, 60_000]),
        batcher.run([a], [2, 60_000]),
      ])
      assert.deepEqual(replies, [1, 1, 2, -1])
      assert.equal(conn.sent.filter((c) => c === 'EVALSHA').length, 1)
      assert.equal(await server.command('GET', b), '1')
    })

    void it('a batch whose script errors at runtime fails only the call that raised it', async () => {
      const batcher = createScriptBatcher(conn.target, incrCapped)
      const ok = counter('runtime-ok')
      const results = await Promise.allSettled([
        batcher.run([ok], [5, 60_000]),
        // PEXPIRE with a TTL that is not a number: an error raised by redis.call inside Lua.
        batcher.run([counter('runtime-bad')], [5, 'soon']),
        batcher.run([ok], [5, 60_000]),
      ])
      assert.deepEqual(
        results.map((r) => r.status),
        ['fulfilled', 'rejected', 'fulfilled'],
      )
      assert.deepEqual(
        results.map((r) => (r.status === 'fulfilled' ? r.value : null)),
        [1, null, 2],
      )
      const reason = (results[1] as PromiseRejectedResult).reason as unknown
      assert.ok(isValkitError(reason, 'VALKIT_SCRIPT'), String(reason))
    })

    void it('a multi-call batcher sends a turn as one call of a script that takes many, and splits the reply', async () => {
      // INCRBY per call: ARGV[1] = number of calls, then one amount per call; one key per call.
      const incrMany = defineScript({
        name: 'incr-many',
        numberOfKeys: 1,
        source: `--[[ Increments each call's counter by its amount.
  KEYS[1] the counter of each call, in order
  ARGV[1] the number of calls m, then each call's amount
  Returns each call's new value ]]
local out = {}
for i = 1, tonumber(ARGV[1]) do out[i] = redis.call('INCRBY', KEYS[i], ARGV[1 + i]) end
return out`,
      })
      const incr = createMultiCallBatcher(conn.target, incrMany, {
        split: (reply, calls) => calls.map((_, i) => (reply as number[])[i]!),
      })
      const a = counter('multi-a')
      const b = counter('multi-b')
      conn.sent.length = 0
      const replies = await Promise.all([
        incr({ keys: [a], args: [1] }),
        incr({ keys: [b], args: [10] }),
        incr({ keys: [a], args: [2] }),
      ])
      assert.deepEqual(replies, [1, 10, 3])
      assert.deepEqual(conn.sent, ['EVALSHA', 'EVAL'])
    })

    void it('preloads scripts with SCRIPT LOAD so the first call is a single EVALSHA', async () => {
      await server.command('SCRIPT', 'FLUSH')
      await preloadScripts([conn.target], [incrCapped])
      assert.deepEqual(await server.command('SCRIPT', 'EXISTS', incrCapped.sha), [1])
      conn.sent.length = 0
      assert.equal(await runScript(conn.target, incrCapped, [counter('preload')], [3, 60_000]), 1)
      assert.deepEqual(conn.sent, ['EVALSHA'])
    })
  })
}
