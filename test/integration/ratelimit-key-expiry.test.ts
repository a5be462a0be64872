/**
 * A limiter's state must not outlive what it needs: after checks of every algorithm (alone, and
 * as one of several rules, which charge later), each key the checks wrote carries an expiry
 * within its window (plus the second the scripts round up by), so a key space of many users does
 * not fill up with dead counters.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { createValkit, type Valkit } from '../../src/core/index.js'
import { createRateLimiter } from '../../src/ratelimit/index.js'
import { cleanPrefix, startServer, testEngines, type ServerHandle } from '../../src/testing/index.js'
import { ALGORITHMS, ruleOf } from '../conformance/ratelimit-conformance.js'

const WINDOW_MS = 60_000
/** Leases of the concurrency rule live this long unless released. */
const LEASE_MS = 30_000

for (const engine of testEngines()) {
  describe(`rate limiter: every key it writes expires (${engine})`, () => {
    let server: ServerHandle
    let valkit: Valkit
    const prefix = `rlexp-${randomBytes(3).toString('hex')}`

    before(async () => {
      server = await startServer({ engine })
      valkit = createValkit({ url: server.url, env: {}, logger: false, keyPrefix: prefix })
      await valkit.supervisor.waitFor('ready', 10_000)
    })
    after(async () => {
      await valkit?.close()
      await cleanPrefix(server.url, `${prefix}:`)
      await server?.stop()
    })

    for (const rules of [1, 3]) {
      it(`${rules === 1 ? 'one rule' : 'three rules checked together'}: each algorithm's keys have a TTL within the window`, async () => {
        for (const algorithm of ALGORITHMS) {
          const name = `exp-${algorithm}-${rules}`
          const rule = ruleOf(algorithm, 1000, WINDOW_MS, algorithm === 'concurrency' ? { leaseTtl: LEASE_MS } : {})
          const limiter = createRateLimiter(valkit, {
            name,
            rules:
              rules === 1
                ? { user: { ...rule, by: 'user' } }
                : { user: { ...rule, by: 'user' }, tenant: { ...rule, by: 'tenant' }, global: { ...rule, by: [] } },
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
