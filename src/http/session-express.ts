import type { NextFunction, Request, RequestHandler, Response } from 'express'
import {
  createHttpSessions,
  type HttpSession,
  type HttpSessionOptions,
  type SessionStore,
} from '../session/index.js'

/** An Express request after {@link expressSession}: `req.session` is the request's session. */
export type SessionRequest = Omit<Request, 'session'> & { session: HttpSession }

type End = Response['end']

/**
 * Express middleware that gives every request its session as `req.session`: data fields are
 * plain properties (`req.session.cart = [...]`), saved at the end of the request as a
 * field-level merge (before the response is sent, so its cookie goes with it);
 * `await req.session.regenerate({ userId })` logs in with a new ID, `await req.session.destroy()`
 * logs out. A missing, forged, expired or corrupt cookie gives a fresh empty session, never an
 * error. The cookie is `__Host-session; Path=/; HttpOnly; Secure; SameSite=Lax` unless
 * configured otherwise. Options are validated now (`VALKIT_INVALID_OPTION`, path `expressSession.<option>`).
 *
 * TypeScript: `req.session` is not declared on Express's `Request` (that would clash with
 * `@types/express-session`); type handlers with {@link SessionRequest}, or declare it in your app.
 *
 * @example
 * ```ts
 * import express from 'express'
 * import { createSessionStore } from 'valkit/session'
 * import { expressSession, type SessionRequest } from 'valkit/http'
 *
 * const app = express()
 * app.use(expressSession(createSessionStore(valkit, { secrets, encryption })))
 * app.get('/', (req, res) => {
 *   const { session } = req as SessionRequest
 *   session.views = Number(session.views ?? 0) + 1
 *   res.json({ views: session.views, user: session.meta.userId })
 * })
 * ```
 */
export function expressSession(store: SessionStore, options: HttpSessionOptions = {}): RequestHandler {
  const http = createHttpSessions(store, options, 'expressSession')
  return (req: Request, res: Response, next: NextFunction): void => {
    const setCookie = (line: string): boolean => {
      if (res.headersSent) return false
      res.appendHeader('Set-Cookie', line)
      return true
    }
    http.open(req.headers.cookie, req.headers['user-agent'], setCookie).then((session) => {
      ;(req as unknown as { session: HttpSession }).session = session
      // Save before the response ends, so a new session's cookie goes with it and the next
      // request of the same client sees the write.
      const end = res.end.bind(res) as (...args: unknown[]) => Response
      let committing = false
      res.end = function (this: Response, ...args: unknown[]): Response {
        if (committing) return end(...args)
        committing = true
        http.commit(session).then(
          () => end(...args),
          (err: unknown) => {
            http.logger.warn('session: the changes of this request could not be saved', {
              error: err instanceof Error ? err.message : String(err),
            })
            end(...args)
          },
        )
        return this
      } as End
      next()
    }, next)
  }
}
