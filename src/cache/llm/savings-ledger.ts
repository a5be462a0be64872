import type { LlmCacheMetrics } from './llm-cache-metrics.js'
import type { LlmCacheStats, LlmModelSavings } from './llm-cache-types.js'
import type { PriceTable } from './pricing.js'
import type { LlmUsage } from './read-response.js'

/** Distinct models tracked in `byModel`; beyond, savings go to `(other)`. */
const MAX_MODELS = 200

interface Savings {
  hits: number
  inputTokens: number
  outputTokens: number
  costUsd: number | undefined
}

/**
 * Tokens and dollars saved by cache hits, in total and by model, mirrored on the metrics.
 *
 * @internal
 */
export class SavingsLedger {
  private inputSaved = 0
  private outputSaved = 0
  private costSavedUsd = 0
  private unpricedHits = 0
  private readonly byModel = new Map<string, Savings>()

  constructor(
    private readonly prices: PriceTable,
    private readonly metrics: LlmCacheMetrics,
  ) {}

  /** Records one hit of an answer by `model`; returns the dollars saved, `undefined` when unknown. */
  record(model: string, usage: LlmUsage | undefined): number | undefined {
    const savings = this.modelSavings(model)
    savings.hits++
    const cost =
      usage === undefined ? undefined : this.prices.costOf(model, usage.inputTokens, usage.outputTokens)
    if (cost === undefined) this.unpricedHits++
    if (usage === undefined) return undefined
    this.inputSaved += usage.inputTokens
    this.outputSaved += usage.outputTokens
    savings.inputTokens += usage.inputTokens
    savings.outputTokens += usage.outputTokens
    this.metrics.inputSaved.inc(usage.inputTokens)
    this.metrics.outputSaved.inc(usage.outputTokens)
    if (cost === undefined) return undefined
    this.costSavedUsd += cost
    savings.costUsd = (savings.costUsd ?? 0) + cost
    this.metrics.costSaved.inc(cost)
    return cost
  }

  stats(): Pick<LlmCacheStats, 'tokensSaved' | 'costSavedUsd' | 'unpricedHits' | 'byModel'> {
    const byModel: Record<string, LlmModelSavings> = {}
    for (const [model, s] of this.byModel) byModel[model] = { ...s }
    return {
      tokensSaved: { input: this.inputSaved, output: this.outputSaved },
      costSavedUsd: this.costSavedUsd,
      unpricedHits: this.unpricedHits,
      byModel,
    }
  }

  private modelSavings(model: string): Savings {
    let savings = this.byModel.get(model)
    if (savings !== undefined) return savings
    const name = this.byModel.size < MAX_MODELS ? model : '(other)'
    savings = this.byModel.get(name)
    if (savings === undefined) {
      savings = { hits: 0, inputTokens: 0, outputTokens: 0, costUsd: undefined }
      this.byModel.set(name, savings)
    }
    return savings
  }
}
