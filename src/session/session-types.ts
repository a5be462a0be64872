/**
 * The public shapes of the session store. Times are Unix milliseconds of the server's clock
 * (Redis `TIME`), the clock every timeout is enforced with.
 */

/**
 * A session as read: its identity, lifetime and data.
 *
 * @example
 * ```ts
 * const session = await sessions.create({ userId: 42, device: 'phone' })
 * res.setHeader('Set-Cookie', `__Host-session=${session.token}; Path=/; HttpOnly; Secure; SameSite=Lax`)
 * ```
 */
export interface Session {
  /** The session ID (secret: it is what the cookie proves). Never log it. */
  readonly id: string
  /** The signed cookie value for this ID (`<id>.<mac>`). */
  readonly token: string
  /** The session's public id: safe to show in a "your devices" page and to pass to `revoke`. */
  readonly handle: string
  /** The user the session belongs to, `null` for an anonymous session. */
  readonly userId: string | null
  /** The device label given when the session began (a user agent, say), or `null`. */
  readonly device: string | null
  /** Bumped by every write; pass it as `ifVersion` for a check-and-set write. */
  readonly version: number
  /** When the session began (login, or creation of the anonymous session). */
  readonly createdAt: number
  /** The last read that touched it (written at most once per `touchInterval`). */
  readonly lastSeenAt: number
  /** When it expires unless touched again: the idle deadline, capped by the absolute one. */
  readonly expiresAt: number
  /** The absolute deadline: no activity extends the session past it. */
  readonly absoluteExpiresAt: number
  /** The ID is older than `renewAfter`: issue a new one (`regenerate`); the middlewares do. */
  readonly renewDue: boolean
  /**
   * The session cannot be written through this ID: it was rotated by `regenerate` and is
   * within its overlap window, or it was served from the per-instance copy while Redis is down.
   */
  readonly readOnly: boolean
  /** Where it was read from. */
  readonly source: 'redis' | 'memory' | 'local-copy'
  /** The session's data fields (a frozen copy; change them with `update`). */
  readonly data: Readonly<Record<string, unknown>>
}

/** Why no session was found. */
export type SessionMissReason =
  /** No cookie, or no such session (never existed, destroyed, or gone after its expiry). */
  | 'none'
  /** Past its idle or absolute deadline. */
  | 'expired'
  /** Revoked (one session or all of the user's). */
  | 'revoked'
  /** An old ID after regenerate, past its overlap window. */
  | 'rotated'
  /** The cookie is not a session token. Counted in `session_rejected_tokens_total`. */
  | 'malformed'
  /** The token's signature matches no secret. Counted in `session_rejected_tokens_total`. */
  | 'forged'
  /** The record could not be trusted and was quarantined. Counted in `session_quarantined_total`. */
  | 'corrupt'

/** What `load` and `read` return: a session, or why there is none (never an error for bad input). */
export type SessionLookup =
  | { readonly found: true; readonly session: Session }
  | { readonly found: false; readonly reason: SessionMissReason }

/** Options of `load` and `read`. */
export interface SessionReadOptions {
  /**
   * Record the read (last seen) and slide the idle deadline, in the same round trip.
   * @defaultValue true
   */
  readonly touch?: boolean
}

/** Options of `create`. */
export interface SessionCreateOptions {
  /** The user it belongs to; omitted for an anonymous session. Listed in the user's index. */
  readonly userId?: string | number
  /** A device label (user agent, "iPhone of Ada"), shown by `list`. At most 256 characters. */
  readonly device?: string
  /** Initial data fields. */
  readonly data?: Readonly<Record<string, unknown>>
}

/** Changes of `update`: fields to set and fields to remove; other fields are left alone. */
export interface SessionChanges {
  /** Fields to set (a value of `undefined` removes the field). */
  readonly set?: Readonly<Record<string, unknown>>
  /** Fields to remove. */
  readonly unset?: readonly string[]
}

/** Options of `update`. */
export interface SessionUpdateOptions {
  /** Write only if the session is still at this version (check-and-set). */
  readonly ifVersion?: number
}

/** Why a write was refused. */
export type SessionWriteRefusal =
  | 'none'
  | 'expired'
  | 'revoked'
  /** The ID was rotated by `regenerate`: write through the new one. */
  | 'rotated'
  /** `ifVersion` did not match; `version` holds the current one. */
  | 'conflict'
  /** The record could not be trusted and was quarantined. */
  | 'corrupt'
  /** The write would give the session more than `maxFields` fields. */
  | 'too-many-fields'

/** What `update` returns. */
export type SessionUpdateResult =
  | { readonly ok: true; readonly version: number }
  | { readonly ok: false; readonly reason: SessionWriteRefusal; readonly version?: number }

/** Options of `regenerate`. */
export interface SessionRegenerateOptions {
  /**
   * The user of the new ID: a user id logs in (or switches user: a new absolute deadline starts),
   * `null` logs out but keeps an anonymous session, omitted keeps the current user (renewal,
   * privilege change: the deadlines stay).
   */
  readonly userId?: string | number | null
  /** Device label of the new ID; omitted keeps the current one. */
  readonly device?: string
  /** Changes written with the new ID. */
  readonly changes?: SessionChanges
  /**
   * Carry the data fields over to the new ID.
   * @defaultValue true
   */
  readonly keepData?: boolean
  /** Rotate only if the session is still at this version. */
  readonly ifVersion?: number
}

/** What `regenerate` returns. */
export type SessionRegenerateResult =
  | { readonly ok: true; readonly session: Session }
  | { readonly ok: false; readonly reason: SessionWriteRefusal; readonly version?: number }

/** One of a user's sessions, as `list` shows it. */
export interface SessionInfo {
  /** The session's public id (pass it to `revoke`). */
  readonly handle: string
  readonly device: string | null
  readonly createdAt: number
  readonly lastSeenAt: number
  readonly expiresAt: number
  readonly absoluteExpiresAt: number
  /** An old ID within its overlap window after regenerate. */
  readonly rotated: boolean
}

/** Everything the store holds about a user (`exportUser`). */
export interface SessionUserExport {
  readonly userId: string
  readonly exportedAt: number
  readonly sessions: readonly (SessionInfo & { readonly data: Readonly<Record<string, unknown>> })[]
  /** Records quarantined under the user's tag (their content could not be decoded). */
  readonly quarantined: number
}

/** Counters of a session store, as plain data (the same numbers as its metrics). */
export interface SessionStats {
  readonly created: number
  readonly rotated: number
  readonly destroyed: number
  readonly expired: number
  readonly revoked: number
  readonly quarantined: number
  readonly rejectedTokens: number
  readonly reads: number
  readonly misses: number
  readonly conflicts: number
  readonly localReads: number
  /** Sessions held in the per-instance copy now (0 without `localCopy`). */
  readonly localCopies: number
  readonly backendErrors: number
  /** Records in the store (Redis: last completed SCAN count), `null` until known. */
  readonly active: number | null
}

/**
 * A session store: encrypted, server-enforced timeouts, per-user index, revocation. Made by
 * `createSessionStore(valkit, options)`.
 *
 * @example
 * ```ts
 * const found = await sessions.load(req.cookies['__Host-session'])
 * if (!found.found) return res.status(401).json({ reason: found.reason })
 * await sessions.update(found.session, { set: { lastPage: req.path } })
 * ```
 */
export interface SessionStore {
  /** The store's name (its key space). */
  readonly name: string
  /** Resolves once the store listens for other instances' invalidations (at once without `localCopy`). */
  ready(): Promise<void>
  /** Starts a session (anonymous, or a user's) and returns it with its signed token. */
  create(options?: SessionCreateOptions): Promise<Session>
  /**
   * Reads the session a cookie token names, enforcing every timeout on the server. A missing,
   * malformed or forged token, or an untrustworthy record, is a miss with a reason, not an error.
   * Rejects only when the store cannot answer (`VALKIT_UNAVAILABLE` while Redis is down and no
   * local copy is configured or held).
   */
  load(token: string | undefined | null, options?: SessionReadOptions): Promise<SessionLookup>
  /** Like `load`, with the session ID itself (server-side code that already holds it). */
  read(id: string, options?: SessionReadOptions): Promise<SessionLookup>
  /**
   * Sets and removes data fields (a field-level merge: concurrent updates of other fields are
   * kept). Never brings back a destroyed, revoked, expired or rotated session. Pass the
   * {@link Session} you read (rather than its ID) to also re-encrypt values written with an older key.
   */
  update(
    session: Session | string,
    changes: SessionChanges,
    options?: SessionUpdateOptions,
  ): Promise<SessionUpdateResult>
  /** Ends a session (logout). `true` if it existed. Fails closed while Redis is down. */
  destroy(session: Session | string): Promise<boolean>
  /**
   * Issues a new ID for the session (login, privilege change, renewal): the old ID becomes
   * read-only for the overlap window, then disappears. Fails closed while Redis is down.
   */
  regenerate(session: Session | string, options?: SessionRegenerateOptions): Promise<SessionRegenerateResult>
  /** The user's live sessions, soonest expiry first. */
  list(userId: string | number): Promise<SessionInfo[]>
  /** Revokes one of the user's sessions by handle. `true` if it existed. */
  revoke(userId: string | number, handle: string): Promise<boolean>
  /**
   * Revokes every session of the user at once ("log out everywhere", password change), except
   * the one given (a handle, an ID or a Session). Returns how many records were deleted.
   */
  revokeAll(userId: string | number, options?: { readonly except?: Session | string }): Promise<number>
  /** Deletes everything the store holds about the user: sessions, index and quarantined records. */
  eraseUser(userId: string | number): Promise<{ readonly sessions: number; readonly quarantined: number }>
  /** Everything the store holds about the user, decrypted (data portability). */
  exportUser(userId: string | number): Promise<SessionUserExport>
  /** The signed cookie value for a session ID. */
  sign(id: string): string
  stats(): SessionStats
  /** Stops timers and subscriptions. Idempotent; valkit itself stays open. */
  close(): Promise<void>
}
