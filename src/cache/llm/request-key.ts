import { createHash } from 'node:crypto'
import { canonicalJson } from './canonical-json.js'
import {
  normalizeLlmRequest,
  type NormalizeLlmRequestOptions,
  type NormalizedLlmRequest,
} from './normalize-request.js'

/**
 * Version of the normalization and of the stored entry layout; part of every hash, so a change
 * of either starts a fresh set of keys instead of misreading old entries.
 *
 * @example
 * ```ts
 * LLM_KEY_VERSION // 1
 * ```
 */
export const LLM_KEY_VERSION = 1

/**
 * The cache key of a normalized request: SHA-256 (hex) of its canonical JSON, prefixed by the key
 * version. The request itself (prompt, parameters) never appears in a Redis key.
 *
 * @example
 * ```ts
 * hashNormalizedRequest({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hi' }] }) // '9f2c…' (64 hex digits)
 * ```
 */
export function hashNormalizedRequest(normalized: NormalizedLlmRequest): string {
  return createHash('sha256')
    .update(`valkit-llm-v${LLM_KEY_VERSION}\n`)
    .update(canonicalJson(normalized))
    .digest('hex')
}

/**
 * The cache key (64 hex digits) of an LLM request under the built-in normalization: equal for
 * requests that mean the same (key order, `stream`, `user`, API keys...), different as soon as
 * anything that changes the answer differs. Safe to log.
 *
 * @throws ValkitError `VALKIT_INVALID_ARGUMENT` for a request without a string `model`, or one
 *   holding values JSON cannot represent (BigInt, cycles, non-finite numbers).
 *
 * @example
 * ```ts
 * const a = llmRequestKey({ model: 'gpt-4o', temperature: 0, messages, user: 'u-1' })
 * const b = llmRequestKey({ messages, temperature: 0, model: 'gpt-4o', stream: true })
 * a === b // true
 * ```
 */
export function llmRequestKey(request: unknown, options?: NormalizeLlmRequestOptions): string {
  return hashNormalizedRequest(normalizeLlmRequest(request, options))
}
