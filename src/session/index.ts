/**
 * `valkit/session`: encrypted, rotating, revocable sessions shared by every instance (server-side
 * idle and absolute timeouts, renewal, a per-user index with revoke and revoke-all, versioned
 * field-level writes, quarantine of untrustworthy records), and durable agent state.
 *
 * @packageDocumentation
 */
export { createSessionStore } from './create-session-store.js'
export {
  MIN_SECRET_BYTES,
  SESSION_DEFAULTS,
  resolveSessionStoreOptions,
  type ResolvedSessionStoreOptions,
  type SessionLocalCopyOptions,
  type SessionStoreOptions,
} from './session-options.js'
export type {
  Session,
  SessionChanges,
  SessionCreateOptions,
  SessionInfo,
  SessionLookup,
  SessionMissReason,
  SessionReadOptions,
  SessionRegenerateOptions,
  SessionRegenerateResult,
  SessionStats,
  SessionStore,
  SessionUpdateOptions,
  SessionUpdateResult,
  SessionUserExport,
  SessionWriteRefusal,
} from './session-types.js'
export {
  resolveSessionCookieOptions,
  type ResolvedSessionCookieOptions,
  type SessionCookieOptions,
} from './session-cookie.js'
export {
  HTTP_SESSION_RESERVED,
  type HttpSession,
  type HttpSessionMeta,
  type HttpSessionRegenerateOptions,
} from './http-session.js'
export { createHttpSessions, type HttpSessionOptions, type HttpSessions } from './http-sessions.js'
export * from './state/index.js'
