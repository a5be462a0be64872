/**
 * HTTP rate limiting on Express, Fastify and Hono, called in process: 429 with Retry-After, the
 * IETF RateLimit / RateLimit-Policy headers and a JSON body naming the rule; 403 for the deny
 * list; 503 when the store is down and the limiter fails closed; keys by client address behind
 * trusted proxies, by hashed API key, by user; concurrency leases released with the response.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import type { AddressInfo } from 'node:net'
import { after, before, describe, it } from 'node:test'
import express from 'express'
import Fastify from 'fastify'
import { Hono } from 'hono'
import { createValkit, type Valkit } from '../../src/core/index.js'
import {
  apiKey,
  clientIp,
  expressRateLimit,
  fastifyRateLimit,
  honoRateLimit,
  ipKey,
} from '../../src/http/index.js'
import { createRateLimiter, type RateLimiter } from '../../src/ratelimit/index.js'
import {
  cleanPrefix,
  freePort,
  startServer,
  testEngines,
  type ServerHandle,
} from '../../src/testing/index.js'

const view = (remoteAddress: string, xff?: string) => ({
  method: 'GET',
  url: '/',
  remoteAddress,
  header: (name: string) => (name === 'x-forwarded-for' ? xff : undefined),
})

void describe('clientIp: trusted proxies', () => {
  it('ignores X-Forwarded-For unless the hop is trusted; walks trusted hops from the nearest', () => {
    assert.equal(clientIp(view('203.0.113.5', '1.2.3.4')), '203.0.113.5')
    assert.equal(clientIp(view('10.0.0.2', '198.51.100.7, 10.0.0.9'), ['10.0.0.0/8']), '198.51.100.7')
    assert.equal(clientIp(view('10.0.0.2', 'spoofed, 198.51.100.7'), ['10.0.0.0/8']), '198.51.100.7')
    assert.equal(
      clientIp(view('203.0.113.5', '198.51.100.7'), ['10.0.0.0/8']),
      '203.0.113.5',
      'untrusted peer',
    )
    assert.equal(clientIp(view('10.0.0.2', '1.1.1.1, 198.51.100.7'), 1), '198.51.100.7')
    assert.equal(clientIp(view('::ffff:10.0.0.2', '198.51.100.7'), ['10.0.0.0/8']), '198.51.100.7')
  })
})

for (const engine of testEngines()) {
  void describe(`HTTP rate limiting: ${engine}`, { timeout: 60_000 }, () => {
    let server: ServerHandle
    let valkit: Valkit
    let down: Valkit
    const prefix = `t-rlh-${randomBytes(4).toString('hex')}`
    const limiters: RateLimiter[] = []
    let n = 0
    const limiter = (
      rules: Parameters<typeof createRateLimiter>[1]['rules'],
      extra: object = {},
      on?: Valkit,
    ) => {
      const l = createRateLimiter(on ?? valkit, { name: `h${n++}`, rules, ...extra })
      limiters.push(l)
      return l
    }

    before(async () => {
      server = await startServer({ engine })
      valkit = createValkit({ url: server.url, env: {}, logger: false, keyPrefix: prefix })
      await valkit.supervisor.waitFor('ready', 10_000)
      down = createValkit({ url: `redis://127.0.0.1:${await freePort()}`, env: {}, logger: false })
    })
    after(async () => {
      for (const l of limiters) await l.close()
      await valkit?.close()
      await down?.close()
      if (server?.alive) await cleanPrefix(server, `${prefix}:`)
      await server?.stop()
    })

    it('Express: 429 with Retry-After, RateLimit headers and the rule; separate clients behind a trusted proxy', async () => {
      const l = limiter({ perIp: { algorithm: 'sliding-window-log', limit: 2, window: '1m', by: 'ip' } })
      const app = express()
      app.get('/r', expressRateLimit(l, { key: ipKey({ trustProxy: ['127.0.0.1'] }) }), (_req, res) => {
        res.json({ ok: true, left: (res.locals.rateLimit as { remaining: number }).remaining })
      })
      const http = app.listen(0)
      await new Promise((resolve) => http.once('listening', resolve))
      const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/r`
      try {
        const as = (ip: string) => fetch(url, { headers: { 'x-forwarded-for': ip } })
        const first = await as('198.51.100.1')
        assert.equal(first.status, 200)
        assert.equal(first.headers.get('ratelimit-policy'), '"perIp";q=2;w=60')
        assert.equal(first.headers.get('ratelimit'), '"perIp";r=1;t=60')
        assert.deepEqual(await first.json(), { ok: true, left: 1 })
        assert.equal((await as('198.51.100.1')).status, 200)
        const refused = await as('198.51.100.1')
        assert.equal(refused.status, 429)
        const retry = Number(refused.headers.get('retry-after'))
        assert.ok(retry >= 59 && retry <= 60, `Retry-After ${retry}`)
        assert.match(refused.headers.get('ratelimit') ?? '', /^"perIp";r=0;t=\d+$/)
        const body = (await refused.json()) as { error: string; rule: string; retryAfterSeconds: number }
        assert.deepEqual([body.error, body.rule, body.retryAfterSeconds], ['rate_limited', 'perIp', retry])
        assert.equal((await as('198.51.100.2')).status, 200, 'another client behind the same proxy')
      } finally {
        http.close()
      }
    })

    it('Express: a concurrency lease is held while the response is in flight and released after', async () => {
      const l = limiter({ slots: { algorithm: 'concurrency', limit: 1, leaseTtl: '1m', by: 'user' } })
      let release!: () => void
      const gate = new Promise<void>((resolve) => (release = resolve))
      const app = express()
      app.get('/slow', expressRateLimit(l, { key: () => ({ user: 'u1' }) }), async (_req, res) => {
        await gate
        res.json({ done: true })
      })
      const http = app.listen(0)
      await new Promise((resolve) => http.once('listening', resolve))
      const url = `http://127.0.0.1:${(http.address() as AddressInfo).port}/slow`
      try {
        const slow = fetch(url)
        // The first request holds the only slot until the handler answers.
        let second = await fetch(url)
        for (let i = 0; i < 50 && second.status === 200; i++) second = await fetch(url)
        assert.equal(second.status, 429)
        release()
        assert.equal((await slow).status, 200)
        const { waitFor } = await import('../../src/testing/index.js')
        await waitFor(async () => (await l.peek({ user: 'u1' })).remaining === 1, {
          what: 'the lease released',
        })
      } finally {
        http.close()
      }
    })

    it('Fastify: API keys are hashed before they reach Redis; the deny list answers 403', async () => {
      const l = limiter(
        { perKey: { algorithm: 'token-bucket', limit: 1, window: '1m', by: 'apiKey' } },
        { deny: { apiKey: [] } },
      )
      const app = Fastify()
      app.addHook('onRequest', fastifyRateLimit(l, { key: apiKey({ header: 'authorization' }) }))
      app.get('/v1', async (request) => ({ remaining: request.rateLimit?.remaining }))
      const secret = 'sk-live-DO-NOT-LOG-0123456789'
      const call = () =>
        app.inject({ method: 'GET', url: '/v1', headers: { authorization: `Bearer ${secret}` } })
      const ok = await call()
      assert.equal(ok.statusCode, 200)
      assert.deepEqual(ok.json(), { remaining: 0 })
      const refused = await call()
      assert.equal(refused.statusCode, 429)
      assert.equal(refused.json<{ rule: string }>().rule, 'perKey')
      assert.ok(Number(refused.headers['retry-after']) >= 1)
      const keys = (await server.command('KEYS', `${prefix}:*`)) as string[]
      assert.ok(keys.length > 0)
      assert.ok(
        keys.every((k) => !k.includes(secret) && !k.includes('sk-live')),
        keys.join(' '),
      )
      assert.equal((await app.inject({ method: 'GET', url: '/v1' })).statusCode, 200, 'no key: not limited')

      const denyLimiter = limiter(
        { perIp: { algorithm: 'fixed-window', limit: 5, window: '1m', by: 'ip' } },
        { deny: { ip: ['127.0.0.0/8'] } },
      )
      const denyApp = Fastify()
      denyApp.addHook('onRequest', fastifyRateLimit(denyLimiter, { key: ipKey() }))
      denyApp.get('/', async () => 'hi')
      const denied = await denyApp.inject({ method: 'GET', url: '/' })
      assert.equal(denied.statusCode, 403)
      assert.equal(denied.json<{ error: string }>().error, 'forbidden')
      await app.close()
      await denyApp.close()
    })

    it('Hono: per-user limits with several rules; 503 (not 429) when the store is down and the limiter fails closed', async () => {
      const l = limiter(
        {
          user: { algorithm: 'gcra', limit: 2, window: '1m', by: 'user' },
          global: { algorithm: 'fixed-window', limit: 100, window: '1m', by: [] },
        },
        { hashTag: 'limiter' },
      )
      const app = new Hono()
      app.use('/api/*', honoRateLimit(l, { key: (c) => ({ user: c.req.header('x-user') }) }))
      app.get('/api/x', (c) => c.text('ok'))
      const as = (user: string) => app.request('/api/x', { headers: { 'x-user': user } })
      const first = await as('alice')
      assert.equal(first.status, 200)
      assert.equal(first.headers.get('ratelimit-policy'), '"user";q=2;w=60, "global";q=100;w=60')
      assert.match(first.headers.get('ratelimit') ?? '', /^"user";r=1;t=\d+, "global";r=99;t=\d+$/)
      await as('alice')
      const refused = await as('alice')
      assert.equal(refused.status, 429)
      assert.equal(((await refused.json()) as { rule: string }).rule, 'user')
      assert.equal((await as('bob')).status, 200)

      const closed = limiter(
        { user: { algorithm: 'gcra', limit: 2, window: '1m', by: 'user' } },
        { whenUnavailable: 'deny' },
        down,
      )
      const downApp = new Hono()
      downApp.use('*', honoRateLimit(closed, { key: (c) => ({ user: c.req.header('x-user') }) }))
      downApp.get('/', (c) => c.text('ok'))
      const unavailable = await downApp.request('/', { headers: { 'x-user': 'alice' } })
      assert.equal(unavailable.status, 503)
      assert.equal(((await unavailable.json()) as { error: string }).error, 'unavailable')
    })
  })
}
