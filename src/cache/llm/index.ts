/**
 * LLM response caching on top of a valkit cache: keys from a SHA-256 of the normalized request,
 * coalesced concurrent calls, streams cached as their final text, tokens and dollars saved.
 *
 * @packageDocumentation
 */
export { createLlmCache } from './create-llm-cache.js'
export {
  LLM_CACHE_DEFAULTS,
  isDeterministic,
  resolveLlmCacheOptions,
  type LlmCacheOptions,
  type LlmCachePolicy,
  type ResolvedLlmCacheOptions,
} from './llm-cache-options.js'
export type {
  LlmCache,
  LlmCacheStats,
  LlmCallOptions,
  LlmCompletion,
  LlmModelSavings,
  LlmStreamEvent,
} from './llm-cache-types.js'
export {
  normalizeLlmRequest,
  type NormalizeLlmRequestOptions,
  type NormalizedLlmRequest,
} from './normalize-request.js'
export { LLM_KEY_VERSION, hashNormalizedRequest, llmRequestKey } from './request-key.js'
export { canonicalJson } from './canonical-json.js'
export { createPriceTable, type LlmPrice, type LlmPricing, type PriceTable } from './pricing.js'
export { readLlmResponse, readLlmUsage, type LlmResponseInfo, type LlmUsage } from './read-response.js'
export { readLlmChunk, type LlmChunkInfo } from './read-chunk.js'
