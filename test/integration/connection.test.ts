import { after, before, describe, it } from 'node:test'
import assert from 'node:assert/strict'
import { performance } from 'node:perf_hooks'
import { connect, createValkit, type Valkit } from '../../src/core/create-valkit.js'
import type { ValkitOptions } from '../../src/core/config/valkit-options.js'
import { isValkitError } from '../../src/core/errors.js'
import { defineScript } from '../../src/core/scripts/index.js'
import {
  cleanPrefix,
  randomPrefix,
  startServer,
  tcpProxy,
  testEngines,
  waitFor,
  type ServerHandle,
} from '../../src/testing/index.js'

/** A valkit on `url` that ignores the process environment and does not log. */
function open(url: string, options: ValkitOptions = {}): Valkit {
  return createValkit({ url, env: {}, logger: false, ...options })
}

async function ready(valkit: Valkit): Promise<Valkit> {
  await valkit.supervisor.waitFor('ready', 10_000)
  return valkit
}

/** Times a promise that must reject; resolves with the error and how long it took. */
async function rejection(work: Promise<unknown>): Promise<{ error: unknown; ms: number }> {
  const started = performance.now()
  try {
    await work
  } catch (error) {
    return { error, ms: performance.now() - started }
  }
  assert.fail('expected a rejection')
}

/** How many times the server ran `command` (INFO commandstats), read on the launcher's own connection. */
async function calls(server: ServerHandle, command: string): Promise<number> {
  const stats = await server.info('commandstats')
  return Number(/calls=(\d+)/.exec(stats[`cmdstat_${command}`] ?? '')?.[1] ?? 0)
}

for (const engine of testEngines()) {
  void describe(`connection on ${engine}`, () => {
    let shared: ServerHandle
    const prefix = randomPrefix('connection')
    const k = (name: string) => `${prefix}${name}`

    before(async () => {
      shared = await startServer({ engine })
    })
    after(async () => {
      if (shared?.alive) await cleanPrefix(shared, prefix)
      await shared?.stop()
    })

    void it('round-trips strings, numbers as arguments and binary Buffers', async () => {
      const valkit = await ready(open(shared.url))
      try {
        const c = valkit.connection
        assert.equal(await c.command(['SET', k('s'), 'héllo wörld']), 'OK')
        assert.equal(await c.command(['GET', k('s')]), 'héllo wörld')
        assert.equal(await c.command(['SET', k('n'), 41]), 'OK')
        assert.equal(await c.command(['INCRBY', k('n'), 1]), 42)
        assert.equal(await c.command(['GET', k('n')]), '42')
        const bytes = Buffer.from([0x00, 0xff, 0x80, 0x0a, 0x0d, 0x7f])
        assert.equal(await c.command(['SET', k('b'), bytes]), 'OK')
        const back = await c.command(['GET', k('b')], { buffers: true })
        assert.ok(Buffer.isBuffer(back), 'buffers: true returns a Buffer')
        assert.deepEqual(back, bytes)
        assert.equal(await c.command(['GET', k('missing')]), null)
        assert.deepEqual(await c.command(['MGET', k('s'), k('missing')]), ['héllo wörld', null])
        assert.equal(c.driverName, 'node-redis')
        assert.equal(c.isReady, true)
      } finally {
        await valkit.close()
      }
    })

    void it('a command to a frozen server rejects VALKIT_TIMEOUT near commandTimeout; it works again after resume', async () => {
      const server = await startServer({ engine })
      const valkit = await ready(open(server.url, { commandTimeout: '300ms' }))
      try {
        await server.pause()
        const { error, ms } = await rejection(valkit.connection.command(['SET', k('frozen'), 'v']))
        assert.ok(isValkitError(error, 'VALKIT_TIMEOUT'), String(error))
        assert.match(error.message, /300 ms/)
        assert.ok(ms >= 290, `rejected after ${ms.toFixed(0)} ms, before the 300 ms deadline`)
        // 5x the timeout: a correctness bound (it did not hang), not a benchmark.
        assert.ok(ms < 1500, `rejected after ${ms.toFixed(0)} ms, far past the 300 ms deadline`)
        await server.resume()
        await waitFor(async () => (await valkit.connection.command(['PING'])) === 'PONG', {
          what: 'PING to answer after resume',
        })
        assert.equal(await valkit.connection.command(['SET', k('after'), 'v']), 'OK')
        assert.equal(await server.command('GET', k('after')), 'v')
      } finally {
        await valkit.close()
        await server.stop()
      }
    })

    void it('fails fast with VALKIT_UNAVAILABLE naming the endpoint while the server is down', async () => {
      const server = await startServer({ engine })
      const valkit = await ready(open(server.url, { commandTimeout: '2s' }))
      try {
        await server.kill()
        await valkit.supervisor.waitFor('degraded', 5000)
        const { error, ms } = await rejection(valkit.connection.command(['GET', k('x')]))
        assert.ok(isValkitError(error, 'VALKIT_UNAVAILABLE'), String(error))
        assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${server.port}`))
        // "At once": nowhere near the 2 s command timeout.
        assert.ok(ms < 200, `took ${ms.toFixed(0)} ms to reject`)
      } finally {
        await valkit.close()
        await server.stop()
      }
    })

    void it('the offline queue holds commands while down, sends them on restart and rejects when full', async () => {
      const server = await startServer({ engine })
      // A short reconnect cap so the restarted server is found well inside maxWait (2 s).
      const valkit = await ready(
        open(server.url, { offlineQueue: { maxSize: 2, maxWait: '2s' }, reconnect: { maxDelay: '100ms' } }),
      )
      try {
        await server.kill()
        await waitFor(() => !valkit.connection.isReady, { what: 'the connection to drop' })
        const first = valkit.connection.command(['SET', k('q1'), 'one'])
        const second = valkit.connection.command(['INCR', k('q2')])
        const { error, ms } = await rejection(valkit.connection.command(['SET', k('q3'), 'three']))
        assert.ok(isValkitError(error, 'VALKIT_UNAVAILABLE'), String(error))
        assert.match(error.message, /full/)
        assert.ok(ms < 200, `a full queue rejected after ${ms.toFixed(0)} ms`)
        await server.restart()
        assert.equal(await first, 'OK')
        assert.equal(await second, 1)
        assert.equal(await server.command('GET', k('q1')), 'one')
        assert.equal(await server.command('GET', k('q2')), '1')
        assert.equal(await server.command('EXISTS', k('q3')), 0, 'the rejected command was not sent')
      } finally {
        await valkit.close()
        await server.stop()
      }
    })

    void it('a queued command that waited maxWait rejects VALKIT_UNAVAILABLE and frees its place', async () => {
      const server = await startServer({ engine })
      const valkit = await ready(open(server.url, { offlineQueue: { maxSize: 1, maxWait: '200ms' } }))
      try {
        await server.kill()
        await waitFor(() => !valkit.connection.isReady, { what: 'the connection to drop' })
        const { error, ms } = await rejection(valkit.connection.command(['GET', k('w1')]))
        assert.ok(isValkitError(error, 'VALKIT_UNAVAILABLE'), String(error))
        assert.match(error.message, /offline queue/)
        assert.ok(ms >= 190 && ms < 1000, `expired after ${ms.toFixed(0)} ms (maxWait 200 ms)`)
        // The expired command left the queue: the next one waits its turn instead of "full".
        const next = await rejection(valkit.connection.command(['GET', k('w2')]))
        assert.ok(isValkitError(next.error, 'VALKIT_UNAVAILABLE'))
        assert.doesNotMatch(next.error.message, /full/)
        assert.ok(next.ms >= 190, `rejected after ${next.ms.toFixed(0)} ms: it was never queued`)
      } finally {
        await valkit.close()
        await server.stop()
      }
    })

    void it('offlineQueue maxWait 0 waits as long as it takes', async () => {
      const server = await startServer({ engine })
      const valkit = await ready(
        open(server.url, { offlineQueue: { maxSize: 10, maxWait: 0 }, reconnect: { maxDelay: '100ms' } }),
      )
      try {
        await server.kill()
        await waitFor(() => !valkit.connection.isReady, { what: 'the connection to drop' })
        let settled = false
        const queued = valkit.connection.command(['SET', k('forever'), 'v']).finally(() => (settled = true))
        queued.catch(() => {})
        // Still pending once the server answers again (restart takes a few hundred ms).
        await server.restart()
        assert.equal(await queued, 'OK')
        assert.ok(settled)
        assert.equal(await server.command('GET', k('forever')), 'v')
      } finally {
        await valkit.close()
        await server.stop()
      }
    })

    void describe('across a connection reset (tcpProxy)', () => {
      let proxy: Awaited<ReturnType<typeof tcpProxy>>
      before(async () => {
        proxy = await tcpProxy({ target: { port: shared.port } })
      })
      after(async () => {
        await proxy?.close()
      })

      /**
       * Sends `args` through the proxy with a 1 s delay each way, waits until the server has
       * executed it (commandstats), then resets the connection before the reply comes back.
       */
      async function resetAfterExecution(
        valkit: Valkit,
        args: string[],
      ): Promise<{ sent: Promise<unknown> }> {
        const name = args[0]!.toLowerCase()
        const before = await calls(shared, name)
        proxy.setLatency(1000)
        const sent = valkit.connection.command(args)
        sent.catch(() => {})
        await waitFor(async () => (await calls(shared, name)) > before, {
          intervalMs: 5,
          what: `${args[0]} to reach the server`,
        })
        proxy.resetConnections()
        proxy.setLatency(0)
        return { sent }
      }

      void it('an idempotent GET is retried and answers; INCR is never applied twice', async () => {
        const valkit = await ready(open(proxy.url, { commandTimeout: '5s', offlineQueue: true }))
        try {
          await shared.command('SET', k('r'), 'value')
          const getsBefore = await calls(shared, 'get')
          assert.equal(await (await resetAfterExecution(valkit, ['GET', k('r')])).sent, 'value')
          assert.equal(await calls(shared, 'get'), getsBefore + 2, 'the GET was sent a second time')

          await valkit.supervisor.waitFor('ready', 5000)
          const incrsBefore = await calls(shared, 'incr')
          const incr = await rejection((await resetAfterExecution(valkit, ['INCR', k('counter')])).sent)
          assert.ok(isValkitError(incr.error, 'VALKIT_UNAVAILABLE'), String(incr.error))
          assert.match(incr.error.message, /^INCR: /)
          await valkit.supervisor.waitFor('ready', 5000)
          // A later command on the new connection: anything resent would have run before it.
          assert.equal(await valkit.connection.command(['GET', k('counter')]), '1')
          assert.equal(await calls(shared, 'incr'), incrsBefore + 1, 'INCR ran once')
        } finally {
          await valkit.close()
        }
      })

      void it('without the offline queue, an idempotent GET still survives a reset when the reconnect is slower than the retry delays', async () => {
        const valkit = await ready(
          open(proxy.url, { commandTimeout: '5s', reconnect: { initialDelay: '300ms', jitter: 'none' } }),
        )
        try {
          await shared.command('SET', k('r2'), 'value')
          assert.equal(await (await resetAfterExecution(valkit, ['GET', k('r2')])).sent, 'value')
        } finally {
          await valkit.close()
        }
      })
    })

    void it('durable writes succeed with a replica and reject VALKIT_NOT_DURABLE without one', async () => {
      const master = await startServer({ engine })
      const replica = await startServer({ engine, args: ['--replicaof', '127.0.0.1', String(master.port)] })
      const lonely = await startServer({ engine })
      const options: ValkitOptions = { durableWrites: { replicas: 1, timeout: '500ms' } }
      const withReplica = open(master.url, options)
      const without = open(lonely.url, options)
      try {
        await waitFor(async () => (await replica.info('replication')).master_link_status === 'up', {
          what: 'the replica to sync',
        })
        // A replica that has just attached acknowledges its first offset up to ~1 s later (its
        // periodic REPLCONF ACK): wait until it confirms a write of the launcher's own.
        await waitFor(
          async () => {
            await master.command('SET', k('synced'), '1')
            return Number(await master.command('WAIT', 1, 200)) >= 1
          },
          { what: 'the replica to acknowledge writes' },
        )
        await ready(withReplica)
        await ready(without)
        assert.equal(await withReplica.connection.command(['SET', k('d'), 'safe'], { durable: true }), 'OK')
        assert.equal(
          await replica.command('GET', k('d')),
          'safe',
          'confirmed on the replica when it returned',
        )

        const { error, ms } = await rejection(
          without.connection.command(['SET', k('d'), 'unsafe'], { durable: true }),
        )
        assert.ok(isValkitError(error, 'VALKIT_NOT_DURABLE'), String(error))
        assert.match(error.message, /0 of 1 replicas/)
        assert.ok(ms >= 450, `WAIT should have waited its 500 ms, rejected after ${ms.toFixed(0)} ms`)
        assert.equal(
          await lonely.command('GET', k('d')),
          'unsafe',
          'applied on the master, as the message says',
        )
        // Writes that do not ask for durability do not WAIT.
        const plain = performance.now()
        assert.equal(await without.connection.command(['SET', k('d2'), 'v']), 'OK')
        assert.ok(performance.now() - plain < 400)
      } finally {
        await withReplica.close()
        await without.close()
        await Promise.all([replica.stop(), master.stop(), lonely.stop()])
      }
    })

    void it('a pipeline returns each reply or its own error', async () => {
      const valkit = await ready(open(shared.url))
      try {
        const replies = await valkit.connection.pipeline([
          ['SET', k('p'), 'text'],
          ['INCR', k('p')],
          ['GET', k('p')],
          ['NOSUCHCOMMAND'],
        ])
        assert.equal(replies.length, 4)
        assert.equal(replies[0], 'OK')
        assert.ok(isValkitError(replies[1], 'VALKIT_COMMAND'), JSON.stringify(replies[1]))
        assert.match(replies[1].message, /^INCR: .*not an integer/)
        assert.equal(replies[2], 'text')
        assert.ok(isValkitError(replies[3], 'VALKIT_COMMAND'), JSON.stringify(replies[3]))
      } finally {
        await valkit.close()
      }
    })

    void it('script() runs by EVALSHA and survives SCRIPT FLUSH', async () => {
      const bump = defineScript({
        name: 'bump-counter-1.lua',
        source: `--[[ Adds an amount to a counter.
  KEYS[1] counter key      ARGV[1] amount
  Returns the new value ]]
return redis.call('INCRBY', KEYS[1], ARGV[1])`,
      })
      const valkit = await ready(open(shared.url))
      try {
        const key = k('script')
        assert.equal(await valkit.connection.script(bump, [key], [2]), 2)
        assert.deepEqual(await shared.command('SCRIPT', 'EXISTS', bump.sha), [1], 'the script is cached')
        const evalshaBefore = await calls(shared, 'evalsha')
        assert.equal(await valkit.connection.script(bump, [key], [3]), 5)
        assert.equal(await calls(shared, 'evalsha'), evalshaBefore + 1, 'the cached script ran by SHA')
        await shared.command('SCRIPT', 'FLUSH')
        assert.equal(await valkit.connection.script(bump, [key], [5]), 10)
        assert.equal(await shared.command('GET', key), '10')
      } finally {
        await valkit.close()
      }
    })

    void it('subscribe receives a published message', async () => {
      const valkit = await ready(open(shared.url))
      try {
        const channel = k('channel')
        const received = new Promise<{ message: string; channel: string }>((resolve, reject) => {
          const guard = setTimeout(() => reject(new Error('no message within 5 s')), 5000)
          void valkit.connection.subscribe(channel, (message, from) => {
            clearTimeout(guard)
            resolve({ message: message.toString(), channel: from })
          })
        })
        await waitFor(async () => Number(await shared.command('PUBLISH', channel, 'hello')) > 0, {
          what: 'a subscriber on the channel',
        })
        assert.deepEqual(await received, { message: 'hello', channel })
      } finally {
        await valkit.close()
      }
    })

    void it('each message reaches a listener once, from the subscription that opened the subscriber connection on', async () => {
      // The first subscription starts the subscriber connection, which subscribes every
      // registered channel when it connects: that one must not be subscribed a second time.
      const valkit = await ready(open(shared.url))
      try {
        const plain = k('once-plain')
        const sharded = k('once-sharded')
        const got = { plain: [] as string[], sharded: [] as string[] }
        await valkit.connection.subscribe(plain, (m) => got.plain.push(m.toString()))
        await valkit.driver.ssubscribe(sharded, (m) => got.sharded.push(m.toString()))
        for (let i = 0; i < 3; i++) {
          assert.equal(await shared.command('PUBLISH', plain, `p${i}`), 1)
          assert.equal(await shared.command('SPUBLISH', sharded, `s${i}`), 1)
        }
        // A marker published last: once it has arrived, every earlier message has too.
        await shared.command('PUBLISH', plain, 'end')
        await shared.command('SPUBLISH', sharded, 'end')
        await waitFor(() => got.plain.includes('end') && got.sharded.includes('end'), { what: 'the markers' })
        assert.deepEqual(got.plain, ['p0', 'p1', 'p2', 'end'])
        assert.deepEqual(got.sharded, ['s0', 's1', 's2', 'end'])
      } finally {
        await valkit.close()
      }
    })

    void it('a subscription survives a server restart', async () => {
      const server = await startServer({ engine })
      const valkit = await ready(open(server.url))
      try {
        const channel = k('restart-channel')
        const messages: string[] = []
        await valkit.connection.subscribe(channel, (message) => messages.push(message.toString()))
        await server.kill()
        await server.restart()
        await valkit.supervisor.waitFor('ready', 5000)
        // Publish until a subscriber is back on the channel, then check the message arrived.
        await waitFor(async () => Number(await server.command('PUBLISH', channel, 'after restart')) > 0, {
          what: 'the subscription to be restored',
        })
        await waitFor(() => messages.includes('after restart'), { what: 'the message after restart' })
      } finally {
        await valkit.close()
        await server.stop()
      }
    })

    void it('commands past their deadline fail with VALKIT_TIMEOUT, are never sent twice, and the stalled connection is replaced', async () => {
      const server = await startServer({ engine })
      const valkit = await ready(open(server.url, { commandTimeout: '300ms', retry: { attempts: 2 } }))
      try {
        await server.pause()
        // Both are in the socket when the server freezes, so both wait past their deadline.
        const [incr, get] = await Promise.all([
          rejection(valkit.connection.command(['INCR', k('frozen-incr')])),
          rejection(valkit.connection.command(['GET', k('frozen-get')])),
        ])
        for (const [name, result] of [
          ['INCR', incr],
          ['GET', get],
        ] as const) {
          assert.ok(isValkitError(result.error, 'VALKIT_TIMEOUT'), `${name}: ${String(result.error)}`)
          // The deadline (300 ms, checked every 300/8 ms) with CI slack; a retry would add 300 more.
          assert.ok(result.ms < 650, `${name} rejected after ${result.ms.toFixed(0)} ms`)
        }
        assert.ok(valkit.stats().stalls >= 1, `stalls: ${valkit.stats().stalls}`)
        // While the connection is replaced, a call fails fast instead of waiting out another timeout.
        const during = await rejection(valkit.connection.command(['GET', k('frozen-get')]))
        assert.ok(during.ms < 650, `a call during the outage rejected after ${during.ms.toFixed(0)} ms`)
        await server.resume()
        await waitFor(async () => (await valkit.connection.command(['PING'])) === 'PONG', {
          what: 'PING after resume',
        })
        // The timed-out INCR was in the socket: the server may have run it once, never twice.
        const count = await server.command('GET', k('frozen-incr'))
        assert.ok(count === null || count === '1', `INCR ran ${String(count)} times`)
      } finally {
        await valkit.close()
        await server.stop()
      }
    })

    void it('an idempotent command queued behind a stalled one is resent on the new connection; a write fails as possibly applied', async () => {
      const server = await startServer({ engine })
      const valkit = await ready(open(server.url, { commandTimeout: '300ms', retry: { attempts: 2 } }))
      try {
        await valkit.connection.command(['SET', k('behind'), 'value'])
        // WAIT for a replica that does not exist holds this connection (only this one) for 1.5 s.
        const wait = rejection(valkit.connection.command(['WAIT', 1, 1500]))
        // Sent well after WAIT, so still within their own deadlines when WAIT's passes.
        await new Promise((resolve) => setTimeout(resolve, 120))
        const get = valkit.connection.command(['GET', k('behind')])
        const incr = rejection(valkit.connection.command(['INCR', k('behind-count')]))
        const waited = await wait
        assert.ok(isValkitError(waited.error, 'VALKIT_TIMEOUT'), String(waited.error))
        assert.equal(await get, 'value', 'GET is resent on the new connection')
        // Not UNAVAILABLE ("not sent"): it was in the socket behind WAIT and may have run.
        const lost = await incr
        assert.ok(isValkitError(lost.error, 'VALKIT_TIMEOUT'), String(lost.error))
        assert.equal((lost.error as { details?: { stalled?: boolean } }).details?.stalled, true)
        assert.equal(valkit.stats().stalls, 1)
      } finally {
        await valkit.close()
        await server.stop()
      }
    })

    void it('behind a call with a longer deadline, a command fails at its own deadline and the connection stays', async () => {
      const server = await startServer({ engine })
      const valkit = await ready(open(server.url, { commandTimeout: '300ms' }))
      try {
        await valkit.connection.command(['SET', k('patient'), 'value'])
        const wait = valkit.connection.command(['WAIT', 1, 700], { timeoutMs: 3000 })
        const get = await rejection(valkit.connection.command(['GET', k('patient')]))
        assert.ok(isValkitError(get.error, 'VALKIT_TIMEOUT'), String(get.error))
        assert.ok(get.ms < 650, `GET rejected after ${get.ms.toFixed(0)} ms`)
        assert.equal(await wait, 0)
        assert.equal(await valkit.connection.command(['GET', k('patient')]), 'value')
        assert.equal(valkit.stats().stalls, 0, 'the connection was not replaced')
      } finally {
        await valkit.close()
        await server.stop()
      }
    })

    void it('a command stuck ahead of a call with a longer deadline still fails at its own deadline; the writes behind it fail as possibly applied', async () => {
      const server = await startServer({ engine })
      const valkit = await ready(open(server.url, { commandTimeout: '300ms' }))
      try {
        await server.pause()
        const first = rejection(valkit.connection.command(['GET', k('ahead')]))
        // A call with its own longer deadline, then a default one that queues behind it.
        const patient = rejection(valkit.connection.command(['INCR', k('ahead-long')], { timeoutMs: 5000 }))
        const behind = rejection(valkit.connection.command(['INCR', k('ahead-default')]))
        const stuck = await first
        assert.ok(isValkitError(stuck.error, 'VALKIT_TIMEOUT'), String(stuck.error))
        assert.ok(stuck.ms < 650, `the first GET rejected after ${stuck.ms.toFixed(0)} ms`)
        for (const [name, result] of [
          ['the longer call', await patient],
          ['the default call behind it', await behind],
        ] as const) {
          // Never UNAVAILABLE ("not sent"): both were in the socket and may have run.
          assert.ok(isValkitError(result.error, 'VALKIT_TIMEOUT'), `${name}: ${String(result.error)}`)
          const details = (result.error as { details?: { stalled?: boolean } }).details
          assert.equal(details?.stalled, true, `${name}: details.stalled`)
        }
        await server.resume()
      } finally {
        await valkit.close()
        await server.stop()
      }
    })

    void it('connect() to a port nobody listens on rejects VALKIT_UNAVAILABLE naming the endpoint', async () => {
      const dead = await startServer({ engine })
      const { port } = dead
      await dead.stop()
      const { error, ms } = await rejection(
        connect({ url: `redis://127.0.0.1:${port}`, env: {}, logger: false }),
      )
      assert.ok(isValkitError(error, 'VALKIT_UNAVAILABLE'), String(error))
      assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${port}`))
      assert.match(error.message, /refused/)
      assert.ok(ms < 2000, `took ${ms.toFixed(0)} ms`)
      // createValkit never throws for an absent server: it starts degraded and fails fast.
      const valkit = open(`redis://127.0.0.1:${port}`)
      try {
        assert.equal(valkit.supervisor.state, 'degraded')
        assert.equal(valkit.supervisor.backend, 'memory')
        await assert.rejects(valkit.connection.command(['GET', 'x']), (err) =>
          isValkitError(err, 'VALKIT_UNAVAILABLE'),
        )
      } finally {
        await valkit.close()
      }
    })

    void it('close() rejects commands waiting in the offline queue with VALKIT_CLOSED', async () => {
      const server = await startServer({ engine })
      const valkit = await ready(open(server.url, { offlineQueue: { maxSize: 5, maxWait: '10s' } }))
      try {
        await server.kill()
        await waitFor(() => !valkit.connection.isReady, { what: 'the connection to drop' })
        const queued = rejection(valkit.connection.command(['SET', k('never'), 'v']))
        await valkit.close()
        const { error, ms } = await queued
        assert.ok(isValkitError(error, 'VALKIT_CLOSED'), String(error))
        assert.ok(ms < 1000)
      } finally {
        await valkit.close()
        await server.stop()
      }
    })

    void it('close() rejects a command still waiting for a frozen server with VALKIT_CLOSED', async () => {
      const server = await startServer({ engine })
      const valkit = await ready(open(server.url, { commandTimeout: '10s' }))
      try {
        await server.pause()
        const pending = rejection(valkit.connection.command(['INCR', k('closing')]))
        await valkit.close()
        const { error } = await pending
        assert.ok(isValkitError(error, 'VALKIT_CLOSED'), String(error))
      } finally {
        await server.resume()
        await valkit.close()
        await server.stop()
      }
    })

    void it('after close(), calls reject VALKIT_CLOSED', async () => {
      const valkit = await ready(open(shared.url))
      await valkit.close()
      await valkit.close() // idempotent
      await assert.rejects(valkit.connection.command(['PING']), (err) => isValkitError(err, 'VALKIT_CLOSED'))
      await assert.rejects(valkit.connection.pipeline([['PING']]), (err) =>
        isValkitError(err, 'VALKIT_CLOSED'),
      )
    })
  })
}

void describe('memory topology (no server configured)', () => {
  void it('reports the memory backend and rejects commands saying no Redis is configured', async () => {
    const valkit = createValkit({ env: {}, logger: false })
    try {
      assert.equal(valkit.supervisor.backend, 'memory')
      assert.equal(valkit.supervisor.state, 'ready')
      assert.equal(valkit.connection.isReady, false)
      const { error, ms } = await rejection(valkit.connection.command(['GET', 'x']))
      assert.ok(isValkitError(error, 'VALKIT_UNAVAILABLE'), String(error))
      assert.match(error.message, /no Redis/i)
      assert.ok(ms < 100)
      const health = await valkit.health()
      assert.equal(health.backend, 'memory')
      assert.deepEqual(
        health.findings.map((f) => f.id),
        ['backend.memory'],
      )
    } finally {
      await valkit.close()
    }
  })
})
