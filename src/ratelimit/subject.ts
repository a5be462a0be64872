import { createHash } from 'node:crypto'
import { ValkitError } from '../core/index.js'

/**
 * Who a check is about: the values of the scopes its rules are keyed by
 * (`{ user: '42', tenant: 'acme', ip: '203.0.113.7' }`), or one string for rules keyed by the
 * default scope `key`.
 *
 * @example
 * ```ts
 * await limiter.check('user-42') // the default scope `key`
 * await limiter.check({ tenant: 'acme', user: 42 })
 * ```
 */
export type RateLimitSubject = string | Readonly<Record<string, string | number>>

/** Values that go into a key as they are; anything else is hashed. */
const SAFE = /^[A-Za-z0-9._@:+/-]{1,100}$/

function invalid(message: string): ValkitError {
  return new ValkitError('VALKIT_INVALID_ARGUMENT', message, { details: { argument: 'subject' } })
}

/**
 * A subject value as it appears in a key: itself when short and made of safe characters, else
 * `~` and 22 characters of its SHA-256 (braces would move the Cluster hash tag, and API keys or
 * long values do not belong in key names).
 *
 * @internal
 */
export function encodeValue(value: string): string {
  if (SAFE.test(value)) return value
  return `~${createHash('sha256').update(value).digest('base64url').slice(0, 22)}`
}

const EMPTY: Readonly<Record<string, string>> = Object.freeze({})

/**
 * The subject as scope -> text. Throws `VALKIT_INVALID_ARGUMENT` for an empty value or one that is
 * neither a string nor a finite number.
 *
 * @internal
 */
export function normalizeSubject(subject: RateLimitSubject | undefined): Readonly<Record<string, string>> {
  if (subject === undefined) return EMPTY
  if (typeof subject === 'string') {
    if (subject.length === 0)
      throw invalid('The subject is an empty string: give the key to limit, such as a user id.')
    return { key: subject }
  }
  if (typeof subject !== 'object' || subject === null || Array.isArray(subject)) {
    throw invalid('The subject must be a string or an object of scope: value (such as { user: "42" }).')
  }
  let copy: Record<string, string> | null = null
  for (const scope in subject) {
    const value = subject[scope]
    if (typeof value === 'string') {
      if (value.length === 0) throw invalid(`The subject's \`${scope}\` is an empty string.`)
      if (copy !== null) copy[scope] = value
    } else if (typeof value === 'number' && Number.isFinite(value)) {
      copy ??= { ...(subject as Record<string, string>) }
      copy[scope] = String(value)
    } else {
      throw invalid(`The subject's \`${scope}\` is ${typeof value}: expected a string or a finite number.`)
    }
  }
  return copy ?? (subject as Readonly<Record<string, string>>)
}
