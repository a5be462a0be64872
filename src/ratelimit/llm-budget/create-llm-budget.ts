import type { Valkit } from '../../core/index.js'
import { resolveLlmBudgetOptions, type LlmBudgetOptions } from './budget-options.js'
import type { LlmBudget } from './budget-types.js'
import { ValkitLlmBudget } from './llm-budget.js'

/**
 * Creates money and token budgets for LLM calls: `reserve()` holds the estimated cost on every
 * budget (all-or-nothing, one round trip, server clock) before the call; the reservation's
 * `settle()` charges the actual usage and releases the estimate exactly once (a second settle,
 * or one after `cancel()` or expiry, charges nothing). Amounts are kept in integer
 * micro-dollars and never go negative; periods are hours, UTC days, UTC calendar months or a
 * fixed length. Options are validated once, here (`VALKIT_INVALID_OPTION`).
 *
 * @example
 * ```ts
 * import { createLlmBudget } from 'valkit/ratelimit'
 *
 * const budget = createLlmBudget(valkit, {
 *   prices: { 'gpt-4o': { inputPerMTok: 2.5, outputPerMTok: 10 } },
 *   budgets: {
 *     userDaily: { by: ['tenant', 'user'], period: 'day', limitUsd: 2 },
 *     tenantMonthly: { by: 'tenant', period: 'month', limitUsd: 500 },
 *   },
 *   hashTag: { scope: 'tenant' },
 * })
 * const r = await budget.reserve({ tenant: 'acme', user: '42' }, { model: 'gpt-4o', inputTokens: 900, maxOutputTokens: 500 })
 * if (r.allowed) {
 *   // ... the call ...
 *   await r.settle({ inputTokens: 900, outputTokens: 212 })
 * }
 * ```
 */
export function createLlmBudget(valkit: Valkit, options: LlmBudgetOptions): LlmBudget {
  return new ValkitLlmBudget(valkit, resolveLlmBudgetOptions(options))
}
