import { ValkitError, parseDuration } from '../../core/index.js'
import type { Cache } from '../cache-types.js'
import type { ResolvedLlmCacheOptions } from './llm-cache-options.js'
import { registerLlmCacheMetrics, type LlmCacheMetrics } from './llm-cache-metrics.js'
import type {
  LlmCache,
  LlmCacheStats,
  LlmCallOptions,
  LlmCompletion,
  LlmStreamEvent,
} from './llm-cache-types.js'
import type { NormalizedLlmRequest } from './normalize-request.js'
import type { LlmChunkInfo } from './read-chunk.js'
import type { LlmResponseInfo, LlmUsage } from './read-response.js'
import { hashNormalizedRequest } from './request-key.js'
import { SavingsLedger } from './savings-ledger.js'
import { NotStorable, isStored, plainCopy, usageOf, type StoredAnswer } from './stored-answer.js'

/** Cache keys of complete answers and of streamed texts (inside the cache's namespace). */
const COMPLETE = 'llm:c:'
const STREAMED = 'llm:s:'
/** Tag every entry carries: the requested model. */
const MODEL_TAG = 'llm:model:'

function invalidArgument(message: string): ValkitError {
  return new ValkitError('VALKIT_INVALID_ARGUMENT', message)
}

/**
 * The LLM cache on top of a {@link Cache}. See {@link LlmCache} for the contract.
 *
 * @internal
 */
export class LlmCacheImpl implements LlmCache {
  private readonly metrics: LlmCacheMetrics
  private readonly savings: SavingsLedger
  private hits = 0
  private misses = 0
  private bypassed = 0
  private streamsDiscarded = 0

  constructor(
    private readonly cache: Cache,
    private readonly o: ResolvedLlmCacheOptions,
  ) {
    this.metrics = registerLlmCacheMetrics(o.metrics, cache.name)
    this.savings = new SavingsLedger(o.prices, this.metrics)
  }

  async complete<Q, R>(
    request: Q,
    call: (request: Q) => R | Promise<R>,
    options?: LlmCallOptions,
  ): Promise<LlmCompletion<R>> {
    if (typeof call !== 'function')
      throw invalidArgument('llm.complete() needs a function that calls the model.')
    const normalized = this.normalize(request)
    const key = hashNormalizedRequest(normalized)
    if (!(options?.cacheable ?? this.o.cacheWhen(normalized))) {
      this.bypassed++
      this.metrics.bypass.inc()
      return this.fresh(await call(request), normalized, key)
    }
    const ttl = this.ttlOf(options)
    const tags = this.tagsOf(request, normalized, options)
    let own: { response: R } | undefined
    let entry: unknown
    try {
      entry = await this.cache.getOrSet(
        COMPLETE + key,
        async () => {
          const response = await call(request)
          own = { response }
          return this.toStored(plainCopy(response), this.read(response), normalized.model)
        },
        { ttl, tags },
      )
    } catch (err) {
      if (!(err instanceof NotStorable)) throw err
      if (own !== undefined) this.missed()
      else this.hit(undefined)
      return { ...this.fresh(err.response as R, normalized, key), cached: own === undefined }
    }
    if (own !== undefined) {
      this.missed()
      return this.fresh(own.response, normalized, key, entry as StoredAnswer)
    }
    if (!isStored(entry) || entry.response === undefined) {
      // Not ours (another writer, an older layout): ask the model and put a proper entry there.
      this.missed()
      const response = await call(request)
      try {
        await this.cache.set(
          COMPLETE + key,
          this.toStored(plainCopy(response), this.read(response), normalized.model),
          { ttl, tags },
        )
      } catch {
        // Too large or not JSON: served, not cached.
      }
      return this.fresh(response, normalized, key)
    }
    const savedUsd = this.hit(entry)
    return {
      response: structuredClone(entry.response) as R,
      cached: true,
      text: entry.text,
      usage: entry.usage,
      model: entry.model,
      createdAt: entry.createdAt,
      savedUsd,
      key,
    }
  }

  stream<Q, C>(
    request: Q,
    call: (request: Q) => AsyncIterable<C> | Promise<AsyncIterable<C>>,
    options?: LlmCallOptions,
  ): AsyncIterable<LlmStreamEvent<C>> {
    return this.streamEvents(request, call, options)
  }

  key(request: unknown): string {
    return hashNormalizedRequest(this.normalize(request))
  }

  isCacheable(request: unknown): boolean {
    return this.o.cacheWhen(this.normalize(request))
  }

  async delete(request: unknown): Promise<void> {
    const key = this.key(request)
    await Promise.all([this.cache.delete(COMPLETE + key), this.cache.delete(STREAMED + key)])
  }

  async invalidateModel(model: string): Promise<void> {
    if (typeof model !== 'string' || model.length === 0) {
      throw invalidArgument('llm.invalidateModel() needs a model name.')
    }
    await this.cache.invalidateTags([MODEL_TAG + model])
  }

  async invalidateTags(tags: readonly string[]): Promise<void> {
    await this.cache.invalidateTags(tags)
  }

  stats(): LlmCacheStats {
    return {
      hits: this.hits,
      misses: this.misses,
      bypassed: this.bypassed,
      streamsDiscarded: this.streamsDiscarded,
      ...this.savings.stats(),
    }
  }

  private async *streamEvents<Q, C>(
    request: Q,
    call: (request: Q) => AsyncIterable<C> | Promise<AsyncIterable<C>>,
    options: LlmCallOptions | undefined,
  ): AsyncGenerator<LlmStreamEvent<C>, void, undefined> {
    if (typeof call !== 'function')
      throw invalidArgument('llm.stream() needs a function that calls the model.')
    const normalized = this.normalize(request)
    const key = hashNormalizedRequest(normalized)
    const cacheable = options?.cacheable ?? this.o.cacheWhen(normalized)
    const ttl = cacheable ? this.ttlOf(options) : 0
    const tags = cacheable ? this.tagsOf(request, normalized, options) : []
    if (cacheable) {
      const [streamed, completed] = await this.cache.getMany([STREAMED + key, COMPLETE + key])
      const found = [streamed, completed].find(
        (e): e is StoredAnswer => isStored(e) && typeof e.text === 'string',
      )
      if (found !== undefined) {
        this.hit(found)
        yield { text: found.text!, chunk: undefined, cached: true }
        return
      }
      this.missed()
    } else {
      this.bypassed++
      this.metrics.bypass.inc()
    }
    const source = await call(request)
    if (source === null || typeof source !== 'object' || !(Symbol.asyncIterator in source)) {
      throw invalidArgument('llm.stream(): the model call must return an AsyncIterable of chunks.')
    }
    let text = ''
    let sawText = false
    let opaque = false
    let model: string | undefined
    let usage: Partial<LlmUsage> | undefined
    let ended = false
    let failed = false
    try {
      for await (const chunk of source) {
        const info = this.readChunk(chunk)
        if (info.opaque === true) opaque = true
        if (typeof info.model === 'string') model = info.model
        if (info.usage !== undefined) usage = { ...usage, ...stripUndefined(info.usage) }
        const delta = typeof info.text === 'string' ? info.text : ''
        if (typeof info.text === 'string') sawText = true
        text += delta
        yield { text: delta, chunk, cached: false }
      }
      ended = true
    } catch (err) {
      failed = true
      throw err
    } finally {
      if (!ended && cacheable) this.discarded(failed ? 'error' : 'aborted')
    }
    if (!cacheable) return
    if (opaque || !sawText) {
      this.discarded('opaque')
      return
    }
    const stored = this.toStored(undefined, { text, usage: usageOf(usage), model }, normalized.model)
    try {
      await this.cache.set(STREAMED + key, stored, { ttl, tags })
    } catch {
      // Larger than the cache's maxEntryBytes: streamed, not cached.
    }
  }

  private normalize(request: unknown): NormalizedLlmRequest {
    const normalized = this.o.normalize(request)
    if (
      typeof normalized !== 'object' ||
      normalized === null ||
      typeof normalized.model !== 'string' ||
      normalized.model.length === 0
    ) {
      throw invalidArgument(
        'The LLM cache `normalize` option must return an object with a non-empty string `model`.',
      )
    }
    return normalized
  }

  private ttlOf(options: LlmCallOptions | undefined): number {
    if (options?.ttl === undefined) return this.o.ttlMs
    const ms = parseDuration(options.ttl, 'ttl')
    if (ms <= 0) throw invalidArgument(`An LLM call's ttl must be > 0 (got ${String(options.ttl)}).`)
    return ms
  }

  private tagsOf(
    request: unknown,
    normalized: NormalizedLlmRequest,
    options: LlmCallOptions | undefined,
  ): string[] {
    const extra: unknown = options?.tags ?? []
    if (!Array.isArray(extra) || !extra.every((t): t is string => typeof t === 'string' && t.length > 0)) {
      throw invalidArgument("An LLM call's tags must be an array of non-empty strings.")
    }
    const configured = this.o.tags(request, normalized)
    return [...new Set([MODEL_TAG + normalized.model, ...configured, ...extra])]
  }

  /** The response reader, never failing the call (a paid answer is not thrown away for a hook). */
  private read(response: unknown): LlmResponseInfo {
    try {
      return this.o.readResponse(response) ?? {}
    } catch {
      return {}
    }
  }

  private readChunk(chunk: unknown): LlmChunkInfo {
    try {
      return this.o.readChunk(chunk) ?? {}
    } catch {
      return { opaque: true }
    }
  }

  private toStored(response: unknown, info: LlmResponseInfo, requestedModel: string): StoredAnswer {
    return {
      v: 1,
      ...(response === undefined ? {} : { response }),
      ...(typeof info.text === 'string' ? { text: info.text } : {}),
      ...(info.usage === undefined ? {} : { usage: usageOf(info.usage)! }),
      model: typeof info.model === 'string' && info.model.length > 0 ? info.model : requestedModel,
      createdAt: Date.now(),
    }
  }

  /** The completion of a model call made by this caller. */
  private fresh<R>(
    response: R,
    normalized: NormalizedLlmRequest,
    key: string,
    stored?: StoredAnswer,
  ): LlmCompletion<R> {
    const info = stored ?? this.toStored(undefined, this.read(response), normalized.model)
    return {
      response,
      cached: false,
      text: info.text,
      usage: info.usage,
      model: info.model,
      createdAt: info.createdAt,
      savedUsd: 0,
      key,
    }
  }

  private missed(): void {
    this.misses++
    this.metrics.miss.inc()
  }

  /** Counts a hit and its savings; returns the dollars saved (`undefined` when unknown). */
  private hit(entry: StoredAnswer | undefined): number | undefined {
    this.hits++
    this.metrics.hit.inc()
    return entry === undefined ? undefined : this.savings.record(entry.model, entry.usage)
  }

  private discarded(reason: 'error' | 'aborted' | 'opaque'): void {
    this.streamsDiscarded++
    if (reason === 'error') this.metrics.discardedError.inc()
    else if (reason === 'aborted') this.metrics.discardedAborted.inc()
    else this.metrics.discardedOpaque.inc()
  }
}

function stripUndefined(usage: Partial<LlmUsage>): Partial<LlmUsage> {
  const out: { inputTokens?: number; outputTokens?: number } = {}
  if (typeof usage.inputTokens === 'number') out.inputTokens = usage.inputTokens
  if (typeof usage.outputTokens === 'number') out.outputTokens = usage.outputTokens
  return out
}
