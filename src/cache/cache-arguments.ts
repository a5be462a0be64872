import { ValkitError } from '../core/index.js'

/**
 * Argument checks and errors of the cache's calls.
 * @internal
 */
export function invalidArgument(message: string): ValkitError {
  return new ValkitError('VALKIT_INVALID_ARGUMENT', message)
}

/** @internal */
export function keyError(key: unknown): ValkitError {
  return invalidArgument(`A cache key must be a string (got ${typeof key}).`)
}

/** Validates a tag list; `null` for none. @internal */
export function checkTags(tags: unknown, what: string): string[] | null {
  if (tags === undefined) return null
  if (!Array.isArray(tags) || !tags.every((t) => typeof t === 'string' && t.length > 0)) {
    throw invalidArgument(`${what} must be an array of non-empty strings.`)
  }
  return tags.length === 0 ? null : [...new Set(tags as string[])]
}

/** @internal */
export function closedError(): ValkitError {
  return new ValkitError('VALKIT_CLOSED', 'This cache is closed.')
}
