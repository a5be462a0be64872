import type { ValkitError } from '../../core/index.js'
import type { RateLimitSubject } from '../subject.js'

/**
 * What a call is expected to use: from a model's prices, or a cost given directly.
 *
 * @example
 * ```ts
 * await budget.reserve({ user }, { model: 'gpt-4o', inputTokens: 1200, maxOutputTokens: 800 })
 * await budget.reserve({ user }, { costUsd: 0.02 })
 * ```
 */
export type BudgetEstimate =
  | {
      /** A model of the price table. */
      readonly model: string
      readonly inputTokens: number
      /** The most the call may generate (its `max_tokens`). */
      readonly maxOutputTokens: number
      readonly cachedInputTokens?: number
    }
  | { readonly costUsd: number; readonly tokens?: number }

/**
 * What a call actually used: tokens (priced with the reservation's model unless `model` is given), or a cost.
 *
 * @example
 * ```ts
 * await reservation.settle({ inputTokens: 1200, outputTokens: 311 })
 * ```
 */
export type BudgetUsage =
  | {
      readonly model?: string
      readonly inputTokens: number
      readonly outputTokens: number
      readonly cachedInputTokens?: number
    }
  | { readonly costUsd: number; readonly tokens?: number }

/**
 * One budget's ledger for a subject, in its current period.
 *
 * @example
 * ```ts
 * const [daily] = await budget.usage({ user })
 * console.log(`${daily.spentUsd} of ${daily.limitUsd} spent, resets ${new Date(daily.resetAt)}`)
 * ```
 */
export interface BudgetState {
  readonly budget: string
  /** `null` when the budget has no money limit. */
  readonly limitUsd: number | null
  readonly spentUsd: number
  /** Held by reservations not settled yet. */
  readonly reservedUsd: number
  /** `max(0, limit - spent - reserved)`; never negative. `null` without a money limit. */
  readonly remainingUsd: number | null
  readonly limitTokens: number | null
  readonly spentTokens: number
  readonly reservedTokens: number
  readonly remainingTokens: number | null
  /** When the period ends (ms since the epoch, server clock). */
  readonly resetAt: number
}

/**
 * The outcome of settling (or cancelling) a reservation.
 *
 * @example
 * ```ts
 * const s = await r.settle(usage)
 * if (s.settled && s.differenceUsd < 0) console.log(`refunded ${-s.differenceUsd}`)
 * ```
 */
export interface BudgetSettlement {
  /** `false` when the reservation was already settled, cancelled or had expired: nothing was charged now. */
  readonly settled: boolean
  readonly estimateUsd: number
  /** What was charged now (0 when not settled). */
  readonly chargedUsd: number
  /** `chargedUsd - estimateUsd`: negative is a refund of unused reservation. */
  readonly differenceUsd: number
  readonly budgets: readonly BudgetState[]
}

/**
 * A reservation made before an LLM call. Settle it with the actual usage, or cancel it.
 *
 * @example
 * ```ts
 * const r = await budget.reserve({ user }, estimate)
 * if (!r.allowed) throw new BudgetExceeded(r.budget)
 * ```
 */
export interface BudgetReservation {
  /** Every budget had room and holds the estimate now. */
  readonly allowed: boolean
  /** `'exceeded'`: a budget has no room (nothing was reserved); `'unavailable'`: the store could not answer and `whenUnavailable` is `'deny'`. */
  readonly outcome: 'reserved' | 'exceeded' | 'unavailable' | 'unmetered'
  /** The budget without room, or null. */
  readonly budget: string | null
  readonly id: string
  readonly estimateUsd: number
  readonly estimateTokens: number
  /** The budgets as the reservation left them. */
  readonly budgets: readonly BudgetState[]
  /** The store error behind `unavailable` / `unmetered`. */
  readonly error: ValkitError | null
  /**
   * Charges the actual usage and releases the estimate, exactly once: a second call (or one
   * after `cancel()` or expiry) charges nothing and resolves `settled: false`.
   */
  settle(usage: BudgetUsage): Promise<BudgetSettlement>
  /** Releases the estimate without charging (the call did not happen). */
  cancel(): Promise<BudgetSettlement>
}

/**
 * Money and token budgets for LLM calls: reserve the estimate before the call, settle the actual
 * usage after it (a refund when it cost less, the difference when more), per user, tenant or
 * anything else, per hour, day or calendar month.
 *
 * @example
 * ```ts
 * const r = await budget.reserve({ user, tenant }, { model: 'gpt-4o', inputTokens: 1200, maxOutputTokens: 800 })
 * if (!r.allowed) return reply.code(402).send({ error: 'budget_exceeded', budget: r.budget })
 * try {
 *   const answer = await openai.chat.completions.create({ model: 'gpt-4o', max_tokens: 800, messages })
 *   await r.settle({ inputTokens: answer.usage.prompt_tokens, outputTokens: answer.usage.completion_tokens })
 * } catch (err) {
 *   await r.cancel()
 *   throw err
 * }
 * ```
 */
export interface LlmBudget {
  readonly name: string
  /** Reserves the estimate on every budget, all-or-nothing, in one round trip. */
  reserve(subject: RateLimitSubject, estimate: BudgetEstimate): Promise<BudgetReservation>
  /** The subject's ledgers now (settling nothing). */
  usage(subject: RateLimitSubject): Promise<readonly BudgetState[]>
  /** What a usage costs with the price table, in dollars. */
  costOf(
    model: string,
    usage: { inputTokens: number; outputTokens: number; cachedInputTokens?: number },
  ): number
  stats(): LlmBudgetStats
  close(): Promise<void>
}

/**
 * Counters of one budget set, as plain data.
 *
 * @example
 * ```ts
 * const { chargedUsd, refundedUsd, exceeded } = budget.stats()
 * ```
 */
export interface LlmBudgetStats {
  readonly reserved: number
  readonly exceeded: number
  readonly unavailable: number
  readonly settled: number
  /** Settle or cancel calls that found their reservation already gone (nothing charged). */
  readonly alreadySettled: number
  /** Dollars charged by this instance's settlements. */
  readonly chargedUsd: number
  /** Dollars of estimates released unused by this instance's settlements. */
  readonly refundedUsd: number
}
