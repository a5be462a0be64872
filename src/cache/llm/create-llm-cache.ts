import { ValkitError } from '../../core/index.js'
import type { Cache } from '../cache-types.js'
import { LlmCacheImpl } from './llm-cache.js'
import { resolveLlmCacheOptions, type LlmCacheOptions } from './llm-cache-options.js'
import type { LlmCache } from './llm-cache-types.js'

/**
 * Creates an LLM response cache on a valkit {@link Cache} (its L1, L2, tags, coalescing and
 * outage behaviour apply: while Redis is down answers are cached in L1 and the model is called
 * on a miss; the cache never fails a model call).
 *
 * The key of a request is a SHA-256 of its normalized form (model, messages, and every parameter
 * that changes the answer; never `user`, `stream` or credentials), so neither the prompt nor an
 * API key reaches a Redis key. By default only requests with `temperature: 0` are cached.
 * Options are validated here (`VALKIT_INVALID_OPTION` naming the path, e.g. `llmCache.ttl`).
 *
 * @example
 * ```ts
 * import { createCache, createLlmCache } from 'valkit/cache'
 *
 * const llm = createLlmCache(createCache(valkit, { namespace: 'llm' }), {
 *   ttl: '6h',
 *   metrics: valkit.metrics,
 *   pricing: { 'gpt-4o*': { inputUsdPerMillion: 2.5, outputUsdPerMillion: 10 } },
 * })
 * const { response, cached } = await llm.complete(
 *   { model: 'gpt-4o', temperature: 0, messages: [{ role: 'user', content: 'Summarize: ...' }] },
 *   (request) => openai.chat.completions.create(request),
 *   { tags: [`tenant:${tenantId}`] },
 * )
 * ```
 */
export function createLlmCache(cache: Cache, options: LlmCacheOptions = {}): LlmCache {
  if (
    typeof cache !== 'object' ||
    cache === null ||
    typeof cache.getOrSet !== 'function' ||
    typeof cache.getMany !== 'function'
  ) {
    throw new ValkitError(
      'VALKIT_INVALID_ARGUMENT',
      'createLlmCache() needs a cache made by createCache(valkit, options) as its first argument.',
    )
  }
  return new LlmCacheImpl(cache, resolveLlmCacheOptions(options))
}
