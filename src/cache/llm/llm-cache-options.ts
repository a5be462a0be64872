import { invalidOption, parseDuration, type Duration, type MetricsRegistry } from '../../core/index.js'
import { normalizeLlmRequest, type NormalizedLlmRequest } from './normalize-request.js'
import { createPriceTable, type LlmPricing, type PriceTable } from './pricing.js'
import { readLlmChunk, type LlmChunkInfo } from './read-chunk.js'
import { readLlmResponse, type LlmResponseInfo } from './read-response.js'

/** Which requests are cached: see {@link LlmCacheOptions.cacheWhen}. */
export type LlmCachePolicy = 'deterministic' | 'always' | ((request: NormalizedLlmRequest) => boolean)

/** Options of `createLlmCache`. Resolved once, when the LLM cache is created. */
export interface LlmCacheOptions {
  /**
   * How long a response stays cached (milliseconds or `'30s'`, `'10m'`, `'6h'`); `> 0`.
   * @defaultValue '1h'
   */
  readonly ttl?: Duration
  /**
   * Which requests are cached. `'deterministic'`: only requests with `temperature: 0` (an unset
   * temperature means the provider's default, 1 for OpenAI and Anthropic, so the answer is
   * sampled and a cached one would hide that). `'always'`: every request (a cached answer is then
   * one sample, replayed). A function decides from the normalized request. `complete()` and
   * `stream()` take `cacheable` to override it per call.
   * @defaultValue 'deterministic'
   */
  readonly cacheWhen?: LlmCachePolicy
  /**
   * Tags of every entry besides the model's own (`llm:model:<model>`), for `invalidateTags()`:
   * a list, or a function of the request (e.g. the tenant it carries).
   * @defaultValue none
   */
  readonly tags?:
    readonly string[] | ((request: unknown, normalized: NormalizedLlmRequest) => readonly string[])
  /**
   * Prices per model, USD per million tokens, for the cost saved by hits. Keys are model names
   * or `*` patterns (`'gpt-4o*'`); the most specific match wins; matching ignores case.
   * @defaultValue none (hits count tokens saved, not dollars)
   */
  readonly pricing?: LlmPricing
  /**
   * Turns a request into what the key hashes, for shapes the built-in normalization does not
   * know. Gets the built-in one to build on. Must return an object with a string `model` and
   * leave out credentials and anything else that does not change the answer.
   * @defaultValue the built-in normalization (`normalizeLlmRequest`)
   */
  readonly normalize?: (
    request: unknown,
    builtIn: (request: unknown) => NormalizedLlmRequest,
  ) => NormalizedLlmRequest
  /**
   * Trim text and collapse runs of whitespace before hashing (see `normalizeLlmRequest`).
   * @defaultValue false
   */
  readonly normalizeWhitespace?: boolean
  /**
   * Replace tool call ids by their order of appearance before hashing.
   * @defaultValue true
   */
  readonly renameToolCallIds?: boolean
  /**
   * More top-level request fields that do not change the answer.
   * @defaultValue none (the built-in list: `stream`, `user`, `metadata`, credentials, ...)
   */
  readonly ignoreParams?: readonly string[]
  /**
   * Reads text, usage and model from a complete response.
   * @defaultValue `readLlmResponse` (OpenAI chat and Responses, Anthropic, Vercel AI SDK, strings)
   */
  readonly readResponse?: (response: unknown) => LlmResponseInfo
  /**
   * Reads text, usage and model from one stream chunk.
   * @defaultValue `readLlmChunk` (OpenAI chat and Responses, Anthropic, Vercel AI SDK, strings)
   */
  readonly readChunk?: (chunk: unknown) => LlmChunkInfo
  /**
   * Registry for the `valkit_cache_llm_*` metrics; pass `valkit.metrics` so `/metrics` shows them.
   * @defaultValue none (`stats()` only)
   */
  readonly metrics?: MetricsRegistry
}

/** {@link LlmCacheOptions} after validation, with every default applied. */
export interface ResolvedLlmCacheOptions {
  readonly ttlMs: number
  readonly cacheWhen: (request: NormalizedLlmRequest) => boolean
  readonly tags: (request: unknown, normalized: NormalizedLlmRequest) => readonly string[]
  readonly prices: PriceTable
  readonly normalize: (request: unknown) => NormalizedLlmRequest
  readonly readResponse: (response: unknown) => LlmResponseInfo
  readonly readChunk: (chunk: unknown) => LlmChunkInfo
  readonly metrics: MetricsRegistry | undefined
}

/**
 * Defaults of {@link LlmCacheOptions}.
 *
 * @example
 * ```ts
 * LLM_CACHE_DEFAULTS.ttlMs // 3_600_000 (one hour)
 * ```
 */
export const LLM_CACHE_DEFAULTS = Object.freeze({
  ttlMs: 60 * 60_000,
  cacheWhen: 'deterministic',
  normalizeWhitespace: false,
  renameToolCallIds: true,
})

const NO_TAGS: readonly string[] = Object.freeze([])

/**
 * The built-in `'deterministic'` policy: a request is cached when its temperature is exactly 0.
 * An unset temperature is the provider's default (1 for OpenAI and Anthropic): sampled, not cached.
 *
 * @example
 * ```ts
 * isDeterministic({ model: 'gpt-4o', temperature: 0 }) // true
 * isDeterministic({ model: 'gpt-4o' })                 // false
 * ```
 */
export function isDeterministic(request: NormalizedLlmRequest): boolean {
  return request.temperature === 0
}

function fn<F>(value: unknown, path: string, fallback: F): F {
  if (value === undefined) return fallback
  if (typeof value !== 'function') throw invalidOption(path, `got ${typeof value}`, 'a function')
  return value as F
}

function bool(value: unknown, path: string, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') throw invalidOption(path, `got ${typeof value}`, 'a boolean')
  return value
}

function stringList(value: unknown, path: string): string[] {
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string' && v.length > 0)) {
    throw invalidOption(
      path,
      `got ${Array.isArray(value) ? 'an array with a non-string or empty item' : typeof value}`,
      'an array of non-empty strings',
    )
  }
  return [...(value as string[])]
}

/**
 * Validates LLM cache options and applies defaults.
 *
 * @throws ValkitError `VALKIT_INVALID_OPTION` naming the option's path (`llmCache.ttl`, `llmCache.pricing["gpt-4o"].inputUsdPerMillion`).
 *
 * @example
 * ```ts
 * const resolved = resolveLlmCacheOptions({ ttl: '6h', cacheWhen: 'always' })
 * resolved.ttlMs // 21_600_000
 * ```
 */
export function resolveLlmCacheOptions(
  options: LlmCacheOptions = {},
  path = 'llmCache',
): ResolvedLlmCacheOptions {
  if (typeof options !== 'object' || options === null) {
    throw invalidOption(path, `got ${options === null ? 'null' : typeof options}`, 'an object')
  }
  let ttlMs: number = LLM_CACHE_DEFAULTS.ttlMs
  if (options.ttl !== undefined) {
    ttlMs = parseDuration(options.ttl, `${path}.ttl`)
    if (ttlMs <= 0) throw invalidOption(`${path}.ttl`, `got ${String(options.ttl)}`, 'a duration > 0')
  }
  const when = options.cacheWhen ?? LLM_CACHE_DEFAULTS.cacheWhen
  let cacheWhen: (request: NormalizedLlmRequest) => boolean
  if (when === 'deterministic') cacheWhen = isDeterministic
  else if (when === 'always') cacheWhen = () => true
  else if (typeof when === 'function') cacheWhen = (request) => when(request) === true
  else
    throw invalidOption(
      `${path}.cacheWhen`,
      `got ${JSON.stringify(when)}`,
      "'deterministic', 'always' or a function",
    )

  let tags: ResolvedLlmCacheOptions['tags'] = () => NO_TAGS
  const tagOption = options.tags
  if (typeof tagOption === 'function') tags = tagOption
  else if (tagOption !== undefined) {
    const list = Object.freeze(stringList(tagOption, `${path}.tags`))
    tags = () => list
  }

  const normalizeOptions = {
    normalizeWhitespace: bool(
      options.normalizeWhitespace,
      `${path}.normalizeWhitespace`,
      LLM_CACHE_DEFAULTS.normalizeWhitespace,
    ),
    renameToolCallIds: bool(
      options.renameToolCallIds,
      `${path}.renameToolCallIds`,
      LLM_CACHE_DEFAULTS.renameToolCallIds,
    ),
    ignoreParams:
      options.ignoreParams === undefined
        ? undefined
        : stringList(options.ignoreParams, `${path}.ignoreParams`),
  }
  const builtIn = (request: unknown) => normalizeLlmRequest(request, normalizeOptions)
  const hook = fn<LlmCacheOptions['normalize']>(options.normalize, `${path}.normalize`, undefined)
  const normalize = hook === undefined ? builtIn : (request: unknown) => hook(request, builtIn)

  const metrics = options.metrics
  if (
    metrics !== undefined &&
    (typeof metrics !== 'object' || metrics === null || typeof metrics.counter !== 'function')
  ) {
    throw invalidOption(
      `${path}.metrics`,
      `got ${metrics === null ? 'null' : typeof metrics}`,
      'a metrics registry (valkit.metrics)',
    )
  }
  return Object.freeze({
    ttlMs,
    cacheWhen,
    tags,
    prices: createPriceTable(options.pricing ?? {}, `${path}.pricing`),
    normalize,
    readResponse: fn(options.readResponse, `${path}.readResponse`, readLlmResponse),
    readChunk: fn(options.readChunk, `${path}.readChunk`, readLlmChunk),
    metrics,
  })
}
