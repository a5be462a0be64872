import { REDACTED, redactSecrets } from '../config/redact.js'
import type { Logger } from './logger.js'

/** `scheme://user:password@` → the password part. */
const URL_CREDENTIALS = /([a-zA-Z][a-zA-Z0-9+.-]*:\/\/[^\s/?#@:]*):([^\s/?#]*)@/g
/** Field names whose string values are always redacted, whatever they hold. */
const SECRET_FIELD = /^(password|passwd|pass|secret|token|api[-_]?key|authorization|auth|credentials?)$/i
const MAX_DEPTH = 8

/**
 * Wraps a logger so that secrets never reach it. Before delegating, in the message and in every
 * string inside `fields` (nested objects, arrays and `Error` messages/stacks included):
 *
 * - every occurrence of each string `secrets()` returns (called per log call, so rotated
 *   secrets are covered; empty strings are ignored) becomes `***`;
 * - the password of a URL's `user:password@` becomes `***` (`redis://app:***@host:6379`);
 * - the value of a field named like `password`, `token`, `secret`, `apiKey`, `authorization`
 *   becomes `***`.
 *
 * @example
 * ```ts
 * const logger = redactingLogger(createJsonLogger(), () => [config.password, config.tls?.key].filter(Boolean))
 * logger.warn('auth failed', { url: 'redis://app:s3cret@redis:6379' }) // url: redis://app:***@redis:6379
 * ```
 */
export function redactingLogger(logger: Logger, secrets: () => readonly string[]): Logger {
  const wrap =
    (method: keyof Logger) =>
    (msg: string, fields?: Record<string, unknown>): void => {
      const list = secrets()
        .filter((s) => typeof s === 'string' && s.length > 0)
        .sort((a, b) => b.length - a.length)
      const message = redactString(String(msg), list)
      if (fields === undefined) logger[method](message)
      else logger[method](message, redactValue(fields, list, 0, new WeakMap()) as Record<string, unknown>)
    }
  return { debug: wrap('debug'), info: wrap('info'), warn: wrap('warn'), error: wrap('error') }
}

/** Replaces secrets and URL passwords in one string. */
export function redactString(text: string, secrets: readonly string[]): string {
  return redactSecrets(text, secrets).replace(URL_CREDENTIALS, `$1:${REDACTED}@`)
}

function redactValue(
  value: unknown,
  secrets: readonly string[],
  depth: number,
  seen: WeakMap<object, unknown>,
): unknown {
  if (typeof value === 'string') return redactString(value, secrets)
  if (typeof value !== 'object' || value === null) return value
  if (depth >= MAX_DEPTH) return '[Object]'
  const done = seen.get(value)
  if (done !== undefined) return done
  if (Buffer.isBuffer(value) || ArrayBuffer.isView(value))
    return `[${value.constructor.name} ${value.byteLength} bytes]`
  if (value instanceof Error) {
    const copy: Record<string, unknown> = {
      name: value.name,
      message: redactString(value.message, secrets),
      stack: value.stack === undefined ? undefined : redactString(value.stack, secrets),
    }
    seen.set(value, copy)
    const code = (value as { code?: unknown }).code
    if (code !== undefined) copy.code = redactValue(code, secrets, depth + 1, seen)
    if (value.cause !== undefined) copy.cause = redactValue(value.cause, secrets, depth + 1, seen)
    return copy
  }
  if (Array.isArray(value)) {
    const copy: unknown[] = []
    seen.set(value, copy)
    for (const item of value) copy.push(redactValue(item, secrets, depth + 1, seen))
    return copy
  }
  if (value instanceof Date) return value
  const copy: Record<string, unknown> = {}
  seen.set(value, copy)
  for (const [key, item] of Object.entries(value)) {
    copy[key] =
      SECRET_FIELD.test(key) && item !== undefined && item !== null && item !== ''
        ? REDACTED
        : redactValue(item, secrets, depth + 1, seen)
  }
  return copy
}
