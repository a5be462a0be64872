import type { FastifyPluginCallback, FastifyReply, FastifyRequest } from 'fastify'
import {
  createHttpSessions,
  type HttpSession,
  type HttpSessionOptions,
  type SessionStore,
} from '../session/index.js'

declare module 'fastify' {
  interface FastifyRequest {
    /** The request's session (valkit `fastifySession`): data fields are plain properties. */
    session: HttpSession
  }
}

/**
 * A Fastify plugin that gives every request its session as `request.session`: data fields are
 * plain properties, saved in `onSend` (a field-level merge, before the reply goes out, with its
 * cookie); `await request.session.regenerate({ userId })` logs in with a new ID,
 * `await request.session.destroy()` logs out. A missing, forged, expired or corrupt cookie gives
 * a fresh empty session, never an error. Registered with `skip-override`, so it applies to every
 * route of the instance it is registered on. Options are validated now
 * (`VALKIT_INVALID_OPTION`, path `fastifySession.<option>`).
 *
 * @example
 * ```ts
 * import Fastify from 'fastify'
 * import { fastifySession } from 'valkit/http'
 *
 * const app = Fastify()
 * await app.register(fastifySession(sessions))
 * app.post('/login', async (request) => {
 *   await request.session.regenerate({ userId: 42 })
 *   return { ok: true }
 * })
 * ```
 */
export function fastifySession(store: SessionStore, options: HttpSessionOptions = {}): FastifyPluginCallback {
  const http = createHttpSessions(store, options, 'fastifySession')
  const plugin: FastifyPluginCallback = (app, _options, done) => {
    app.decorateRequest('session', null as unknown as HttpSession)
    app.addHook('onRequest', async (request: FastifyRequest, reply: FastifyReply) => {
      request.session = await http.open(request.headers.cookie, request.headers['user-agent'], (line) => {
        if (reply.sent) return false
        reply.header('set-cookie', line)
        return true
      })
    })
    app.addHook('onSend', async (request: FastifyRequest, _reply: FastifyReply, payload: unknown) => {
      const session = request.session as HttpSession | null
      if (session !== null) {
        await http.commit(session).catch((err: unknown) => {
          http.logger.warn('session: the changes of this request could not be saved', {
            error: err instanceof Error ? err.message : String(err),
          })
        })
      }
      return payload
    })
    done()
  }
  ;(plugin as unknown as Record<symbol, boolean>)[Symbol.for('skip-override')] = true
  return plugin
}
