import type { LlmUsage } from './read-response.js'

/** What one LLM cache entry holds (JSON through the cache's codec). @internal */
export interface StoredAnswer {
  readonly v: 1
  /** The complete response (`complete()` only). */
  readonly response?: unknown
  /** The answer's text, when it is text only. */
  readonly text?: string
  readonly usage?: LlmUsage
  readonly model: string
  readonly createdAt: number
}

/** Whether a cached value is an answer in this layout. @internal */
export function isStored(value: unknown): value is StoredAnswer {
  if (typeof value !== 'object' || value === null) return false
  const v = value as Partial<StoredAnswer>
  return v.v === 1 && typeof v.model === 'string' && typeof v.createdAt === 'number'
}

/** A response that JSON cannot hold: served to the callers of this flight, not cached. @internal */
export class NotStorable extends Error {
  constructor(readonly response: unknown) {
    super('The model response cannot be stored as JSON.')
  }
}

/** The JSON copy the cache will hold (what an L2 reader would get). @internal */
export function plainCopy(response: unknown): unknown {
  let text: string | undefined
  try {
    text = JSON.stringify(response)
  } catch {
    text = undefined
  }
  if (text === undefined) throw new NotStorable(response)
  return JSON.parse(text) as unknown
}

/** A complete usage from a partial one; `undefined` when it holds nothing. @internal */
export function usageOf(u: Partial<LlmUsage> | undefined): LlmUsage | undefined {
  if (u === undefined || (u.inputTokens === undefined && u.outputTokens === undefined)) return undefined
  return { inputTokens: u.inputTokens ?? 0, outputTokens: u.outputTokens ?? 0 }
}
