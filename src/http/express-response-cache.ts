import type { OutgoingHttpHeaders, ServerResponse } from 'node:http'
import type { NextFunction, Request, RequestHandler, Response } from 'express'
import type {
  ResponseCache,
  ResponseCacheRouteOptions,
  ResponseCapture,
  ResponseHeaders,
  ServedResponse,
} from '../cache/http-response/index.js'
import { nodeRequest, outgoingHeaders, stripHeaders } from './node-request.js'

type Chunk = string | Buffer | Uint8Array
type AnyFn = (...args: unknown[]) => unknown

/**
 * Express middleware that caches the responses of the routes it is mounted on, in a
 * {@link ResponseCache} (L1 + Redis/Valkey, shared by every instance). On a hit the handler does
 * not run; on a miss the response is captured as the handler writes it (`res.send`, `res.json`,
 * `res.write` streams, `res.end`) and stored when it may be. Options are validated now
 * (`VALKIT_INVALID_OPTION`, path `expressResponseCache.<option>`).
 *
 * Mount it after authentication and anything that decides who may see the response: a hit skips
 * every middleware and handler after it. Middleware before it still runs on hits (its headers,
 * such as CORS or a request id, are set fresh and not taken from the stored copy).
 *
 * @example
 * ```ts
 * import express from 'express'
 * import { createCache, createResponseCache } from 'valkit/cache'
 * import { expressResponseCache } from 'valkit/http'
 *
 * const responses = createResponseCache(createCache(valkit, { namespace: 'http' }))
 * const app = express()
 * app.get('/products', expressResponseCache(responses, { ttl: '30s', tags: ['products'] }), (req, res) => {
 *   res.json(listProducts())
 * })
 * ```
 */
export function expressResponseCache(
  responses: ResponseCache,
  options: ResponseCacheRouteOptions = {},
): RequestHandler {
  const route = responses.route(options, 'expressResponseCache')
  return (req: Request, res: Response, next: NextFunction): void => {
    const initial = outgoingHeaders(res.getHeaders())
    const request = nodeRequest(req.method, req.originalUrl || req.url, req.headers)
    route.lookup(request).then(
      (lookup) => {
        if (lookup.kind === 'pass') return next()
        if (lookup.kind === 'serve') return send(res, lookup.response)
        for (const [name, value] of lookup.headers) res.setHeader(name, value)
        if (lookup.capture !== null) {
          stripHeaders(req.headers, lookup.capture.stripRequestHeaders)
          capture(res, lookup.capture, initial)
        }
        next()
      },
      () => next(),
    )
  }
}

/** Sends a hit or a 304. */
function send(res: ServerResponse, served: ServedResponse): void {
  res.statusCode = served.status
  for (const [name, value] of served.headers) res.setHeader(name, value)
  if (served.body === null) res.end()
  else res.end(served.body)
}

function toBuffer(chunk: Chunk, encoding: unknown): Buffer {
  if (typeof chunk === 'string') {
    return Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8')
  }
  return Buffer.from(chunk) // a copy: the caller may reuse its buffer
}

/**
 * Applies the headers of `writeHead(status, [reason], headers)` with setHeader, so they are seen
 * (an object, or a raw list `[name, value, name, value]` / `[[name, value]]`; repeated names keep
 * every value).
 */
function applyWriteHeadHeaders(res: ServerResponse, headers: unknown): void {
  if (headers === null || typeof headers !== 'object') return
  if (!Array.isArray(headers)) {
    for (const [name, value] of Object.entries(headers as OutgoingHttpHeaders)) {
      if (value !== undefined) res.setHeader(name, value)
    }
    return
  }
  const flat = headers.flat() as unknown[]
  const grouped = new Map<string, string[]>()
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = String(flat[i]).toLowerCase()
    const values = grouped.get(name)
    if (values === undefined) grouped.set(name, [String(flat[i + 1])])
    else values.push(String(flat[i + 1]))
  }
  for (const [name, values] of grouped) res.setHeader(name, values.length === 1 ? values[0]! : values)
}

/**
 * Wraps `writeHead`, `write` and `end` of one response: records status and headers when the first
 * byte goes out (before delegating, so what the handler produced is what gets stored, whichever
 * side of a compression middleware the cache sits), buffers the body up to `maxBodyBytes`, and
 * hands the result to `capture.finish` when `end` is called.
 */
function capture(res: ServerResponse, capture: ResponseCapture, initial: ResponseHeaders): void {
  // Saved to delegate to (called with the response as `this`).
  const { writeHead, write, end } = res as unknown as Record<'writeHead' | 'write' | 'end', AnyFn>
  const chunks: Buffer[] = []
  let size = 0
  let tooLarge = false
  let wrote = false
  let ended = false
  let snapshot: { status: number; headers: ResponseHeaders } | null = null

  const take = (chunk: unknown, encoding: unknown): void => {
    if (tooLarge || chunk === undefined || chunk === null || typeof chunk === 'function') return
    const buffer = toBuffer(chunk as Chunk, encoding)
    size += buffer.length
    if (size > capture.maxBodyBytes) {
      tooLarge = true
      chunks.length = 0
    } else chunks.push(buffer)
  }
  const snap = (wholeBody: Buffer | null): void => {
    if (snapshot !== null) return
    const headers = outgoingHeaders(res.getHeaders())
    snapshot = { status: res.statusCode, headers }
    if (res.headersSent) return
    const edits = capture.edits(res.statusCode, headers, wholeBody)
    for (const name of edits.remove) res.removeHeader(name)
    for (const [name, value] of edits.set) res.setHeader(name, value)
  }

  res.writeHead = function (this: ServerResponse, statusCode: number, ...rest: unknown[]) {
    if (snapshot === null && !this.headersSent) {
      this.statusCode = statusCode
      const last = rest[rest.length - 1]
      if (typeof last === 'object') {
        applyWriteHeadHeaders(this, last)
        rest = rest.slice(0, -1)
      }
      snap(null)
    }
    return writeHead.call(this, statusCode, ...rest)
  } as ServerResponse['writeHead']

  res.write = function (this: ServerResponse, ...args: unknown[]) {
    if (!ended) {
      take(args[0], args[1])
      wrote = true
      snap(null)
    }
    return write.apply(this, args)
  } as ServerResponse['write']

  res.end = function (this: ServerResponse, ...args: unknown[]) {
    if (ended) return end.apply(this, args)
    ended = true
    const [chunk, encoding] = args
    take(chunk, encoding)
    snap(!wrote && !tooLarge ? Buffer.concat(chunks) : null)
    const result = end.apply(this, args)
    const shot = snapshot!
    void capture.finish({
      status: shot.status,
      headers: shot.headers,
      initialHeaders: initial,
      body: tooLarge ? null : Buffer.concat(chunks),
      ...(tooLarge ? { problem: 'too-large' as const } : {}),
    })
    return result
  } as ServerResponse['end']

  res.once('close', () => {
    if (!ended) capture.abandon()
  })
}
