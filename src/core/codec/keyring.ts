import { createSecretKey, type KeyObject } from 'node:crypto'
import { invalidOption } from '../errors.js'

/** Length in bytes of an AES-256 key. */
export const KEY_BYTES = 32

/** Longest key id, in bytes, that fits the codec's envelope header. */
export const MAX_KEY_ID_LENGTH = 16

const KEY_ID_PATTERN = /^[A-Za-z0-9._-]{1,16}$/
const BASE64_PATTERN = /^[A-Za-z0-9+/]*={0,2}$/

/** One versioned encryption key. */
export interface KeyringKey {
  /**
   * Short id written in clear into every value encrypted with this key: a non-negative integer, or
   * 1-16 characters of `A-Z a-z 0-9 . _ -`. Never reuse an id for different key material.
   */
  readonly id: string | number
  /** The 32 key bytes, as a `Buffer` or a base64 string (standard alphabet, padding optional). */
  readonly key: Buffer | string
}

/** Options of {@link createKeyring}. */
export interface KeyringOptions {
  /** Every key that may have written a value still stored. At least one. */
  readonly keys: readonly KeyringKey[]
  /** Id of the key new values are encrypted with. Must be one of `keys`. */
  readonly primary: string | number
}

/** A key as the codec uses it. The key bytes live in a `KeyObject`, which never prints them. */
export interface KeyringEntry {
  /** The id as written in the envelope. */
  readonly id: string
  /** The id's bytes (ASCII), ready to copy into a header. */
  readonly idBytes: Buffer
  readonly key: KeyObject
}

/**
 * A frozen set of versioned AES-256 keys with one primary. Encryption always uses the primary;
 * decryption uses whichever key the value's header names, so keys rotate without downtime.
 */
export interface Keyring {
  /** The key new values are encrypted with. */
  readonly primary: KeyringEntry
  /** The key with this id, or `undefined` when the keyring does not hold it. */
  get(id: string): KeyringEntry | undefined
  /** Every key id, primary first. */
  ids(): string[]
}

/** Marks objects made by {@link createKeyring}, so codec options can tell them from plain options. */
const KEYRING = Symbol.for('valkit.keyring')

/** `true` when `value` was made by {@link createKeyring}. */
export function isKeyring(value: unknown): value is Keyring {
  return typeof value === 'object' && value !== null && (value as { [KEYRING]?: unknown })[KEYRING] === true
}

function normalizeKeyId(id: unknown, path: string): string {
  if (typeof id === 'number') {
    if (Number.isSafeInteger(id) && id >= 0 && String(id).length <= MAX_KEY_ID_LENGTH) return String(id)
    throw invalidOption(path, 'a numeric key id must be a non-negative integer', 'an integer such as 1 or 2')
  }
  if (typeof id === 'string' && KEY_ID_PATTERN.test(id)) return id
  throw invalidOption(
    path,
    'a key id must be short and printable',
    `a non-negative integer or 1-${MAX_KEY_ID_LENGTH} characters of A-Z a-z 0-9 . _ -`,
  )
}

function keyBytes(key: unknown, path: string): Buffer {
  let bytes: Buffer
  if (Buffer.isBuffer(key)) bytes = key
  else if (typeof key === 'string') {
    // Never echo the string: it is (or is meant to be) a secret.
    if (!BASE64_PATTERN.test(key) || key.length % 4 === 1) {
      throw invalidOption(path, 'the key is not valid base64', `${KEY_BYTES} bytes, base64-encoded`)
    }
    bytes = Buffer.from(key, 'base64')
  } else {
    throw invalidOption(
      path,
      `the key has type ${key === null ? 'null' : typeof key}`,
      `a Buffer or a base64 string`,
    )
  }
  if (bytes.length !== KEY_BYTES) {
    throw invalidOption(
      path,
      `the key must be ${KEY_BYTES} bytes (got ${bytes.length})`,
      `${KEY_BYTES} random bytes`,
    )
  }
  return bytes
}

/**
 * Builds a keyring from versioned keys, validating everything up front. Error messages name the
 * option's path (`keyring.keys[1].key`) and never contain key material.
 *
 * Rotation: add the new key, make it `primary`, keep the old key until every value written with
 * it has expired or been re-encrypted (`codec.reencrypt`), then remove it.
 *
 * @param path - Option path used in error messages (default `'keyring'`).
 * @example
 * ```ts
 * const keyring = createKeyring({
 *   keys: [
 *     { id: 1, key: process.env.VALKIT_KEY_1! }, // base64 of 32 random bytes
 *     { id: 2, key: process.env.VALKIT_KEY_2! },
 *   ],
 *   primary: 2,
 * })
 * ```
 */
export function createKeyring(options: KeyringOptions, path = 'keyring'): Keyring {
  if (typeof options !== 'object' || options === null) {
    throw invalidOption(path, 'the keyring options are missing', '{ keys: [...], primary: id }')
  }
  const list: unknown = options.keys
  if (!Array.isArray(list) || list.length === 0) {
    throw invalidOption(`${path}.keys`, 'no keys were given', 'a non-empty array of { id, key }')
  }
  const byId = new Map<string, KeyringEntry>()
  list.forEach((item: unknown, index) => {
    const itemPath = `${path}.keys[${index}]`
    if (typeof item !== 'object' || item === null) {
      throw invalidOption(itemPath, 'the entry is not an object', '{ id, key }')
    }
    const { id: rawId, key: rawKey } = item as { id?: unknown; key?: unknown }
    const id = normalizeKeyId(rawId, `${itemPath}.id`)
    if (byId.has(id)) throw invalidOption(`${itemPath}.id`, `the id "${id}" is used twice`, 'unique key ids')
    const key = createSecretKey(keyBytes(rawKey, `${itemPath}.key`))
    byId.set(id, Object.freeze({ id, idBytes: Buffer.from(id, 'latin1'), key }))
  })
  const primaryId = normalizeKeyId(options.primary, `${path}.primary`)
  const primary = byId.get(primaryId)
  if (primary === undefined) {
    throw invalidOption(`${path}.primary`, `no key has the id "${primaryId}"`, 'the id of one of the keys')
  }
  const ids = [primaryId, ...[...byId.keys()].filter((id) => id !== primaryId)]
  return Object.freeze({
    [KEYRING]: true,
    primary,
    get: (id: string) => byId.get(id),
    ids: () => [...ids],
  })
}
