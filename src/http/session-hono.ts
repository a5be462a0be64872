import type { MiddlewareHandler } from 'hono'
import {
  createHttpSessions,
  type HttpSession,
  type HttpSessionOptions,
  type SessionStore,
} from '../session/index.js'

/** The Hono variables {@link honoSession} sets: `c.get('session')`. */
export interface SessionVariables {
  session: HttpSession
}

/**
 * Hono middleware that gives every request its session as `c.get('session')` (also
 * `c.var.session`): data fields are plain properties, saved after the handler (a field-level
 * merge; its cookie is appended to the response); `await c.get('session').regenerate({ userId })`
 * logs in with a new ID. A missing, forged, expired or corrupt cookie gives a fresh empty
 * session, never an error. Options are validated now (`VALKIT_INVALID_OPTION`, path `honoSession.<option>`).
 *
 * @example
 * ```ts
 * import { Hono } from 'hono'
 * import { honoSession, type SessionVariables } from 'valkit/http'
 *
 * const app = new Hono<{ Variables: SessionVariables }>()
 * app.use(honoSession(sessions))
 * app.get('/', (c) => {
 *   const session = c.get('session')
 *   session.views = Number(session.views ?? 0) + 1
 *   return c.json({ views: session.views })
 * })
 * ```
 */
export function honoSession(
  store: SessionStore,
  options: HttpSessionOptions = {},
): MiddlewareHandler<{ Variables: SessionVariables }> {
  const http = createHttpSessions(store, options, 'honoSession')
  return async (c, next) => {
    const session = await http.open(c.req.header('cookie'), c.req.header('user-agent'), (line) => {
      c.header('Set-Cookie', line, { append: true })
      return true
    })
    c.set('session', session)
    await next()
    await http.commit(session).catch((err: unknown) => {
      http.logger.warn('session: the changes of this request could not be saved', {
        error: err instanceof Error ? err.message : String(err),
      })
    })
  }
}
