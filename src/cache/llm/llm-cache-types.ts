import type { Duration } from '../../core/index.js'
import type { LlmUsage } from './read-response.js'

/** Options of one `complete()` / `stream()` call. */
export interface LlmCallOptions {
  /**
   * Time to live of this answer (milliseconds or `'30s'`); `> 0`.
   * @defaultValue the LLM cache's `ttl`
   */
  readonly ttl?: Duration
  /**
   * Tags of this answer besides the model's and the configured ones (e.g. `tenant:42`), for
   * `invalidateTags()`.
   * @defaultValue none
   */
  readonly tags?: readonly string[]
  /**
   * `true`: cache this request whatever the policy says; `false`: call the model and cache nothing.
   * @defaultValue the `cacheWhen` policy
   */
  readonly cacheable?: boolean
}

/** The result of `complete()`: the response, and what the cache knows about it. */
export interface LlmCompletion<R> {
  /** The model's response: the one `call` returned, or a copy of the cached one. */
  readonly response: R
  /** `true` when the model was not called for this request (a cache hit, or a concurrent identical call joined). */
  readonly cached: boolean
  /** The answer's text, when the response is text only. */
  readonly text: string | undefined
  /** Tokens of the model call that produced the response, when it reported them. */
  readonly usage: LlmUsage | undefined
  /** The model that answered (the response's `model`, else the requested one). */
  readonly model: string
  /** When the model produced the response (Unix ms). */
  readonly createdAt: number
  /** Dollars this call saved: 0 on a miss, `undefined` on a hit of a model without a price. */
  readonly savedUsd: number | undefined
  /** The cache key of the request (64 hex digits; safe to log). */
  readonly key: string
}

/** One event of `stream()`. */
export interface LlmStreamEvent<C> {
  /** Text this event adds to the answer (`''` for chunks without text, such as a usage chunk). */
  readonly text: string
  /** The provider's chunk, passed through as it arrived; `undefined` when served from the cache. */
  readonly chunk: C | undefined
  /** `true` when the answer comes from the cache (then one event holds the whole text). */
  readonly cached: boolean
}

/** Savings of one model, in {@link LlmCacheStats.byModel}. */
export interface LlmModelSavings {
  readonly hits: number
  readonly inputTokens: number
  readonly outputTokens: number
  /** `undefined` when the model has no price. */
  readonly costUsd: number | undefined
}

/** What `stats()` returns: counters since the LLM cache was created. */
export interface LlmCacheStats {
  /** Calls answered without calling the model (cache hits and joined concurrent calls). */
  readonly hits: number
  /** Calls that called the model and cached its answer (or tried to). */
  readonly misses: number
  /** Calls not cacheable by policy: the model was called, nothing was cached. */
  readonly bypassed: number
  /** Streams passed through but not cached: failed, stopped early by the consumer, or not text only. */
  readonly streamsDiscarded: number
  /** Tokens the model did not process thanks to hits. */
  readonly tokensSaved: { readonly input: number; readonly output: number }
  /** Dollars saved by hits of priced models. */
  readonly costSavedUsd: number
  /** Hits whose dollars are unknown: the model has no price, or the cached answer reported no usage. */
  readonly unpricedHits: number
  /** Savings by model (the model that produced the cached answer). */
  readonly byModel: Readonly<Record<string, LlmModelSavings>>
}

/**
 * A cache of LLM answers on top of a valkit {@link Cache}: keyed by a SHA-256 of the normalized
 * request, coalescing concurrent identical calls, caching streams as their final text, and
 * counting the tokens and dollars saved. Made by `createLlmCache`.
 */
export interface LlmCache {
  /**
   * The cached answer, or `call(request)`'s, cached for next time. Concurrent identical calls
   * share one model call (in this process, and across instances through the cache's lease). An error of `call` is not cached and rejects every caller
   * sharing that call. A request not cacheable by policy goes straight to `call`.
   * @throws ValkitError `VALKIT_INVALID_ARGUMENT` for a request without a string `model` (built-in normalization).
   *
   * @example
   * ```ts
   * const { response, cached } = await llm.complete(
   *   { model: 'gpt-4o', temperature: 0, messages },
   *   (request) => openai.chat.completions.create(request),
   * )
   * ```
   */
  complete<Q, R>(
    request: Q,
    call: (request: Q) => R | Promise<R>,
    options?: LlmCallOptions,
  ): Promise<LlmCompletion<R>>
  /**
   * A stream of the answer. On a miss the provider's chunks pass through as they arrive, with
   * their text; the final text (and usage, if a chunk reported it) is cached only when the
   * stream ends normally — not when it fails, not when the consumer stops early (`break`), and
   * not when it carried tool calls or other non-text output. On a hit one event holds the whole
   * cached text (also an answer cached by `complete()`, when it is text only). Identical streams
   * are not coalesced. Errors (also invalid requests) surface in the iteration.
   *
   * @example
   * ```ts
   * const events = llm.stream({ model: 'gpt-4o', temperature: 0, messages }, (request) =>
   *   openai.chat.completions.create({ ...request, stream: true, stream_options: { include_usage: true } }),
   * )
   * for await (const { text } of events) res.write(text)
   * ```
   */
  stream<Q, C>(
    request: Q,
    call: (request: Q) => AsyncIterable<C> | Promise<AsyncIterable<C>>,
    options?: LlmCallOptions,
  ): AsyncIterable<LlmStreamEvent<C>>
  /**
   * The cache key of a request (64 hex digits, safe to log).
   *
   * @example
   * ```ts
   * logger.info('llm call', { key: llm.key(request) })
   * ```
   */
  key(request: unknown): string
  /**
   * Whether `complete()` / `stream()` would cache this request under the policy.
   *
   * @example
   * ```ts
   * llm.isCacheable({ model: 'gpt-4o', temperature: 0.7, messages }) // false with the default policy
   * ```
   */
  isCacheable(request: unknown): boolean
  /**
   * Forgets the cached answers of one request (complete and streamed), in every instance.
   *
   * @example
   * ```ts
   * await llm.delete(request) // the next identical call asks the model again
   * ```
   */
  delete(request: unknown): Promise<void>
  /**
   * Forgets every cached answer of a model (the requested model name), in every instance.
   *
   * @example
   * ```ts
   * await llm.invalidateModel('gpt-4o') // e.g. after the provider moved the alias to a new snapshot
   * ```
   */
  invalidateModel(model: string): Promise<void>
  /**
   * Forgets every cached answer carrying one of these tags (per-call or configured tags).
   *
   * @example
   * ```ts
   * await llm.invalidateTags([`tenant:${tenantId}`])
   * ```
   */
  invalidateTags(tags: readonly string[]): Promise<void>
  /**
   * Counters and savings since creation.
   *
   * @example
   * ```ts
   * const { hits, tokensSaved, costSavedUsd } = llm.stats()
   * ```
   */
  stats(): LlmCacheStats
}
