import { invalidOption, silentLogger, type Logger } from '../core/index.js'
import { commitHttpSession, openHttpSession, type HttpSession, type HttpSessionIo } from './http-session.js'
import {
  readCookie,
  resolveSessionCookieOptions,
  type ResolvedSessionCookieOptions,
  type SessionCookieOptions,
} from './session-cookie.js'
import type { SessionStore } from './session-types.js'

/** Options of the HTTP session middlewares (`expressSession`, `fastifySession`, `honoSession`). */
export interface HttpSessionOptions {
  /**
   * Cookie attributes.
   * @defaultValue `{ name: '__Host-session', secure: true, sameSite: 'lax', path: '/' }` (always HttpOnly)
   */
  readonly cookie?: SessionCookieOptions
  /**
   * Issue a new session ID when the store reports renewal is due (`renewAfter`).
   * @defaultValue true
   */
  readonly renew?: boolean
}

/**
 * The framework-neutral half of the HTTP middlewares: open a request's session from its `Cookie`
 * header, commit it at the end. The adapters in `valkit/http` only wire it to their framework.
 *
 * @example
 * ```ts
 * const http = createHttpSessions(sessions, { cookie: { name: 'sid', secure: false } })
 * const session = await http.open(req.headers.cookie, req.headers['user-agent'], (line) => {
 *   res.appendHeader('set-cookie', line)
 *   return true
 * })
 * session.views = Number(session.views ?? 0) + 1
 * await http.commit(session)
 * ```
 */
export interface HttpSessions {
  readonly store: SessionStore
  readonly cookie: ResolvedSessionCookieOptions
  /** valkit's logger (secrets redacted), for what an adapter cannot report otherwise. */
  readonly logger: Logger
  /** Reads the request's session; never rejects (an unreachable store gives a read-only empty session). */
  open(
    cookieHeader: string | readonly string[] | undefined | null,
    userAgent: string | undefined | null,
    setCookie: (line: string) => boolean,
  ): Promise<HttpSession>
  /** Saves what changed; rejects only when the store cannot be reached. */
  commit(session: HttpSession): Promise<void>
}

/** Where a store keeps its logger for the middlewares. @internal */
export const STORE_LOGGER = Symbol.for('valkit.session.logger')

/**
 * Resolves the middleware options once (`VALKIT_INVALID_OPTION` naming `path`) and returns the
 * open/commit pair the framework adapters use.
 *
 * @example
 * ```ts
 * const http = createHttpSessions(sessions, { cookie: { maxAge: 'absolute' } })
 * ```
 */
export function createHttpSessions(
  store: SessionStore,
  options: HttpSessionOptions = {},
  path = 'session',
): HttpSessions {
  if (typeof store !== 'object' || store === null || typeof store.load !== 'function') {
    throw invalidOption(`${path}.store`, 'not a session store', 'a store from createSessionStore')
  }
  if (typeof options !== 'object' || options === null) {
    throw invalidOption(path, `got ${options === null ? 'null' : typeof options}`, 'an object')
  }
  const cookie = resolveSessionCookieOptions(options.cookie, `${path}.cookie`)
  const renew = options.renew ?? true
  if (typeof renew !== 'boolean') throw invalidOption(`${path}.renew`, `got ${typeof renew}`, 'a boolean')
  const logger = (store as unknown as Record<symbol, Logger | undefined>)[STORE_LOGGER] ?? silentLogger
  return {
    store,
    cookie,
    logger,
    open: (header, userAgent, setCookie) => {
      const io: HttpSessionIo = {
        store,
        cookie,
        setCookie,
        device: typeof userAgent === 'string' && userAgent !== '' ? userAgent.slice(0, 256) : undefined,
        logger,
        renew,
      }
      return openHttpSession(io, readCookie(header, cookie.name))
    },
    commit: commitHttpSession,
  }
}
