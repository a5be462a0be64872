/**
 * Correctness under real contention: 500 concurrent callers on one key, spread over several
 * connections (one valkit instance and limiter each), hammer a limit of 100 per window. From
 * the admissions' server timestamps (the decisions' `at`), each algorithm's guarantee is checked:
 * the exact sliding window log never admits more than the limit inside ANY window of its length;
 * the fixed window never more than the limit per aligned window; the approximate sliding window
 * counter keeps its own weighted invariant at every admission (and stays under its documented
 * worst case, 2 × limit, in any sliding window); token bucket and GCRA never admit more than
 * `burst + rate × elapsed` between any two admissions; concurrency never has more than the limit
 * in flight. Then several rules under contention are all-or-nothing.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { after, before, describe, it } from 'node:test'
import { createValkit, type Valkit } from '../../src/core/index.js'
import { createRateLimiter, type RateLimitAlgorithm, type RateLimiter } from '../../src/ratelimit/index.js'
import { cleanPrefix, startServer, testEngines, type ServerHandle } from '../../src/testing/index.js'
import { ALGORITHMS, ruleOf } from '../conformance/ratelimit-conformance.js'

const LIMIT = 100
const WINDOW_MS = 400
const CALLERS = 500
const CONNECTIONS = 4
const RUN_MS = 1300

/** Admission times in µs, sorted. */
interface Run {
  readonly admitted: number[]
  readonly refused: number
  readonly maxInFlight: number
}

async function hammer(limiters: readonly RateLimiter[], algorithm: RateLimitAlgorithm): Promise<Run> {
  const admitted: number[] = []
  let refused = 0
  let inFlight = 0
  let maxInFlight = 0
  const end = Date.now() + RUN_MS
  await Promise.all(
    Array.from({ length: CALLERS }, async (_, caller) => {
      const limiter = limiters[caller % limiters.length]!
      while (Date.now() < end) {
        const d = await limiter.check('hot')
        assert.equal(d.source === 'redis' || d.source === 'memory', true, `decided by ${d.source}`)
        if (!d.allowed) {
          refused++
          // Refused callers come back quickly but not in a busy loop on the in-process backend.
          if (d.source === 'memory') await sleep(1)
          continue
        }
        admitted.push(Math.round(d.at * 1000))
        if (algorithm === 'concurrency') {
          inFlight++
          maxInFlight = Math.max(maxInFlight, inFlight)
          await sleep(1 + (caller % 5))
          inFlight--
          await d.lease!.release()
        }
      }
    }),
  )
  admitted.sort((a, b) => a - b)
  return { admitted, refused, maxInFlight }
}

/** The most admissions inside any window (t - length, t] ending at an admission. */
function maxInSlidingWindow(times: readonly number[], lengthUs: number): number {
  let most = 0
  let start = 0
  for (let end = 0; end < times.length; end++) {
    while (times[start]! <= times[end]! - lengthUs) start++
    most = Math.max(most, end - start + 1)
  }
  return most
}

function maxPerAlignedWindow(times: readonly number[], lengthUs: number): number {
  const counts = new Map<number, number>()
  for (const t of times) {
    const idx = Math.floor(t / lengthUs)
    counts.set(idx, (counts.get(idx) ?? 0) + 1)
  }
  return Math.max(0, ...counts.values())
}

function checkRun(algorithm: RateLimitAlgorithm, run: Run): void {
  const { admitted } = run
  const w = WINDOW_MS * 1000
  assert.ok(run.refused > 0, `${algorithm}: the callers pushed past the limit (${run.refused} refused)`)
  switch (algorithm) {
    case 'sliding-window-log': {
      const most = maxInSlidingWindow(admitted, w)
      assert.ok(most <= LIMIT, `${algorithm}: ${most} admissions inside one sliding window`)
      assert.equal(most, LIMIT, 'the limit was reached')
      break
    }
    case 'fixed-window': {
      assert.ok(maxPerAlignedWindow(admitted, w) <= LIMIT, algorithm)
      assert.ok(maxInSlidingWindow(admitted, w) <= 2 * LIMIT, `${algorithm}: documented worst case 2 × limit`)
      assert.equal(maxPerAlignedWindow(admitted, w), LIMIT, 'the limit was reached')
      break
    }
    case 'sliding-window-counter': {
      // At every admission: previous window's count weighted by its overlap + this window's
      // earlier admissions + 1 <= limit (server time; float slack of 1e-6).
      const windows = new Map<number, number>()
      for (const t of admitted) {
        const idx = Math.floor(t / w)
        const prev = windows.get(idx - 1) ?? 0
        const cur = windows.get(idx) ?? 0
        const into = t - idx * w
        const estimate = (prev * (w - into)) / w + cur + 1
        assert.ok(estimate <= LIMIT + 1e-6, `${algorithm}: estimate ${estimate} at an admission`)
        windows.set(idx, cur + 1)
      }
      assert.ok(maxPerAlignedWindow(admitted, w) <= LIMIT, algorithm)
      assert.ok(
        maxInSlidingWindow(admitted, w) < 2 * LIMIT,
        `${algorithm}: documented worst case < 2 × limit`,
      )
      break
    }
    case 'token-bucket':
    case 'gcra': {
      // Between any two admissions i <= j: j - i + 1 <= burst + rate × (t_j - t_i).
      const rate = LIMIT / w
      for (let i = 0; i < admitted.length; i++) {
        for (let j = i; j < admitted.length; j++) {
          const bound = LIMIT + rate * (admitted[j]! - admitted[i]!) + 1e-6
          if (j - i + 1 > bound)
            assert.fail(
              `${algorithm}: ${j - i + 1} admissions within ${(admitted[j]! - admitted[i]!) / 1000} ms`,
            )
        }
      }
      assert.ok(maxInSlidingWindow(admitted, w) <= 2 * LIMIT, `${algorithm}: burst + one window of refill`)
      break
    }
    case 'concurrency':
      assert.ok(run.maxInFlight <= LIMIT, `${algorithm}: ${run.maxInFlight} in flight`)
      assert.equal(run.maxInFlight, LIMIT, 'the limit was reached')
      break
  }
}

function suite(
  label: string,
  connect: () => Promise<{ valkits: Valkit[]; cleanup: () => Promise<void> }>,
): void {
  void describe(`ratelimit under contention: ${label}`, { timeout: 120_000 }, () => {
    let valkits: Valkit[] = []
    let cleanup: () => Promise<void> = async () => {}
    before(async () => {
      ;({ valkits, cleanup } = await connect())
    })
    after(async () => {
      for (const v of valkits) await v.close()
      await cleanup()
    })

    for (const algorithm of ALGORITHMS) {
      it(`${algorithm}: ${CALLERS} concurrent callers, limit ${LIMIT} per ${WINDOW_MS} ms, never past the guarantee`, async () => {
        const name = `c-${algorithm}-${randomBytes(3).toString('hex')}`
        const rule = ruleOf(
          algorithm,
          LIMIT,
          WINDOW_MS,
          algorithm === 'concurrency' ? { leaseTtl: '10s' } : {},
        )
        const limiters = valkits.map((v) => createRateLimiter(v, { name, rules: { hot: rule } }))
        try {
          checkRun(algorithm, await hammer(limiters, algorithm))
        } finally {
          for (const l of limiters) await l.close()
        }
      })
    }

    it('several rules under contention are all-or-nothing: no rule pays for a request another refused', async () => {
      const name = `multi-${randomBytes(3).toString('hex')}`
      const rules = {
        user: { algorithm: 'sliding-window-log', limit: 10, window: '1h', by: ['tenant', 'user'] },
        tenant: { algorithm: 'token-bucket', limit: 60, window: '10h', by: 'tenant' },
        global: { algorithm: 'fixed-window', limit: 1000, window: '1h', by: [] },
      } as const
      const limiters = valkits.map((v) => createRateLimiter(v, { name, rules, hashTag: 'limiter' }))
      const l = limiters[0]!
      const users = ['u0', 'u1', 'u2', 'u3', 'u4', 'u5', 'u6', 'u7']
      const perUser = new Map(users.map((u) => [u, 0]))
      let admitted = 0
      const hammer = async (callers: number, userOf: (caller: number) => string) =>
        Promise.all(
          Array.from({ length: callers }, async (_, caller) => {
            const limiter = limiters[caller % limiters.length]!
            const user = userOf(caller)
            for (let i = 0; i < 6; i++) {
              const d = await limiter.check({ tenant: 'acme', user })
              if (d.allowed) {
                admitted++
                perUser.set(user, perUser.get(user)! + 1)
              }
            }
          }),
        )
      // Phase 1: one user hammered alone hits its own limit while the tenant has room; the
      // 590 requests its own rule refused charge neither the tenant nor the global rule.
      await hammer(100, () => 'u0')
      assert.equal(perUser.get('u0'), 10, 'the hammered user hit its own limit')
      assert.equal((await l.peek({ tenant: 'acme', user: 'u0' }, { rules: ['tenant'] })).remaining, 50)
      assert.equal((await l.peek({ tenant: 'acme', user: 'u0' }, { rules: ['global'] })).remaining, 990)
      // Phase 2: every user at once, two of them hammered by most callers; the tenant's limit
      // binds (70 wanted, 50 left), and no user rule pays for a request the tenant refused.
      await hammer(CALLERS, (caller) =>
        caller % 4 === 0 ? users[Math.floor(caller / 4) % users.length]! : users[caller % 2]!,
      )
      assert.equal(admitted, 60, 'the tenant limit bound')
      assert.equal((await l.peek({ tenant: 'acme', user: 'u0' }, { rules: ['tenant'] })).remaining, 0)
      assert.equal(
        (await l.peek({ tenant: 'acme', user: 'u0' }, { rules: ['global'] })).remaining,
        1000 - admitted,
      )
      for (const user of users) {
        const left = (await l.peek({ tenant: 'acme', user }, { rules: ['user'] })).remaining
        assert.equal(left, 10 - perUser.get(user)!, `user ${user}: charged only for its admitted requests`)
        assert.ok(perUser.get(user)! <= 10)
      }
      for (const limiter of limiters) await limiter.close()
    })

    it('token bucket and GCRA keys shared by the checks of one script run are charged once per admitted request', async () => {
      // Checks of several rules keep string state in the script and write each key once at the
      // end of the run: the per-tenant and global keys below repeat in nearly every run.
      const name = `shared-${randomBytes(3).toString('hex')}`
      const rules = {
        user: { algorithm: 'token-bucket', limit: 1000, window: '10h', by: 'user' },
        tenant: { algorithm: 'gcra', limit: 70, window: '10h', burst: 70, by: 'tenant' },
        global: { algorithm: 'token-bucket', limit: 90, window: '10h', by: [] },
      } as const
      const limiters = valkits.map((v) => createRateLimiter(v, { name, rules, hashTag: 'limiter' }))
      const admitted = new Map<string, number>([
        ['a', 0],
        ['b', 0],
      ])
      await Promise.all(
        Array.from({ length: CALLERS }, async (_, caller) => {
          const limiter = limiters[caller % limiters.length]!
          const tenant = caller % 3 === 0 ? 'b' : 'a'
          for (let i = 0; i < 2; i++) {
            const d = await limiter.check({ tenant, user: `u${caller % 50}` })
            if (d.allowed) admitted.set(tenant, admitted.get(tenant)! + 1)
          }
        }),
      )
      const a = admitted.get('a')!
      const b = admitted.get('b')!
      // 1,000 requests: tenant a wants ~667, b ~333; each tenant allows 70, the global 90 in all.
      assert.equal(a + b, 90, 'the global limit bound exactly')
      assert.ok(a <= 70 && b <= 70, `no tenant past its limit (a ${a}, b ${b})`)
      const l = limiters[0]!
      assert.equal((await l.peek({ tenant: 'a', user: 'u0' }, { rules: ['global'] })).remaining, 0)
      assert.equal((await l.peek({ tenant: 'a', user: 'u0' }, { rules: ['tenant'] })).remaining, 70 - a)
      assert.equal((await l.peek({ tenant: 'b', user: 'u0' }, { rules: ['tenant'] })).remaining, 70 - b)
      // A refused check charged nothing: the users' buckets hold exactly what was admitted.
      let userCharged = 0
      for (let u = 0; u < 50; u++)
        userCharged += 1000 - (await l.peek({ tenant: 'a', user: `u${u}` }, { rules: ['user'] })).remaining
      assert.equal(userCharged, a + b)
      for (const limiter of limiters) await limiter.close()
    })
  })
}

suite('memory backend', async () => ({
  valkits: [createValkit({ env: {}, logger: false })],
  cleanup: async () => {},
}))

for (const engine of testEngines()) {
  let server: ServerHandle
  const prefix = `t-rlc-${randomBytes(4).toString('hex')}`
  suite(`${engine}, ${CONNECTIONS} connections`, async () => {
    server = await startServer({ engine })
    const valkits = Array.from({ length: CONNECTIONS }, () =>
      createValkit({ url: server.url, env: {}, logger: false, keyPrefix: prefix }),
    )
    await Promise.all(valkits.map((v) => v.supervisor.waitFor('ready', 10_000)))
    return {
      valkits,
      cleanup: async () => {
        if (server.alive) await cleanPrefix(server, `${prefix}:`)
        await server.stop()
      },
    }
  })
}
