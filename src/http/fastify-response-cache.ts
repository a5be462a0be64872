import { Transform, pipeline, type Readable } from 'node:stream'
import type { FastifyPluginCallback, FastifyReply, FastifyRequest, RouteOptions } from 'fastify'
import { ValkitError } from '../core/index.js'
import type {
  ResponseCache,
  ResponseCacheRoute,
  ResponseCacheRouteOptions,
  ResponseCapture,
  ResponseHeaders,
} from '../cache/http-response/index.js'
import { nodeRequest, outgoingHeaders, stripHeaders } from './node-request.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * valkit's response cache for this route: options over the plugin's, `true` for the plugin's
     * own, `false` to leave the route out (with `global: true`).
     */
    responseCache?: ResponseCacheRouteOptions | boolean
  }
}

/**
 * Options of {@link fastifyResponseCache}: the response cache, and defaults for its routes.
 *
 * @example
 * ```ts
 * const options: FastifyResponseCacheOptions = { responses, global: true, ttl: '30s' }
 * await app.register(fastifyResponseCache, options)
 * ```
 */
export interface FastifyResponseCacheOptions extends ResponseCacheRouteOptions {
  /** The response cache (from `createResponseCache`). */
  readonly responses: ResponseCache
  /**
   * `true`: every `GET`/`HEAD` route registered after the plugin is cached (opt out with
   * `config: { responseCache: false }`). `false`: only routes with `config.responseCache`.
   * @defaultValue false
   */
  readonly global?: boolean
}

interface Pending {
  readonly capture: ResponseCapture
  readonly initial: ResponseHeaders
}

const HOOK = Symbol('valkit.responseCache')
type Marked = ((...args: never[]) => unknown) & { [HOOK]?: true }

function mark<T extends (...args: never[]) => unknown>(fn: T): T {
  ;(fn as Marked)[HOOK] = true
  return fn
}

function append(existing: unknown, hook: Marked): unknown[] {
  const list =
    existing === undefined ? [] : Array.isArray(existing) ? [...(existing as unknown[])] : [existing]
  if (list.some((h) => typeof h === 'function' && (h as Marked)[HOOK] === true)) return list
  list.push(hook)
  return list
}

function isNodeStream(payload: unknown): payload is Readable {
  return (
    typeof payload === 'object' &&
    payload !== null &&
    typeof (payload as { pipe?: unknown }).pipe === 'function' &&
    typeof (payload as { on?: unknown }).on === 'function'
  )
}

/** Applies the capture's edits to the live reply. */
function edit(
  reply: FastifyReply,
  capture: ResponseCapture,
  headers: ResponseHeaders,
  body: Buffer | null,
): void {
  const edits = capture.edits(reply.statusCode, headers, body)
  for (const name of edits.remove) reply.removeHeader(name)
  for (const [name, value] of edits.set) reply.header(name, value)
}

/**
 * A pass-through that keeps a copy of a streamed body up to `maxBodyBytes` and hands it to
 * `capture.finish` when the stream ends; a larger body streams on without being buffered further.
 */
function teeStream(
  source: Readable,
  capture: ResponseCapture,
  base: Omit<Pending, 'capture'> & {
    status: number
    headers: ResponseHeaders
  },
): Transform {
  const chunks: Buffer[] = []
  let size = 0
  let tooLarge = false
  const collector = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      if (!tooLarge) {
        size += chunk.length
        if (size > capture.maxBodyBytes) {
          tooLarge = true
          chunks.length = 0
        } else chunks.push(chunk)
      }
      callback(null, chunk)
    },
    flush(callback) {
      void capture.finish({
        status: base.status,
        headers: base.headers,
        initialHeaders: base.initial,
        body: tooLarge ? null : Buffer.concat(chunks),
        ...(tooLarge ? { problem: 'too-large' as const } : {}),
      })
      callback()
    },
  })
  pipeline(source, collector, (err) => {
    if (err) capture.abandon()
  })
  return collector
}

function hooksFor(route: ResponseCacheRoute): { preHandler: Marked; onSend: Marked } {
  const pending = new WeakMap<FastifyRequest, Pending>()

  // preHandler, the last one of the route: authentication and validation have run; a hit skips the handler.
  const preHandler = mark(async (request: FastifyRequest, reply: FastifyReply) => {
    const initial = outgoingHeaders(reply.getHeaders())
    const lookup = await route.lookup(nodeRequest(request.method, request.url, request.headers))
    if (lookup.kind === 'pass') return
    if (lookup.kind === 'serve') {
      const { status, headers, body } = lookup.response
      reply.code(status)
      for (const [name, value] of headers) reply.header(name, value)
      if (body === null) reply.send()
      else reply.send(body)
      return reply
    }
    for (const [name, value] of lookup.headers) reply.header(name, value)
    const capture = lookup.capture
    if (capture === null) return
    stripHeaders(request.headers, capture.stripRequestHeaders)
    pending.set(request, { capture, initial })
    reply.raw.once('close', () => capture.abandon())
  })

  const onSend = mark(async (request: FastifyRequest, reply: FastifyReply, payload: unknown) => {
    const state = pending.get(request)
    if (state === undefined) return payload
    pending.delete(request)
    const { capture, initial } = state
    const status = reply.statusCode
    const headers = outgoingHeaders(reply.getHeaders())
    if (
      payload === undefined ||
      payload === null ||
      typeof payload === 'string' ||
      Buffer.isBuffer(payload)
    ) {
      const body =
        payload === undefined || payload === null
          ? Buffer.alloc(0)
          : typeof payload === 'string'
            ? Buffer.from(payload)
            : payload
      const tooLarge = body.length > capture.maxBodyBytes
      edit(reply, capture, headers, tooLarge ? null : body)
      void capture.finish({
        status,
        headers,
        initialHeaders: initial,
        body: tooLarge ? null : body,
        ...(tooLarge ? { problem: 'too-large' as const } : {}),
      })
      return payload
    }
    edit(reply, capture, headers, null)
    if (isNodeStream(payload)) return teeStream(payload, capture, { status, headers, initial })
    // A web ReadableStream or Response: sent as is, not stored.
    void capture.finish({ status, headers, initialHeaders: initial, body: null, problem: 'unsupported-body' })
    return payload
  })

  return { preHandler, onSend }
}

function checkResponses(responses: unknown): ResponseCache {
  if (
    typeof responses !== 'object' ||
    responses === null ||
    typeof (responses as ResponseCache).route !== 'function'
  ) {
    throw new ValkitError(
      'VALKIT_INVALID_OPTION',
      'Invalid option `fastifyResponseCache.responses`: expected the result of createResponseCache(cache, options).',
      { details: { path: 'fastifyResponseCache.responses' } },
    )
  }
  return responses as ResponseCache
}

function wantsCaching(method: RouteOptions['method']): boolean {
  const methods = Array.isArray(method) ? method : [method]
  return methods.some((m) => m === 'GET' || m === 'HEAD')
}

const plugin: FastifyPluginCallback<FastifyResponseCacheOptions> = (app, options, done) => {
  const { responses: given, global = false, ...defaults } = options
  const responses = checkResponses(given)
  // Validates the plugin's defaults at registration.
  const base = responses.route(defaults, 'fastifyResponseCache')
  app.addHook('onRoute', (routeOptions) => {
    const config = routeOptions.config?.responseCache
    if (config === false || (config === undefined && !global) || !wantsCaching(routeOptions.method)) return
    const route =
      config === undefined || config === true
        ? base
        : responses.route({ ...defaults, ...config }, `${routeOptions.url} config.responseCache`)
    const hooks = hooksFor(route)
    const target = routeOptions as unknown as Record<'preHandler' | 'onSend', unknown>
    target.preHandler = append(target.preHandler, hooks.preHandler)
    target.onSend = append(target.onSend, hooks.onSend)
  })
  done()
}

/**
 * Fastify plugin that caches route responses in a {@link ResponseCache} (L1 + Redis/Valkey,
 * shared by every instance). Routes opt in with `config: { responseCache: { ...options } }` (or
 * all `GET` routes with `global: true`); register the plugin before the routes. The cache runs as
 * the route's last `preHandler`, after authentication and validation hooks: a hit skips the
 * handler. The `onSend` payload is captured: strings and Buffers as they are, Node streams are
 * passed through and buffered up to `maxBodyBytes` (stored when complete), web streams and
 * `Response` objects are sent but not stored. Options are validated at registration.
 *
 * The plugin is not encapsulated (like one wrapped with `fastify-plugin`): it sees routes of
 * every context registered after it.
 *
 * @example
 * ```ts
 * import Fastify from 'fastify'
 * import { createCache, createResponseCache } from 'valkit/cache'
 * import { fastifyResponseCache } from 'valkit/http'
 *
 * const app = Fastify()
 * await app.register(fastifyResponseCache, { responses: createResponseCache(cache), ttl: '1m' })
 * app.get('/products', { config: { responseCache: { ttl: '30s', tags: ['products'] } } }, async () => {
 *   return listProducts()
 * })
 * ```
 */
export const fastifyResponseCache: FastifyPluginCallback<FastifyResponseCacheOptions> = Object.assign(
  plugin,
  {
    [Symbol.for('skip-override')]: true,
    [Symbol.for('fastify.display-name')]: 'valkit-response-cache',
  },
)
