/**
 * The LLM budget contract, run on every backend next to the rate limiter's: reserve before the
 * call, settle the actual usage exactly once, all-or-nothing across budgets, never negative.
 */
import assert from 'node:assert/strict'
import { it } from 'node:test'
import { isValkitError } from '../../src/core/index.js'
import type { LlmBudget, LlmBudgetOptions } from '../../src/ratelimit/index.js'
import { waitFor } from '../../src/testing/index.js'

/** Opens a budget set on the backend under test; every call gets a fresh name. */
export type OpenBudget = (options: Omit<LlmBudgetOptions, 'name'>) => Promise<LlmBudget>

export const PRICES = {
  // $ per million tokens: 1 token of input = 2 µ$, of output = 8 µ$.
  small: { inputPerMTok: 2, outputPerMTok: 8 },
  big: { inputPerMTok: 10, outputPerMTok: 30, cachedInputPerMTok: 1 },
} as const

const near = (a: number, b: number) => Math.abs(a - b) < 1e-9

export function budgetConformance(open: OpenBudget): void {
  it('budgets: reserve the estimate, settle the actual (refund or extra charge), exactly once', async () => {
    const budget = await open({
      prices: PRICES,
      budgets: { daily: { by: 'user', period: 'day', limitUsd: 1 } },
    })
    const r = await budget.reserve(
      { user: 'u' },
      { model: 'small', inputTokens: 10_000, maxOutputTokens: 10_000 },
    )
    assert.equal(r.allowed, true)
    assert.equal(r.outcome, 'reserved')
    assert.ok(near(r.estimateUsd, 0.1), String(r.estimateUsd))
    assert.equal(r.estimateTokens, 20_000)
    assert.ok(near(r.budgets[0]!.reservedUsd, 0.1))
    assert.ok(near(r.budgets[0]!.remainingUsd!, 0.9))
    const s = await r.settle({ inputTokens: 10_000, outputTokens: 2_500 })
    assert.equal(s.settled, true)
    assert.ok(near(s.chargedUsd, 0.04))
    assert.ok(near(s.differenceUsd, -0.06), 'a refund of the unused estimate')
    assert.ok(near(s.budgets[0]!.spentUsd, 0.04))
    assert.equal(s.budgets[0]!.reservedUsd, 0)
    const again = await r.settle({ inputTokens: 10_000, outputTokens: 2_500 })
    assert.equal(again.settled, false, 'a second settle charges nothing')
    assert.equal((await r.cancel()).settled, false)
    // A call that costs more than its estimate is charged the difference.
    const r2 = await budget.reserve({ user: 'u' }, { costUsd: 0.01 })
    const s2 = await r2.settle({ model: 'big', inputTokens: 5000, outputTokens: 0, cachedInputTokens: 1000 })
    assert.ok(near(s2.chargedUsd, 0.051))
    assert.ok(near(s2.differenceUsd, 0.041))
    const [state] = await budget.usage({ user: 'u' })
    assert.ok(near(state!.spentUsd, 0.091))
    assert.equal(state!.reservedUsd, 0)
    assert.ok(state!.resetAt > Date.now() && state!.resetAt <= Date.now() + 86_400_000)
    assert.equal(state!.resetAt % 86_400_000, 0, 'a UTC day ends at midnight')
    await budget.close()
  })

  it('budgets: all-or-nothing across budgets; money and token limits; never negative', async () => {
    const budget = await open({
      prices: PRICES,
      budgets: {
        user: { by: ['tenant', 'user'], period: 'hour', limitUsd: 0.05 },
        tenant: { by: 'tenant', period: 'month', limitUsd: 10, limitTokens: 30_000 },
      },
      hashTag: { scope: 'tenant' },
    })
    const who = { tenant: 'acme', user: 'a' }
    const ok = await budget.reserve(who, { model: 'small', inputTokens: 1000, maxOutputTokens: 5000 })
    assert.equal(ok.allowed, true)
    const over = await budget.reserve(who, { costUsd: 0.01 })
    assert.deepEqual([over.allowed, over.outcome, over.budget], [false, 'exceeded', 'user'])
    const tenant = (await budget.usage({ tenant: 'acme', user: 'b' }))[1]!
    assert.ok(near(tenant.reservedUsd, 0.042), 'the refused reservation held nothing on the tenant')
    assert.equal(tenant.reservedTokens, 6000)
    const next = new Date(Date.now())
    assert.equal(
      tenant.resetAt,
      Date.UTC(next.getUTCFullYear(), next.getUTCMonth() + 1, 1),
      'the calendar month ends',
    )
    const tokens = await budget.reserve({ tenant: 'acme', user: 'b' }, { costUsd: 0, tokens: 25_000 })
    assert.deepEqual([tokens.allowed, tokens.budget], [false, 'tenant'])
    await ok.cancel()
    const after = await budget.usage(who)
    assert.deepEqual(
      after.map((b) => [b.spentUsd, b.reservedUsd, b.reservedTokens]),
      [
        [0, 0, 0],
        [0, 0, 0],
      ],
    )
    // Spent beyond the limit (a call that cost more than reserved) leaves remaining at 0, not below.
    const r = await budget.reserve(who, { costUsd: 0.04 })
    await r.settle({ costUsd: 0.2 })
    const [user] = await budget.usage(who)
    assert.ok(near(user!.spentUsd, 0.2))
    assert.equal(user!.remainingUsd, 0)
    await assert.rejects(
      budget.reserve(who, { model: 'unknown', inputTokens: 1, maxOutputTokens: 1 }),
      (err: unknown) => isValkitError(err, 'VALKIT_INVALID_ARGUMENT'),
    )
    await budget.close()
  })

  it('budgets: an unsettled reservation expires — charged its estimate, or released — and cannot be settled after', async () => {
    for (const onExpiry of ['charge', 'release'] as const) {
      const budget = await open({
        prices: PRICES,
        budgets: { b: { by: [], period: 'day', limitUsd: 1 } },
        reservationTtl: 1000,
        onExpiry,
      })
      const r = await budget.reserve({}, { costUsd: 0.3 })
      await waitFor(async () => (await budget.usage({}))[0]!.reservedUsd === 0, {
        timeoutMs: 5000,
        what: 'the reservation to expire',
      })
      const [state] = await budget.usage({})
      assert.ok(
        near(state!.spentUsd, onExpiry === 'charge' ? 0.3 : 0),
        `${onExpiry}: spent ${state!.spentUsd}`,
      )
      assert.equal((await r.settle({ costUsd: 0.1 })).settled, false)
      assert.ok(
        near((await budget.usage({}))[0]!.spentUsd, onExpiry === 'charge' ? 0.3 : 0),
        'not charged twice',
      )
      await budget.close()
    }
  })
}
