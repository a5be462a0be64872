/**
 * The rate limiter's contract, written once and run against every backend: the memory backend
 * (no server), standalone Redis and Valkey, and a Cluster. A behaviour that differs between
 * backends is a bug unless docs/ratelimit.md documents it.
 */
import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { it } from 'node:test'
import { isValkitError } from '../../src/core/index.js'
import type {
  RateLimitAlgorithm,
  RateLimitDecision,
  RateLimiter,
  RateLimiterOptions,
  RateLimitRule,
} from '../../src/ratelimit/index.js'
import { waitFor } from '../../src/testing/index.js'

/** Opens a limiter on the backend under test; every call gets a fresh limiter name. */
export type OpenLimiter = (options: Omit<RateLimiterOptions, 'name'>) => Promise<RateLimiter>

export const ALGORITHMS: readonly RateLimitAlgorithm[] = [
  'token-bucket',
  'gcra',
  'sliding-window-log',
  'sliding-window-counter',
  'fixed-window',
  'concurrency',
]

/** A rule of `algorithm` with this limit; `window` is ignored for concurrency. */
export function ruleOf(
  algorithm: RateLimitAlgorithm,
  limit: number,
  window: string | number,
  extra: Partial<RateLimitRule> = {},
): RateLimitRule {
  return algorithm === 'concurrency' ? { algorithm, limit, ...extra } : { algorithm, limit, window, ...extra }
}

const summary = (d: RateLimitDecision) =>
  `${d.outcome} rule=${d.rule} remaining=${d.remaining} retry=${d.retryAfterMs}`

/** Registers the contract's tests in the current `describe`. */
export function rateLimitConformance(open: OpenLimiter, source: 'memory' | 'redis'): void {
  it('every algorithm admits exactly its limit, then refuses with a retry-after, a reset and the rule', async () => {
    for (const algorithm of ALGORITHMS) {
      const limiter = await open({ rules: { only: ruleOf(algorithm, 5, '1m') } })
      const remaining: number[] = []
      for (let i = 0; i < 5; i++) {
        const d = await limiter.check('alice')
        assert.equal(d.allowed, true, `${algorithm} #${i}: ${summary(d)}`)
        assert.equal(d.source, source)
        remaining.push(d.remaining)
      }
      assert.deepEqual(remaining, [4, 3, 2, 1, 0], algorithm)
      const refused = await limiter.check('alice')
      assert.equal(refused.allowed, false, algorithm)
      assert.equal(refused.outcome, 'limited', algorithm)
      assert.equal(refused.rule, 'only')
      assert.equal(refused.limit, 5)
      assert.equal(refused.remaining, 0)
      // The counter may wait out this window and part of the next one.
      const longest = algorithm === 'sliding-window-counter' ? 120_000 : 60_000
      assert.ok(
        refused.retryAfterMs > 0 && refused.retryAfterMs <= longest,
        `${algorithm}: ${summary(refused)}`,
      )
      assert.equal(refused.retryAfterSeconds, Math.ceil(refused.retryAfterMs / 1000))
      assert.ok(refused.resetMs > 0, `${algorithm}: reset ${refused.resetMs}`)
      assert.ok(Math.abs(refused.resetAt - (refused.at + refused.resetMs)) <= 1)
      assert.ok(Math.abs(refused.at - Date.now()) < 5000, 'decided on a clock close to ours')
      assert.equal(refused.rules[0]?.outcome, 'limited')
      // Another subject has its own counter.
      assert.equal((await limiter.check('bob')).allowed, true, algorithm)
      await limiter.close()
    }
  })

  it('weighted cost: a request that does not fit charges nothing; cost 0 peeks', async () => {
    for (const algorithm of ALGORITHMS) {
      const limiter = await open({ rules: { only: ruleOf(algorithm, 10, '1m') } })
      const a = await limiter.check('k', { cost: 4 })
      assert.equal(a.remaining, 6, `${algorithm}: ${summary(a)}`)
      const b = await limiter.check('k', { cost: 7 })
      assert.equal(b.outcome, 'limited', `${algorithm}: ${summary(b)}`)
      const peek = await limiter.peek('k')
      assert.equal(peek.allowed, true)
      assert.equal(peek.remaining, 6, `${algorithm}: the refused request charged nothing (${summary(peek)})`)
      const c = await limiter.check('k', { cost: 6 })
      assert.equal(c.allowed, true, algorithm)
      assert.equal(c.remaining, 0, algorithm)
      const big = await limiter.check('k', { cost: 11 })
      assert.equal(big.outcome, 'too-large', `${algorithm}: ${summary(big)}`)
      assert.equal(big.retryAfterMs, Infinity)
      await limiter.close()
    }
  })

  it('retry-after is honest: waiting it admits the same request (every rate algorithm)', async () => {
    for (const algorithm of ALGORITHMS.filter((a) => a !== 'concurrency')) {
      const limiter = await open({ rules: { only: ruleOf(algorithm, 3, 300) } })
      for (let i = 0; i < 3; i++) assert.equal((await limiter.check('k')).allowed, true)
      const refused = await limiter.check('k')
      assert.equal(refused.allowed, false, algorithm)
      // + 2 ms: Node's timers may fire up to a millisecond early against the wall clock.
      await sleep(refused.retryAfterMs + 2)
      const again = await limiter.check('k')
      assert.equal(
        again.allowed,
        true,
        `${algorithm}: after waiting ${refused.retryAfterMs} ms: ${summary(again)}`,
      )
      await limiter.close()
    }
  })

  it('several rules are checked and charged together: a refusal by one consumes nothing from the others', async () => {
    const limiter = await open({
      rules: {
        user: { algorithm: 'sliding-window-log', limit: 3, window: '1m', by: ['tenant', 'user'] },
        tenant: { algorithm: 'token-bucket', limit: 5, window: '1m', by: 'tenant' },
        agent: { algorithm: 'fixed-window', limit: 100, window: '1m', by: ['tenant', 'agent'] },
      },
      hashTag: { scope: 'tenant' },
    })
    const u1 = { tenant: 'acme', user: 'u1', agent: 'planner' }
    for (let i = 0; i < 3; i++) assert.equal((await limiter.check(u1)).allowed, true)
    const refused = await limiter.check(u1)
    assert.equal(refused.outcome, 'limited')
    assert.equal(refused.rule, 'user')
    assert.deepEqual(
      refused.rules.map((r) => [r.rule, r.outcome]),
      [
        ['user', 'limited'],
        ['tenant', 'allowed'],
        ['agent', 'allowed'],
      ],
    )
    const tenantLeft = await limiter.peek(u1, { rules: ['tenant'] })
    assert.equal(tenantLeft.remaining, 2, 'the tenant paid only for the 3 admitted requests')
    const agentLeft = await limiter.peek(u1, { rules: ['agent'] })
    assert.equal(agentLeft.remaining, 97)
    // A second user of the tenant exhausts the tenant's bucket; the refusal charges not its user rule.
    const u2 = { tenant: 'acme', user: 'u2', agent: 'planner' }
    assert.equal((await limiter.check(u2)).allowed, true)
    assert.equal((await limiter.check(u2)).allowed, true)
    const byTenant = await limiter.check(u2)
    assert.equal(byTenant.rule, 'tenant')
    assert.equal((await limiter.peek(u2, { rules: ['user'] })).remaining, 1)
    // Another tenant is untouched.
    assert.equal((await limiter.check({ tenant: 'globex', user: 'u1', agent: 'planner' })).allowed, true)
    // When allowed, `rule` is the rule closest to its limit.
    const d = await limiter.check(
      { tenant: 'initech', user: 'u1', agent: 'x' },
      { cost: { user: 1, tenant: 4, agent: 1 } },
    )
    assert.equal(d.rule, 'tenant')
    assert.equal(d.remaining, 1)
    await limiter.close()
  })

  it('checks made at once, with different rules and costs, are each decided on their own and in order', async () => {
    const limiter = await open({
      rules: {
        user: { algorithm: 'fixed-window', limit: 2, window: '1m', by: 'user' },
        global: { algorithm: 'token-bucket', limit: 5, window: '1m', burst: 5, by: [] },
      },
    })
    // Issued in one turn (on Redis: one script run): the calls' rule lists and costs differ.
    const decisions = await Promise.all([
      limiter.check({ user: 'a' }),
      limiter.check({ user: 'a' }, { rules: ['user'] }),
      limiter.check({ user: 'a' }),
      limiter.check({ user: 'b' }, { cost: 3 }),
      limiter.check({ user: 'c' }, { rules: ['global'] }),
      limiter.peek({ user: 'a' }, { rules: ['user'] }),
    ])
    assert.deepEqual(
      decisions.map((d) => [d.outcome, d.rules.map((r) => `${r.rule}:${r.outcome}:${r.remaining}`)]),
      [
        ['allowed', ['user:allowed:1', 'global:allowed:4']],
        ['allowed', ['user:allowed:0']],
        // User a's two are spent: refused, and the global bucket is not charged (a rule that
        // admits reports what it would have left had the check passed: 4 - 1).
        ['limited', ['user:limited:0', 'global:allowed:3']],
        // Cost 3 can never fit a limit of 2: too large, and again nothing is charged.
        ['too-large', ['user:too-large:0', 'global:allowed:1']],
        // So the bucket still holds 4 when user c takes one.
        ['allowed', ['global:allowed:3']],
        // A peek (cost 0) of user a's full window: it fits, nothing left.
        ['allowed', ['user:allowed:0']],
      ],
    )
    await limiter.close()
  })

  it('a global rule next to per-key rules (one hash tag for the limiter)', async () => {
    const limiter = await open({
      rules: {
        user: { algorithm: 'gcra', limit: 10, window: '1m', by: 'user' },
        global: { algorithm: 'fixed-window', limit: 4, window: '1m', by: [] },
      },
    })
    const admitted = []
    for (const user of ['a', 'b', 'c', 'd', 'e', 'f']) admitted.push((await limiter.check({ user })).allowed)
    assert.deepEqual(admitted, [true, true, true, true, false, false])
    assert.equal((await limiter.peek({ user: 'e' }, { rules: ['user'] })).remaining, 10)
    await limiter.close()
  })

  it('concurrency: leases hold slots until released or expired; extend keeps them', async () => {
    const limiter = await open({ rules: { slots: { algorithm: 'concurrency', limit: 2, leaseTtl: 400 } } })
    const a = await limiter.check('gpu')
    const b = await limiter.check('gpu', { cost: 1 })
    assert.ok(a.lease && b.lease)
    assert.notEqual(a.lease.id, b.lease.id)
    const c = await limiter.check('gpu')
    assert.equal(c.outcome, 'limited')
    assert.equal(c.lease, null)
    assert.equal(await a.lease.release(), true)
    assert.equal(await a.lease.release(), false, 'a second release finds nothing')
    const d = await limiter.check('gpu')
    assert.equal(d.allowed, true)
    assert.equal(await b.lease.extend(60_000), true)
    // d's lease expires by itself; b's was extended and still holds its slot.
    await waitFor(async () => (await limiter.peek('gpu')).remaining === 1, {
      timeoutMs: 5000,
      what: 'the lease to expire',
    })
    assert.equal(await d.lease!.extend(), false, 'an expired lease cannot be extended')
    const weighted = await limiter.check('gpu', { cost: 2 })
    assert.equal(weighted.outcome, 'limited')
    assert.equal(await b.lease.release(), true)
    assert.equal((await limiter.check('gpu', { cost: 2 })).allowed, true)
    await limiter.close()
  })

  it('tiers and per-key overrides change the limit; an override wins over the tier', async () => {
    const limiter = await open({
      rules: {
        user: {
          algorithm: 'fixed-window',
          limit: 2,
          window: '1m',
          by: 'user',
          tiers: { pro: { limit: 5 } },
          overrides: { vip: { limit: 7 } },
        },
      },
    })
    const count = async (user: string, tier?: string) => {
      let n = 0
      while ((await limiter.check({ user }, tier === undefined ? {} : { tier })).allowed) n++
      return n
    }
    assert.equal(await count('free-user'), 2)
    assert.equal(await count('pro-user', 'pro'), 5)
    assert.equal(await count('unknown-tier', 'gold'), 2)
    assert.equal(await count('vip', 'pro'), 7)
    await limiter.close()
  })

  it('penalties: repeated refusals block the key; block() and unblock() by hand', async () => {
    const limiter = await open({
      rules: {
        login: {
          algorithm: 'sliding-window-counter',
          limit: 2,
          window: '1m',
          by: 'ip',
          penalty: { violations: 2, within: '1m', block: '10m' },
        },
        other: { algorithm: 'token-bucket', limit: 100, window: '1m', by: 'ip' },
      },
    })
    const ip = { ip: '203.0.113.9' }
    assert.equal((await limiter.check(ip)).allowed, true)
    assert.equal((await limiter.check(ip)).allowed, true)
    assert.equal((await limiter.check(ip)).outcome, 'limited')
    const blocked = await limiter.check(ip)
    assert.equal(blocked.outcome, 'blocked', summary(blocked))
    assert.ok(blocked.retryAfterMs > 9 * 60_000 && blocked.retryAfterMs <= 10 * 60_000)
    assert.equal((await limiter.check(ip)).outcome, 'blocked')
    await limiter.unblock(ip)
    assert.equal((await limiter.check(ip)).outcome, 'limited', 'unblocked, still over its limit')
    const other = { ip: '198.51.100.1' }
    const until = await limiter.block(other, '1m')
    assert.ok(until > Date.now() + 50_000 && until < Date.now() + 70_000)
    assert.equal((await limiter.check(other)).outcome, 'blocked')
    await assert.rejects(limiter.block(other, '1m', ['other']), (err: unknown) =>
      isValkitError(err, 'VALKIT_INVALID_ARGUMENT'),
    )
    await limiter.close()
  })

  it('allow and deny lists decide before any rule and charge nothing', async () => {
    const limiter = await open({
      rules: { ip: { algorithm: 'fixed-window', limit: 1, window: '1m', by: 'ip' } },
      allow: { ip: ['192.0.2.1', '2001:db8::/32'] },
      deny: { ip: ['10.0.0.0/8'] },
    })
    for (let i = 0; i < 3; i++) {
      const d = await limiter.check({ ip: '192.0.2.1' })
      assert.equal(d.allowed, true)
      assert.equal(d.source, 'allow-list')
      assert.equal(d.matched, 'ip=192.0.2.1')
    }
    assert.equal((await limiter.check({ ip: '2001:db8::7' })).source, 'allow-list')
    const denied = await limiter.check({ ip: '::ffff:10.1.2.3' })
    assert.equal(denied.outcome, 'denied')
    assert.equal(denied.allowed, false)
    assert.equal((await limiter.check({ ip: '192.0.2.2' })).allowed, true)
    assert.equal((await limiter.check({ ip: '192.0.2.2' })).allowed, false)
    await limiter.close()
  })

  it('reset() forgets a subject on every rule; other subjects keep their counts', async () => {
    const limiter = await open({
      rules: {
        a: { algorithm: 'sliding-window-log', limit: 1, window: '1m' },
        b: {
          algorithm: 'gcra',
          limit: 1,
          window: '1m',
          penalty: { violations: 1, within: '1m', block: '1m' },
        },
      },
    })
    assert.equal((await limiter.check('x')).allowed, true)
    assert.equal((await limiter.check('y')).allowed, true)
    assert.equal((await limiter.check('x')).outcome, 'blocked')
    await limiter.reset('x')
    assert.equal((await limiter.check('x')).allowed, true)
    assert.equal((await limiter.check('y')).allowed, false)
    await limiter.close()
  })

  it('values a key cannot hold as they are (braces, long or secret values) are hashed, not mixed up', async () => {
    const limiter = await open({ rules: { k: { algorithm: 'fixed-window', limit: 1, window: '1m' } } })
    for (const key of ['{a}', '{b}', 'x'.repeat(300), 'y'.repeat(300), 'sk-live=secret,1']) {
      assert.equal((await limiter.check(key)).allowed, true, key.slice(0, 10))
      assert.equal((await limiter.check(key)).allowed, false, key.slice(0, 10))
    }
    await limiter.close()
  })

  it('bad calls reject with VALKIT_INVALID_ARGUMENT; a closed limiter with VALKIT_CLOSED', async () => {
    const limiter = await open({ rules: { u: { algorithm: 'gcra', limit: 1, window: '1s', by: 'user' } } })
    const invalid = (err: unknown) => isValkitError(err, 'VALKIT_INVALID_ARGUMENT')
    await assert.rejects(limiter.check({ tenant: 'acme' }), invalid)
    await assert.rejects(limiter.check({ user: '' }), invalid)
    await assert.rejects(limiter.check({ user: '1' }, { cost: -1 }), invalid)
    await assert.rejects(limiter.check({ user: '1' }, { cost: 1.5 }), invalid)
    await assert.rejects(limiter.check({ user: '1' }, { rules: ['nope'] }), invalid)
    await limiter.close()
    await assert.rejects(limiter.check({ user: '1' }), (err: unknown) => isValkitError(err, 'VALKIT_CLOSED'))
  })

  it('stats() counts outcomes, sources and each rule, and names the most limited keys', async () => {
    const limiter = await open({
      rules: { r: { algorithm: 'fixed-window', limit: 1, window: '1m' } },
      deny: { key: ['bad'] },
    })
    await limiter.check('a')
    await limiter.check('a')
    await limiter.check('a')
    await limiter.check('bad')
    const stats = limiter.stats()
    assert.equal(stats.checks, 4)
    assert.equal(stats.allowed, 1)
    assert.equal(stats.limited, 2)
    assert.equal(stats.denied, 1)
    assert.equal(stats.sources[source], 3)
    assert.equal(stats.sources.denyList, 1)
    assert.deepEqual(stats.rules.r, { allowed: 1, limited: 2, blocked: 0, tooLarge: 0 })
    assert.deepEqual(stats.topLimited, [{ key: 'r key=a', count: 2 }])
    await limiter.close()
  })

  it('live rules: an update applies at once, with an audit entry; a bad document changes nothing', async () => {
    const limiter = await open({
      rules: { r: { algorithm: 'fixed-window', limit: 1, window: '1m' } },
      live: true,
    })
    await limiter.ready()
    assert.equal((await limiter.check('k')).allowed, true)
    assert.equal((await limiter.check('k')).allowed, false)
    const result = await limiter.rules.update(
      { rules: { r: { algorithm: 'fixed-window', limit: 3, window: '1m' } } },
      { actor: 'ops', reason: 'raise' },
    )
    assert.equal(result.applied, true)
    assert.equal(limiter.rules.version, 1)
    assert.equal((await limiter.check('k')).allowed, true, 'the new limit applies to the same counter')
    await assert.rejects(
      limiter.rules.update({ rules: { r: { algorithm: 'fixed-window', limit: -1, window: '1m' } } }),
      (err: unknown) =>
        isValkitError(err, 'VALKIT_INVALID_OPTION') &&
        /document\.rules\.r\.limit/.test((err as Error).message),
    )
    await assert.rejects(
      limiter.rules
        .update(
          { rules: { r: { algorithm: 'fixed-window', limit: 9, window: '1m' } } },
          { expectedVersion: 0 },
        )
        .then((r) => {
          if (!r.applied) throw new Error(`conflict at ${r.version}`)
        }),
      /conflict at 1/,
    )
    assert.equal(limiter.rules.version, 1)
    const [entry] = await limiter.rules.audit()
    assert.equal(entry?.version, 1)
    assert.equal(entry?.actor, 'ops')
    assert.deepEqual(entry?.changed, ['r'])
    await limiter.close()
  })
}
