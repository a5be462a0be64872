/**
 * LLM budgets under concurrency: 400 calls over 4 connections reserve, then settle (with
 * actual costs below and above their estimates), settle twice at once, settle and cancel at
 * once, or cancel. Afterwards the ledger holds exactly the sum of what the settlements that
 * succeeded charged, nothing stays reserved, every reservation was settled at most once, and no
 * admitted reservation ever saw spent + reserved above the limit.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { createValkit, type Valkit } from '../../src/core/index.js'
import { createLlmBudget, type BudgetSettlement } from '../../src/ratelimit/index.js'
import { cleanPrefix, startServer, testEngines, type ServerHandle } from '../../src/testing/index.js'

const LIMIT_USD = 0.5
const micro = (usd: number) => Math.round(usd * 1e6)

function suite(
  label: string,
  connect: () => Promise<{ valkits: Valkit[]; cleanup: () => Promise<void> }>,
): void {
  void describe(`LLM budgets under concurrency: ${label}`, { timeout: 60_000 }, () => {
    let valkits: Valkit[] = []
    let cleanup = async () => {}
    before(async () => {
      ;({ valkits, cleanup } = await connect())
    })
    after(async () => {
      for (const v of valkits) await v.close()
      await cleanup()
    })

    it('reserve / settle / cancel from 400 concurrent calls: never negative, never double-charged', async () => {
      const name = `bud-${randomBytes(3).toString('hex')}`
      const options = {
        name,
        prices: { m: { inputPerMTok: 3, outputPerMTok: 15 } },
        budgets: {
          user: { by: 'user', period: 'day', limitUsd: LIMIT_USD },
          global: { by: [], period: 'month', limitUsd: 100 },
        },
        hashTag: 'limiter' as const,
      }
      const budgets = valkits.map((v) => createLlmBudget(v, options))
      let charged = 0
      let admitted = 0
      let refused = 0
      let settledTwice = 0
      const outcomes = await Promise.all(
        Array.from({ length: 400 }, async (_, i) => {
          const budget = budgets[i % budgets.length]!
          const r = await budget.reserve(
            { user: 'u' },
            { model: 'm', inputTokens: 500 + (i % 7) * 100, maxOutputTokens: 400 },
          )
          if (!r.allowed) {
            refused++
            return 'refused'
          }
          admitted++
          const [state] = r.budgets
          assert.ok(
            micro(state!.spentUsd) + micro(state!.reservedUsd) <= micro(LIMIT_USD),
            'room when reserved',
          )
          const usage = { inputTokens: 500 + (i % 7) * 100, outputTokens: (i * 37) % 800 } // up to 2× the estimated output
          let results: BudgetSettlement[]
          switch (i % 4) {
            case 0:
              results = [await r.settle(usage)]
              break
            case 1:
              results = await Promise.all([r.settle(usage), r.settle(usage)])
              break
            case 2:
              results = await Promise.all([r.settle(usage), r.cancel()])
              break
            default:
              results = [await r.cancel()]
          }
          const wins = results.filter((s) => s.settled)
          assert.equal(wins.length, 1, `call ${i}: exactly one settlement took effect`)
          if (results.length === 2) settledTwice++
          charged += micro(wins[0]!.chargedUsd)
          return 'done'
        }),
      )
      assert.ok(
        refused > 0 && admitted > 0,
        `${admitted} admitted, ${refused} refused: the limit was reached`,
      )
      assert.equal(outcomes.length, 400)
      assert.ok(settledTwice > 0)
      const [user, global] = await budgets[0]!.usage({ user: 'u' })
      assert.equal(micro(user!.spentUsd), charged, 'spent is exactly what the settlements charged')
      assert.equal(micro(global!.spentUsd), charged)
      assert.equal(user!.reservedUsd, 0)
      assert.equal(user!.reservedTokens, 0)
      assert.ok(user!.remainingUsd! >= 0)
      const stats = budgets.map((b) => b.stats())
      assert.equal(
        stats.reduce((n, s) => n + s.settled, 0),
        admitted,
      )
      assert.equal(
        stats.reduce((n, s) => n + micro(s.chargedUsd), 0),
        charged,
      )
      for (const b of budgets) await b.close()
    })
  })
}

suite('memory backend', async () => ({
  valkits: [createValkit({ env: {}, logger: false })],
  cleanup: async () => {},
}))

for (const engine of testEngines()) {
  suite(`${engine}, 4 connections`, async () => {
    const server: ServerHandle = await startServer({ engine })
    const prefix = `t-rlb-${randomBytes(4).toString('hex')}`
    const valkits = Array.from({ length: 4 }, () =>
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
