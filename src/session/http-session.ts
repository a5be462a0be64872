import type { Logger } from '../core/index.js'
import { serializeCookie, type ResolvedSessionCookieOptions } from './session-cookie.js'
import type { Session, SessionStore } from './session-types.js'

/** What `req.session.meta` tells about the session behind the request. */
export interface HttpSessionMeta {
  /** The session's public id (`null` until it is saved for the first time). */
  readonly handle: string | null
  readonly userId: string | null
  readonly device: string | null
  readonly createdAt: number | null
  readonly lastSeenAt: number | null
  readonly expiresAt: number | null
  readonly absoluteExpiresAt: number | null
  /** No session came with the request (none, expired, revoked, forged cookie...): this one is fresh. */
  readonly isNew: boolean
  /** Changes made now are not saved: an old ID in its overlap window, a copy served while Redis is down, or after `destroy()`. */
  readonly readOnly: boolean
  /** Why the request's cookie gave no session (`'none'` without a cookie), or `null` when it did. */
  readonly missReason: string | null
  /** The store could not be reached when the request came in. */
  readonly unavailable: boolean
}

/** Options of `req.session.regenerate()`. */
export interface HttpSessionRegenerateOptions {
  /** Log in (a user id), log out (`null`) or keep the current user (omitted). */
  readonly userId?: string | number | null
  /** Device label of the new ID; omitted keeps it (the request's user agent for a new session). */
  readonly device?: string
}

/**
 * The session of one HTTP request (`req.session`, `request.session`, `c.get('session')`): its data
 * fields are the object's own properties, read and assigned as usual
 * (`req.session.cart = [...]`, `delete req.session.flash`); what changed is saved at the end of
 * the request as a field-level merge. The methods and `meta` are reserved names.
 *
 * @example
 * ```ts
 * app.post('/login', async (req, res) => {
 *   const user = await checkPassword(req.body)
 *   await req.session.regenerate({ userId: user.id }) // new ID, old one read-only for a moment
 *   req.session.displayName = user.name
 *   res.redirect('/')
 * })
 * ```
 */
export interface HttpSession {
  [field: string]: unknown
  /** Issues a new session ID (login, logout-to-anonymous, privilege change). Fails closed while Redis is down. */
  regenerate(options?: HttpSessionRegenerateOptions): Promise<void>
  /** Ends the session and removes the cookie. Fails closed while Redis is down. */
  destroy(): Promise<void>
  /** Saves the changes now instead of at the end of the request. */
  save(): Promise<void>
  /** The session behind the request. */
  readonly meta: HttpSessionMeta
}

/**
 * Names `req.session` reserves for itself (assigning one throws a `TypeError`).
 *
 * @example
 * ```ts
 * HTTP_SESSION_RESERVED.includes('save') // true: store it under another name
 * ```
 */
export const HTTP_SESSION_RESERVED = Object.freeze(['regenerate', 'destroy', 'save', 'meta'])

/** What an adapter hands {@link openHttpSession}. @internal */
export interface HttpSessionIo {
  readonly store: SessionStore
  readonly cookie: ResolvedSessionCookieOptions
  /** Appends a `Set-Cookie` line to the response; `false` when the headers are already sent. */
  readonly setCookie: (line: string) => boolean
  /** The request's user agent, used as the device of a new session. */
  readonly device: string | undefined
  readonly logger: Logger
  /** Renew the ID when the store says it is due. */
  readonly renew: boolean
}

const STATE = Symbol('valkit.httpSession')

interface State {
  current: Session | null
  /** Each field's value as last loaded or saved (frozen: the store's copy). */
  snapshot: Map<string, unknown>
  destroyed: boolean
  readOnly: boolean
  missReason: string | null
  unavailable: boolean
  readonly io: HttpSessionIo
}

type Internal = HttpSession & { [STATE]: State }

function json(value: unknown): string | undefined {
  try {
    return JSON.stringify(value)
  } catch {
    return undefined
  }
}

/** A copy the handler may mutate without touching the store's frozen data. */
function mutableCopy(value: unknown): unknown {
  if (value === null || typeof value !== 'object') return value
  try {
    return structuredClone(value)
  } catch {
    return value
  }
}

/** Turns an untouched field into a plain data property holding `value`. */
function settle(target: Internal, name: string, value: unknown): void {
  Object.defineProperty(target, name, { value, writable: true, enumerable: true, configurable: true })
}

/**
 * Makes the session's own properties the data fields. A primitive is a plain property; an object
 * is an accessor that makes a mutable copy on first use (reading or assigning it), so a request
 * pays the copy, and the comparison on commit, only for the fields it touches.
 */
function fill(target: Internal, data: Readonly<Record<string, unknown>>, state: State): void {
  state.snapshot = new Map()
  for (const name of Object.keys(target)) delete target[name]
  for (const name of Object.keys(data)) {
    const value = data[name]
    state.snapshot.set(name, value)
    if (value === null || typeof value !== 'object') {
      settle(target, name, value)
      continue
    }
    Object.defineProperty(target, name, {
      enumerable: true,
      configurable: true,
      get(this: Internal) {
        const copy = mutableCopy(value)
        settle(this, name, copy)
        return copy
      },
      set(this: Internal, next: unknown) {
        settle(this, name, next)
      },
    })
  }
}

/** Whether a field's current value differs from what was loaded. */
function changed(before: unknown, after: unknown, hadBefore: boolean): boolean | undefined {
  if (!hadBefore) return true
  if (before === null || typeof before !== 'object' || after === null || typeof after !== 'object')
    return before !== after
  const text = json(after)
  if (text === undefined) return undefined
  return json(before) !== text
}

/** The fields that changed since the snapshot. */
function diff(target: Internal, state: State): { set: Record<string, unknown>; unset: string[] } {
  const set: Record<string, unknown> = {}
  const unset: string[] = []
  const seen = new Set<string>()
  for (const name of Object.keys(target)) {
    seen.add(name)
    const descriptor = Object.getOwnPropertyDescriptor(target, name)!
    if (descriptor.get !== undefined) continue // never touched: unchanged
    const value = descriptor.value as unknown
    if (value === undefined) {
      if (state.snapshot.has(name)) unset.push(name)
      continue
    }
    const verdict = changed(state.snapshot.get(name), value, state.snapshot.has(name))
    if (verdict === undefined) {
      state.io.logger.warn('session: a field cannot be serialized and is not saved', {
        field: name.slice(0, 40),
      })
      continue
    }
    if (verdict) set[name] = value
  }
  for (const name of state.snapshot.keys()) if (!seen.has(name)) unset.push(name)
  return { set, unset }
}

function setCookieFor(state: State, session: Session | null): void {
  const line =
    session === null
      ? serializeCookie(state.io.cookie, null)
      : serializeCookie(state.io.cookie, session.token, session.absoluteExpiresAt)
  if (!state.io.setCookie(line)) {
    state.io.logger.warn(
      'session: the response headers were already sent; the session cookie could not be set',
    )
  }
}

async function regenerate(this: Internal, options: HttpSessionRegenerateOptions = {}): Promise<void> {
  const state = this[STATE]
  const { store } = state.io
  const { set, unset } = diff(this, state)
  const device = options.device ?? state.current?.device ?? state.io.device
  let next: Session | null = null
  if (state.current !== null && !state.destroyed && !state.readOnly) {
    const result = await store.regenerate(state.current, {
      ...(options.userId !== undefined ? { userId: options.userId } : {}),
      ...(options.device !== undefined ? { device: options.device } : {}),
      changes: { set, unset },
    })
    if (result.ok) next = result.session
  }
  // No session to rotate (new, destroyed, gone meanwhile): start one with what the request holds.
  next ??= await store.create({
    ...(options.userId !== undefined && options.userId !== null ? { userId: options.userId } : {}),
    ...(device !== undefined ? { device: device.slice(0, 256) } : {}),
    data: Object.fromEntries(Object.entries(this).filter(([, v]) => v !== undefined)),
  })
  state.current = next
  state.destroyed = false
  state.readOnly = false
  fill(this, next.data, state)
  setCookieFor(state, next)
}

async function destroy(this: Internal): Promise<void> {
  const state = this[STATE]
  if (state.current !== null) await state.io.store.destroy(state.current)
  state.current = null
  state.destroyed = true
  fill(this, {}, state)
  setCookieFor(state, null)
}

async function save(this: Internal): Promise<void> {
  await commitHttpSession(this)
}

const prototype = Object.create(Object.prototype, {
  regenerate: { value: regenerate, enumerable: false, writable: false },
  destroy: { value: destroy, enumerable: false, writable: false },
  save: { value: save, enumerable: false, writable: false },
  meta: {
    enumerable: false,
    get(this: Internal): HttpSessionMeta {
      const state = this[STATE]
      const s = state.current
      return {
        handle: s?.handle ?? null,
        userId: s?.userId ?? null,
        device: s?.device ?? null,
        createdAt: s?.createdAt ?? null,
        lastSeenAt: s?.lastSeenAt ?? null,
        expiresAt: s?.expiresAt ?? null,
        absoluteExpiresAt: s?.absoluteExpiresAt ?? null,
        isNew: state.missReason !== null,
        readOnly: state.readOnly || state.destroyed || state.unavailable,
        missReason: state.missReason,
        unavailable: state.unavailable,
      }
    },
  },
}) as object

/**
 * Loads the session a request's cookie names and returns the `req.session` object for it; a
 * missing, malformed, forged, expired or corrupt cookie gives a fresh empty session (saved only
 * once something is stored in it). A store that cannot be reached gives an empty read-only
 * session with `meta.unavailable`. Renews the ID when due.
 *
 * @internal
 */
export async function openHttpSession(io: HttpSessionIo, token: string | undefined): Promise<HttpSession> {
  const target = Object.create(prototype) as Internal
  const state: State = {
    current: null,
    snapshot: new Map(),
    destroyed: false,
    readOnly: false,
    missReason: null,
    unavailable: false,
    io,
  }
  Object.defineProperty(target, STATE, { value: state, enumerable: false })
  let lookup
  try {
    lookup = await io.store.load(token)
  } catch (err) {
    io.logger.warn('session: the store cannot be reached; the request goes on without its session', {
      error: err instanceof Error ? err.message : String(err),
    })
    state.unavailable = true
    state.missReason = 'unavailable'
    return target
  }
  if (!lookup.found) {
    state.missReason = lookup.reason
    // A cookie that named no usable session is removed, so the browser stops sending it.
    if (token !== undefined && token !== '') setCookieFor(state, null)
    return target
  }
  let session = lookup.session
  state.readOnly = session.readOnly
  if (io.renew && session.renewDue && !session.readOnly) {
    try {
      const renewed = await io.store.regenerate(session)
      if (renewed.ok) {
        session = renewed.session
        setCookieFor(state, session)
      }
    } catch (err) {
      io.logger.debug('session: renewal failed; the current ID stays for now', {
        error: err instanceof Error ? err.message : String(err),
      })
    }
  }
  state.current = session
  fill(target, session.data, state)
  return target
}

/**
 * Saves what changed in a request's session (a field-level merge), creating the session on its
 * first stored field. A write the store refuses (the session was destroyed, revoked or rotated
 * meanwhile) is dropped: it never brings the session back. Never throws for that; rejects only
 * when the store cannot be reached.
 *
 * @internal
 */
export async function commitHttpSession(session: HttpSession): Promise<void> {
  const state = (session as Internal)[STATE]
  if (state.destroyed || state.unavailable || state.readOnly) return
  const { set, unset } = diff(session as Internal, state)
  const names = Object.keys(set)
  if (names.length === 0 && unset.length === 0) return
  const { store } = state.io
  if (state.current === null) {
    if (names.length === 0) return
    const created = await store.create({
      ...(state.io.device !== undefined ? { device: state.io.device.slice(0, 256) } : {}),
      data: set,
    })
    state.current = created
    setCookieFor(state, created)
  } else {
    const result = await store.update(state.current, { set, unset })
    if (!result.ok) {
      state.io.logger.debug('session: changes dropped, the store refused them', { reason: result.reason })
      state.readOnly = true
      return
    }
  }
  // What was saved is the new baseline: copies of it, so later changes in this request compare against it.
  for (const name of names) state.snapshot.set(name, mutableCopy(set[name]))
  for (const name of unset) state.snapshot.delete(name)
}
