/**
 * The LLM cache without a server: request normalization and hashing, pricing, response and
 * chunk readers, and complete/stream on an in-process cache (L2 off) with fake model functions.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { createValkit, isValkitError } from '../../src/core/index.js'
import { createCache } from '../../src/cache/index.js'
import {
  canonicalJson,
  createLlmCache,
  createPriceTable,
  llmRequestKey,
  normalizeLlmRequest,
  readLlmChunk,
  readLlmResponse,
  resolveLlmCacheOptions,
  type LlmCacheOptions,
} from '../../src/cache/llm/index.js'

const valkit = createValkit({ env: {}, logger: false })
after(() => valkit.close())

const messages = [
  { role: 'system', content: 'You are terse.' },
  { role: 'user', content: 'What is 2+2?' },
]
const base = { model: 'gpt-4o', temperature: 0, messages }

function rejectsOption(fn: () => unknown, path: string) {
  assert.throws(
    fn,
    (err: unknown) => isValkitError(err, 'VALKIT_INVALID_OPTION') && err.details?.path === path,
    `expected VALKIT_INVALID_OPTION at ${path}`,
  )
}

void describe('llm request keys', () => {
  it('are 64 hex digits and ignore key order', () => {
    const a = llmRequestKey(base)
    assert.match(a, /^[0-9a-f]{64}$/)
    const reordered = {
      messages: [{ content: 'You are terse.', role: 'system' }, messages[1]],
      temperature: 0,
      model: 'gpt-4o',
    }
    assert.equal(llmRequestKey(reordered), a)
  })

  it('ignore what does not change the answer: stream, user, metadata, ids, transport, credentials', () => {
    const a = llmRequestKey(base)
    const noisy = {
      ...base,
      stream: true,
      stream_options: { include_usage: true },
      user: 'user-17',
      metadata: { trace: 'abc' },
      store: true,
      service_tier: 'auto',
      request_id: 'req_1',
      idempotencyKey: 'idem-1',
      timeout: 30_000,
      signal: new AbortController().signal,
      headers: { 'x-trace': '1' },
      api_key: 'sk-live-aaaaaaaaaaaaaaaa',
      apiKey: 'sk-live-bbbbbbbbbbbbbbbb',
      'x-api-key': 'sk-ant-cccccccccccc',
      authorization: 'Bearer sk-dddd',
      client_secret: 's3cr3t',
      top_k: undefined,
      tools: [],
      stop: null,
    }
    assert.equal(llmRequestKey(noisy), a)
  })

  it('never put a credential into the normalized request (what is hashed)', () => {
    const normalized = normalizeLlmRequest({
      ...base,
      api_key: 'sk-live-SECRET',
      apiKey: 'sk-SECRET2',
      authorization: 'Bearer SECRET3',
    })
    const text = canonicalJson(normalized)
    assert.ok(!text.includes('SECRET'), text)
    assert.deepEqual(Object.keys(normalized).sort(), ['messages', 'model', 'temperature'])
  })

  it('treat equivalent spellings alike: a lone text part, stop as a string, nulls, cache_control', () => {
    const a = llmRequestKey({ ...base, stop: ['\n\n'] })
    const b = llmRequestKey({
      ...base,
      stop: '\n\n',
      messages: [
        {
          role: 'system',
          content: [{ type: 'text', text: 'You are terse.', cache_control: { type: 'ephemeral' } }],
        },
        { role: 'user', content: 'What is 2+2?', name: undefined, refusal: null },
      ],
    })
    assert.equal(b, a)
    // Anthropic: `system` as a string or as one text block.
    const anthropic = { model: 'claude-sonnet-4-5', max_tokens: 512, temperature: 0, messages: [messages[1]] }
    assert.equal(
      llmRequestKey({ ...anthropic, system: 'Be terse.' }),
      llmRequestKey({
        ...anthropic,
        system: [{ type: 'text', text: 'Be terse.', cache_control: { type: 'ephemeral' } }],
      }),
    )
    assert.notEqual(
      llmRequestKey({ ...anthropic, system: 'Be terse.' }),
      llmRequestKey({ ...anthropic, system: 'Be verbose.' }),
    )
  })

  it('change with every parameter that changes the answer', () => {
    const a = llmRequestKey(base)
    const variants: Record<string, unknown>[] = [
      { model: 'gpt-4o-mini' },
      { temperature: 0.2 },
      { top_p: 0.9 },
      { max_tokens: 10 },
      { max_completion_tokens: 10 },
      { stop: ['END'] },
      { seed: 42 },
      { n: 2 },
      { presence_penalty: 0.5 },
      { frequency_penalty: 0.5 },
      { logit_bias: { '50256': -100 } },
      { logprobs: true },
      { tools: [{ type: 'function', function: { name: 'add', parameters: { type: 'object' } } }] },
      { tool_choice: 'required' },
      { parallel_tool_calls: false },
      { response_format: { type: 'json_object' } },
      { reasoning_effort: 'high' },
      { some_future_param: 1 },
      { messages: [messages[0], { role: 'user', content: 'What is 2+3?' }] },
      { messages: [messages[0], { role: 'user', content: 'What is 2+2?', name: 'ada' }] },
      { messages: [{ role: 'developer', content: 'You are terse.' }, messages[1]] },
      { messages: [messages[1]] },
      { messages: [messages[1], messages[0]] },
    ]
    const keys = new Set<string>([a])
    for (const variant of variants) {
      const key = llmRequestKey({ ...base, ...variant })
      assert.notEqual(key, a, `${JSON.stringify(variant)} must change the key`)
      keys.add(key)
    }
    assert.equal(keys.size, variants.length + 1, 'every variant has its own key')
  })

  it('normalize whitespace only when asked to', () => {
    const spaced = { ...base, messages: [messages[0], { role: 'user', content: '  What is\n 2+2? ' }] }
    assert.notEqual(llmRequestKey(spaced), llmRequestKey(base))
    assert.equal(
      llmRequestKey(spaced, { normalizeWhitespace: true }),
      llmRequestKey(base, { normalizeWhitespace: true }),
    )
  })

  it('rename tool call ids by order (a replayed trajectory hits) and canonicalize their arguments', () => {
    const turn = (id: string, args: string) => ({
      model: 'gpt-4o',
      temperature: 0,
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id, type: 'function', function: { name: 'weather', arguments: args } }],
        },
        { role: 'tool', tool_call_id: id, content: '18°C' },
      ],
    })
    const a = llmRequestKey(turn('call_AAA', '{"city":"Paris","unit":"c"}'))
    assert.equal(llmRequestKey(turn('call_BBB', '{ "unit": "c", "city": "Paris" }')), a)
    assert.notEqual(llmRequestKey(turn('call_BBB', '{"city":"Lyon","unit":"c"}')), a)
    assert.notEqual(
      llmRequestKey(turn('call_AAA', '{"city":"Paris","unit":"c"}'), { renameToolCallIds: false }),
      llmRequestKey(turn('call_BBB', '{"city":"Paris","unit":"c"}'), { renameToolCallIds: false }),
    )
    // Anthropic tool_use / tool_result.
    const anthropic = (id: string) => ({
      model: 'claude-sonnet-4-5',
      max_tokens: 256,
      temperature: 0,
      messages: [
        { role: 'assistant', content: [{ type: 'tool_use', id, name: 'weather', input: { city: 'Paris' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: id, content: '18°C' }] },
      ],
    })
    assert.equal(llmRequestKey(anthropic('toolu_1')), llmRequestKey(anthropic('toolu_2')))
  })

  it('reject requests that cannot be keyed, with a typed error', () => {
    const invalid = (request: unknown) =>
      assert.throws(
        () => llmRequestKey(request),
        (err: unknown) => isValkitError(err, 'VALKIT_INVALID_ARGUMENT'),
      )
    invalid(null)
    invalid('gpt-4o')
    invalid({ messages })
    invalid({ model: '', messages })
    invalid({ ...base, seed: 10n })
    invalid({ ...base, temperature: Number.NaN })
    const cyclic: Record<string, unknown> = { role: 'user' }
    cyclic.self = cyclic
    invalid({ ...base, messages: [cyclic] })
  })

  it('canonical JSON sorts keys and drops undefined like JSON does', () => {
    assert.equal(
      canonicalJson({ b: 1, a: [true, undefined], c: undefined, d: { z: null, y: 'x' } }),
      '{"a":[true,null],"b":1,"d":{"y":"x","z":null}}',
    )
    assert.equal(canonicalJson(new Date(0)), '"1970-01-01T00:00:00.000Z"')
  })
})

void describe('llm pricing', () => {
  const prices = createPriceTable({
    'gpt-4o*': { inputUsdPerMillion: 2.5, outputUsdPerMillion: 10 },
    'gpt-4o-mini*': { inputUsdPerMillion: 0.15, outputUsdPerMillion: 0.6 },
    'gpt-4o-2024-05-13': { inputUsdPerMillion: 5, outputUsdPerMillion: 15 },
    'claude-*-haiku*': { inputUsdPerMillion: 0.8, outputUsdPerMillion: 4 },
  })

  it('matches exact names first, then the most specific pattern, ignoring case', () => {
    assert.deepEqual(prices.priceOf('gpt-4o-2024-05-13'), { inputUsdPerMillion: 5, outputUsdPerMillion: 15 })
    assert.equal(prices.priceOf('gpt-4o-2024-08-06')?.inputUsdPerMillion, 2.5)
    assert.equal(prices.priceOf('gpt-4o-mini-2024-07-18')?.inputUsdPerMillion, 0.15)
    assert.equal(prices.priceOf('GPT-4o')?.outputUsdPerMillion, 10)
    assert.equal(prices.priceOf('claude-3-5-haiku-latest')?.inputUsdPerMillion, 0.8)
    assert.equal(prices.priceOf('claude-sonnet-4-5'), undefined)
    assert.equal(prices.priceOf('o1'), undefined)
  })

  it('computes dollars per million tokens', () => {
    assert.equal(prices.costOf('gpt-4o', 1_000_000, 0), 2.5)
    assert.ok(Math.abs(prices.costOf('gpt-4o-mini', 1000, 500)! - 0.00045) < 1e-12)
    assert.equal(prices.costOf('unknown-model', 1000, 1000), undefined)
  })

  it('names the entry of invalid pricing', () => {
    rejectsOption(
      () =>
        resolveLlmCacheOptions({ pricing: { 'gpt-4o': { inputUsdPerMillion: -1, outputUsdPerMillion: 1 } } }),
      'llmCache.pricing["gpt-4o"].inputUsdPerMillion',
    )
    rejectsOption(
      () => resolveLlmCacheOptions({ pricing: { x: { inputUsdPerMillion: 1 } as never } }),
      'llmCache.pricing["x"].outputUsdPerMillion',
    )
  })
})

void describe('llm cache options', () => {
  it('applies the defaults', () => {
    const o = resolveLlmCacheOptions()
    assert.equal(o.ttlMs, 3_600_000)
    assert.equal(o.cacheWhen({ model: 'm', temperature: 0 }), true)
    assert.equal(o.cacheWhen({ model: 'm' }), false, 'unset temperature: sampled, not cached')
    assert.equal(o.cacheWhen({ model: 'm', temperature: 0.7 }), false)
    assert.equal(resolveLlmCacheOptions({ cacheWhen: 'always' }).cacheWhen({ model: 'm' }), true)
  })

  it('names the path of an invalid option', () => {
    rejectsOption(() => resolveLlmCacheOptions({ ttl: 0 }), 'llmCache.ttl')
    rejectsOption(() => resolveLlmCacheOptions({ ttl: 'soon' }), 'llmCache.ttl')
    rejectsOption(() => resolveLlmCacheOptions({ cacheWhen: 'sometimes' as never }), 'llmCache.cacheWhen')
    rejectsOption(() => resolveLlmCacheOptions({ tags: [''] }), 'llmCache.tags')
    rejectsOption(() => resolveLlmCacheOptions({ normalize: 'x' as never }), 'llmCache.normalize')
    rejectsOption(
      () => resolveLlmCacheOptions({ normalizeWhitespace: 1 as never }),
      'llmCache.normalizeWhitespace',
    )
    rejectsOption(() => resolveLlmCacheOptions({ ignoreParams: [1] as never }), 'llmCache.ignoreParams')
    rejectsOption(() => resolveLlmCacheOptions({ metrics: {} as never }), 'llmCache.metrics')
  })
})

void describe('llm response and chunk readers', () => {
  it('read text, usage and model of complete responses', () => {
    assert.deepEqual(
      readLlmResponse({
        model: 'gpt-4o-2024-08-06',
        choices: [{ index: 0, message: { role: 'assistant', content: '4' } }],
        usage: { prompt_tokens: 20, completion_tokens: 1 },
      }),
      { text: '4', usage: { inputTokens: 20, outputTokens: 1 }, model: 'gpt-4o-2024-08-06' },
    )
    assert.deepEqual(
      readLlmResponse({
        model: 'claude-sonnet-4-5',
        content: [{ type: 'text', text: 'Four' }],
        usage: { input_tokens: 10, cache_read_input_tokens: 90, output_tokens: 2 },
      }),
      { text: 'Four', usage: { inputTokens: 100, outputTokens: 2 }, model: 'claude-sonnet-4-5' },
    )
    const toolCall = readLlmResponse({
      choices: [
        { message: { role: 'assistant', content: null, tool_calls: [{ id: 'c', type: 'function' }] } },
      ],
    })
    assert.equal(toolCall.text, undefined, 'a tool call is not a text answer')
    assert.equal(readLlmResponse({ content: [{ type: 'tool_use', id: 't' }] }).text, undefined)
    assert.equal(readLlmResponse('plain').text, 'plain')
  })

  it('read text deltas, usage and opaque output from OpenAI, Anthropic, Responses and AI SDK chunks', () => {
    assert.equal(readLlmChunk({ choices: [{ index: 0, delta: { content: 'Hel' } }] }).text, 'Hel')
    assert.equal(
      readLlmChunk({ choices: [{ index: 0, delta: { tool_calls: [{ index: 0 }] } }] }).opaque,
      true,
    )
    assert.equal(
      readLlmChunk({ choices: [{ index: 1, delta: { content: 'x' } }] }).opaque,
      true,
      'second choice',
    )
    assert.deepEqual(readLlmChunk({ choices: [], usage: { prompt_tokens: 5, completion_tokens: 7 } }).usage, {
      inputTokens: 5,
      outputTokens: 7,
    })
    assert.equal(
      readLlmChunk({ type: 'content_block_delta', delta: { type: 'text_delta', text: 'lo' } }).text,
      'lo',
    )
    assert.equal(
      readLlmChunk({ type: 'content_block_delta', delta: { type: 'input_json_delta' } }).opaque,
      true,
    )
    assert.equal(
      readLlmChunk({ type: 'content_block_start', content_block: { type: 'tool_use' } }).opaque,
      true,
    )
    assert.deepEqual(
      readLlmChunk({ type: 'message_start', message: { model: 'claude-x', usage: { input_tokens: 9 } } }),
      {
        usage: { inputTokens: 9 },
        model: 'claude-x',
      },
    )
    assert.equal(readLlmChunk({ type: 'response.output_text.delta', delta: 'ab' }).text, 'ab')
    assert.equal(
      readLlmChunk({ type: 'response.output_item.added', item: { type: 'function_call' } }).opaque,
      true,
    )
    assert.equal(readLlmChunk({ type: 'text-delta', textDelta: 'v4' }).text, 'v4')
    assert.equal(readLlmChunk({ type: 'text-delta', text: 'v5' }).text, 'v5')
    assert.equal(readLlmChunk('raw').text, 'raw')
    assert.equal(readLlmChunk(42).text, undefined)
  })
})

// ---------------------------------------------------------------------------------------------
// complete / stream on an in-process cache

let namespaceSeq = 0
function llmCache(options: LlmCacheOptions = {}) {
  const cache = createCache(valkit, { namespace: `llm-unit-${++namespaceSeq}`, l2: false, jitter: 0 })
  return createLlmCache(cache, {
    pricing: { 'gpt-4o*': { inputUsdPerMillion: 2.5, outputUsdPerMillion: 10 } },
    ...options,
  })
}

function chatResponse(content: string) {
  return {
    id: 'chatcmpl-1',
    model: 'gpt-4o-2024-08-06',
    choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 1000, completion_tokens: 200 },
  }
}

function openAiChunks(text: string[], usage = true) {
  const chunks: unknown[] = text.map((t) => ({
    model: 'gpt-4o-2024-08-06',
    choices: [{ index: 0, delta: { content: t } }],
  }))
  if (usage)
    chunks.push({
      model: 'gpt-4o-2024-08-06',
      choices: [],
      usage: { prompt_tokens: 400, completion_tokens: 100 },
    })
  return chunks
}

async function* fromArray<T>(items: readonly T[], failAfter?: number): AsyncGenerator<T> {
  for (let i = 0; i < items.length; i++) {
    if (failAfter !== undefined && i === failAfter) throw new Error('provider dropped the stream')
    yield items[i]!
  }
}

async function collect<C>(events: AsyncIterable<{ text: string; chunk: C | undefined; cached: boolean }>) {
  const out: { text: string; chunk: C | undefined; cached: boolean }[] = []
  for await (const e of events) out.push(e)
  return out
}

void describe('llm cache: complete()', () => {
  it('calls the model once, then answers from the cache with the savings', async () => {
    const llm = llmCache()
    let calls = 0
    const model = async (request: typeof base) => {
      calls++
      return chatResponse(`answer to ${request.messages.length} messages`)
    }
    const first = await llm.complete(base, model)
    assert.equal(first.cached, false)
    assert.equal(first.text, 'answer to 2 messages')
    assert.equal(first.savedUsd, 0)
    const second = await llm.complete({ ...base, stream: false, user: 'someone-else' }, model)
    assert.equal(calls, 1)
    assert.equal(second.cached, true)
    assert.deepEqual(second.response, first.response)
    assert.notEqual(second.response, first.response, 'a copy: mutating it cannot change the cache')
    assert.deepEqual(second.usage, { inputTokens: 1000, outputTokens: 200 })
    // 1000 × 2.5 / 1M + 200 × 10 / 1M
    assert.ok(Math.abs(second.savedUsd! - 0.0045) < 1e-12)
    const stats = llm.stats()
    assert.equal(stats.hits, 1)
    assert.equal(stats.misses, 1)
    assert.deepEqual(stats.tokensSaved, { input: 1000, output: 200 })
    assert.ok(Math.abs(stats.costSavedUsd - 0.0045) < 1e-12)
    assert.equal(stats.byModel['gpt-4o-2024-08-06']?.hits, 1)
  })

  it('by default does not cache sampled requests (temperature unset or > 0); cacheable overrides', async () => {
    const llm = llmCache()
    let calls = 0
    const model = async () => chatResponse(`sample ${++calls}`)
    const sampled = { model: 'gpt-4o', temperature: 0.8, messages }
    assert.equal((await llm.complete(sampled, model)).text, 'sample 1')
    assert.equal((await llm.complete(sampled, model)).text, 'sample 2')
    assert.equal((await llm.complete({ model: 'gpt-4o', messages }, model)).text, 'sample 3')
    assert.equal(llm.stats().bypassed, 3)
    assert.equal((await llm.complete(sampled, model, { cacheable: true })).text, 'sample 4')
    assert.equal((await llm.complete(sampled, model, { cacheable: true })).text, 'sample 4')
    assert.equal((await llm.complete(base, model, { cacheable: false })).text, 'sample 5')
    assert.equal((await llm.complete(base, model)).text, 'sample 6')
    assert.equal(calls, 6)
  })

  it('coalesces concurrent identical calls into one model call; an error is not cached', async () => {
    const llm = llmCache()
    let calls = 0
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    const model = async () => {
      calls++
      await gate
      return chatResponse('shared')
    }
    const pending = Array.from({ length: 50 }, () => llm.complete(base, model))
    release()
    const results = await Promise.all(pending)
    assert.equal(calls, 1)
    assert.equal(results.filter((r) => !r.cached).length, 1)
    assert.ok(results.every((r) => r.text === 'shared'))
    assert.equal(llm.stats().hits, 49)

    const failing = { ...base, messages: [{ role: 'user', content: 'fail once' }] }
    let attempts = 0
    await assert.rejects(
      llm.complete(failing, async () => {
        attempts++
        throw new Error('rate limited by the provider')
      }),
      /rate limited/,
    )
    const ok = await llm.complete(failing, async () => {
      attempts++
      return chatResponse('second try')
    })
    assert.equal(ok.cached, false)
    assert.equal(attempts, 2)
  })

  it('uses a custom normalize hook and typed errors for bad calls', async () => {
    const llm = llmCache({
      normalize: (request, builtIn) => {
        const r = request as { deployment: string; prompt: string }
        return builtIn({ model: r.deployment, temperature: 0, prompt: r.prompt })
      },
    })
    let calls = 0
    const model = async () => `reply ${++calls}`
    await llm.complete({ deployment: 'my-gpt', prompt: 'hi', traceId: 1 }, model)
    const again = await llm.complete({ deployment: 'my-gpt', prompt: 'hi', traceId: 2 }, model)
    assert.equal(again.cached, true)
    assert.equal(again.response, 'reply 1')
    await assert.rejects(llmCache().complete({ messages }, model), (err: unknown) =>
      isValkitError(err, 'VALKIT_INVALID_ARGUMENT'),
    )
    await assert.rejects(llmCache().complete(base, 'not a function' as never), (err: unknown) =>
      isValkitError(err, 'VALKIT_INVALID_ARGUMENT'),
    )
  })
})

void describe('llm cache: stream()', () => {
  it('passes chunks through on a miss, caches the final text and usage, replays it as one event', async () => {
    const llm = llmCache()
    let calls = 0
    const chunks = openAiChunks(['The ', 'answer ', 'is 4.'])
    const model = () => {
      calls++
      return fromArray(chunks)
    }
    const miss = await collect(llm.stream(base, model))
    assert.deepEqual(
      miss.map((e) => e.text),
      ['The ', 'answer ', 'is 4.', ''],
    )
    assert.deepEqual(
      miss.map((e) => e.chunk),
      chunks,
      'the provider chunks, unchanged',
    )
    assert.ok(miss.every((e) => !e.cached))
    const hit = await collect(llm.stream({ ...base, stream: true }, model))
    assert.deepEqual(hit, [{ text: 'The answer is 4.', chunk: undefined, cached: true }])
    assert.equal(calls, 1)
    const stats = llm.stats()
    assert.deepEqual(stats.tokensSaved, { input: 400, output: 100 })
    assert.ok(Math.abs(stats.costSavedUsd - (400 * 2.5 + 100 * 10) / 1e6) < 1e-12)
  })

  it('accumulates Anthropic events (usage from message_start and message_delta)', async () => {
    const llm = llmCache({ pricing: { 'claude-*': { inputUsdPerMillion: 3, outputUsdPerMillion: 15 } } })
    const request = { model: 'claude-sonnet-4-5', max_tokens: 256, temperature: 0, messages: [messages[1]] }
    const events = [
      {
        type: 'message_start',
        message: { model: 'claude-sonnet-4-5-20250929', usage: { input_tokens: 30, output_tokens: 1 } },
      },
      { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Two plus two ' } },
      { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'is four.' } },
      { type: 'content_block_stop', index: 0 },
      { type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 6 } },
      { type: 'message_stop' },
    ]
    await collect(llm.stream(request, () => fromArray(events)))
    const hit = await collect(llm.stream(request, () => fromArray(events)))
    assert.deepEqual(hit, [{ text: 'Two plus two is four.', chunk: undefined, cached: true }])
    assert.deepEqual(llm.stats().tokensSaved, { input: 30, output: 6 })
    assert.ok(
      Math.abs(llm.stats().byModel['claude-sonnet-4-5-20250929']!.costUsd! - (30 * 3 + 6 * 15) / 1e6) < 1e-12,
    )
  })

  it('does not cache a stream the consumer stopped early, one that failed, or one with tool calls', async () => {
    const llm = llmCache()
    let calls = 0
    let closed = 0
    const model = () => {
      calls++
      const source = fromArray(openAiChunks(['a', 'b', 'c']))
      return {
        [Symbol.asyncIterator]: () => ({
          next: () => source.next(),
          return: async () => {
            closed++
            return source.return(undefined)
          },
        }),
      }
    }
    for await (const event of llm.stream(base, model)) {
      assert.equal(event.text, 'a')
      break
    }
    assert.equal(closed, 1, 'the provider stream was closed (no more tokens billed)')
    const afterBreak = await collect(llm.stream(base, model))
    assert.equal(afterBreak[0]?.cached, false, 'early stop not cached: the model is called again')
    assert.equal(calls, 2)
    assert.equal((await collect(llm.stream(base, model)))[0]?.cached, true, 'the complete run was cached')

    const failing = { ...base, seed: 1 }
    await assert.rejects(
      collect(llm.stream(failing, () => fromArray(openAiChunks(['x', 'y']), 1))),
      /dropped the stream/,
    )
    const retried = await collect(llm.stream(failing, () => fromArray(openAiChunks(['x', 'y']))))
    assert.equal(retried[0]?.cached, false, 'the failed stream was not cached')

    const tools = { ...base, seed: 2 }
    const toolChunks = [
      { choices: [{ index: 0, delta: { content: 'Let me check. ' } }] },
      {
        choices: [
          {
            index: 0,
            delta: { tool_calls: [{ index: 0, id: 'call_1', function: { name: 'w', arguments: '{}' } }] },
          },
        ],
      },
    ]
    await collect(llm.stream(tools, () => fromArray(toolChunks)))
    assert.equal((await collect(llm.stream(tools, () => fromArray(toolChunks))))[0]?.cached, false)
    assert.equal(llm.stats().streamsDiscarded, 4) // break, error, tool calls ×2
  })

  it('serves a stream from a text answer cached by complete(); unknown chunks are never cached as empty text', async () => {
    const llm = llmCache()
    await llm.complete(base, async () => chatResponse('Four.'))
    const events = await collect(llm.stream(base, () => fromArray(['never called'])))
    assert.deepEqual(events, [{ text: 'Four.', chunk: undefined, cached: true }])

    const odd = { ...base, seed: 3 }
    await collect(llm.stream(odd, () => fromArray([{ kind: 'custom', payload: 'x' }])))
    const again = await collect(llm.stream(odd, () => fromArray([{ kind: 'custom', payload: 'x' }])))
    assert.equal(again[0]?.cached, false)
    // With a readChunk hook the custom format is cached.
    const custom = llmCache({ readChunk: (c) => ({ text: (c as { payload: string }).payload }) })
    await collect(custom.stream(odd, () => fromArray([{ payload: 'he' }, { payload: 'llo' }])))
    assert.deepEqual(await collect(custom.stream(odd, () => fromArray([]))), [
      { text: 'hello', chunk: undefined, cached: true },
    ])
  })
})
