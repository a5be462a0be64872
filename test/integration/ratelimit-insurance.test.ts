/**
 * While Redis/Valkey is down a check is decided as `whenUnavailable` says, counted, and never
 * reported as `limited`: the insurance limiter admits this instance's share of the limit (one
 * over the instances seen alive, by default), `allow` fails open, `deny` refuses with
 * `outcome: 'unavailable'`, `throw` rejects. When the server is back, checks go to it again.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { createValkit, isValkitError, type Valkit } from '../../src/core/index.js'
import { createRateLimiter, type RateLimiter, type WhenUnavailable } from '../../src/ratelimit/index.js'
import { cleanPrefix, startServer, testEngines, waitFor, type ServerHandle } from '../../src/testing/index.js'

const RULES = { perKey: { algorithm: 'fixed-window', limit: 40, window: '1m' } } as const

for (const engine of testEngines()) {
  void describe(`ratelimit while Redis is down: ${engine}`, { timeout: 60_000 }, () => {
    let server: ServerHandle
    const prefix = `t-rli-${randomBytes(4).toString('hex')}`
    const valkits: Valkit[] = []
    const insurance: RateLimiter[] = []
    const policies = new Map<WhenUnavailable, RateLimiter>()
    const name = `ins-${randomBytes(3).toString('hex')}`

    before(async () => {
      server = await startServer({ engine })
      for (let i = 0; i < 5; i++) {
        const valkit = createValkit({ url: server.url, env: {}, logger: false, keyPrefix: prefix })
        await valkit.supervisor.waitFor('ready', 10_000)
        valkits.push(valkit)
      }
      // Four instances of one limiter: each takes a quarter of every limit while Redis is down.
      for (const valkit of valkits.slice(0, 4))
        insurance.push(createRateLimiter(valkit, { name, rules: RULES }))
      for (const policy of ['allow', 'deny', 'throw'] as const) {
        policies.set(
          policy,
          createRateLimiter(valkits[4]!, { name: `p-${policy}`, rules: RULES, whenUnavailable: policy }),
        )
      }
    })

    after(async () => {
      for (const l of [...insurance, ...policies.values()]) await l.close()
      for (const v of valkits) await v.close()
      if (server?.alive) await cleanPrefix(server, `${prefix}:`)
      await server?.stop()
    })

    it('each instance learns its share from the instances announced in Redis', async () => {
      await waitFor(() => insurance.every((l) => l.stats().insuranceShare === 0.25), {
        timeoutMs: 5000,
        what: 'every instance to count 4 instances',
      })
      for (const l of insurance) assert.equal((await l.check('warm')).source, 'redis')
    })

    it('Redis killed: insurance admits the share, fail-open admits, fail-closed refuses as unavailable, throw rejects', async () => {
      await server.kill()
      await waitFor(() => valkits.every((v) => v.supervisor.state === 'degraded'), {
        what: 'every instance to degrade',
      })
      for (const [i, limiter] of insurance.entries()) {
        let admitted = 0
        for (let n = 0; n < 30; n++) {
          const d = await limiter.check('k')
          assert.equal(d.source, 'insurance')
          assert.ok(isValkitError(d.error, 'VALKIT_UNAVAILABLE'), String(d.error))
          assert.ok(d.outcome === 'allowed' || d.outcome === 'limited', d.outcome)
          if (d.allowed) admitted++
        }
        assert.equal(admitted, 10, `instance ${i}: a quarter of 40`)
        assert.equal(limiter.stats().sources.insurance, 30)
      }
      const open = await policies.get('allow')!.check('k')
      assert.deepEqual([open.allowed, open.outcome, open.source], [true, 'allowed', 'fail-open'])
      assert.ok(isValkitError(open.error, 'VALKIT_UNAVAILABLE'))
      const closed = await policies.get('deny')!.check('k')
      assert.deepEqual([closed.allowed, closed.outcome, closed.source], [false, 'unavailable', 'fail-closed'])
      assert.equal(policies.get('deny')!.stats().limited, 0, 'an outage is never counted as limited')
      await assert.rejects(policies.get('throw')!.check('k'), (err: unknown) =>
        isValkitError(err, 'VALKIT_UNAVAILABLE'),
      )
      const text = valkits[0]!.metrics.toPrometheus()
      assert.match(
        text,
        new RegExp(
          `valkit_ratelimit_checks_total\\{limiter="${name}",outcome="allowed",source="insurance"\\} 10`,
        ),
      )
    })

    it('Redis back: checks go to Redis again', async () => {
      await server.restart()
      await waitFor(() => valkits.every((v) => v.supervisor.state === 'ready'), {
        what: 'every instance ready',
      })
      for (const l of [...insurance, policies.get('deny')!]) {
        const d = await l.check('after')
        assert.equal(d.source, 'redis')
        assert.equal(d.error, null)
      }
    })
  })
}
