import { invalidOption } from '../../core/index.js'

/** The price of one model (family), in US dollars per million tokens. */
export interface LlmPrice {
  /** USD per 1,000,000 input (prompt) tokens. */
  readonly inputUsdPerMillion: number
  /** USD per 1,000,000 output (completion) tokens. */
  readonly outputUsdPerMillion: number
}

/**
 * Prices by model name. A key is an exact model name (`'gpt-4o-2024-08-06'`) or a pattern with
 * `*` wildcards (`'gpt-4o*'`, `'claude-*-sonnet*'`, `'*'`). Matching ignores case.
 */
export type LlmPricing = Readonly<Record<string, LlmPrice>>

/** Looks up the price of a model. */
export interface PriceTable {
  /**
   * The price of `model`: an exact entry first, else the matching pattern with the most
   * literal characters (so `'gpt-4o-mini*'` wins over `'gpt-4o*'` for `gpt-4o-mini`), else `undefined`.
   */
  priceOf(model: string): LlmPrice | undefined
  /** Dollars for these tokens of `model`; `undefined` when the model has no price. */
  costOf(model: string, inputTokens: number, outputTokens: number): number | undefined
}

interface Pattern {
  readonly regex: RegExp
  readonly literal: number
  readonly price: LlmPrice
}

function checkPrice(value: unknown, path: string): LlmPrice {
  if (typeof value !== 'object' || value === null) {
    throw invalidOption(
      path,
      `got ${value === null ? 'null' : typeof value}`,
      '{ inputUsdPerMillion, outputUsdPerMillion }',
    )
  }
  const price = value as Partial<LlmPrice>
  for (const field of ['inputUsdPerMillion', 'outputUsdPerMillion'] as const) {
    const n = price[field]
    if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) {
      throw invalidOption(
        `${path}.${field}`,
        `got ${typeof n === 'number' ? n : typeof n}`,
        'a finite number >= 0 (USD per 1M tokens)',
      )
    }
  }
  return Object.freeze({
    inputUsdPerMillion: price.inputUsdPerMillion!,
    outputUsdPerMillion: price.outputUsdPerMillion!,
  })
}

/**
 * Builds a price table from a pricing map, validating it once.
 *
 * @throws ValkitError `VALKIT_INVALID_OPTION` naming the entry (`llmCache.pricing["gpt-4o"].inputUsdPerMillion`).
 *
 * @example
 * ```ts
 * const prices = createPriceTable({
 *   'gpt-4o*': { inputUsdPerMillion: 2.5, outputUsdPerMillion: 10 },
 *   'gpt-4o-mini*': { inputUsdPerMillion: 0.15, outputUsdPerMillion: 0.6 },
 * })
 * prices.costOf('gpt-4o-mini-2024-07-18', 1000, 500) // 0.00045
 * ```
 */
export function createPriceTable(pricing: LlmPricing = {}, path = 'pricing'): PriceTable {
  if (typeof pricing !== 'object' || pricing === null || Array.isArray(pricing)) {
    throw invalidOption(
      path,
      `got ${pricing === null ? 'null' : typeof pricing}`,
      'an object of model name (or pattern) -> price',
    )
  }
  const exact = new Map<string, LlmPrice>()
  const patterns: Pattern[] = []
  for (const [name, value] of Object.entries(pricing)) {
    const entryPath = `${path}[${JSON.stringify(name)}]`
    if (name.length === 0)
      throw invalidOption(entryPath, 'the model name is empty', 'a model name or a pattern with *')
    const price = checkPrice(value, entryPath)
    const lower = name.toLowerCase()
    if (!lower.includes('*')) {
      exact.set(lower, price)
      continue
    }
    const source = lower
      .split('*')
      .map((piece) => piece.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')
    patterns.push({ regex: new RegExp(`^${source}$`), literal: lower.replaceAll('*', '').length, price })
  }
  patterns.sort((a, b) => b.literal - a.literal)
  const memo = new Map<string, LlmPrice | null>()

  function priceOf(model: string): LlmPrice | undefined {
    const lower = model.toLowerCase()
    const known = memo.get(lower)
    if (known !== undefined) return known ?? undefined
    const found = exact.get(lower) ?? patterns.find((p) => p.regex.test(lower))?.price ?? null
    if (memo.size < 1000) memo.set(lower, found)
    return found ?? undefined
  }

  return Object.freeze({
    priceOf,
    costOf(model: string, inputTokens: number, outputTokens: number): number | undefined {
      const price = priceOf(model)
      if (price === undefined) return undefined
      return (inputTokens * price.inputUsdPerMillion + outputTokens * price.outputUsdPerMillion) / 1_000_000
    },
  })
}
