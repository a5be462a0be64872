/**
 * HTTP response caching against real servers, for Express (a real listening app and fetch),
 * Fastify (inject) and Hono (app.request), on Redis and Valkey: hits, per-route TTL, Vary,
 * ETag/304, client and handler Cache-Control, POST, tag invalidation, two instances sharing an
 * entry through L2, binary and streamed bodies, and Redis going away.
 */
import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { request as httpRequest } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Readable } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import express from 'express'
import Fastify from 'fastify'
import { Hono } from 'hono'
import { createValkit, type Valkit } from '../../src/core/index.js'
import { createCache, type Cache } from '../../src/cache/index.js'
import {
  createResponseCache,
  type ResponseCache,
  type ResponseCacheOptions,
  type ResponseCacheRouteOptions,
} from '../../src/cache/http-response/index.js'
import { expressResponseCache, fastifyResponseCache, honoResponseCache } from '../../src/http/index.js'
import { cleanPrefix, startServer, testEngines, waitFor, type ServerHandle } from '../../src/testing/index.js'

type Framework = 'express' | 'fastify' | 'hono'
const FRAMEWORKS: readonly Framework[] = ['express', 'fastify', 'hono']

interface Incoming {
  readonly method: string
  readonly url: string
  header(name: string): string | undefined
}
interface Reply {
  readonly status?: number
  readonly headers?: Record<string, string | string[]>
  readonly body?: string | Buffer
  /** Sent as a stream (res.write / a Node stream / a ReadableStream). */
  readonly chunks?: readonly Buffer[]
}
interface RouteSpec {
  readonly path: string
  readonly methods?: readonly ('GET' | 'POST')[]
  readonly cache?: ResponseCacheRouteOptions
  handle(request: Incoming): Reply | Promise<Reply>
}
interface Res {
  readonly status: number
  readonly headers: Record<string, string>
  readonly body: Buffer
}
interface App {
  request(path: string, init?: { method?: string; headers?: Record<string, string> }): Promise<Res>
  close(): Promise<void>
}

/** Every app sets a request id in a middleware before the cache, as many apps do. */
let requestIds = 0
const nextRequestId = () => `req-${++requestIds}`

async function expressApp(responses: ResponseCache, routes: readonly RouteSpec[]): Promise<App> {
  const app = express()
  app.use((_req, res, next) => {
    res.setHeader('x-request-id', nextRequestId())
    next()
  })
  for (const spec of routes) {
    for (const method of spec.methods ?? ['GET']) {
      const register = method === 'GET' ? app.get.bind(app) : app.post.bind(app)
      register(spec.path, expressResponseCache(responses, spec.cache), (req, res, next) => {
        Promise.resolve(spec.handle({ method: req.method, url: req.originalUrl, header: (n) => req.get(n) }))
          .then((r) => {
            res.status(r.status ?? 200)
            for (const [name, value] of Object.entries(r.headers ?? {})) res.setHeader(name, value)
            if (r.chunks === undefined) res.send(r.body ?? '')
            else {
              for (const chunk of r.chunks) res.write(chunk)
              res.end()
            }
          })
          .catch(next)
      })
    }
  }
  const server = app.listen(0, '127.0.0.1')
  await new Promise<void>((resolve) => server.once('listening', resolve))
  const port = (server.address() as AddressInfo).port
  return {
    async request(path, init = {}) {
      const headers = init.headers ?? {}
      // fetch adds `Cache-Control: no-cache` to any request with a conditional header (the Fetch
      // spec's cache mode), which the cache rightly treats as a refresh: send those over node:http.
      if ('if-none-match' in headers || 'if-modified-since' in headers) return nodeRequest(port, path, init)
      const res = await fetch(`http://127.0.0.1:${port}${path}`, { method: init.method ?? 'GET', headers })
      return {
        status: res.status,
        headers: Object.fromEntries(res.headers),
        body: Buffer.from(await res.arrayBuffer()),
      }
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
}

function nodeRequest(
  port: number,
  path: string,
  init: { method?: string; headers?: Record<string, string> },
): Promise<Res> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port, path, method: init.method ?? 'GET', headers: init.headers },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (c: Buffer) => chunks.push(c))
        res.on('end', () => {
          const headers: Record<string, string> = {}
          for (const [name, value] of Object.entries(res.headers))
            if (value !== undefined) headers[name] = String(value)
          resolve({ status: res.statusCode ?? 0, headers, body: Buffer.concat(chunks) })
        })
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.end()
  })
}

async function fastifyApp(responses: ResponseCache, routes: readonly RouteSpec[]): Promise<App> {
  const app = Fastify()
  app.addHook('onRequest', async (_request, reply) => {
    reply.header('x-request-id', nextRequestId())
  })
  await app.register(fastifyResponseCache, { responses })
  for (const spec of routes) {
    app.route({
      method: [...(spec.methods ?? ['GET'])],
      url: spec.path,
      config: { responseCache: spec.cache ?? true },
      handler: async (request, reply) => {
        const r = await spec.handle({
          method: request.method,
          url: request.url,
          header: (n) => request.headers[n] as string | undefined,
        })
        reply.code(r.status ?? 200)
        for (const [name, value] of Object.entries(r.headers ?? {})) reply.header(name, value)
        if (r.chunks !== undefined) return reply.send(Readable.from(r.chunks))
        return reply.send(r.body ?? '')
      },
    })
  }
  await app.ready()
  return {
    async request(path, init = {}) {
      const res = await app.inject({
        method: (init.method ?? 'GET') as 'GET',
        url: path,
        headers: init.headers ?? {},
      })
      const headers: Record<string, string> = {}
      for (const [name, value] of Object.entries(res.headers))
        if (value !== undefined) headers[name] = String(value)
      return { status: res.statusCode, headers, body: res.rawPayload }
    },
    close: () => app.close(),
  }
}

async function honoApp(responses: ResponseCache, routes: readonly RouteSpec[]): Promise<App> {
  const app = new Hono()
  app.use(async (c, next) => {
    c.header('x-request-id', nextRequestId())
    await next()
  })
  for (const spec of routes) {
    app.on([...(spec.methods ?? ['GET'])], spec.path, honoResponseCache(responses, spec.cache), async (c) => {
      const r = await spec.handle({ method: c.req.method, url: c.req.url, header: (n) => c.req.header(n) })
      const headers = new Headers()
      for (const [name, value] of Object.entries(r.headers ?? {})) {
        for (const v of Array.isArray(value) ? value : [value]) headers.append(name, v)
      }
      const chunks = r.chunks
      const body =
        chunks === undefined
          ? (r.body ?? '')
          : new ReadableStream<Uint8Array>({
              start(controller) {
                for (const chunk of chunks) controller.enqueue(chunk)
                controller.close()
              },
            })
      return new Response(body, { status: r.status ?? 200, headers })
    })
  }
  return {
    async request(path, init = {}) {
      const res = await app.request(path, { method: init.method ?? 'GET', headers: init.headers ?? {} })
      return {
        status: res.status,
        headers: Object.fromEntries(res.headers),
        body: Buffer.from(await res.arrayBuffer()),
      }
    },
    close: async () => {},
  }
}

const BUILDERS: Record<Framework, (r: ResponseCache, routes: readonly RouteSpec[]) => Promise<App>> = {
  express: expressApp,
  fastify: fastifyApp,
  hono: honoApp,
}

/** A handler that counts its runs and answers with the run number. */
function counted(reply: (run: number, request: Incoming) => Reply = (run) => ({ body: `run ${run}` })) {
  const counter = {
    runs: 0,
    handle: (request: Incoming) => reply(++counter.runs, request),
  }
  return counter
}

/** Headers that belong to one transmission, ignored when comparing a hit with its miss. */
const TRANSIENT = new Set([
  'date',
  'x-cache',
  'connection',
  'keep-alive',
  'transfer-encoding',
  'x-request-id',
])

for (const engine of testEngines()) {
  void describe(`HTTP response cache on ${engine}`, { timeout: 120_000 }, () => {
    let server: ServerHandle
    const prefix = `t-http-${randomBytes(4).toString('hex')}`
    const closers: (() => Promise<void>)[] = []

    before(async () => {
      server = await startServer({ engine })
    })
    after(async () => {
      for (const close of closers.reverse()) await close().catch(() => {})
      if (server?.alive) await cleanPrefix(server, `${prefix}:`)
      await server?.stop()
    })

    /** A valkit instance of its own (its own connections) with a cache and a response cache on it. */
    async function instance(
      options: ResponseCacheOptions = {},
      on: ServerHandle = server,
    ): Promise<{ valkit: Valkit; cache: Cache; responses: ResponseCache }> {
      const valkit = createValkit({
        url: on.url,
        env: {},
        logger: false,
        keyPrefix: prefix,
        commandTimeout: 500,
      })
      await valkit.supervisor.waitFor('ready', 10_000)
      const cache = createCache(valkit, { namespace: 'http', jitter: 0 })
      await cache.ready()
      closers.push(async () => {
        await cache.close()
        await valkit.close()
      })
      return { valkit, cache, responses: createResponseCache(cache, options) }
    }

    async function app(fw: Framework, responses: ResponseCache, routes: readonly RouteSpec[]): Promise<App> {
      const built = await BUILDERS[fw](responses, routes)
      closers.push(() => built.close())
      return built
    }

    for (const fw of FRAMEWORKS) {
      void describe(fw, () => {
        // Every test uses paths of its own: entries are shared through Redis by every test of this engine.
        const p = (name: string) => `/${fw}/${name}`

        it('hit after miss: identical body and headers, the handler runs once, concurrent misses coalesce', async () => {
          const { responses } = await instance()
          const h = counted((run) => ({
            headers: { 'content-type': 'application/json', 'x-run': String(run) },
            body: JSON.stringify({ run, items: [1, 2, 3] }),
          }))
          const a = await app(fw, responses, [{ path: p('items'), handle: h.handle }])
          const miss = await a.request(p('items'))
          assert.equal(miss.status, 200)
          assert.equal(miss.headers['x-cache'], 'MISS')
          await waitFor(() => responses.stats().stored === 1, { what: 'the response stored' })
          const hit = await a.request(p('items'))
          assert.equal(hit.headers['x-cache'], 'HIT')
          assert.deepEqual(hit.body, miss.body)
          for (const [name, value] of Object.entries(miss.headers)) {
            if (!TRANSIENT.has(name)) assert.equal(hit.headers[name], value, `header ${name}`)
          }
          const added = Object.keys(hit.headers).filter((n) => !(n in miss.headers) && !TRANSIENT.has(n))
          assert.ok(
            added.every((n) => ['age', 'etag', 'content-length'].includes(n)),
            `added: ${added.join()}`,
          )
          assert.match(hit.headers.age ?? '', /^\d+$/)
          assert.equal(h.runs, 1)

          // A cold key asked for by 5 requests at once: one handler run.
          let arrived = 0
          const slow = counted((run) => ({ body: `slow ${run}` }))
          const b = await app(fw, responses, [
            {
              path: p('cold'),
              cache: { bypass: () => (++arrived, false) },
              handle: async (r) => {
                await waitFor(() => arrived >= 5, { what: 'all five requests at the cache' })
                return slow.handle(r)
              },
            },
          ])
          const all = await Promise.all(Array.from({ length: 5 }, () => b.request(p('cold'))))
          assert.deepEqual(
            all.map((r) => r.body.toString()),
            Array(5).fill('slow 1'),
          )
          assert.equal(slow.runs, 1)
          assert.equal(responses.stats().coalesced, 4)
        })

        it('headers set by middleware before the cache are fresh on a hit, not replayed from the miss', async () => {
          const { responses } = await instance()
          const h = counted((run) => ({ headers: { 'x-handler': `h${run}` }, body: 'same' }))
          const a = await app(fw, responses, [{ path: p('request-id'), handle: h.handle }])
          const miss = await a.request(p('request-id'))
          await waitFor(() => responses.stats().stored === 1, { what: 'stored' })
          const hit = await a.request(p('request-id'))
          assert.equal(hit.headers['x-cache'], 'HIT')
          assert.equal(hit.headers['x-handler'], 'h1', 'the handler’s headers are replayed')
          assert.ok(hit.headers['x-request-id'] !== undefined, 'the middleware ran on the hit')
          assert.notEqual(hit.headers['x-request-id'], miss.headers['x-request-id'])
        })

        it('per-route TTL, and the handler max-age, expire the entry', async () => {
          const { responses } = await instance()
          const short = counted()
          const byHeader = counted((run) => ({
            headers: { 'cache-control': 'public, max-age=1' },
            body: `h${run}`,
          }))
          const a = await app(fw, responses, [
            { path: p('short'), cache: { ttl: '300ms' }, handle: short.handle },
            { path: p('by-header'), cache: { ttl: '1h' }, handle: byHeader.handle },
          ])
          for (const path of [p('short'), p('by-header')]) {
            assert.equal((await a.request(path)).headers['x-cache'], 'MISS')
            await waitFor(async () => (await a.request(path)).headers['x-cache'] === 'HIT', {
              what: `${path} stored`,
            })
          }
          for (const [path, h] of [
            [p('short'), short],
            [p('by-header'), byHeader],
          ] as const) {
            const fresh = await waitFor(
              async () => {
                const r = await a.request(path)
                return r.headers['x-cache'] === 'MISS' && r
              },
              { timeoutMs: 5000, intervalMs: 100, what: `${path} expired` },
            )
            assert.equal(h.runs, 2, `${path}: the handler ran again after expiry`)
            assert.match(fresh.body.toString(), /2$/)
          }
        })

        it('Vary: route vary and handler Vary give one entry per Accept-Language', async () => {
          const { responses } = await instance()
          const greet = (run: number, r: Incoming) => ({
            body: `${r.header('accept-language') === 'fr' ? 'bonjour' : 'hello'} ${run}`,
          })
          const byRoute = counted(greet)
          const byHandler = counted((run, r) => ({ ...greet(run, r), headers: { vary: 'Accept-Language' } }))
          const a = await app(fw, responses, [
            { path: p('route-vary'), cache: { vary: ['accept-language'] }, handle: byRoute.handle },
            { path: p('handler-vary'), handle: byHandler.handle },
          ])
          for (const [path, h] of [
            [p('route-vary'), byRoute],
            [p('handler-vary'), byHandler],
          ] as const) {
            const en = await a.request(path, { headers: { 'accept-language': 'en' } })
            const fr = await a.request(path, { headers: { 'accept-language': 'fr' } })
            assert.equal(en.body.toString(), 'hello 1')
            assert.equal(fr.body.toString(), 'bonjour 2')
            assert.match(en.headers.vary ?? '', /accept-language/i)
            await waitFor(() => responses.stats().stored >= (path === p('route-vary') ? 2 : 4), {
              what: 'stored',
            })
            const enHit = await a.request(path, { headers: { 'accept-language': 'en' } })
            const frHit = await a.request(path, { headers: { 'accept-language': 'fr' } })
            assert.deepEqual([enHit.headers['x-cache'], enHit.body.toString()], ['HIT', 'hello 1'])
            assert.deepEqual([frHit.headers['x-cache'], frHit.body.toString()], ['HIT', 'bonjour 2'])
            assert.equal(h.runs, 2)
          }
        })

        it('ETag + If-None-Match: 304 without body; a conditional miss still fills the cache', async () => {
          const { responses } = await instance()
          const h = counted()
          // A handler with ETag support of its own: a matching If-None-Match gets its own 304.
          const selfConditional = (r: Incoming): Reply =>
            r.header('if-none-match') === '"v1"'
              ? { status: 304, headers: { etag: '"v1"' } }
              : { ...h.handle(r), headers: { etag: '"v1"' } }
          const a = await app(fw, responses, [
            { path: p('etag'), handle: h.handle },
            { path: p('cond'), handle: selfConditional },
          ])
          await a.request(p('etag'))
          const hit = await waitFor(async () => {
            const r = await a.request(p('etag'))
            return r.headers['x-cache'] === 'HIT' && r
          })
          const etag = hit.headers.etag
          assert.ok(etag !== undefined, 'a hit carries an ETag')
          const notModified = await a.request(p('etag'), { headers: { 'if-none-match': etag } })
          assert.equal(notModified.status, 304)
          assert.equal(notModified.body.length, 0)
          assert.equal(notModified.headers.etag, etag)
          assert.equal((await a.request(p('etag'), { headers: { 'if-none-match': '"other"' } })).status, 200)
          assert.equal(responses.stats().notModified, 1)
          // A miss whose client still holds the ETag: the conditional is removed before the handler
          // runs, so the full response is sent and stored (not the handler's own 304); then 304s come
          // from the cache.
          const conditional = await a.request(p('cond'), { headers: { 'if-none-match': '"v1"' } })
          assert.deepEqual([conditional.status, conditional.body.toString()], [200, 'run 2'])
          await waitFor(async () => (await a.request(p('cond'))).headers['x-cache'] === 'HIT', {
            what: 'cond stored',
          })
          const cached304 = await a.request(p('cond'), { headers: { 'if-none-match': '"v1"' } })
          assert.deepEqual([cached304.status, cached304.headers['x-cache']], [304, 'HIT'])
          assert.equal(h.runs, 2)
        })

        it('client Cache-Control: no-store bypasses, no-cache refreshes the stored response', async () => {
          const { responses } = await instance()
          const h = counted()
          const a = await app(fw, responses, [{ path: p('client'), handle: h.handle }])
          const bypassed = await a.request(p('client'), { headers: { 'cache-control': 'no-store' } })
          assert.equal(bypassed.headers['x-cache'], 'BYPASS')
          assert.equal((await a.request(p('client'))).headers['x-cache'], 'MISS', 'no-store stored nothing')
          await waitFor(() => responses.stats().stored === 1, { what: 'stored' })
          assert.equal(
            (await a.request(p('client'), { headers: { 'cache-control': 'no-store' } })).body.toString(),
            'run 3',
          )
          const refreshed = await a.request(p('client'), { headers: { 'cache-control': 'no-cache' } })
          assert.deepEqual([refreshed.headers['x-cache'], refreshed.body.toString()], ['REFRESH', 'run 4'])
          await waitFor(() => responses.stats().stored === 2, { what: 'refreshed response stored' })
          const hit = await a.request(p('client'))
          assert.deepEqual([hit.headers['x-cache'], hit.body.toString()], ['HIT', 'run 4'])
          assert.equal(
            (await a.request(p('client'), { headers: { pragma: 'no-cache' } })).headers['x-cache'],
            'REFRESH',
          )
        })

        it('handler no-store, private, Set-Cookie: not stored; POST never cached', async () => {
          const { responses } = await instance()
          const h = counted()
          const routes: RouteSpec[] = [
            {
              path: p('no-store'),
              handle: (r) => ({ ...h.handle(r), headers: { 'cache-control': 'no-store' } }),
            },
            {
              path: p('private'),
              handle: (r) => ({ ...h.handle(r), headers: { 'cache-control': 'private, max-age=60' } }),
            },
            {
              path: p('cookie'),
              handle: (r) => ({ ...h.handle(r), headers: { 'set-cookie': 'sid=1; HttpOnly' } }),
            },
            { path: p('post'), methods: ['GET', 'POST'], handle: h.handle },
          ]
          const a = await app(fw, responses, routes)
          for (const path of [p('no-store'), p('private'), p('cookie')]) {
            const first = await a.request(path)
            const second = await a.request(path)
            assert.deepEqual([first.headers['x-cache'], second.headers['x-cache']], ['MISS', 'MISS'], path)
            assert.notEqual(first.body.toString(), second.body.toString())
          }
          await waitFor(() => responses.stats().notStored === 6, { what: 'six responses refused' })
          const { notStoredReasons } = responses.stats()
          assert.deepEqual(
            [notStoredReasons['no-store'], notStoredReasons.private, notStoredReasons['set-cookie']],
            [2, 2, 2],
          )
          const posts = [
            await a.request(p('post'), { method: 'POST' }),
            await a.request(p('post'), { method: 'POST' }),
          ]
          assert.deepEqual(
            posts.map((r) => r.body.toString()),
            ['run 7', 'run 8'],
          )
          assert.equal(posts[0]!.headers['x-cache'], undefined, 'a POST is not touched')
          assert.equal(responses.stats().stored, 0)
          assert.equal(
            (await a.request(p('post'))).headers['x-cache'],
            'MISS',
            'no POST response stored for GET',
          )
        })

        it('invalidateTags drops the response in every instance; the next request runs the handler', async () => {
          const one = await instance()
          const two = await instance()
          const h = counted()
          const routes = [
            {
              path: p('tagged'),
              cache: { tags: ['products'], includeHost: fw !== 'express' },
              handle: h.handle,
            },
          ]
          const a = await app(fw, one.responses, routes)
          const b = await app(fw, two.responses, routes)
          await a.request(p('tagged'))
          // The miss's response is stored after it was sent: wait for the store, so b's first
          // request finds it instead of running the handler itself.
          await waitFor(() => one.responses.stats().stored >= 1 || undefined, {
            what: 'a stored the response',
          })
          const first = await b.request(p('tagged'))
          assert.equal(first.headers['x-cache'], 'HIT', 'b reads a’s entry from L2')
          await one.cache.invalidateTags(['products'])
          const after = await a.request(p('tagged'))
          assert.deepEqual([after.headers['x-cache'], after.body.toString()], ['MISS', 'run 2'])
          await waitFor(async () => (await b.request(p('tagged'))).body.toString() === 'run 2', {
            what: 'b serves the new response (its L1 copy dropped by the invalidation message)',
          })
          assert.equal(h.runs, 2)
        })

        it('two app instances on two valkit connections share one entry: the second is a hit from L2', async () => {
          const one = await instance()
          const two = await instance()
          const h = counted((run) => ({ headers: { 'content-type': 'text/plain' }, body: `shared ${run}` }))
          // fetch cannot set Host, and two Express apps listen on two ports: key Express without the host.
          const routes = [{ path: p('shared'), cache: { includeHost: fw !== 'express' }, handle: h.handle }]
          const a = await app(fw, one.responses, routes)
          const b = await app(fw, two.responses, routes)
          assert.equal((await a.request(`${p('shared')}?b=2&a=1`)).headers['x-cache'], 'MISS')
          await waitFor(() => one.responses.stats().stored === 1, { what: 'stored by instance one' })
          const hitsL2 = two.cache.stats().hitsL2
          const fromL2 = await b.request(`${p('shared')}?a=1&b=2`)
          assert.deepEqual([fromL2.headers['x-cache'], fromL2.body.toString()], ['HIT', 'shared 1'])
          assert.equal(two.cache.stats().hitsL2, hitsL2 + 1, 'read from Redis/Valkey')
          assert.equal(h.runs, 1)
        })

        it('binary and streamed bodies round-trip byte-exact; HEAD is answered from the GET entry', async () => {
          const one = await instance()
          const two = await instance()
          const binary = randomBytes(64 * 1024)
          const parts = [randomBytes(1000), randomBytes(5000), Buffer.from('end')]
          const routes: RouteSpec[] = [
            {
              path: p('bin'),
              cache: { includeHost: fw !== 'express' },
              handle: () => ({ headers: { 'content-type': 'application/octet-stream' }, body: binary }),
            },
            {
              path: p('stream'),
              cache: { includeHost: fw !== 'express' },
              handle: () => ({ headers: { 'content-type': 'application/octet-stream' }, chunks: parts }),
            },
          ]
          const a = await app(fw, one.responses, routes)
          const b = await app(fw, two.responses, routes)
          assert.deepEqual((await a.request(p('bin'))).body, binary)
          assert.deepEqual((await a.request(p('stream'))).body, Buffer.concat(parts))
          await waitFor(() => one.responses.stats().stored === 2, { what: 'both stored' })
          for (const x of [a, b]) {
            const bin = await x.request(p('bin'))
            assert.deepEqual([bin.headers['x-cache'], bin.body.equals(binary)], ['HIT', true])
            const streamed = await x.request(p('stream'))
            assert.deepEqual(
              [streamed.headers['x-cache'], streamed.body.equals(Buffer.concat(parts))],
              ['HIT', true],
            )
          }
          // A streamed body past maxBodyBytes is sent whole and not stored.
          const big = [randomBytes(1500), randomBytes(1500), randomBytes(1500)]
          const c = await app(fw, one.responses, [
            { path: p('big'), cache: { maxBodyBytes: 2000 }, handle: () => ({ chunks: big }) },
          ])
          assert.deepEqual((await c.request(p('big'))).body, Buffer.concat(big))
          await waitFor(() => one.responses.stats().notStoredReasons['too-large'] === 1, {
            what: 'too large',
          })
          assert.equal((await c.request(p('big'))).headers['x-cache'], 'MISS')
          const head = await a.request(p('bin'), { method: 'HEAD' })
          assert.deepEqual([head.status, head.headers['x-cache'], head.body.length], [200, 'HIT', 0])
          assert.equal(head.headers['content-length'], String(binary.length))
        })

        it('HEAD miss: with Hono it fills the entry GET is served from; Express and Fastify store nothing', async () => {
          const { responses } = await instance()
          const h = counted()
          const a = await app(fw, responses, [{ path: p('head-first'), handle: h.handle }])
          const first = await a.request(p('head-first'), { method: 'HEAD' })
          assert.deepEqual([first.status, first.headers['x-cache'], first.body.length], [200, 'MISS', 0])
          if (fw === 'hono') {
            await waitFor(() => responses.stats().stored === 1, { what: 'the HEAD miss stored' })
            const again = await a.request(p('head-first'), { method: 'HEAD' })
            assert.deepEqual(
              [again.headers['x-cache'], again.headers['content-length'], again.body.length],
              ['HIT', String('run 1'.length), 0],
            )
            const get = await a.request(p('head-first'))
            assert.deepEqual([get.headers['x-cache'], get.body.toString()], ['HIT', 'run 1'])
            assert.equal(h.runs, 1, 'the handler ran once, for the first HEAD')
          } else {
            // Express's res.send drops a HEAD body before the cache sees it; nothing is stored.
            const get = await a.request(p('head-first'))
            assert.deepEqual([get.headers['x-cache'], get.body.toString()], ['MISS', 'run 2'])
            await waitFor(() => responses.stats().stored === 1, { what: 'the GET stored' })
            const head = await a.request(p('head-first'), { method: 'HEAD' })
            assert.deepEqual([head.headers['x-cache'], head.headers['content-length']], ['HIT', '5'])
          }
          assert.equal(responses.stats().notStoredReasons.incomplete, 0)
        })

        if (fw === 'hono') {
          it('HEAD miss with Hono: a handler that answers HEAD itself (no GET body) stores nothing', async () => {
            const { responses } = await instance()
            const h = counted((run, request) =>
              request.method === 'HEAD'
                ? { headers: { 'content-length': '5' }, body: '' }
                : { body: `run ${run}` },
            )
            const a = await app(fw, responses, [{ path: p('head-own'), handle: h.handle }])
            const head = await a.request(p('head-own'), { method: 'HEAD' })
            assert.deepEqual([head.headers['x-cache'], head.headers['content-length']], ['MISS', '5'])
            await waitFor(() => responses.stats().notStoredReasons.incomplete === 1, {
              what: 'the HEAD-only answer refused',
            })
            const get = await a.request(p('head-own'))
            assert.deepEqual([get.headers['x-cache'], get.body.toString()], ['MISS', 'run 2'])
          })
        }

        it('Redis/Valkey killed: every request is still served by the cache or the handler, never a 5xx', async () => {
          const own = await startServer({ engine })
          closers.push(() => own.stop())
          const { valkit, responses } = await instance({}, own)
          const h = counted()
          const a = await app(fw, responses, [{ path: p('down/:id'), handle: h.handle }])
          await a.request(p('down/warm'))
          await waitFor(() => responses.stats().stored === 1, { what: 'warm stored' })
          await own.kill()
          const during = await a.request(p('down/cold-1'))
          assert.deepEqual([during.status, during.body.toString()], [200, 'run 2'])
          await waitFor(() => valkit.supervisor.state !== 'ready', { timeoutMs: 5000, what: 'degraded' })
          for (const path of [p('down/warm'), p('down/cold-2'), p('down/cold-2')]) {
            const r = await a.request(path)
            assert.equal(r.status, 200, path)
            assert.match(r.body.toString(), /^run \d$/)
          }
          assert.equal(
            (await a.request(p('down/warm'))).body.toString(),
            'run 1',
            'the warm entry still served from L1',
          )
        })
      })
    }
  })
}
