/**
 * Redis killed (and frozen) under load: callers on two instances keep getting decisions —
 * none rejects, none is reported as limited because of the outage — from the in-process
 * insurance limiter, each instance admitting at most its share (half) of the limit inside any
 * window; when the server is back, decisions come from Redis again and its exact limit holds.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { setImmediate as yieldLoop } from 'node:timers/promises'
import { after, before, describe, it } from 'node:test'
import { createValkit, type Valkit } from '../../src/core/index.js'
import { createRateLimiter, type RateLimitDecision, type RateLimiter } from '../../src/ratelimit/index.js'
import { cleanPrefix, startServer, testEngines, waitFor, type ServerHandle } from '../../src/testing/index.js'

const LIMIT = 200
const WINDOW_MS = 500

interface Load {
  readonly decisions: { instance: number; d: RateLimitDecision }[]
  errors: number
  stop(): Promise<void>
}

function startLoad(limiters: readonly RateLimiter[], callers: number): Load {
  let running = true
  const load: Load = {
    decisions: [],
    errors: 0,
    stop: async () => {
      running = false
      await Promise.all(workers)
    },
  }
  const workers = Array.from({ length: callers }, async (_, caller) => {
    const instance = caller % limiters.length
    while (running) {
      try {
        const d = await limiters[instance]!.check('hot')
        load.decisions.push({ instance, d })
        // In-process decisions resolve at once: let the event loop (and the driver) breathe.
        if (d.source !== 'redis') await yieldLoop()
      } catch {
        load.errors++
        await yieldLoop()
      }
    }
  })
  return load
}

function maxInWindow(times: number[], lengthMs: number): number {
  times.sort((a, b) => a - b)
  let most = 0
  for (let i = 0, j = 0; i < times.length; i++) {
    while (times[j]! <= times[i]! - lengthMs) j++
    most = Math.max(most, i - j + 1)
  }
  return most
}

for (const engine of testEngines()) {
  void describe(`ratelimit chaos: Redis down under load (${engine})`, { timeout: 90_000 }, () => {
    let server: ServerHandle
    const prefix = `t-rlx-${randomBytes(4).toString('hex')}`
    const valkits: Valkit[] = []
    const limiters: RateLimiter[] = []

    before(async () => {
      server = await startServer({ engine })
      for (let i = 0; i < 2; i++) {
        const valkit = createValkit({
          url: server.url,
          env: {},
          logger: false,
          keyPrefix: prefix,
          health: { interval: 100, pingTimeout: 150, failuresToDegrade: 2 },
        })
        await valkit.supervisor.waitFor('ready', 10_000)
        valkits.push(valkit)
        limiters.push(
          createRateLimiter(valkit, {
            name: 'chaos',
            rules: { hot: { algorithm: 'sliding-window-log', limit: LIMIT, window: WINDOW_MS } },
            timeout: '200ms',
          }),
        )
      }
      await waitFor(() => limiters.every((l) => l.stats().insuranceShare === 0.5), {
        what: 'both instances counted',
      })
    })

    after(async () => {
      for (const l of limiters) await l.close()
      for (const v of valkits) await v.close()
      if (server?.alive) await cleanPrefix(server, `${prefix}:`).catch(() => {})
      await server?.stop()
    })

    for (const fault of ['kill', 'pause'] as const) {
      it(`${fault === 'kill' ? 'kill -9' : 'SIGSTOP'} mid-load → insurance with each instance's share, then back to Redis`, async () => {
        const load = startLoad(limiters, 100)
        const count = (pick: (e: Load['decisions'][number]) => boolean) => load.decisions.filter(pick).length
        await waitFor(() => count((e) => e.d.source === 'redis') > 2000, { what: 'Redis decisions' })
        const faultAt = load.decisions.length
        if (fault === 'kill') await server.kill()
        else await server.pause()
        await waitFor(
          () => [0, 1].every((i) => count((e) => e.instance === i && e.d.source === 'insurance') > 3000),
          { timeoutMs: 15_000, what: 'insurance decisions on both instances' },
        )
        if (fault === 'kill') await server.restart()
        else await server.resume()
        const backAt = load.decisions.length
        await waitFor(
          () =>
            [0, 1].every(
              (i) =>
                load.decisions.slice(backAt).filter((e) => e.instance === i && e.d.source === 'redis')
                  .length > 1000,
            ),
          { timeoutMs: 20_000, what: 'Redis decisions again on both instances' },
        )
        // Checks that timed out during a freeze are still applied when the server resumes (they
        // fill the window: conservative); wait for admissions after that.
        await waitFor(
          () =>
            load.decisions.slice(backAt).filter((e) => e.d.source === 'redis' && e.d.allowed).length >
            2 * LIMIT,
          { timeoutMs: 20_000, what: 'Redis admissions again' },
        )
        await load.stop()

        assert.equal(load.errors, 0, 'no check rejected')
        const sources = new Set(load.decisions.map((e) => e.d.source))
        assert.deepEqual([...sources].sort(), ['insurance', 'redis'])
        assert.equal(
          count((e) => e.d.outcome === 'unavailable'),
          0,
        )
        for (const e of load.decisions) {
          if (e.d.source === 'insurance') assert.equal(e.d.error?.code !== undefined, true)
        }
        for (const i of [0, 1]) {
          const insured = load.decisions
            .slice(faultAt)
            .filter((e) => e.instance === i && e.d.source === 'insurance' && e.d.allowed)
            .map((e) => e.d.at)
          assert.ok(insured.length > 0)
          const most = maxInWindow(insured, WINDOW_MS)
          assert.ok(
            most <= LIMIT / 2,
            `instance ${i}: ${most} insurance admissions in one window (share: ${LIMIT / 2})`,
          )
        }
        // After the fault, Redis decides again, exactly: ≤ limit in any window across both instances.
        const afterBack = load.decisions
          .slice(backAt)
          .filter((e) => e.d.source === 'redis' && e.d.allowed)
          .map((e) => e.d.at)
        assert.ok(afterBack.length > 0, 'admissions after the recovery')
        assert.ok(maxInWindow(afterBack, WINDOW_MS) <= LIMIT)
        await waitFor(() => valkits.every((v) => v.supervisor.state === 'ready'), { what: 'ready again' })
      })
    }
  })
}
