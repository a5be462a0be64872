/**
 * Rate limiter pieces that need no server: option validation, and the algorithms' documented
 * worst cases driven through the in-process engine with a clock the test moves (the engine
 * runs the same inputs as the Redis script; the conformance suite checks they agree).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { createValkit } from '../../src/core/index.js'
import {
  createRateLimiter,
  resolveRateLimiterOptions,
  type RateLimitRule,
} from '../../src/ratelimit/index.js'
import { BudgetMemory } from '../../src/ratelimit/llm-budget/budget-memory.js'
import { MemoryEngine } from '../../src/ratelimit/memory-engine.js'
import { RuleSet } from '../../src/ratelimit/rule-set.js'
import { waitFor } from '../../src/testing/index.js'
import { rejectsOption } from '../support/rejects-option.js'

/** One rule on the in-process engine with a manual clock (µs). */
function engine(rule: RateLimitRule) {
  let now = 1_700_000_000_000_000
  const set = new RuleSet({ rules: { r: rule } }, { kind: 'limiter' }, 't:{x:', 0, 'test')
  const e = new MemoryEngine(1000, () => now)
  return {
    advanceMs(ms: number) {
      now += Math.round(ms * 1000)
    },
    get nowMs() {
      return now / 1000
    },
    check(cost = 1): boolean {
      const plan = set.plan(set.rules, { key: 'k' }, cost, undefined, 1, 1, null, 'lease')
      return e.check(plan.keys, plan.args)[1] === 1
    },
  }
}

describe('ratelimit options', () => {
  const rules = { r: { algorithm: 'fixed-window', limit: 10, window: '1s' } } as const
  it('rejects bad rules naming the option path', () => {
    const bad = (rule: unknown, path: string) =>
      rejectsOption(() => resolveRateLimiterOptions({ rules: { r: rule as RateLimitRule } }), path)
    bad({ algorithm: 'leaky', limit: 1, window: '1s' }, 'ratelimit.rules.r.algorithm')
    bad({ algorithm: 'gcra', limit: 0, window: '1s' }, 'ratelimit.rules.r.limit')
    bad({ algorithm: 'gcra', limit: 1.5, window: '1s' }, 'ratelimit.rules.r.limit')
    bad({ algorithm: 'gcra', limit: 1 }, 'ratelimit.rules.r.window')
    bad({ algorithm: 'gcra', limit: 1, window: 'soon' }, 'ratelimit.rules.r.window')
    bad({ algorithm: 'fixed-window', limit: 1, window: '1s', burst: 3 }, 'ratelimit.rules.r.burst')
    bad({ algorithm: 'concurrency', limit: 1, window: '1s' }, 'ratelimit.rules.r.window')
    bad({ algorithm: 'gcra', limit: 1, window: '1s', leaseTtl: '1s' }, 'ratelimit.rules.r.leaseTtl')
    bad({ algorithm: 'gcra', limit: 1, window: '1s', by: ['user', 'user'] }, 'ratelimit.rules.r.by')
    bad({ algorithm: 'gcra', limit: 1, window: '1s', by: ['a b'] }, 'ratelimit.rules.r.by[0]')
    bad(
      { algorithm: 'gcra', limit: 1, window: '1s', tiers: { pro: { limit: -1 } } },
      'ratelimit.rules.r.tiers.pro.limit',
    )
    bad(
      { algorithm: 'gcra', limit: 1, window: '1s', penalty: { violations: 3, within: '1m' } },
      'ratelimit.rules.r.penalty.block',
    )
    bad(
      { algorithm: 'concurrency', limit: 1, penalty: { violations: 1, within: '1m', block: '1m' } },
      'ratelimit.rules.r.penalty',
    )
    bad({ algorithm: 'gcra', limit: 1, window: '1s', typo: 1 }, 'ratelimit.rules.r.typo')
  })

  it('rejects a hash tag the rules cannot share, and other bad options', () => {
    rejectsOption(
      () =>
        resolveRateLimiterOptions({
          rules: { a: { ...rules.r, by: 'user' }, b: { ...rules.r, by: 'tenant' } },
          hashTag: 'subject',
        }),
      'ratelimit.rules.b.by',
    )
    rejectsOption(
      () =>
        resolveRateLimiterOptions({ rules: { a: { ...rules.r, by: 'user' } }, hashTag: { scope: 'tenant' } }),
      'ratelimit.rules.a.by',
    )
    rejectsOption(() => resolveRateLimiterOptions({ rules: {} }), 'ratelimit.rules')
    rejectsOption(() => resolveRateLimiterOptions({ rules, name: 'a:b' }), 'ratelimit.name')
    rejectsOption(
      () => resolveRateLimiterOptions({ rules, whenUnavailable: 'panic' as 'deny' }),
      'ratelimit.whenUnavailable',
    )
    rejectsOption(
      () => resolveRateLimiterOptions({ rules, insurance: { share: 0 } }),
      'ratelimit.insurance.share',
    )
    rejectsOption(
      () => resolveRateLimiterOptions({ rules, deny: { ip: ['10.0.0.0/40'] } }),
      'ratelimit.deny.ip[0]',
    )
    rejectsOption(
      () => resolveRateLimiterOptions({ rules, adaptive: { signal: 'redis-latency', target: 0 } }),
      'ratelimit.adaptive.target',
    )
    rejectsOption(
      () =>
        resolveRateLimiterOptions({
          rules,
          adaptive: { signal: 'redis-latency', target: 5, min: 2, max: 1 },
        }),
      'ratelimit.adaptive.min',
    )
    rejectsOption(() => resolveRateLimiterOptions({ rules, extra: true } as never), 'ratelimit.extra')
    const valkit = createValkit({ env: {}, logger: false })
    rejectsOption(
      () => createRateLimiter(valkit, { rules, adaptive: { signal: () => 1, target: 1, rules: ['nope'] } }),
      'ratelimit.adaptive.rules[0]',
    )
    void valkit.close()
  })

  it("'auto' shards by subject when every rule has the same scopes, else one tag per limiter", () => {
    const same = resolveRateLimiterOptions({
      rules: { a: { ...rules.r, by: 'user' }, b: { ...rules.r, by: 'user' } },
    })
    assert.deepEqual(same.tag, { kind: 'subject' })
    const mixed = resolveRateLimiterOptions({
      rules: { a: { ...rules.r, by: 'user' }, b: { ...rules.r, by: [] } },
    })
    assert.deepEqual(mixed.tag, { kind: 'limiter' })
  })
})

describe('ratelimit worst cases (documented bounds, adversarial timing)', () => {
  it('fixed window: 2 × limit across a boundary, never more than the limit per window', () => {
    const e = engine({ algorithm: 'fixed-window', limit: 10, window: 1000 })
    e.advanceMs(1000 - (e.nowMs % 1000) - 1) // 1 ms before a boundary
    let admitted = 0
    for (let i = 0; i < 20; i++) if (e.check()) admitted++
    e.advanceMs(2) // 1 ms after it
    for (let i = 0; i < 20; i++) if (e.check()) admitted++
    assert.equal(admitted, 20, '20 admissions within 2 ms: the documented worst case')
  })

  it('sliding window counter: a packed previous window lets through less than 2 × limit in one window', () => {
    const e = engine({ algorithm: 'sliding-window-counter', limit: 100, window: 1000 })
    e.advanceMs(1000 - (e.nowMs % 1000)) // a window start
    e.advanceMs(999) // the last ms of the window: pack it
    const times: number[] = []
    for (let i = 0; i < 200; i++) if (e.check()) times.push(e.nowMs)
    assert.equal(times.length, 100)
    // Then try every 1 ms through the next window.
    for (let ms = 0; ms < 1000; ms++) {
      e.advanceMs(1)
      while (e.check()) times.push(e.nowMs)
    }
    let most = 0
    for (let i = 0, j = 0; i < times.length; i++) {
      while (times[j]! <= times[i]! - 1000) j++
      most = Math.max(most, i - j + 1)
    }
    assert.ok(most > 150, `the approximation does overshoot (${most} in one sliding window)`)
    assert.ok(most < 200, `but stays under 2 × limit (${most})`)
  })

  it('sliding window log: exact under the same adversarial timing', () => {
    const e = engine({ algorithm: 'sliding-window-log', limit: 100, window: 1000 })
    e.advanceMs(999)
    const times: number[] = []
    for (let i = 0; i < 200; i++) if (e.check()) times.push(e.nowMs)
    for (let ms = 0; ms < 1500; ms++) {
      e.advanceMs(1)
      while (e.check()) times.push(e.nowMs)
    }
    let most = 0
    for (let i = 0, j = 0; i < times.length; i++) {
      while (times[j]! <= times[i]! - 1000) j++
      most = Math.max(most, i - j + 1)
    }
    assert.equal(most, 100)
  })

  it('sliding window log: a check that stalls after reading the clock still counts its whole window', () => {
    // Every clock reading after a check's first is `stallMs` later: a GC pause or a busy machine
    // between the check's reading and its state lookups (seen in CI: 101 admissions in a window of 100).
    let now = 1_700_000_000_000_000
    let stallUs = 0
    let reads = 0
    const e = new MemoryEngine(1000, () => (reads++ === 0 ? now : now + stallUs))
    const rules = new RuleSet(
      { rules: { r: { algorithm: 'sliding-window-log', limit: 2, window: 400 } } },
      { kind: 'limiter' },
      't:{x:',
      0,
      'test',
    )
    const check = (stallMs: number): boolean => {
      reads = 0
      stallUs = stallMs * 1000
      const plan = rules.plan(rules.rules, { key: 'k' }, 1, undefined, 1, 1, null, 'lease')
      return e.check(plan.keys, plan.args)[1] === 1
    }
    assert.equal(check(0), true)
    now += 200
    assert.equal(check(0), true)
    // 399.5 ms after the first admission both are still inside the window; the stalled check's
    // later readings are past the log's expiry (401 ms after the last admission).
    now += 399_300
    assert.equal(check(5), false, 'the stalled check saw the log its window still holds')
    now += 600
    assert.equal(check(5), true, 'the first admission has left the window')
  })

  it('token bucket and GCRA: burst at once, then the refill rate; burst + limit within one window', () => {
    for (const algorithm of ['token-bucket', 'gcra'] as const) {
      const e = engine({ algorithm, limit: 10, window: 1000, burst: 5 })
      let admitted = 0
      for (let i = 0; i < 20; i++) if (e.check()) admitted++
      assert.equal(admitted, 5, `${algorithm}: the burst`)
      for (let ms = 0; ms < 1000; ms++) {
        e.advanceMs(1)
        while (e.check()) admitted++
      }
      assert.equal(admitted, 15, `${algorithm}: burst + limit within one window (then the rate)`)
    }
  })
})

describe('adaptive limits', () => {
  it('follow a load signal within bounds, smoothed, only on the adaptive rules; visible in stats and metrics', async () => {
    const valkit = createValkit({ env: {}, logger: false })
    let load = 5
    const limiter = createRateLimiter(valkit, {
      name: 'adaptive',
      rules: {
        scaled: { algorithm: 'fixed-window', limit: 20, window: '1m' },
        fixed: { algorithm: 'fixed-window', limit: 20, window: '1m' },
      },
      adaptive: {
        signal: () => load,
        target: 10,
        min: 0.25,
        max: 1,
        smoothing: 0.5,
        interval: 20,
        rules: ['scaled'],
      },
    })
    const limits = async () => (await limiter.peek('k')).rules.map((r) => r.limit)
    try {
      assert.deepEqual(await limits(), [20, 20])
      load = 40 // four times the target: the wanted factor is 0.25
      const seen: number[] = []
      await waitFor(
        () => {
          const f = limiter.stats().adaptiveFactor
          if (seen.at(-1) !== f) seen.push(f)
          return f === 0.25
        },
        { intervalMs: 5, what: 'the factor to reach its floor' },
      )
      assert.ok(seen.length >= 3, `smoothed: it moved in steps (${seen.join(', ')})`)
      for (let i = 1; i < seen.length; i++)
        assert.ok(seen[i]! < seen[i - 1]!, 'monotone towards the wanted factor')
      assert.ok(seen.every((f) => f >= 0.25 && f <= 1))
      assert.deepEqual(await limits(), [5, 20], 'only the adaptive rule is scaled')
      assert.equal(limiter.stats().adaptiveSignal, 40)
      assert.match(
        valkit.metrics.toPrometheus(),
        /valkit_ratelimit_adaptive_factor\{limiter="adaptive"\} 0\.2/,
      )
      load = 1
      await waitFor(() => limiter.stats().adaptiveFactor === 1, { what: 'the factor to recover to max' })
      assert.deepEqual(await limits(), [20, 20])
    } finally {
      await limiter.close()
      await valkit.close()
    }
  })
})

describe('LLM budget ledger in process', () => {
  it('a reservation that stalls after reading the clock still sees its period spent', () => {
    // Periods of 1 s, reservations held 100 ms; the ledger key lives 2.1 s past the last call.
    let now = 1_700_000_000_000
    let stallMs = 0
    let reads = 0
    const budget = new BudgetMemory(100, () => (reads++ === 0 ? now : now + stallMs))
    const period = Math.ceil(now / 1000) * 1000
    now = period
    const reserve = (cost: number, stall: number): boolean => {
      reads = 0
      stallMs = stall
      // One budget: 1 s periods, $1 (1,000,000 µ$), no token limit; `cost` µ$, 0 tokens.
      return (
        budget.reserve(['b', 'b:h'], [1, `r${cost}-${stall}`, 100, '1', 1000, 1_000_000, -1, cost, 0])[1] ===
        1
      )
    }
    assert.equal(reserve(1_000_000, 0), true, 'the whole period budget is reserved')
    now += 999
    assert.equal(reserve(1, 0), false, 'spent within the period')
    assert.equal(reserve(1, 2500), false, 'a stalled call still sees the period spent')
  })
})
