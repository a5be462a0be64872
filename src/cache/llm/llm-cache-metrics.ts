import { CounterChild, type MetricsRegistry } from '../../core/index.js'

/** The metric series one LLM cache updates, labelled by its cache's namespace. @internal */
export interface LlmCacheMetrics {
  readonly hit: CounterChild
  readonly miss: CounterChild
  readonly bypass: CounterChild
  readonly inputSaved: CounterChild
  readonly outputSaved: CounterChild
  readonly costSaved: CounterChild
  readonly discardedError: CounterChild
  readonly discardedAborted: CounterChild
  readonly discardedOpaque: CounterChild
}

/** A series on no registry (none given): counts, but nothing reads it. */
const nothing = (): CounterChild => new CounterChild()

/**
 * Declares the LLM cache metrics on a registry (idempotent) and returns this cache's series;
 * without a registry, unregistered series (`stats()` keeps its own numbers).
 *
 * @internal
 */
export function registerLlmCacheMetrics(
  registry: MetricsRegistry | undefined,
  namespace: string,
): LlmCacheMetrics {
  if (registry === undefined) {
    return {
      hit: nothing(),
      miss: nothing(),
      bypass: nothing(),
      inputSaved: nothing(),
      outputSaved: nothing(),
      costSaved: nothing(),
      discardedError: nothing(),
      discardedAborted: nothing(),
      discardedOpaque: nothing(),
    }
  }
  const requests = registry.counter({
    name: 'cache_llm_requests_total',
    help: 'LLM requests through the cache, by result (hit: answered from the cache, miss: the model was called and the answer cached, bypass: not cacheable by policy).',
    labelNames: ['namespace', 'result'],
  })
  const tokens = registry.counter({
    name: 'cache_llm_tokens_saved_total',
    help: 'Tokens the model did not have to process because the cache answered, by kind (input, output).',
    labelNames: ['namespace', 'kind'],
  })
  const cost = registry.counter({
    name: 'cache_llm_cost_saved_usd_total',
    help: 'US dollars saved by cache hits, from the configured pricing.',
    labelNames: ['namespace'],
  })
  const discarded = registry.counter({
    name: 'cache_llm_streams_discarded_total',
    help: 'Streamed answers passed through but not cached, by reason (error, aborted by the consumer, opaque: held tool calls or other non-text output).',
    labelNames: ['namespace', 'reason'],
  })
  return {
    hit: requests.labels({ namespace, result: 'hit' }),
    miss: requests.labels({ namespace, result: 'miss' }),
    bypass: requests.labels({ namespace, result: 'bypass' }),
    inputSaved: tokens.labels({ namespace, kind: 'input' }),
    outputSaved: tokens.labels({ namespace, kind: 'output' }),
    costSaved: cost.labels({ namespace }),
    discardedError: discarded.labels({ namespace, reason: 'error' }),
    discardedAborted: discarded.labels({ namespace, reason: 'aborted' }),
    discardedOpaque: discarded.labels({ namespace, reason: 'opaque' }),
  }
}
