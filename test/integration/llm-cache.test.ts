/**
 * The LLM cache against real servers (Redis and Valkey), with fake model functions: answers
 * shared between instances through L2, one model call for 50 concurrent identical requests,
 * streams cached only when complete, savings in stats() and /metrics, nothing secret in Redis
 * keys, invalidation by model and tenant, and model calls going on while Redis is down.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { after, before, describe, it } from 'node:test'
import { createValkit, type Valkit } from '../../src/core/index.js'
import { createCache, type Cache } from '../../src/cache/index.js'
import { createLlmCache, type LlmCache, type LlmCacheOptions } from '../../src/cache/llm/index.js'
import { cleanPrefix, startServer, testEngines, waitFor, type ServerHandle } from '../../src/testing/index.js'

const API_KEY = 'sk-live-0123456789abcdefSECRET'
const PROMPT = 'Summarize the quarterly report of ACME Corp in three bullet points.'
const request = {
  model: 'gpt-4o',
  temperature: 0,
  api_key: API_KEY,
  messages: [
    { role: 'system', content: 'You are a careful analyst.' },
    { role: 'user', content: PROMPT },
  ],
}
const PRICING = { 'gpt-4o*': { inputUsdPerMillion: 2.5, outputUsdPerMillion: 10 } }

function response(text: string) {
  return {
    id: `chatcmpl-${randomBytes(4).toString('hex')}`,
    model: 'gpt-4o-2024-08-06',
    choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
    usage: { prompt_tokens: 1200, completion_tokens: 300 },
  }
}

async function* chunks(parts: readonly string[], failAt?: number) {
  for (let i = 0; i < parts.length; i++) {
    if (i === failAt) throw new Error('connection reset by the provider')
    yield { model: 'gpt-4o-2024-08-06', choices: [{ index: 0, delta: { content: parts[i] } }] }
  }
  yield { model: 'gpt-4o-2024-08-06', choices: [], usage: { prompt_tokens: 800, completion_tokens: 50 } }
}

async function texts(events: AsyncIterable<{ text: string; cached: boolean }>) {
  const out: { text: string; cached: boolean }[] = []
  for await (const { text, cached } of events) out.push({ text, cached })
  return out
}

for (const engine of testEngines()) {
  void describe(`llm cache on ${engine}`, { timeout: 60_000 }, () => {
    let server: ServerHandle
    const prefix = `t-llm-${randomBytes(4).toString('hex')}`
    const open: { valkit: Valkit; cache: Cache }[] = []

    before(async () => {
      server = await startServer({ engine })
    })
    after(async () => {
      for (const { valkit, cache } of open) {
        await cache.close()
        await valkit.close()
      }
      if (server?.alive) await cleanPrefix(server, `${prefix}:`)
      await server?.stop()
    })

    /** A valkit instance of its own with an LLM cache on namespace `ns`. */
    async function instance(
      ns: string,
      options: LlmCacheOptions = {},
    ): Promise<{ valkit: Valkit; llm: LlmCache; cache: Cache }> {
      const valkit = createValkit({
        url: server.url,
        env: {},
        logger: false,
        keyPrefix: prefix,
        commandTimeout: 500,
      })
      await valkit.supervisor.waitFor('ready', 10_000)
      const cache = createCache(valkit, { namespace: ns, jitter: 0 })
      await cache.ready()
      open.push({ valkit, cache })
      return {
        valkit,
        cache,
        llm: createLlmCache(cache, { pricing: PRICING, metrics: valkit.metrics, ...options }),
      }
    }

    it('an answer cached by one instance is served to another from Redis, with the savings', async () => {
      const { llm: a } = await instance('share')
      const { llm: b, valkit: vb } = await instance('share')
      let calls = 0
      const model = async () => response(`report summary #${++calls}`)
      const first = await a.complete(request, model)
      assert.equal(first.cached, false)
      const second = await b.complete({ ...request, api_key: 'sk-another-key', user: 'u-2' }, model)
      assert.equal(calls, 1)
      assert.equal(second.cached, true)
      assert.equal(second.text, 'report summary #1')
      assert.deepEqual(second.response, first.response)
      const expectedUsd = (1200 * 2.5 + 300 * 10) / 1e6
      assert.ok(Math.abs(second.savedUsd! - expectedUsd) < 1e-12)
      assert.deepEqual(b.stats().tokensSaved, { input: 1200, output: 300 })
      const text = vb.metrics.toPrometheus()
      assert.match(text, /valkit_cache_llm_tokens_saved_total\{namespace="share",kind="input"\} 1200/)
      assert.match(text, /valkit_cache_llm_tokens_saved_total\{namespace="share",kind="output"\} 300/)
      assert.match(text, /valkit_cache_llm_requests_total\{namespace="share",result="hit"\} 1/)
      const cost = /valkit_cache_llm_cost_saved_usd_total\{namespace="share"\} ([0-9.e-]+)/.exec(text)
      assert.ok(cost !== null && Math.abs(Number(cost[1]) - expectedUsd) < 1e-12, text)
    })

    it('50 concurrent identical requests make one model call', async () => {
      const { llm } = await instance('stampede')
      let calls = 0
      let release!: () => void
      const gate = new Promise<void>((resolve) => (release = resolve))
      const model = async () => {
        calls++
        await gate
        return response('one answer for all')
      }
      const pending = Array.from({ length: 50 }, () => llm.complete(request, model))
      release()
      const results = await Promise.all(pending)
      assert.equal(calls, 1)
      assert.ok(results.every((r) => r.text === 'one answer for all'))
      assert.equal(results.filter((r) => r.cached).length, 49)
      assert.equal(llm.stats().tokensSaved.input, 49 * 1200)
    })

    it('identical requests in two instances make one model call (the cache’s lease)', async () => {
      const { llm: a } = await instance('lease')
      const { llm: b, cache: cacheB } = await instance('lease')
      let calls = 0
      let release!: () => void
      const gate = new Promise<void>((resolve) => (release = resolve))
      const model = async () => {
        calls++
        await gate
        return response('one answer for two instances')
      }
      const first = Array.from({ length: 25 }, () => a.complete(request, model))
      await waitFor(() => calls === 1, { timeoutMs: 2000, what: 'the model call began in a' })
      const second = Array.from({ length: 25 }, () => b.complete(request, model))
      await waitFor(() => cacheB.stats().leaseWaits >= 1, { timeoutMs: 2000, what: 'b waits for a’s call' })
      release()
      const results = await Promise.all([...first, ...second])
      assert.equal(calls, 1)
      assert.ok(results.every((r) => r.text === 'one answer for two instances'))
      assert.equal(b.stats().hits, 25)
    })

    it('neither the prompt nor the API key reaches Redis; the key is a SHA-256', async () => {
      const { llm } = await instance('secrets')
      await llm.complete(request, async () => response('ok'))
      const keys: string[] = []
      let cursor = '0'
      do {
        const [next, page] = (await server.command(
          'SCAN',
          cursor,
          'MATCH',
          `${prefix}:*{secrets}*`,
          'COUNT',
          1000,
        )) as [string, string[]]
        cursor = next
        keys.push(...page)
      } while (cursor !== '0')
      assert.ok(keys.length >= 2, `keys: ${keys.join(', ')}`)
      const valueKey = keys.find((k) => k.includes(':v:llm:c:'))
      assert.ok(valueKey !== undefined)
      assert.ok(valueKey.endsWith(`:v:llm:c:${llm.key(request)}`))
      assert.match(llm.key(request), /^[0-9a-f]{64}$/)
      for (const key of keys) {
        assert.ok(!key.includes('ACME') && !key.includes('SECRET'), key)
        const type = String(await server.command('TYPE', key))
        const stored = type === 'string' ? String(await server.command('GET', key)) : ''
        assert.ok(
          !stored.includes(API_KEY) && !stored.includes(PROMPT),
          `value of ${key} holds the key or the prompt`,
        )
      }
    })

    it('streams: a miss passes through and caches; another instance replays it; early stop and errors are not cached', async () => {
      const { llm: a } = await instance('stream')
      const { llm: b } = await instance('stream')
      let calls = 0
      const model = () => {
        calls++
        return chunks(['Revenue ', 'grew ', '12%.'])
      }
      const miss = await texts(a.stream(request, model))
      assert.deepEqual(
        miss.map((e) => e.text),
        ['Revenue ', 'grew ', '12%.', ''],
      )
      assert.deepEqual(await texts(b.stream(request, model)), [{ text: 'Revenue grew 12%.', cached: true }])
      assert.equal(calls, 1)
      assert.deepEqual(b.stats().tokensSaved, { input: 800, output: 50 })

      const other = { ...request, seed: 7 }
      for await (const event of a.stream(other, model)) {
        assert.equal(event.text, 'Revenue ')
        break
      }
      const afterBreak = await texts(b.stream(other, model))
      assert.equal(afterBreak[0]?.cached, false, 'an early stop is not cached')
      assert.equal(calls, 3)

      const flaky = { ...request, seed: 8 }
      await assert.rejects(texts(a.stream(flaky, () => chunks(['a', 'b'], 1))), /connection reset/)
      const retried = await texts(b.stream(flaky, () => chunks(['a', 'b'])))
      assert.equal(retried[0]?.cached, false, 'a failed stream is not cached')
      assert.equal(a.stats().streamsDiscarded, 2)
    })

    it('invalidateModel and tenant tags drop answers in every instance', async () => {
      const { llm: a } = await instance('inval')
      const { llm: b } = await instance('inval')
      let calls = 0
      const model = async () => response(`v${++calls}`)
      const tenant1 = { ...request, seed: 1 }
      const tenant2 = { ...request, seed: 2 }
      await a.complete(tenant1, model, { tags: ['tenant:1'] })
      await a.complete(tenant2, model, { tags: ['tenant:2'] })
      assert.equal((await b.complete(tenant1, model)).cached, true)
      assert.equal((await b.complete(tenant2, model)).cached, true)
      await a.invalidateTags(['tenant:1'])
      await waitFor(async () => !(await b.complete(tenant1, model)).cached, {
        timeoutMs: 2000,
        what: 'tenant 1 dropped in b',
      })
      assert.equal((await b.complete(tenant2, model)).cached, true, 'tenant 2 kept')
      await a.invalidateModel('gpt-4o')
      await waitFor(async () => !(await b.complete(tenant2, model)).cached, {
        timeoutMs: 2000,
        what: 'model dropped in b',
      })
    })

    it('while Redis is down the model is called and answers are kept in L1; nothing fails', async () => {
      const { llm, valkit } = await instance('down')
      let calls = 0
      const model = async () => response(`fresh ${++calls}`)
      await server.kill()
      await waitFor(() => valkit.supervisor.state !== 'ready', { timeoutMs: 5000, what: 'degraded' })
      const first = await llm.complete(request, model)
      assert.equal(first.cached, false)
      const second = await llm.complete(request, model)
      assert.equal(second.cached, true, 'served from L1')
      assert.equal(calls, 1)
      const streamed = await texts(llm.stream({ ...request, seed: 9 }, () => chunks(['x'])))
      assert.equal(streamed[0]?.text, 'x')
      await server.restart()
      await waitFor(() => open.every(({ valkit: v }) => v.supervisor.state === 'ready'), {
        timeoutMs: 10_000,
        what: 'ready again',
      })
    })
  })
}
