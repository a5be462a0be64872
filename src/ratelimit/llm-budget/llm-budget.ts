import { randomBytes } from 'node:crypto'
import { ValkitError, runScript, type Counter, type Valkit } from '../../core/index.js'
import { RESERVE_BUDGET, SETTLE_BUDGET, withKeys } from '../ratelimit-scripts.js'
import { encodeValue, normalizeSubject, type RateLimitSubject } from '../subject.js'
import { BudgetMemory, periodOf } from './budget-memory.js'
import type { ResolvedBudget, ResolvedLlmBudgetOptions } from './budget-options.js'
import type {
  BudgetEstimate,
  BudgetReservation,
  BudgetSettlement,
  BudgetState,
  BudgetUsage,
  LlmBudget,
  LlmBudgetStats,
} from './budget-types.js'

const STORE_ERRORS = new Set([
  'VALKIT_UNAVAILABLE',
  'VALKIT_TIMEOUT',
  'VALKIT_READONLY',
  'VALKIT_SCRIPT',
  'VALKIT_COMMAND',
])
const usd = (micro: number): number => micro / 1e6

function invalid(message: string): ValkitError {
  return new ValkitError('VALKIT_INVALID_ARGUMENT', message, { details: { argument: 'estimate' } })
}

function tokenCount(value: unknown, what: string): number {
  if (value === undefined) return 0
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw invalid(
      `${what} must be a non-negative integer, got ${typeof value === 'number' ? value : typeof value}.`,
    )
  }
  return value
}

/** @internal */
export class ValkitLlmBudget implements LlmBudget {
  readonly name: string
  readonly #valkit: Valkit
  readonly #options: ResolvedLlmBudgetOptions
  readonly #memory: BudgetMemory | null
  readonly #head: string
  readonly #counts = {
    reserved: 0,
    exceeded: 0,
    unavailable: 0,
    settled: 0,
    alreadySettled: 0,
    chargedMicro: 0,
    refundedMicro: 0,
  }
  readonly #reservations: Counter<'name' | 'outcome'>
  readonly #charged: Counter<'name' | 'budget'>
  #closed = false

  constructor(valkit: Valkit, options: ResolvedLlmBudgetOptions) {
    this.#valkit = valkit
    this.#options = options
    this.name = options.name
    this.#memory = valkit.config.topology.kind === 'memory' ? new BudgetMemory(100_000) : null
    this.#head = valkit.keys.key('ratelimit', options.name).slice(0, -1)
    this.#reservations = valkit.metrics.counter({
      name: 'ratelimit_budget_reservations_total',
      help: 'LLM budget reservations by outcome (reserved, exceeded, unavailable, unmetered).',
      labelNames: ['name', 'outcome'],
    })
    this.#charged = valkit.metrics.counter({
      name: 'ratelimit_budget_spent_usd_total',
      help: 'Dollars charged to each LLM budget by settled calls (this instance).',
      labelNames: ['name', 'budget'],
    })
  }

  costOf(
    model: string,
    usage: { inputTokens: number; outputTokens: number; cachedInputTokens?: number },
  ): number {
    return usd(this.#microCost(model, usage.inputTokens, usage.outputTokens, usage.cachedInputTokens))
  }

  #microCost(model: string, input: number, output: number, cached: number | undefined): number {
    const price = this.#options.prices.get(model)
    if (price === undefined) {
      throw invalid(`No price for model ${JSON.stringify(model)}; add it to \`prices\` or pass { costUsd }.`)
    }
    const i = tokenCount(input, 'inputTokens')
    const o = tokenCount(output, 'output tokens')
    const c = tokenCount(cached, 'cachedInputTokens')
    // $ per million tokens is µ$ per token.
    return Math.ceil(i * price.input + o * price.output + c * price.cached)
  }

  #estimate(estimate: BudgetEstimate): { micro: number; tokens: number; model: string | null } {
    if (typeof estimate !== 'object' || estimate === null)
      throw invalid(
        'reserve(subject, estimate) needs { model, inputTokens, maxOutputTokens } or { costUsd }.',
      )
    if ('costUsd' in estimate) {
      if (
        typeof estimate.costUsd !== 'number' ||
        !(estimate.costUsd >= 0) ||
        !Number.isFinite(estimate.costUsd)
      ) {
        throw invalid(`costUsd must be a non-negative number, got ${String(estimate.costUsd)}.`)
      }
      return {
        micro: Math.ceil(estimate.costUsd * 1e6),
        tokens: tokenCount(estimate.tokens, 'tokens'),
        model: null,
      }
    }
    const micro = this.#microCost(
      estimate.model,
      estimate.inputTokens,
      estimate.maxOutputTokens,
      estimate.cachedInputTokens,
    )
    const tokens =
      tokenCount(estimate.inputTokens, 'inputTokens') +
      tokenCount(estimate.maxOutputTokens, 'maxOutputTokens') +
      tokenCount(estimate.cachedInputTokens, 'cachedInputTokens')
    return { micro, tokens, model: estimate.model }
  }

  #keys(subject: Readonly<Record<string, string>>): string[] {
    const tag = this.#options.tag
    const keys: string[] = []
    for (const b of this.#options.budgets) {
      const part =
        b.by.length === 0
          ? '*'
          : b.by
              .map((scope) => {
                const value = subject[scope]
                if (value === undefined) {
                  throw new ValkitError(
                    'VALKIT_INVALID_ARGUMENT',
                    `Budget "${b.name}" is keyed by \`${scope}\`, but the subject has no \`${scope}\`.`,
                    {
                      details: { argument: 'subject', budget: b.name, scope },
                    },
                  )
                }
                return `${scope}=${encodeValue(value)}`
              })
              .join(',')
      let base: string
      if (tag.kind === 'subject') base = `${this.#head}:${part}}:b:${b.name}`
      else if (tag.kind === 'limiter') base = `${this.#head}}:b:${b.name}:${part}`
      else base = `${this.#head}:${tag.scope}=${encodeValue(subject[tag.scope]!)}}:b:${b.name}:${part}`
      keys.push(base, `${base}:q`)
    }
    return keys
  }

  #states(reply: readonly number[], offset: number): BudgetState[] {
    const now = Number(reply[0])
    return this.#options.budgets.map((b: ResolvedBudget, i) => {
      const o = offset + i * 6
      const s = Number(reply[o + 1])
      const r = Number(reply[o + 2])
      const st = Number(reply[o + 3])
      const rt = Number(reply[o + 4])
      return {
        budget: b.name,
        limitUsd: b.limitMicroUsd < 0 ? null : usd(b.limitMicroUsd),
        spentUsd: usd(s),
        reservedUsd: usd(r),
        remainingUsd: b.limitMicroUsd < 0 ? null : usd(Math.max(0, b.limitMicroUsd - s - r)),
        limitTokens: b.limitTokens < 0 ? null : b.limitTokens,
        spentTokens: st,
        reservedTokens: rt,
        remainingTokens: b.limitTokens < 0 ? null : Math.max(0, b.limitTokens - st - rt),
        resetAt: periodOf(now, b.periodMs)[1],
      }
    })
  }

  async #run(script: 'reserve' | 'settle', keys: string[], args: (string | number)[]): Promise<number[]> {
    if (this.#memory !== null)
      return script === 'reserve' ? this.#memory.reserve(keys, args) : this.#memory.settle(keys, args)
    if (this.#valkit.supervisor.backend !== 'redis') {
      throw new ValkitError(
        'VALKIT_UNAVAILABLE',
        `Redis/Valkey is not in use (supervisor: ${this.#valkit.supervisor.state}).`,
      )
    }
    const s = script === 'reserve' ? RESERVE_BUDGET : SETTLE_BUDGET
    return (await runScript(this.#valkit.connection, withKeys(s, keys.length), keys, args)) as number[]
  }

  #reserveArgs(id: string, micro: number, tokens: number): (string | number)[] {
    const o = this.#options
    const args: (string | number)[] = [o.budgets.length, id, o.reservationTtlMs, o.chargeExpired ? 1 : 0]
    for (const b of o.budgets) args.push(b.periodMs, b.limitMicroUsd, b.limitTokens, micro, tokens)
    return args
  }

  async reserve(subject: RateLimitSubject, estimate: BudgetEstimate): Promise<BudgetReservation> {
    if (this.#closed) throw new ValkitError('VALKIT_CLOSED', 'This LLM budget is closed.')
    const s = normalizeSubject(subject)
    const est = this.#estimate(estimate)
    const keys = this.#keys(s)
    const id = randomBytes(9).toString('base64url')
    let reply: number[]
    try {
      reply = await this.#run('reserve', keys, this.#reserveArgs(id, est.micro, est.tokens))
    } catch (err) {
      if (
        !(err instanceof ValkitError) ||
        !STORE_ERRORS.has(err.code) ||
        this.#options.whenUnavailable === 'throw'
      )
        throw err
      const allowed = this.#options.whenUnavailable === 'allow'
      this.#count(allowed ? 'unmetered' : 'unavailable')
      return this.#reservation(id, keys, est, allowed ? 'unmetered' : 'unavailable', null, [], err)
    }
    const admitted = Number(reply[1]) === 1
    let refusing: string | null = null
    if (!admitted) {
      this.#options.budgets.forEach((b, i) => {
        if (refusing === null && Number(reply[2 + i * 6]) < 0) refusing = b.name
      })
    }
    this.#count(admitted ? 'reserved' : 'exceeded')
    return this.#reservation(
      id,
      keys,
      est,
      admitted ? 'reserved' : 'exceeded',
      refusing,
      this.#states(reply, 2),
      null,
    )
  }

  #count(outcome: 'reserved' | 'exceeded' | 'unavailable' | 'unmetered'): void {
    if (outcome === 'reserved') this.#counts.reserved++
    else if (outcome === 'exceeded') this.#counts.exceeded++
    else this.#counts.unavailable++
    this.#reservations.labels({ name: this.name, outcome }).inc()
  }

  #reservation(
    id: string,
    keys: string[],
    est: { micro: number; tokens: number; model: string | null },
    outcome: BudgetReservation['outcome'],
    budget: string | null,
    budgets: BudgetState[],
    error: ValkitError | null,
  ): BudgetReservation {
    const held = outcome === 'reserved'
    const settle = async (micro: number, tokens: number): Promise<BudgetSettlement> => {
      const estimateUsd = usd(est.micro)
      if (!held) return { settled: false, estimateUsd, chargedUsd: 0, differenceUsd: 0, budgets: [] }
      const args: (string | number)[] = [this.#options.budgets.length, id]
      for (const b of this.#options.budgets) args.push(b.periodMs, micro, tokens)
      const reply = await this.#run('settle', keys, args)
      const settled = this.#options.budgets.some((_, i) => Number(reply[1 + i * 6]) === 1)
      if (!settled) {
        this.#counts.alreadySettled++
        return {
          settled: false,
          estimateUsd,
          chargedUsd: 0,
          differenceUsd: 0,
          budgets: this.#states(reply, 1),
        }
      }
      this.#counts.settled++
      this.#counts.chargedMicro += micro
      this.#counts.refundedMicro += Math.max(0, est.micro - micro)
      if (micro > 0)
        for (const b of this.#options.budgets)
          this.#charged.labels({ name: this.name, budget: b.name }).inc(usd(micro))
      return {
        settled: true,
        estimateUsd,
        chargedUsd: usd(micro),
        differenceUsd: usd(micro - est.micro),
        budgets: this.#states(reply, 1),
      }
    }
    return {
      allowed: held || outcome === 'unmetered',
      outcome,
      budget,
      id,
      estimateUsd: usd(est.micro),
      estimateTokens: est.tokens,
      budgets,
      error,
      settle: async (usage: BudgetUsage) => {
        if (typeof usage !== 'object' || usage === null)
          throw invalid('settle(usage) needs { inputTokens, outputTokens } or { costUsd }.')
        if ('costUsd' in usage) {
          if (typeof usage.costUsd !== 'number' || !(usage.costUsd >= 0) || !Number.isFinite(usage.costUsd)) {
            throw invalid(`costUsd must be a non-negative number, got ${String(usage.costUsd)}.`)
          }
          return settle(Math.ceil(usage.costUsd * 1e6), tokenCount(usage.tokens, 'tokens'))
        }
        const model = usage.model ?? est.model
        if (model === null)
          throw invalid(
            'settle({ inputTokens, outputTokens }) needs a model when the reservation gave a cost.',
          )
        const micro = this.#microCost(model, usage.inputTokens, usage.outputTokens, usage.cachedInputTokens)
        const tokens =
          tokenCount(usage.inputTokens, 'inputTokens') +
          tokenCount(usage.outputTokens, 'outputTokens') +
          tokenCount(usage.cachedInputTokens, 'cachedInputTokens')
        return settle(micro, tokens)
      },
      cancel: () => settle(0, 0),
    }
  }

  async usage(subject: RateLimitSubject): Promise<readonly BudgetState[]> {
    const keys = this.#keys(normalizeSubject(subject))
    return this.#states(await this.#run('reserve', keys, this.#reserveArgs('', 0, 0)), 2)
  }

  stats(): LlmBudgetStats {
    const c = this.#counts
    return {
      reserved: c.reserved,
      exceeded: c.exceeded,
      unavailable: c.unavailable,
      settled: c.settled,
      alreadySettled: c.alreadySettled,
      chargedUsd: usd(c.chargedMicro),
      refundedUsd: usd(c.refundedMicro),
    }
  }

  async close(): Promise<void> {
    this.#closed = true
    this.#memory?.close()
  }
}
