/**
 * Live rules: a change made on one instance reaches another without a restart (the pub/sub
 * message, or the periodic version check when a message is missed), with an audit entry; a bad
 * document is rejected before anything is written; a stored version another instance cannot
 * validate is not half-applied there; a new instance starts on the stored version.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { createValkit, isValkitError, type Valkit } from '../../src/core/index.js'
import { createRateLimiter, type RateLimiter } from '../../src/ratelimit/index.js'
import { cleanPrefix, startServer, testEngines, waitFor, type ServerHandle } from '../../src/testing/index.js'

const base = { r: { algorithm: 'fixed-window', limit: 1, window: '1m', by: 'user' } } as const

async function admitted(limiter: RateLimiter, user: string, tries = 10): Promise<number> {
  let n = 0
  for (let i = 0; i < tries; i++) if ((await limiter.check({ user })).allowed) n++
  return n
}

for (const engine of testEngines()) {
  void describe(`ratelimit live rules: ${engine}`, { timeout: 60_000 }, () => {
    let server: ServerHandle
    const prefix = `t-rll-${randomBytes(4).toString('hex')}`
    const valkits: Valkit[] = []
    const limiters: RateLimiter[] = []
    const name = `live-${randomBytes(3).toString('hex')}`
    const open = async (valkit: Valkit, pollInterval: string) => {
      const l = createRateLimiter(valkit, { name, rules: base, live: { pollInterval } })
      limiters.push(l)
      await l.ready()
      return l
    }

    before(async () => {
      server = await startServer({ engine })
      for (let i = 0; i < 3; i++) {
        const v = createValkit({ url: server.url, env: {}, logger: false, keyPrefix: prefix })
        await v.supervisor.waitFor('ready', 10_000)
        valkits.push(v)
      }
    })
    after(async () => {
      for (const l of limiters) await l.close()
      for (const v of valkits) await v.close()
      if (server?.alive) await cleanPrefix(server, `${prefix}:`)
      await server?.stop()
    })

    it('an update on instance A applies on instance B without a restart (pub/sub), with an audit entry', async () => {
      const a = await open(valkits[0]!, '1h')
      const b = await open(valkits[1]!, '1h')
      assert.equal(await admitted(b, 'u1'), 1)
      const result = await a.rules.update(
        { rules: { r: { ...base.r, limit: 4 } }, deny: { user: ['mallory'] } },
        { actor: 'alice', reason: 'launch day' },
      )
      assert.deepEqual(result, { applied: true, version: 1 })
      await waitFor(() => b.rules.version === 1, { timeoutMs: 5000, what: 'B to apply version 1' })
      assert.equal(await admitted(b, 'u1'), 3, 'B counts on with the new limit (4, one already used)')
      assert.equal((await b.check({ user: 'mallory' })).outcome, 'denied')
      assert.equal(b.stats().rulesVersion, 1)
      assert.match(
        valkits[1]!.metrics.toPrometheus(),
        new RegExp(`valkit_ratelimit_rules_version\\{limiter="${name}"\\} 1`),
      )
      const audit = await b.rules.audit()
      assert.equal(audit.length, 1)
      assert.deepEqual(
        {
          version: audit[0]!.version,
          actor: audit[0]!.actor,
          reason: audit[0]!.reason,
          changed: audit[0]!.changed,
        },
        { version: 1, actor: 'alice', reason: 'launch day', changed: ['r', '(deny)'] },
      )
      assert.ok(Math.abs(audit[0]!.at - Date.now()) < 10_000)
    })

    it('a bad document is rejected with the path of the problem; nothing is stored or applied', async () => {
      const [a, b] = limiters
      const stored = await server.command('HGET', `${prefix}:v1:ratelimit:{${name}}:rules`, 'version')
      for (const [doc, path] of [
        [{ rules: { r: { ...base.r, window: 'tomorrow' } } }, 'document.rules.r.window'],
        [
          { rules: { r: base.r, extra: { algorithm: 'gcra', limit: 5, window: '1s', by: 'tenant' } } },
          'document.rules.extra.by',
        ],
        [{ rules: {} }, 'document.rules'],
        [{ rules: base, allow: { ip: ['300.1.1.1/8'] } }, 'document.allow.ip[0]'],
      ] as const) {
        await assert.rejects(a!.rules.update(doc), (err: unknown) => {
          assert.ok(isValkitError(err, 'VALKIT_INVALID_OPTION'), String(err))
          assert.equal(err.details?.path, path)
          return true
        })
      }
      assert.equal(await server.command('HGET', `${prefix}:v1:ratelimit:{${name}}:rules`, 'version'), stored)
      assert.equal(a!.rules.version, 1)
      assert.equal(b!.rules.version, 1)
      assert.equal((await b!.rules.audit()).length, 1)
    })

    it('a stored version this instance cannot validate is not applied; a missed message is caught by the version check', async () => {
      const b = limiters[1]!
      const c = await open(valkits[2]!, '200ms')
      assert.equal(c.rules.version, 1, 'a new instance starts on the stored version')
      const rulesKey = `${prefix}:v1:ratelimit:{${name}}:rules`
      // Written by "another release" with an algorithm this one does not know, and announced.
      await server.command(
        'HSET',
        rulesKey,
        'version',
        2,
        'document',
        JSON.stringify({ rules: { r: { algorithm: 'leaky-bucket', limit: 9 } } }),
      )
      await server.command('PUBLISH', rulesKey, '2')
      await waitFor(() => /result="rejected"\} [1-9]/.test(valkits[1]!.metrics.toPrometheus()), {
        what: 'B to reject version 2',
      })
      assert.equal(b.rules.version, 1)
      assert.equal(
        b.rules.current().rules.r !== undefined && (b.rules.current().rules.r as { limit: number }).limit,
        4,
      )
      // Version 3, valid, stored without a message: C's periodic check finds it.
      await server.command(
        'HSET',
        rulesKey,
        'version',
        3,
        'document',
        JSON.stringify({ rules: { r: { ...base.r, limit: 50 } } }),
      )
      await waitFor(() => c.rules.version === 3, { timeoutMs: 5000, what: 'C to poll version 3' })
      assert.equal(await admitted(c, 'fresh', 5), 5)
      assert.equal(b.rules.version, 1, 'B polls only hourly and got no message')
      assert.equal(await b.rules.refresh(), 3)
      // Optimistic concurrency: an update based on an old version is refused, not merged.
      const stale = await b.rules.update({ rules: base }, { expectedVersion: 1 })
      assert.deepEqual(stale, { applied: false, reason: 'conflict', version: 3 })
    })
  })
}
