import type { Context, MiddlewareHandler } from 'hono'
import type { ContentfulStatusCode, StatusCode } from 'hono/utils/http-status'
import type {
  ResponseCache,
  ResponseCacheRouteOptions,
  ResponseCapture,
  ResponseHeaders,
  ServedResponse,
} from '../cache/http-response/index.js'

/** Fetch API headers as the cache reads them (`set-cookie` kept as a list). */
function fetchHeaders(headers: Headers): ResponseHeaders {
  const out: Record<string, string | readonly string[]> = {}
  for (const [name, value] of headers) out[name] = value
  const cookies = headers.getSetCookie()
  if (cookies.length > 0) out['set-cookie'] = cookies
  return out
}

/** Reads a body stream up to `max` bytes; past it, stops reading (the client's copy streams on). */
async function readCapped(
  body: ReadableStream<Uint8Array>,
  max: number,
): Promise<{ body: Buffer | null; problem?: 'too-large' | 'incomplete' }> {
  const reader = body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      size += value.byteLength
      if (size > max) {
        await reader.cancel()
        return { body: null, problem: 'too-large' }
      }
      chunks.push(value)
    }
  } catch {
    return { body: null, problem: 'incomplete' }
  }
  return { body: Buffer.concat(chunks) }
}

function serve(c: Context, served: ServedResponse): Response {
  const headers: Record<string, string | string[]> = {}
  for (const [name, value] of served.headers) headers[name] = value as string | string[]
  if (served.body === null) return c.body(null, served.status as StatusCode, headers)
  const body = served.body as unknown as Uint8Array<ArrayBuffer>
  return c.body(body, served.status as ContentfulStatusCode, headers)
}

/**
 * Captures `c.res` after the handler: header edits now, the body (a clone) read in the background.
 * For `HEAD` the GET handler ran and `c.res` still has its body; a response without a body, or
 * whose body is not as long as its `Content-Length` says, came from a handler that answered
 * `HEAD` on its own and is not stored (`incomplete`).
 */
function captureResponse(
  c: Context,
  capture: ResponseCapture,
  initial: ResponseHeaders,
  head: boolean,
): void {
  const status = c.res.status
  const headers = fetchHeaders(c.res.headers)
  const edits = capture.edits(status, headers, null)
  for (const name of edits.remove) c.header(name, undefined)
  for (const [name, value] of edits.set) c.header(name, value)
  const base = { status, headers, initialHeaders: initial }
  const contentType = headers['content-type']
  if (typeof contentType === 'string' && contentType.toLowerCase().startsWith('text/event-stream')) {
    void capture.finish({ ...base, body: null, problem: 'unsupported-body' })
    return
  }
  const response = c.res
  if (response.body === null) {
    void capture.finish(
      head ? { ...base, body: null, problem: 'incomplete' } : { ...base, body: Buffer.alloc(0) },
    )
    return
  }
  const declared = head ? headers['content-length'] : undefined
  const copy = response.clone().body!
  void readCapped(copy, capture.maxBodyBytes).then(({ body, problem }) => {
    const short = typeof declared === 'string' && body !== null && Number(declared) !== body.length
    if (short) return capture.finish({ ...base, body: null, problem: 'incomplete' })
    return capture.finish({ ...base, body, ...(problem === undefined ? {} : { problem }) })
  })
}

/**
 * Hono middleware that caches the responses of the routes it is mounted on, in a
 * {@link ResponseCache} (L1 + Redis/Valkey, shared by every instance). On a hit it answers
 * without calling `next()`; on a miss it reads `c.res` after `await next()` (a clone of the body,
 * read in the background and bounded by `maxBodyBytes`, so streaming responses are not delayed).
 * `text/event-stream` responses are never stored. `HEAD` (Hono runs the `GET` route for it and
 * drops the body afterwards) is served from, and on a miss fills, `GET`'s entries. Options are
 * validated now (`VALKIT_INVALID_OPTION`, path `honoResponseCache.<option>`).
 *
 * Mount it after authentication: a hit skips every middleware and handler after it.
 *
 * @example
 * ```ts
 * import { Hono } from 'hono'
 * import { createCache, createResponseCache } from 'valkit/cache'
 * import { honoResponseCache } from 'valkit/http'
 *
 * const responses = createResponseCache(createCache(valkit, { namespace: 'http' }))
 * const app = new Hono()
 * app.get('/products', honoResponseCache(responses, { ttl: '30s', vary: ['accept-language'] }), (c) =>
 *   c.json(listProducts(c.req.header('accept-language'))),
 * )
 * ```
 */
export function honoResponseCache(
  responses: ResponseCache,
  options: ResponseCacheRouteOptions = {},
): MiddlewareHandler {
  const route = responses.route(options, 'honoResponseCache')
  return async (c, next) => {
    const lookup = await route.lookup({
      method: c.req.method,
      url: c.req.url,
      header: (name) => c.req.header(name),
      // Hono runs the GET route for HEAD and drops the body after the middleware chain.
      headHasGetBody: true,
    })
    if (lookup.kind === 'pass') return next()
    if (lookup.kind === 'serve') return serve(c, lookup.response)
    const { capture } = lookup
    // Headers set by middleware before this one (read without touching c.res).
    const initial = capture === null ? {} : fetchHeaders(c.newResponse(null).headers)
    if (capture !== null) {
      for (const name of capture.stripRequestHeaders) {
        try {
          c.req.raw.headers.delete(name)
        } catch {
          // Immutable request headers: the handler sees the conditional, the response may be a 304.
        }
      }
    }
    try {
      await next()
    } catch (err) {
      capture?.abandon()
      throw err
    }
    for (const [name, value] of lookup.headers) c.header(name, value)
    if (capture !== null) captureResponse(c, capture, initial, c.req.method.toUpperCase() === 'HEAD')
  }
}
