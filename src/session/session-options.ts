import {
  createKeyring,
  invalidOption,
  isKeyring,
  parseDuration,
  type CodecCompression,
  type CodecSerializer,
  type Duration,
  type Keyring,
  type KeyringOptions,
} from '../core/index.js'

/** The per-instance copy of sessions served while Redis/Valkey is unreachable. */
export interface SessionLocalCopyOptions {
  /**
   * Most sessions kept (least recently read evicted first).
   * @defaultValue 10_000
   */
  readonly maxEntries?: number
  /**
   * How long after its last successful read from Redis a copy may still be served. Revocations
   * made elsewhere while this instance cannot hear them are invisible to it for at most this long.
   * @defaultValue '1m'
   */
  readonly maxStale?: Duration
}

/** Options of {@link createSessionStore}. Resolved once, when the store is created. */
export interface SessionStoreOptions {
  /**
   * Name of this store's sessions inside valkit's key space (several apps can share one server).
   * Letters, digits and `_ - .`.
   * @defaultValue 'default'
   */
  readonly name?: string
  /**
   * Secrets the cookie tokens are signed with (HMAC-SHA256), newest first: tokens are signed
   * with the first and accepted when any of them verifies, so a secret rotates by putting the
   * new one in front and dropping the old one once its tokens are gone. At least 32 characters
   * (or bytes) each. Required.
   */
  readonly secrets: readonly (string | Buffer)[]
  /**
   * Keyring (or its options) every session value is encrypted with (AES-256-GCM, versioned keys:
   * see docs/codec.md for rotation). Required; `false` stores values unencrypted and
   * unauthenticated (only for local development: a record can then be read and forged by anyone
   * with access to Redis).
   */
  readonly encryption: KeyringOptions | Keyring | false
  /**
   * A session not read (touched) for this long expires.
   * @defaultValue '30m'
   */
  readonly idleTimeout?: Duration
  /**
   * A session expires this long after it began (login, or creation of an anonymous session),
   * however active it is. Renewal and `regenerate` keep the deadline unless the user changes.
   * @defaultValue '12h'
   */
  readonly absoluteTimeout?: Duration
  /**
   * A read reports `renewDue` once the session's ID is this old, and the HTTP middlewares then
   * issue a new ID (`regenerate`, same user, same deadlines). `0` turns renewal off.
   * @defaultValue '15m'
   */
  readonly renewAfter?: Duration
  /**
   * How long the old ID of a regenerated session stays readable (read-only) for requests that
   * were already in flight with it. `0` removes it at once.
   * @defaultValue '10s'
   */
  readonly overlap?: Duration
  /**
   * Last-seen time is written at most this often per session: a read within this time of the
   * last write does not write (the idle deadline is then at most this much earlier than exact).
   * `0` writes on every read.
   * @defaultValue '1s'
   */
  readonly touchInterval?: Duration
  /**
   * Most live sessions per user; creating one more logs out the one closest to expiry (as the
   * user's index orders them: on Redis an entry moves in steps of an eighth of the idle timeout,
   * so two sessions whose expiries are closer than that may be taken in either order).
   * @defaultValue 100
   */
  readonly maxSessionsPerUser?: number
  /**
   * Most data fields (top-level keys) per session.
   * @defaultValue 256
   */
  readonly maxFields?: number
  /**
   * Largest encoded size of a session's data; larger writes throw `VALKIT_VALUE_TOO_LARGE`.
   * @defaultValue 65_536
   */
  readonly maxBytes?: number
  /**
   * Per-instance caches that skip repeated work on hot sessions: verified cookie tokens, key
   * names, and the decrypted data of recently read records (reused only when Redis returns the
   * exact bytes that were authenticated). Entries of each; `0` turns them off.
   * @defaultValue 10_000
   */
  readonly cacheEntries?: number
  /**
   * How long a quarantined record (undecodable, tampered, foreign) is kept for inspection.
   * @defaultValue '1d'
   */
  readonly quarantineTtl?: Duration
  /**
   * Serves reads from a per-instance copy while Redis/Valkey is unreachable (writes that rotate or
   * revoke still fail closed). `false`: reads fail with `VALKIT_UNAVAILABLE` while it is down.
   * @defaultValue false
   */
  readonly localCopy?: false | SessionLocalCopyOptions
  /**
   * How values are serialized before encryption.
   * @defaultValue `{ serializer: 'json', compression: 'none' }`
   */
  readonly codec?: { readonly serializer?: CodecSerializer; readonly compression?: CodecCompression }
}

/** {@link SessionStoreOptions} after validation, with every default applied. */
export interface ResolvedSessionStoreOptions {
  readonly name: string
  readonly secrets: readonly Buffer[]
  readonly keyring: Keyring | undefined
  readonly idleTimeoutMs: number
  readonly absoluteTimeoutMs: number
  readonly renewAfterMs: number
  readonly overlapMs: number
  readonly touchIntervalMs: number
  readonly maxSessionsPerUser: number
  readonly maxFields: number
  readonly maxBytes: number
  readonly cacheEntries: number
  readonly quarantineTtlMs: number
  readonly localCopy: false | { readonly maxEntries: number; readonly maxStaleMs: number }
  readonly serializer: CodecSerializer
  readonly compression: CodecCompression
}

/**
 * Defaults of {@link SessionStoreOptions}.
 *
 * @example
 * ```ts
 * SESSION_DEFAULTS.idleTimeoutMs // 1_800_000 (30 min)
 * ```
 */
export const SESSION_DEFAULTS = Object.freeze({
  name: 'default',
  idleTimeoutMs: 30 * 60_000,
  absoluteTimeoutMs: 12 * 3_600_000,
  renewAfterMs: 15 * 60_000,
  overlapMs: 10_000,
  touchIntervalMs: 1000,
  maxSessionsPerUser: 100,
  maxFields: 256,
  maxBytes: 65_536,
  cacheEntries: 10_000,
  quarantineTtlMs: 24 * 3_600_000,
  localCopy: Object.freeze({ maxEntries: 10_000, maxStaleMs: 60_000 }),
  serializer: 'json',
  compression: 'none',
} as const)

/**
 * Shortest cookie secret accepted, in bytes.
 *
 * @example
 * ```ts
 * const secret = randomBytes(MIN_SECRET_BYTES).toString('base64')
 * ```
 */
export const MIN_SECRET_BYTES = 32

const NAME = /^[A-Za-z0-9_.-]{1,64}$/

function integer(value: unknown, path: string, fallback: number, min: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min) {
    throw invalidOption(
      path,
      `got ${typeof value === 'number' ? value : typeof value}`,
      `an integer >= ${min}`,
    )
  }
  return value
}

function duration(value: unknown, path: string, fallback: number, min: number): number {
  if (value === undefined) return fallback
  const ms = parseDuration(value, path)
  if (ms < min) throw invalidOption(path, `got ${ms} ms`, `a duration of at least ${min} ms`)
  return ms
}

function resolveSecrets(value: unknown, path: string): Buffer[] {
  if (!Array.isArray(value) || value.length === 0) {
    throw invalidOption(path, 'no secrets were given', 'a non-empty array of secrets, newest first')
  }
  return value.map((secret: unknown, i) => {
    // Never echo a secret, not even a piece of it.
    const bytes =
      typeof secret === 'string' ? Buffer.from(secret, 'utf8') : Buffer.isBuffer(secret) ? secret : undefined
    if (bytes === undefined) {
      throw invalidOption(`${path}[${i}]`, `the secret has type ${typeof secret}`, 'a string or a Buffer')
    }
    if (bytes.length < MIN_SECRET_BYTES) {
      throw invalidOption(
        `${path}[${i}]`,
        `the secret is ${bytes.length} bytes long`,
        `at least ${MIN_SECRET_BYTES} random bytes (e.g. 32 bytes of base64)`,
      )
    }
    return Buffer.from(bytes)
  })
}

function resolveLocalCopy(value: unknown, path: string): ResolvedSessionStoreOptions['localCopy'] {
  if (value === undefined || value === false) return false
  if (value === true) return SESSION_DEFAULTS.localCopy
  if (typeof value !== 'object' || value === null) {
    throw invalidOption(path, `got ${value === null ? 'null' : typeof value}`, 'false or an object')
  }
  const given = value as SessionLocalCopyOptions
  return Object.freeze({
    maxEntries: integer(given.maxEntries, `${path}.maxEntries`, SESSION_DEFAULTS.localCopy.maxEntries, 1),
    maxStaleMs: duration(given.maxStale, `${path}.maxStale`, SESSION_DEFAULTS.localCopy.maxStaleMs, 1),
  })
}

/**
 * Validates session store options and applies defaults.
 *
 * @throws ValkitError `VALKIT_INVALID_OPTION` naming the option's path (`session.idleTimeout`).
 * @example
 * ```ts
 * const resolved = resolveSessionStoreOptions({ secrets: [process.env.SESSION_SECRET!], encryption: keyring })
 * resolved.idleTimeoutMs // 1_800_000
 * ```
 */
export function resolveSessionStoreOptions(
  options: SessionStoreOptions,
  path = 'session',
): ResolvedSessionStoreOptions {
  if (typeof options !== 'object' || options === null) {
    throw invalidOption(path, `got ${options === null ? 'null' : typeof options}`, 'an object')
  }
  const d = SESSION_DEFAULTS
  const name = options.name ?? d.name
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw invalidOption(
      `${path}.name`,
      `got ${JSON.stringify(String(name).slice(0, 40))}`,
      "1-64 of A-Z a-z 0-9 '_' '.' '-'",
    )
  }
  const secrets = resolveSecrets(options.secrets, `${path}.secrets`)
  const encryption: unknown = options.encryption
  let keyring: Keyring | undefined
  if (encryption === false) keyring = undefined
  else if (encryption === undefined || encryption === null) {
    throw invalidOption(
      `${path}.encryption`,
      'sessions are encrypted at rest and no keyring was given',
      '{ keys: [{ id, key }], primary } or a keyring from createKeyring (false only for local development)',
    )
  } else
    keyring = isKeyring(encryption)
      ? encryption
      : createKeyring(encryption as KeyringOptions, `${path}.encryption`)
  const idleTimeoutMs = duration(options.idleTimeout, `${path}.idleTimeout`, d.idleTimeoutMs, 100)
  const absoluteTimeoutMs = duration(
    options.absoluteTimeout,
    `${path}.absoluteTimeout`,
    d.absoluteTimeoutMs,
    100,
  )
  if (absoluteTimeoutMs < idleTimeoutMs) {
    throw invalidOption(
      `${path}.absoluteTimeout`,
      `${absoluteTimeoutMs} ms is shorter than idleTimeout (${idleTimeoutMs} ms)`,
      'an absolute timeout at least as long as the idle timeout',
    )
  }
  const renewAfterMs = duration(options.renewAfter, `${path}.renewAfter`, d.renewAfterMs, 0)
  const overlapMs = duration(options.overlap, `${path}.overlap`, d.overlapMs, 0)
  if (overlapMs > 5 * 60_000) {
    throw invalidOption(
      `${path}.overlap`,
      `got ${overlapMs} ms`,
      'at most 5 minutes (a short window for requests in flight)',
    )
  }
  const touchIntervalMs = duration(options.touchInterval, `${path}.touchInterval`, d.touchIntervalMs, 0)
  if (touchIntervalMs * 10 > idleTimeoutMs) {
    throw invalidOption(
      `${path}.touchInterval`,
      `${touchIntervalMs} ms is more than a tenth of idleTimeout`,
      'a touch interval well below the idle timeout',
    )
  }
  const serializer = options.codec?.serializer ?? d.serializer
  if (serializer !== 'json' && serializer !== 'msgpack') {
    throw invalidOption(
      `${path}.codec.serializer`,
      `got ${JSON.stringify(serializer)}`,
      "'json' or 'msgpack'",
    )
  }
  const compression = options.codec?.compression ?? d.compression
  if (compression !== 'none' && compression !== 'deflate' && compression !== 'brotli') {
    throw invalidOption(
      `${path}.codec.compression`,
      `got ${JSON.stringify(compression)}`,
      "'none', 'deflate' or 'brotli'",
    )
  }
  return Object.freeze({
    name,
    secrets: Object.freeze(secrets),
    keyring,
    idleTimeoutMs,
    absoluteTimeoutMs,
    renewAfterMs,
    overlapMs,
    touchIntervalMs,
    maxSessionsPerUser: integer(
      options.maxSessionsPerUser,
      `${path}.maxSessionsPerUser`,
      d.maxSessionsPerUser,
      1,
    ),
    maxFields: integer(options.maxFields, `${path}.maxFields`, d.maxFields, 1),
    maxBytes: integer(options.maxBytes, `${path}.maxBytes`, d.maxBytes, 64),
    cacheEntries: integer(options.cacheEntries, `${path}.cacheEntries`, d.cacheEntries, 0),
    quarantineTtlMs: duration(options.quarantineTtl, `${path}.quarantineTtl`, d.quarantineTtlMs, 1000),
    localCopy: resolveLocalCopy(options.localCopy, `${path}.localCopy`),
    serializer,
    compression,
  })
}
