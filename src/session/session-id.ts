import { hash, randomBytes } from 'node:crypto'
import { ValkitError } from '../core/index.js'

/**
 * Session IDs and the names derived from them.
 *
 * A session ID is `<tag>.<secret>`:
 * - `<secret>`: 24 base64url characters of 18 bytes from the CSPRNG (144 bits), never derived
 *   from anything else; it is what makes the ID unguessable.
 * - `<tag>`: where the session lives on a Cluster (its hash tag). An anonymous session gets a
 *   random tag (`a` + 10 characters); a user's sessions share the tag `u` + 16 characters of a
 *   SHA-256 of the user id, so a script can touch a session and its user's index at once. The
 *   tag is routing, not a secret (anyone who knows a user id can compute it).
 *
 * Redis never sees the secret: the record's key holds its *handle*, a SHA-256 of the whole ID
 * (22 characters), which is also the session's public id in listings. Field names are hashed
 * with the ID too, so nobody reading Redis learns the ID or the names of the data fields.
 *
 * @internal
 */
export const SECRET_CHARS = 24
/** Bytes of randomness in the secret part of an ID. @internal */
export const SECRET_BYTES = 18

const ID_PATTERN = /^(a[A-Za-z0-9_-]{10}|u[A-Za-z0-9_-]{16})\.[A-Za-z0-9_-]{24}$/
const HANDLE_PATTERN = /^[A-Za-z0-9_-]{22}$/
const MAX_USER_ID = 256

/** `true` when `id` has the shape of a session ID (says nothing about whether it exists). @internal */
export function isSessionId(id: unknown): id is string {
  return typeof id === 'string' && id.length <= 42 && ID_PATTERN.test(id)
}

/** `true` when `handle` has the shape of a session handle. @internal */
export function isHandle(handle: unknown): handle is string {
  return typeof handle === 'string' && HANDLE_PATTERN.test(handle)
}

/** The tag of an ID (the part before the dot). @internal */
export function tagOf(id: string): string {
  return id.slice(0, id.indexOf('.'))
}

/** The hash tag of a user's sessions. @internal */
export function userTag(userId: string): string {
  return `u${hash('sha256', `valkit-session-user\u0000${userId}`, 'base64url').slice(0, 16)}`
}

/** A fresh anonymous tag. @internal */
export function anonymousTag(): string {
  return `a${randomBytes(8).toString('base64url').slice(0, 10)}`
}

/** A fresh session ID under `tag`. @internal */
export function newSessionId(tag: string): string {
  return `${tag}.${randomBytes(SECRET_BYTES).toString('base64url')}`
}

/** The handle of an ID: its key in Redis and its public id. @internal */
export function handleOf(id: string): string {
  return hash('sha256', id, 'base64url').slice(0, 22)
}

/**
 * Checks a user id given by the caller (any non-empty string up to 256 characters; numbers are
 * written in decimal).
 *
 * @internal
 */
export function checkUserId(userId: unknown, argument = 'userId'): string {
  const text = typeof userId === 'number' && Number.isSafeInteger(userId) ? String(userId) : userId
  if (typeof text !== 'string' || text.length === 0 || text.length > MAX_USER_ID) {
    throw new ValkitError(
      'VALKIT_INVALID_ARGUMENT',
      `Invalid ${argument}: expected a non-empty string (at most ${MAX_USER_ID} characters) or an integer.`,
      { details: { argument } },
    )
  }
  return text
}
