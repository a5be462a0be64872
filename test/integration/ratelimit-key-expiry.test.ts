/**
 * A limiter's state must not outlive what it needs: after checks of every algorithm (alone, and
 * as one of several rules, which charge later), each key the checks wrote carries an expiry
 * within its window (plus the second the scripts round up by), so a key space of many users does
 * not fill up with dead counters.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createRateLimiter } from '../../src/ratelimit/index.js'
import { testEngines } from '../../src/testing/index.js'
import { ALGORITHMS, ruleOf } from '../conformance/ratelimit-conformance.js'
import { serverPerSuite } from '../support/with-valkit.js'

const WINDOW_MS = 60_000
/** Leases of the concurrency rule live this long unless released. */
const LEASE_MS = 30_000

for (const engine of testEngines()) {
  describe(`rate limiter: every key it writes expires (${engine})`, () => {
    const suite = serverPerSuite(engine, 'rlexp')

    for (const rules of [1, 3]) {
      it(`${rules === 1 ? 'one rule' : 'three rules checked together'}: each algorithm's keys have a TTL within the window`, async () => {
        const { server, valkit, prefix } = suite
        for (const algorithm of ALGORITHMS) {
          const name = `exp-${algorithm}-${rules}`
          const rule = ruleOf(
            algorithm,
            1000,
            WINDOW_MS,
            algorithm === 'concurrency' ? { leaseTtl: LEASE_MS } : {},
          )
          const limiter = createRateLimiter(valkit, {
            name,
            rules:
              rules === 1
                ? { user: { ...rule, by: 'user' } }
                : {
                    user: { ...rule, by: 'user' },
                    tenant: { ...rule, by: 'tenant' },
                    global: { ...rule, by: [] },
                  },
            hashTag: 'limiter',
          })
          for (let i = 0; i < 5; i++) {
            const d = await limiter.check({ user: `u${i % 2}`, tenant: 't' })
            assert.equal(d.allowed, true, `${algorithm}: check ${i} admitted`)
            assert.equal(d.source, 'redis')
          }
          const keys = (await server.command('KEYS', `${prefix}:*${name}*`)) as string[]
          assert.ok(keys.length >= rules, `${algorithm}: the checks wrote state (${keys.length} keys)`)
          const bound = (algorithm === 'concurrency' ? LEASE_MS : 2 * WINDOW_MS) + 2000
          for (const key of keys) {
            const ttl = Number(await server.command('PTTL', key))
            assert.ok(ttl > 0 && ttl <= bound, `${algorithm}: ${key} expires in ${ttl} ms (bound ${bound})`)
          }
          await limiter.close()
        }
      })
    }
  })
}
