import { ValkitError } from '../../core/index.js'

/** Longest scope name and entry key accepted (they are part of Redis keys and hash fields). */
const MAX_NAME = 512

/** @internal */
export function invalidArgument(message: string): ValkitError {
  return new ValkitError('VALKIT_INVALID_ARGUMENT', message)
}

/** A scope becomes a Cluster hash tag: no braces, no NUL. @internal */
export function checkScope(scope: unknown): string {
  if (typeof scope !== 'string' || scope.length === 0 || scope.length > MAX_NAME || /[{}\0]/.test(scope)) {
    throw invalidArgument(
      `An agent-context scope must be a string of 1-${MAX_NAME} characters without '{', '}' or NUL (got ${typeof scope === 'string' ? `${scope.length} characters` : typeof scope}).`,
    )
  }
  return scope
}

/** @internal */
export function checkKey(key: unknown): string {
  if (typeof key !== 'string' || key.length === 0 || key.length > MAX_NAME) {
    throw invalidArgument(
      `An agent-context entry key must be a string of 1-${MAX_NAME} characters (got ${typeof key}).`,
    )
  }
  return key
}

/** A version option: `undefined` or an integer >= 0. @internal */
export function checkVersion(value: unknown, name: string): number | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw invalidArgument(
      `${name} must be an integer >= 0 (a version returned by this store), got ${typeof value === 'number' ? value : typeof value}.`,
    )
  }
  return value
}

/** @internal */
export function closedError(): ValkitError {
  return new ValkitError('VALKIT_CLOSED', 'This agent context is closed.')
}

/** @internal */
export function unavailable(op: string): ValkitError {
  return new ValkitError(
    'VALKIT_UNAVAILABLE',
    `agent context ${op}: Redis/Valkey is not reachable. Changes need it to assign a version, so nothing was changed; retry once it is back (reads are served from this process's copy when it holds a recent enough one).`,
    { details: { op } },
  )
}
