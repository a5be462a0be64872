import {
  createKeyring,
  invalidOption,
  isKeyring,
  parseDuration,
  type CodecSerializer,
  type Duration,
  type Keyring,
  type KeyringOptions,
} from '../../core/index.js'

/** Options of {@link createStateStore}. */
export interface StateStoreOptions<T> {
  /**
   * Name of the store (its key space). Letters, digits and `_ - .`.
   * @defaultValue 'default'
   */
  readonly name?: string
  /**
   * Time to live of each version, refreshed by every write; omitted: documents do not expire.
   * @defaultValue none
   */
  readonly ttl?: Duration
  /**
   * How many earlier versions each document keeps (for `history()`); `0` keeps none.
   * @defaultValue 0
   */
  readonly history?: number
  /**
   * The documents hold sensitive data (conversation context, credentials, personal data): every
   * version is encrypted with `encryption` (AES-256-GCM) and bound to its document id.
   * @defaultValue false
   */
  readonly sensitive?: boolean
  /** Keyring (or its options) of a sensitive store. Required with `sensitive: true`. */
  readonly encryption?: KeyringOptions | Keyring
  /**
   * Checks and types a value read back (a zod schema's `parse`, say); a value it rejects (throws)
   * reads as missing and is counted as corrupt.
   * @defaultValue none (values are returned as decoded)
   */
  readonly validate?: (value: unknown) => T
  /**
   * Largest encoded version accepted; a larger `put` throws `VALKIT_VALUE_TOO_LARGE`.
   * @defaultValue 1_048_576
   */
  readonly maxBytes?: number
  /**
   * Serializer of the values.
   * @defaultValue 'json'
   */
  readonly serializer?: CodecSerializer
}

/** {@link StateStoreOptions} after validation. */
export interface ResolvedStateStoreOptions<T> {
  readonly name: string
  /** `0`: no TTL. */
  readonly ttlMs: number
  readonly history: number
  readonly keyring: Keyring | undefined
  readonly validate: ((value: unknown) => T) | undefined
  readonly maxBytes: number
  readonly serializer: CodecSerializer
}

const NAME = /^[A-Za-z0-9_.-]{1,64}$/
const MAX_HISTORY = 1000

/**
 * Validates state store options (`VALKIT_INVALID_OPTION` naming the path) and applies defaults.
 *
 * @example
 * ```ts
 * resolveStateStoreOptions({ name: 'agents', history: 10, ttl: '168h' })
 * ```
 */
export function resolveStateStoreOptions<T>(
  options: StateStoreOptions<T> = {},
  path = 'state',
): ResolvedStateStoreOptions<T> {
  if (typeof options !== 'object' || options === null) {
    throw invalidOption(path, `got ${options === null ? 'null' : typeof options}`, 'an object')
  }
  const name = options.name ?? 'default'
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw invalidOption(
      `${path}.name`,
      `got ${JSON.stringify(String(name).slice(0, 40))}`,
      "1-64 of A-Z a-z 0-9 '_' '.' '-'",
    )
  }
  const ttlMs = options.ttl === undefined ? 0 : parseDuration(options.ttl, `${path}.ttl`)
  if (options.ttl !== undefined && ttlMs <= 0)
    throw invalidOption(`${path}.ttl`, `got ${ttlMs} ms`, 'a duration > 0')
  const history = options.history ?? 0
  if (!Number.isSafeInteger(history) || history < 0 || history > MAX_HISTORY) {
    throw invalidOption(`${path}.history`, `got ${String(history)}`, `an integer from 0 to ${MAX_HISTORY}`)
  }
  const sensitive = options.sensitive ?? false
  if (typeof sensitive !== 'boolean')
    throw invalidOption(`${path}.sensitive`, `got ${typeof sensitive}`, 'a boolean')
  let keyring: Keyring | undefined
  if (options.encryption !== undefined) {
    keyring = isKeyring(options.encryption)
      ? options.encryption
      : createKeyring(options.encryption, `${path}.encryption`)
  }
  if (sensitive && keyring === undefined) {
    throw invalidOption(
      `${path}.encryption`,
      'a sensitive store needs a keyring',
      '{ keys: [{ id, key }], primary } or a keyring from createKeyring',
    )
  }
  if (!sensitive && keyring !== undefined) {
    throw invalidOption(
      `${path}.sensitive`,
      'a keyring was given but the store is not marked sensitive',
      'sensitive: true (or no encryption)',
    )
  }
  if (options.validate !== undefined && typeof options.validate !== 'function') {
    throw invalidOption(`${path}.validate`, `got ${typeof options.validate}`, 'a function (value) => T')
  }
  const maxBytes = options.maxBytes ?? 1_048_576
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 64) {
    throw invalidOption(`${path}.maxBytes`, `got ${String(maxBytes)}`, 'an integer >= 64')
  }
  const serializer = options.serializer ?? 'json'
  if (serializer !== 'json' && serializer !== 'msgpack') {
    throw invalidOption(`${path}.serializer`, `got ${JSON.stringify(serializer)}`, "'json' or 'msgpack'")
  }
  return Object.freeze({ name, ttlMs, history, keyring, validate: options.validate, maxBytes, serializer })
}
