/**
 * The HTTP response cache engine without a server: directive parsing, keys, the store decision,
 * the storage format, 304s, and the request flow on an L1-only cache (bypasses, coalescing,
 * vary markers, error isolation).
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { createValkit, isValkitError } from '../../src/core/index.js'
import { createCache } from '../../src/cache/index.js'
import {
  createResponseCache,
  decideStore,
  ifNoneMatchMatches,
  parseCacheControl,
  parseVary,
  requestDirectives,
  resolveResponseCacheOptions,
  type ResponseCacheLookup,
  type ResponseCacheRequest,
  type ResponseCapture,
} from '../../src/cache/http-response/index.js'
import { deltaSeconds, splitList } from '../../src/cache/http-response/cache-control.js'
import { canonicalQuery, primaryKey, variantKey } from '../../src/cache/http-response/response-key.js'
import { serveStored, storableHeaders } from '../../src/cache/http-response/serve-response.js'
import { packResponse, packVaryMarker, unpackEntry } from '../../src/cache/http-response/stored-response.js'

const valkit = createValkit({ env: {}, logger: false })
after(() => valkit.close())

const ROUTE = resolveResponseCacheOptions().route

function req(url: string, headers: Record<string, string> = {}, method = 'GET'): ResponseCacheRequest {
  const lower = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v]))
  return { method, url, header: (name) => lower[name] }
}

function rejectsOption(fn: () => unknown, path: string): void {
  assert.throws(
    fn,
    (err: unknown) => isValkitError(err, 'VALKIT_INVALID_OPTION') && err.details?.path === path,
  )
}

void describe('Cache-Control, Vary and conditional parsing', () => {
  it('parses directives: case-insensitive names, quoted arguments, first value wins', () => {
    const d = parseCacheControl('Public, MAX-AGE=60, no-cache="set-cookie, x-a", max-age=5, s-maxage="30"')
    assert.equal(d.get('public'), true)
    assert.equal(d.get('max-age'), '60')
    assert.equal(d.get('no-cache'), 'set-cookie, x-a')
    assert.equal(deltaSeconds(d, 's-maxage'), 30)
    assert.equal(parseCacheControl(undefined).size, 0)
    assert.equal(parseCacheControl(['no-store', 'private']).has('private'), true, 'repeated header lines')
  })

  it('treats an invalid max-age as stale (0) and an absent one as undefined', () => {
    assert.equal(deltaSeconds(parseCacheControl('max-age=abc'), 'max-age'), 0)
    assert.equal(deltaSeconds(parseCacheControl('max-age'), 'max-age'), 0)
    assert.equal(deltaSeconds(parseCacheControl('max-age=-1'), 'max-age'), 0)
    assert.equal(deltaSeconds(parseCacheControl('public'), 'max-age'), undefined)
  })

  it('splits lists without breaking quoted strings', () => {
    assert.deepEqual(splitList(' a , "b, c" ,, d'), ['a', '"b, c"', 'd'])
  })

  it('reads the request: no-store, no-cache, Pragma: no-cache', () => {
    assert.deepEqual(requestDirectives('no-store', undefined), { noStore: true, noCache: false })
    assert.deepEqual(requestDirectives('No-Cache', undefined), { noStore: false, noCache: true })
    assert.deepEqual(requestDirectives(undefined, 'no-cache'), { noStore: false, noCache: true })
    assert.deepEqual(requestDirectives('max-age=0', undefined), { noStore: false, noCache: false })
  })

  it('parses Vary into sorted lowercase names, or * alone', () => {
    assert.deepEqual(parseVary('Accept-Language, accept-encoding, Accept-Language'), [
      'accept-encoding',
      'accept-language',
    ])
    assert.deepEqual(parseVary('Origin, *'), ['*'])
    assert.deepEqual(parseVary(undefined), [])
  })

  it('compares If-None-Match weakly, with lists and *', () => {
    assert.equal(ifNoneMatchMatches('W/"a"', '"a"'), true)
    assert.equal(ifNoneMatchMatches('"x", "a"', 'W/"a"'), true)
    assert.equal(ifNoneMatchMatches('*', '"a"'), true)
    assert.equal(ifNoneMatchMatches('"b"', '"a"'), false)
  })
})

void describe('response cache keys', () => {
  it('sorts the query by name (repeated values keep their order) and drops ignored parameters', () => {
    assert.equal(canonicalQuery('b=2&a=1&a=0&utm_source=x', new Set(['utm_source'])), 'a=1&a=0&b=2')
    assert.equal(canonicalQuery('', new Set()), '')
  })

  it('keys on method, host, path and query; HEAD shares GET; the host can be left out', () => {
    const a = primaryKey(req('/p?b=2&a=1', { host: 'Shop.Example' }), ROUTE)
    assert.equal(a, 'GET shop.example/p?a=1&b=2')
    assert.equal(primaryKey(req('/p?a=1&b=2', { host: 'shop.example' }, 'HEAD'), ROUTE), a)
    assert.notEqual(primaryKey(req('/p?a=1&b=2', { host: 'other.example' }), ROUTE), a)
    const noHost = resolveResponseCacheOptions({ includeHost: false }).route
    assert.equal(primaryKey(req('/p', { host: 'x' }), noHost), 'GET /p')
    assert.equal(primaryKey(req('http://localhost/p?z=1#frag'), ROUTE), 'GET localhost/p?z=1')
  })

  it('uses the key option instead, and rejects a key function that returns no string', () => {
    const route = resolveResponseCacheOptions({ key: (r) => `page:${r.url.length}` }).route
    assert.equal(primaryKey(req('/abc'), route), 'u:page:4')
    const bad = resolveResponseCacheOptions({ key: () => '' }).route
    assert.throws(() => primaryKey(req('/abc'), bad), TypeError)
  })

  it('appends vary header values: an absent header differs from an empty one; long keys are hashed', () => {
    const names = ['accept-language']
    const fr = variantKey('GET h/p', names, req('/p', { 'accept-language': 'fr, en' }))
    assert.equal(fr, 'res:GET h/p accept-language=fr%2Cen')
    assert.equal(variantKey('GET h/p', names, req('/p', { 'accept-language': 'fr,en' })), fr)
    assert.notEqual(
      variantKey('GET h/p', names, req('/p')),
      variantKey('GET h/p', names, req('/p', { 'accept-language': '' })),
    )
    const long = variantKey(`GET h/${'x'.repeat(400)}`, [], req('/'))
    assert.match(long, /^res:h:[A-Za-z0-9_-]{43}$/)
  })
})

void describe('store decision', () => {
  const body = Buffer.from('{"ok":true}')
  const decide = (headers: Record<string, string | string[]>, status = 200, route = ROUTE) =>
    decideStore({ status, headers, body }, route)

  it('stores a plain 200 with the cache default TTL', () => {
    assert.deepEqual(decide({ 'content-type': 'application/json' }), {
      store: true,
      ttlMs: undefined,
      vary: [],
    })
  })

  it('refuses what a shared cache must not store, with the reason', () => {
    const cases: [Record<string, string | string[]>, number, string][] = [
      [{}, 500, 'status'],
      [{}, 201, 'status'],
      [{ 'set-cookie': ['a=1'] }, 200, 'set-cookie'],
      [{ 'cache-control': 'no-store' }, 200, 'no-store'],
      [{ 'cache-control': 'private, max-age=60' }, 200, 'private'],
      [{ 'cache-control': 'no-cache' }, 200, 'no-cache'],
      [{ 'cache-control': 'max-age=0' }, 200, 'zero-ttl'],
      [{ vary: 'Accept, *' }, 200, 'vary-star'],
      [{ 'content-type': 'text/event-stream' }, 200, 'unsupported-body'],
    ]
    for (const [headers, status, reason] of cases) {
      assert.deepEqual(decide(headers, status), { store: false, reason }, JSON.stringify(headers))
    }
    const small = resolveResponseCacheOptions({ maxBodyBytes: 4 }).route
    assert.deepEqual(decide({}, 200, small), { store: false, reason: 'too-large' })
    assert.deepEqual(decideStore({ status: 200, headers: {}, body: null, problem: 'incomplete' }, ROUTE), {
      store: false,
      reason: 'incomplete',
    })
  })

  it('TTL: s-maxage over max-age over the route ttl, bounded by maxTtl; ttlFromHeaders: false ignores them', () => {
    const route = resolveResponseCacheOptions({ ttl: '10s', maxTtl: '1m' }).route
    const ttl = (headers: Record<string, string>, r = route) => {
      const d = decide(headers, 200, r)
      return d.store ? d.ttlMs : d.reason
    }
    assert.equal(ttl({}), 10_000)
    assert.equal(ttl({ 'cache-control': 'max-age=30' }), 30_000)
    assert.equal(ttl({ 'cache-control': 'max-age=30, s-maxage=5' }), 5_000)
    assert.equal(ttl({ 'cache-control': 'public, max-age=31536000' }), 60_000, 'bounded by maxTtl')
    const fixed = resolveResponseCacheOptions({ ttl: '10s', ttlFromHeaders: false }).route
    assert.equal(ttl({ 'cache-control': 'max-age=30' }, fixed), 10_000)
    assert.equal(
      ttl({ 'cache-control': 'max-age=0' }, fixed),
      10_000,
      'max-age=0 ignored with ttlFromHeaders: false',
    )
    assert.equal(ttl({ 'cache-control': 'no-store' }, fixed), 'no-store', 'no-store always honoured')
  })

  it('merges the route vary with the handler Vary', () => {
    const route = resolveResponseCacheOptions({ vary: ['Accept-Language'] }).route
    const d = decide({ vary: 'Accept-Encoding' }, 200, route)
    assert.deepEqual(d.store && d.vary, ['accept-encoding', 'accept-language'])
  })
})

void describe('response cache options', () => {
  it('applies the defaults', () => {
    const o = resolveResponseCacheOptions()
    assert.deepEqual([...o.route.statuses], [200])
    assert.equal(o.route.maxBodyBytes, 1024 * 1024)
    assert.equal(o.route.ttlMs, undefined)
    assert.equal(o.route.coalesce, true)
    assert.equal(o.route.cacheAuthorized, false)
    assert.equal(o.statusHeader, 'x-cache')
    assert.equal(o.etag, true)
  })

  it('rejects bad options naming their path', () => {
    rejectsOption(() => resolveResponseCacheOptions({ ttl: 0 }), 'responseCache.ttl')
    rejectsOption(() => resolveResponseCacheOptions({ ttl: 'soon' }), 'responseCache.ttl')
    rejectsOption(() => resolveResponseCacheOptions({ statuses: [200, 206] }), 'responseCache.statuses[1]')
    rejectsOption(() => resolveResponseCacheOptions({ statuses: [] }), 'responseCache.statuses')
    rejectsOption(() => resolveResponseCacheOptions({ vary: ['accept language'] }), 'responseCache.vary[0]')
    rejectsOption(() => resolveResponseCacheOptions({ vary: ['*'] }), 'responseCache.vary[0]')
    rejectsOption(() => resolveResponseCacheOptions({ maxBodyBytes: -1 }), 'responseCache.maxBodyBytes')
    rejectsOption(
      () => resolveResponseCacheOptions({ requestCacheControl: 'obey' as 'honor' }),
      'responseCache.requestCacheControl',
    )
    rejectsOption(() => resolveResponseCacheOptions({ tags: [''] }), 'responseCache.tags')
    rejectsOption(
      () => resolveResponseCacheOptions({ statusHeader: 'x cache' }),
      'responseCache.statusHeader',
    )
    rejectsOption(() => resolveResponseCacheOptions({ key: 'url' as never }), 'responseCache.key')
  })

  it('route options override the engine defaults, the rest is inherited', () => {
    const cache = createCache(valkit, { l2: false, namespace: 'opts' })
    const responses = createResponseCache(cache, {
      ttl: '1m',
      vary: ['accept-language'],
      statuses: [200, 404],
    })
    const route = responses.route({ ttl: '5s' }, 'myRoute')
    assert.equal(route.options.ttlMs, 5000)
    assert.deepEqual(route.options.vary, ['accept-language'])
    assert.deepEqual([...route.options.statuses], [200, 404])
    rejectsOption(() => responses.route({ maxTtl: -1 }, 'myRoute'), 'myRoute.maxTtl')
    assert.throws(
      () => createResponseCache({} as never),
      (e: unknown) => isValkitError(e, 'VALKIT_INVALID_ARGUMENT'),
    )
  })
})

void describe('storage format and 304s', () => {
  const stored = {
    status: 200,
    headers: [
      ['content-type', 'image/png'],
      ['link', ['</a>; rel=preload', '</b>; rel=preload']],
      ['etag', '"e1"'],
      ['last-modified', 'Tue, 01 Oct 2024 10:00:00 GMT'],
      ['cache-control', 'public, max-age=60'],
    ] as const,
    etag: '"e1"',
    lastModified: 'Tue, 01 Oct 2024 10:00:00 GMT',
    storedAt: 1_000_000,
    vary: ['accept'],
    body: Buffer.from([0, 255, 1, 254, 0x0a, 0x0d]),
  }

  it('round-trips a response byte for byte, and a vary marker', () => {
    const entry = unpackEntry(packResponse(stored))
    assert.equal(entry?.kind, 'response')
    assert.ok(entry?.kind === 'response')
    assert.deepEqual(entry.body, stored.body)
    assert.deepEqual(entry.headers, stored.headers)
    assert.equal(entry.etag, '"e1"')
    assert.deepEqual(unpackEntry(packVaryMarker(['a', 'b'])), { kind: 'vary', vary: ['a', 'b'] })
  })

  it('ignores values it did not write', () => {
    assert.equal(unpackEntry('a string'), undefined)
    assert.equal(unpackEntry(Buffer.from('{"s":200}')), undefined)
    const truncated = packResponse(stored).subarray(0, 10)
    assert.equal(unpackEntry(truncated), undefined)
  })

  it('serves a hit with Age, content-length and the status header, also for HEAD', () => {
    const entry = unpackEntry(packResponse(stored))
    assert.ok(entry?.kind === 'response')
    const { response, notModified } = serveStored(entry, req('/'), 'x-cache', 1_000_000 + 42_500)
    assert.equal(notModified, false)
    assert.equal(response.status, 200)
    assert.deepEqual(response.body, stored.body)
    const h = new Map(response.headers)
    assert.equal(h.get('age'), '42')
    assert.equal(h.get('x-cache'), 'HIT')
    assert.equal(h.get('content-length'), '6')
    const head = serveStored(entry, req('/', {}, 'HEAD'), null).response
    assert.equal(new Map(head.headers).get('content-length'), '6', 'HEAD: the length of the GET body')
  })

  it('answers If-None-Match (and, without it, If-Modified-Since) with a bodiless 304', () => {
    const entry = unpackEntry(packResponse(stored))
    assert.ok(entry?.kind === 'response')
    const inm = serveStored(entry, req('/', { 'if-none-match': 'W/"e1"' }), 'x-cache')
    assert.equal(inm.notModified, true)
    assert.equal(inm.response.status, 304)
    assert.equal(inm.response.body, null)
    const names = inm.response.headers.map(([n]) => n).sort()
    assert.deepEqual(names, ['age', 'cache-control', 'etag', 'last-modified', 'x-cache'])
    assert.equal(serveStored(entry, req('/', { 'if-none-match': '"other"' }), null).response.status, 200)
    const ims = serveStored(entry, req('/', { 'if-modified-since': 'Wed, 02 Oct 2024 10:00:00 GMT' }), null)
    assert.equal(ims.response.status, 304)
    const older = serveStored(entry, req('/', { 'if-modified-since': 'Mon, 30 Sep 2024 10:00:00 GMT' }), null)
    assert.equal(older.response.status, 200)
  })

  it('stores only what the handler contributed: unchanged headers of earlier middleware are left out', () => {
    const headers = storableHeaders(
      {
        'x-request-id': 'r1',
        'x-powered-by': 'me',
        'content-type': 'text/plain',
        'content-length': 3,
        vary: 'a',
      },
      { 'x-request-id': 'r1', 'x-powered-by': 'old' },
      new Set(),
      ['a'],
      '"t"',
    )
    assert.deepEqual(headers, [
      ['x-powered-by', 'me'],
      ['content-type', 'text/plain'],
      ['vary', 'a'],
      ['etag', '"t"'],
    ])
  })
})

/** Runs a miss through the engine like an adapter does. */
async function respond(
  lookup: ResponseCacheLookup,
  status: number,
  headers: Record<string, string | string[]>,
  body: string,
) {
  assert.equal(lookup.kind, 'run')
  const capture = (lookup as { capture: ResponseCapture | null }).capture
  assert.ok(capture !== null, 'a capture')
  return capture.finish({ status, headers, body: Buffer.from(body) })
}

void describe('response cache flow (L1-only cache)', () => {
  const cache = createCache(valkit, { l2: false, namespace: 'flow' })
  after(() => cache.close())
  let n = 0
  const fresh = (options: Parameters<typeof createResponseCache>[1] = {}) =>
    createResponseCache(cache.namespace(`f${++n}`), options)

  it('miss, store, hit with identical body and headers', async () => {
    const responses = fresh()
    const route = responses.route({ tags: ['t'] })
    const first = await route.lookup(req('/a'))
    assert.equal(first.kind === 'run' && first.status, 'MISS')
    assert.deepEqual(await respond(first, 200, { 'content-type': 'text/plain' }, 'hello'), {
      stored: true,
      ttlMs: undefined,
    })
    const hit = await route.lookup(req('/a'))
    assert.ok(hit.kind === 'serve')
    assert.equal(hit.response.body?.toString(), 'hello')
    assert.equal(new Map(hit.response.headers).get('content-type'), 'text/plain')
    assert.match(String(new Map(hit.response.headers).get('etag')), /^"[A-Za-z0-9_-]{27}"$/)
    assert.equal(route.keyOf(req('/a')), 'res:GET /a', 'the key of a request, for diagnostics')
    assert.deepEqual(
      { hits: responses.stats().hits, misses: responses.stats().misses, stored: responses.stats().stored },
      { hits: 1, misses: 1, stored: 1 },
    )
  })

  it('a HEAD miss captures only where the adapter sees GET’s body (headHasGetBody), and fills GET’s entry', async () => {
    const route = fresh().route({})
    const plain = await route.lookup(req('/h', {}, 'HEAD'))
    assert.ok(plain.kind === 'run' && plain.capture === null, 'no capture by default (Express, Fastify)')
    const hono = await route.lookup({ ...req('/h', {}, 'HEAD'), headHasGetBody: true })
    assert.deepEqual(await respond(hono, 200, { 'content-type': 'text/plain' }, 'body of GET'), {
      stored: true,
      ttlMs: undefined,
    })
    const get = await route.lookup(req('/h'))
    assert.ok(get.kind === 'serve')
    assert.equal(get.response.body?.toString(), 'body of GET')
  })

  it('bypasses: POST passes, client no-store, Authorization, Range, the bypass option, a throwing key', async () => {
    const errors: unknown[] = []
    const responses = fresh({ bypass: (r) => r.url.startsWith('/admin'), onError: (e) => errors.push(e) })
    const route = responses.route()
    assert.equal((await route.lookup(req('/a', {}, 'POST'))).kind, 'pass')
    const statusOf = async (r: ResponseCacheRequest) => {
      const l = await route.lookup(r)
      return l.kind === 'run' ? [l.status, l.capture === null] : l.kind
    }
    assert.deepEqual(await statusOf(req('/a', { 'cache-control': 'no-store' })), ['BYPASS', true])
    assert.deepEqual(await statusOf(req('/a', { authorization: 'Bearer x' })), ['BYPASS', true])
    assert.deepEqual(await statusOf(req('/a', { range: 'bytes=0-1' })), ['BYPASS', true])
    assert.deepEqual(await statusOf(req('/admin/x')), ['BYPASS', true])
    const throwing = responses.route({
      key: () => {
        throw new Error('boom')
      },
    })
    const l = await throwing.lookup(req('/a'))
    assert.equal(l.kind === 'run' && l.status, 'BYPASS')
    assert.equal(errors.length, 1)
    assert.deepEqual(responses.stats().bypassReasons, {
      method: 1,
      'request-no-store': 1,
      authorization: 1,
      range: 1,
      'bypass-option': 1,
      error: 1,
    })
    const authorized = responses.route({ cacheAuthorized: true })
    assert.deepEqual(
      await (async () => {
        const x = await authorized.lookup(req('/a', { authorization: 'Bearer x' }))
        return x.kind === 'run' && x.status
      })(),
      'MISS',
    )
  })

  it('client no-cache skips the read and stores the fresh response; requestCacheControl: ignore', async () => {
    const responses = fresh()
    const route = responses.route()
    await respond(await route.lookup(req('/r')), 200, {}, 'v1')
    const refresh = await route.lookup(req('/r', { pragma: 'no-cache' }))
    assert.equal(refresh.kind === 'run' && refresh.status, 'REFRESH')
    await respond(refresh, 200, {}, 'v2')
    const hit = await route.lookup(req('/r'))
    assert.equal(hit.kind === 'serve' && hit.response.body?.toString(), 'v2')
    const stubborn = responses.route({ requestCacheControl: 'ignore' })
    const ignored = await stubborn.lookup(req('/r', { 'cache-control': 'no-store, no-cache' }))
    assert.equal(ignored.kind, 'serve')
  })

  it('coalesces concurrent misses: one handler run, the others served its response', async () => {
    const responses = fresh()
    const route = responses.route()
    const leader = await route.lookup(req('/c'))
    const waiters = [route.lookup(req('/c')), route.lookup(req('/c')), route.lookup(req('/c'))]
    await respond(leader, 200, {}, 'once')
    const served = await Promise.all(waiters)
    assert.deepEqual(
      served.map((s) => s.kind === 'serve' && s.response.body?.toString()),
      ['once', 'once', 'once'],
    )
    assert.equal(responses.stats().coalesced, 3)
    assert.equal(responses.stats().misses, 1)
  })

  it('a coalesced request runs the handler itself when the first response is not storable, or too slow', async () => {
    const responses = fresh({ coalesceTimeout: 50 })
    const route = responses.route()
    const leader = await route.lookup(req('/s'))
    const waiter = route.lookup(req('/s'))
    await respond(leader, 500, {}, 'error')
    const w = await waiter
    assert.equal(w.kind === 'run' && w.status, 'MISS')
    const slowLeader = await route.lookup(req('/slow'))
    const slowWaiter = await route.lookup(req('/slow'))
    assert.equal(slowWaiter.kind === 'run' && slowWaiter.status, 'MISS', 'waited 50 ms, then ran')
    assert.ok(slowLeader.kind === 'run')
    slowLeader.capture?.abandon()
    assert.equal(responses.stats().notStoredReasons.incomplete, 1)
  })

  it('handler Vary beyond the route vary: a marker, one entry per header value', async () => {
    const responses = fresh()
    const route = responses.route()
    const en = { 'accept-language': 'en' }
    const fr = { 'accept-language': 'fr' }
    await respond(await route.lookup(req('/v', en)), 200, { vary: 'Accept-Language' }, 'hello')
    const frMiss = await route.lookup(req('/v', fr))
    assert.equal(frMiss.kind, 'run', 'a French request does not get the English response')
    await respond(frMiss, 200, { vary: 'Accept-Language' }, 'bonjour')
    const a = await route.lookup(req('/v', en))
    const b = await route.lookup(req('/v', fr))
    assert.equal(a.kind === 'serve' && a.response.body?.toString(), 'hello')
    assert.equal(b.kind === 'serve' && b.response.body?.toString(), 'bonjour')
    assert.equal(new Map(a.kind === 'serve' ? a.response.headers : []).get('vary'), 'accept-language')
  })

  it('coalesced waiters with another value of a handler-Vary header are not given the response', async () => {
    const responses = fresh()
    const route = responses.route()
    const leader = await route.lookup(req('/w', { 'accept-language': 'en' }))
    const other = route.lookup(req('/w', { 'accept-language': 'de' }))
    const same = route.lookup(req('/w', { 'accept-language': 'en' }))
    await respond(leader, 200, { vary: 'accept-language' }, 'english')
    const [o, s] = await Promise.all([other, same])
    assert.equal(o.kind, 'run')
    assert.equal(s.kind === 'serve' && s.response.body?.toString(), 'english')
  })

  it('tags (static, from the request, from the handler header) make invalidateTags drop the response', async () => {
    const ns = cache.namespace('tagged')
    const responses = createResponseCache(ns, { tagsHeader: 'x-cache-tags' })
    const route = responses.route({ tags: (r) => [`path:${r.url}`] })
    const first = await route.lookup(req('/t'))
    assert.ok(first.kind === 'run' && first.capture !== null)
    const edits = first.capture.edits(200, { 'x-cache-tags': 'org:1, org:2' }, Buffer.from('x'))
    assert.deepEqual(edits.remove, ['x-cache-tags'])
    await first.capture.finish({
      status: 200,
      headers: { 'x-cache-tags': 'org:1, org:2' },
      body: Buffer.from('x'),
    })
    const hit = await route.lookup(req('/t'))
    assert.ok(hit.kind === 'serve')
    assert.equal(new Map(hit.response.headers).has('x-cache-tags'), false, 'tags header not replayed')
    await ns.invalidateTags(['org:2'])
    assert.equal((await route.lookup(req('/t'))).kind, 'run')
  })

  it('an oversized entry is counted as too-large, a tags function that throws as error; the request goes on', async () => {
    const small = createCache(valkit, { l2: false, namespace: 'small', maxEntryBytes: 64 })
    after(() => small.close())
    const errors: unknown[] = []
    const responses = createResponseCache(small, { onError: (e) => errors.push(e) })
    const big = await responses.route().lookup(req('/big'))
    assert.deepEqual(await respond(big, 200, {}, 'x'.repeat(500)), { stored: false, reason: 'too-large' })
    const bad = responses.route({
      tags: () => {
        throw new Error('no tags')
      },
    })
    assert.deepEqual(await respond(await bad.lookup(req('/bad')), 200, {}, 'y'), {
      stored: false,
      reason: 'error',
    })
    assert.equal(errors.length, 1)
    assert.equal(responses.stats().errors, 1)
  })

  it('metrics: valkit_cache_http_* series on the given registry', async () => {
    const responses = fresh({ metrics: valkit.metrics })
    const route = responses.route()
    await respond(await route.lookup(req('/m')), 200, {}, 'm')
    await route.lookup(req('/m'))
    await route.lookup(req('/m', { 'cache-control': 'no-store' }))
    await respond(await route.lookup(req('/n')), 200, { 'cache-control': 'private' }, 'p')
    const text = valkit.metrics.toPrometheus()
    assert.match(text, /valkit_cache_http_requests_total\{namespace="flow:f\d+",result="hit"\} 1/)
    assert.match(
      text,
      /valkit_cache_http_bypasses_total\{namespace="flow:f\d+",reason="request-no-store"\} 1/,
    )
    assert.match(text, /valkit_cache_http_not_stored_total\{namespace="flow:f\d+",reason="private"\} 1/)
    assert.match(text, /valkit_cache_http_stored_total\{namespace="flow:f\d+"\} 1/)
  })
})
