import { invalidOption } from '../errors.js'

/** A value together with where it came from: `reconnect.maxDelay`, `env VALKIT_PASSWORD`, `url`. */
export interface Sourced<T = unknown> {
  readonly value: T
  readonly path: string
}

/**
 * Says what a value is, for error messages, without ever showing a secret's content.
 * @internal
 */
export function describeValue(value: unknown, secret = false): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (Buffer.isBuffer(value)) return 'a Buffer'
  switch (typeof value) {
    case 'string':
      if (secret) return value === '' ? 'an empty string' : 'a string (value hidden)'
      return `the string ${JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value)}`
    case 'number':
      return secret ? 'a number (value hidden)' : `the number ${String(value)}`
    case 'boolean':
      return `${String(value)}`
    case 'undefined':
      return 'undefined'
    case 'object':
      return 'an object'
    default:
      return `a ${typeof value}`
  }
}

/** @internal */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  const proto = Object.getPrototypeOf(value) as unknown
  return proto === Object.prototype || proto === null
}

/** @internal */
export function expectObject(value: unknown, path: string, expected: string): Record<string, unknown> {
  if (!isPlainObject(value)) throw invalidOption(path, `got ${describeValue(value)}`, expected)
  return value
}

/** @internal */
export function expectString(
  value: unknown,
  path: string,
  options: { expected: string; secret?: boolean; pattern?: RegExp; problem?: string },
): string {
  if (typeof value !== 'string' || value === '') {
    throw invalidOption(path, `got ${describeValue(value, options.secret)}`, options.expected)
  }
  if (options.pattern !== undefined && !options.pattern.test(value)) {
    throw invalidOption(
      path,
      options.problem ?? `got ${describeValue(value, options.secret)}`,
      options.expected,
    )
  }
  return value
}

/** @internal */
export function expectInteger(
  value: unknown,
  path: string,
  min: number,
  max: number,
  expected?: string,
): number {
  const want =
    expected ??
    (max === Number.MAX_SAFE_INTEGER ? `an integer >= ${min}` : `an integer from ${min} to ${max}`)
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalidOption(path, `got ${describeValue(value)}`, want)
  }
  return value
}

/** @internal */
export function expectNumber(
  value: unknown,
  path: string,
  check: (n: number) => boolean,
  expected: string,
): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || !check(value)) {
    throw invalidOption(path, `got ${describeValue(value)}`, expected)
  }
  return value
}

/** @internal */
export function expectBoolean(value: unknown, path: string): boolean {
  if (typeof value !== 'boolean') throw invalidOption(path, `got ${describeValue(value)}`, 'true or false')
  return value
}

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i)
  for (let i = 1; i <= a.length; i++) {
    let previous = row[0] ?? 0
    row[0] = i
    for (let j = 1; j <= b.length; j++) {
      const current = row[j] ?? 0
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      row[j] = Math.min(current + 1, (row[j - 1] ?? 0) + 1, previous + cost)
      previous = current
    }
  }
  return row[b.length] ?? 0
}

/**
 * The known name a typo most likely meant: `commandTimeoutMs` -> `commandTimeout`.
 * @internal
 */
export function suggestName(name: string, known: readonly string[]): string | undefined {
  const lower = name.toLowerCase()
  const stripped = lower.replace(/(ms|millis|milliseconds|seconds|secs)$/, '')
  let best: string | undefined
  let bestScore = Infinity
  for (const candidate of known) {
    const c = candidate.toLowerCase()
    if (c === lower || c === stripped) return candidate
    const score = Math.min(editDistance(lower, c), editDistance(stripped, c))
    if (score < bestScore) {
      bestScore = score
      best = candidate
    }
  }
  return bestScore <= Math.max(2, Math.floor(name.length / 4)) ? best : undefined
}

/**
 * Rejects keys of `object` that are not in `known`, suggesting the closest known name.
 * @internal
 */
export function checkKeys(object: Record<string, unknown>, known: readonly string[], parent: string): void {
  for (const key of Object.keys(object)) {
    if (known.includes(key)) continue
    const path = parent === '' ? key : `${parent}.${key}`
    const suggestion = suggestName(key, known)
    throw invalidOption(
      path,
      `unknown option${suggestion === undefined ? '' : ` (did you mean \`${parent === '' ? '' : `${parent}.`}${suggestion}\`?)`}`,
      `one of ${known.map((k) => `\`${k}\``).join(', ')}`,
    )
  }
}

/**
 * The first defined candidate, after checking that two candidates of the same origin (an
 * option and the same part of a URL) do not disagree.
 * @internal
 */
export function firstDefined<T>(candidates: readonly (Sourced<T> | undefined)[]): Sourced<T> | undefined {
  for (const candidate of candidates) if (candidate !== undefined) return candidate
  return undefined
}
