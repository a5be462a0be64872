import { describe, it } from 'node:test'
import { withValkit } from '../support/with-valkit.js'
import assert from 'node:assert/strict'
import { performance } from 'node:perf_hooks'
import type { Valkit } from '../../src/core/create-valkit.js'
import { isValkitError } from '../../src/core/errors.js'
import type { StateChange, SupervisorState } from '../../src/core/health-types.js'
import { testEngines, waitFor } from '../../src/testing/index.js'

/**
 * Allowance on top of each promised bound, for a loaded 2-core CI machine running several
 * test files at once (timer and event-loop delays of a few hundred ms are common there).
 */
const CI_ALLOWANCE_MS = 300

/** Records every state change with the monotonic time it was seen. */
function recorder(valkit: Valkit) {
  const seen: (StateChange & { atMs: number })[] = []
  const off = valkit.supervisor.onChange((change) => seen.push({ ...change, atMs: performance.now() }))
  const next = (state: SupervisorState, afterMs: number) =>
    seen.find((c) => c.to === state && c.atMs >= afterMs)
  return { seen, off, next }
}

for (const engine of testEngines()) {
  void describe(`supervisor on ${engine}`, () => {
    void it('kill -9: degraded within 1 s; restart: recovering then ready within ~1 s of the server answering', async (t) => {
      await withValkit({ engine }, async (server, valkit) => {
        const rec = recorder(valkit)
        const killedAt = performance.now()
        const killed = server.kill('SIGKILL')
        await valkit.supervisor.waitFor('degraded', 5000)
        const degraded = rec.next('degraded', killedAt)!
        const detectMs = degraded.atMs - killedAt
        // The socket closes with the process: promised 1 s, plus the CI allowance.
        t.diagnostic(`degraded ${detectMs.toFixed(0)} ms after kill -9`)
        assert.ok(detectMs < 1000 + CI_ALLOWANCE_MS, `degraded ${detectMs.toFixed(0)} ms after kill -9`)
        assert.equal(valkit.supervisor.backend, 'memory')
        await killed

        await server.restart()
        const answeringAt = performance.now()
        await valkit.supervisor.waitFor('ready', 5000)
        const ready = rec.next('ready', killedAt)!
        // The reconnect backoff is capped at 1 s (full jitter, reconnect.maxDelay default), so a
        // reconnect attempt lands within 1 s of the server answering; +CI allowance, +200 ms
        // for the connect handshake and the recovery step.
        const recoverMs = ready.atMs - answeringAt
        t.diagnostic(`ready ${recoverMs.toFixed(0)} ms after the server answered again`)
        assert.ok(recoverMs < 1500, `ready ${recoverMs.toFixed(0)} ms after the server answered again`)
        const order = rec.seen.map((c) => c.to)
        assert.deepEqual(order.slice(order.indexOf('degraded')), ['degraded', 'recovering', 'ready'])
        assert.equal(valkit.supervisor.backend, 'redis')
        assert.equal(await valkit.connection.command(['PING']), 'PONG')
        rec.off()
      })
    })

    void it('after an outage long enough for the reconnect backoff to reach its 1 s cap, ready within ~1 s of the server answering', async (t) => {
      await withValkit({ engine }, async (server, valkit) => {
        let attempts = 0
        const off = valkit.driver.onEvent((event) => {
          if (event.type === 'reconnecting') attempts = Math.max(attempts, event.attempt)
        })
        await server.kill()
        // 50 ms doubling reaches the 1 s cap at attempt 6; wait until the driver got there.
        await waitFor(() => attempts >= 7, {
          timeoutMs: 15_000,
          what: 'the reconnect backoff to reach its cap',
        })
        off()
        await server.restart()
        const answeringAt = performance.now()
        await valkit.supervisor.waitFor('ready', 5000)
        const recoverMs = performance.now() - answeringAt
        t.diagnostic(`ready ${recoverMs.toFixed(0)} ms after the server answered again (backoff at cap)`)
        // At most one capped delay (< 1 s with full jitter), plus connect, recovery and CI slack.
        assert.ok(
          recoverMs < 1000 + 200 + CI_ALLOWANCE_MS,
          `ready ${recoverMs.toFixed(0)} ms after the server answered`,
        )
      })
    })

    void it('SIGSTOP: degraded by PING timeouts; SIGCONT: ready again', async (t) => {
      await withValkit({ engine }, async (server, valkit) => {
        const rec = recorder(valkit)
        const pausedAt = performance.now()
        await server.pause()
        try {
          // Defaults: a PING every 250 ms, 500 ms timeout, 2 misses -> about 1 s.
          await valkit.supervisor.waitFor('degraded', 5000)
        } finally {
          await server.resume()
        }
        const degraded = rec.next('degraded', pausedAt)!
        assert.match(degraded.reason, /PING/)
        t.diagnostic(`degraded ${(degraded.atMs - pausedAt).toFixed(0)} ms after SIGSTOP`)
        assert.ok(degraded.atMs - pausedAt < 2000 + CI_ALLOWANCE_MS, 'frozen server detected within ~2 s')
        await valkit.supervisor.waitFor('ready', 5000)
        const order = rec.seen.map((c) => c.to)
        assert.deepEqual(order, ['degraded', 'recovering', 'ready'])
        rec.off()
      })
    })

    void it('history() records every change with its reason; onChange listeners fire and can be removed', async () => {
      await withValkit({ engine }, async (server, valkit) => {
        // Starts degraded (not connected yet) and records only real changes from there.
        const initial = valkit.supervisor.history()
        assert.deepEqual(
          initial.map((c) => [c.from, c.to]),
          [
            ['degraded', 'recovering'],
            ['recovering', 'ready'],
          ],
        )
        assert.match(initial[0]!.reason, /connected|PING/)
        const a: StateChange[] = []
        const b: StateChange[] = []
        const offA = valkit.supervisor.onChange((c) => a.push(c))
        const offB = valkit.supervisor.onChange((c) => b.push(c))
        offB()
        valkit.supervisor.onChange(() => {
          throw new Error('a listener bug must not stop the supervisor')
        })
        await server.kill()
        await valkit.supervisor.waitFor('degraded', 5000)
        await server.restart()
        await valkit.supervisor.waitFor('ready', 5000)
        offA()
        assert.deepEqual(
          a.map((c) => c.to),
          ['degraded', 'recovering', 'ready'],
        )
        assert.equal(b.length, 0, 'a removed listener is not called')
        const history = valkit.supervisor.history()
        const tail = history.slice(-3)
        assert.deepEqual(tail, a, 'history holds the same changes the listeners saw')
        for (const change of history) {
          assert.ok(change.reason.length > 0)
          assert.ok(Number.isFinite(change.at))
        }
        assert.match(tail[0]!.reason, /closed|error|PING/)
        for (let i = 1; i < history.length; i++) {
          assert.equal(history[i]!.from, history[i - 1]!.to, 'changes chain')
          assert.ok(history[i]!.at >= history[i - 1]!.at)
        }
        await waitFor(() => valkit.supervisor.latency().samples > 0, { what: 'a PING latency sample' })
        assert.ok(valkit.supervisor.latency().p99Ms! >= 0)
      })
    })

    void it('waitFor rejects with VALKIT_TIMEOUT when the state is not reached', async () => {
      await withValkit({ engine }, async (_server, valkit) => {
        const started = performance.now()
        await assert.rejects(valkit.supervisor.waitFor('degraded', 200), (err) => {
          assert.ok(isValkitError(err, 'VALKIT_TIMEOUT'), String(err))
          assert.match(err.message, /degraded/)
          assert.match(err.message, /ready/)
          return true
        })
        assert.ok(performance.now() - started >= 190)
        // The state it is in resolves at once.
        await valkit.supervisor.waitFor('ready', 1)
      })
    })
  })
}
