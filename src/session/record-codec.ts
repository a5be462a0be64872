import { createCodec, isValkitError, ValkitError, type Codec } from '../core/index.js'
import { BoundedCache } from './bounded-cache.js'
import type { ResolvedSessionStoreOptions } from './session-options.js'

/**
 * How a session record is laid out (a Redis hash; the memory backend keeps the same fields):
 *
 * | field | holds                                                                    |
 * | ----- | ------------------------------------------------------------------------ |
 * | `v`   | version, +1 on every write                                               |
 * | `c`   | when the session began (server ms; kept across renewal)                   |
 * | `n`   | when this ID was issued (server ms; renewal is due from `n + renewAfter`) |
 * | `a`   | absolute deadline (server ms)                                            |
 * | `i`   | idle timeout (ms)                                                        |
 * | `s`   | last seen (server ms)                                                    |
 * | `r`   | 0, or the end of the overlap window once the ID was rotated              |
 * | `o`   | 1 when the session belongs to a user (listed in the user's index)         |
 * | `p`   | handle of the ID this one replaced (same user), if any                   |
 * | `e`   | when the key expires (server ms): at least 60 s past the idle deadline     |
 * | `d`   | encrypted: `[{ u: userId, d: device }, data]`                             |
 *
 * `d` is the codec's envelope (AES-256-GCM, a random IV, the keyring's key id in clear), sealed
 * with the record's *handle* (the SHA-256 of the session ID its key is named after) as
 * associated data: data copied under another session's key fails authentication, and the record
 * is quarantined. Only numbers are in clear.
 *
 * @internal
 */
const contextOf = (handle: string): string => `valkit-session-record\u0000${handle}`

/** Why a record cannot be used. @internal */
export type CorruptRecordReason =
  | 'format'
  | 'truncated'
  | 'unknown-key'
  | 'not-encrypted'
  | 'authentication'
  | 'decompress'
  | 'deserialize'
  | 'foreign'
  | 'malformed'

/** Thrown by {@link RecordCodec.decode} for a record that cannot be trusted. @internal */
export class CorruptRecord extends Error {
  constructor(readonly reason: CorruptRecordReason) {
    super(`session record is unusable: ${reason}`)
  }
}

/** The owner and device of a session. @internal */
export interface RecordMeta {
  readonly userId: string | null
  readonly device: string | null
}

/** A record's decrypted data (deeply frozen: it may be shared by several reads). @internal */
export interface DecodedData {
  readonly meta: RecordMeta
  readonly data: Readonly<Record<string, unknown>>
}

/** Freezes plain objects and arrays all the way down (binary values are left as they are). */
function deepFreeze(value: unknown): unknown {
  if (value === null || typeof value !== 'object' || ArrayBuffer.isView(value) || Object.isFrozen(value))
    return value
  Object.freeze(value)
  for (const key of Object.keys(value)) deepFreeze((value as Record<string, unknown>)[key])
  return value
}

/**
 * Encrypts and decrypts session data, bound to its record by the associated data. Keeps the data of the last
 * records it authenticated, by handle, with their exact bytes: a read that brings the same bytes
 * again (the data did not change, only last-seen did) skips the decryption. Sound because
 * identical bytes under the same keyring decrypt to the same value.
 *
 * @internal
 */
export class RecordCodec {
  readonly codec: Codec
  readonly encrypted: boolean
  private readonly cache: BoundedCache<string, { bytes: Buffer; version: number; decoded: DecodedData }>

  constructor(private readonly options: ResolvedSessionStoreOptions) {
    this.codec = createCodec({
      serializer: options.serializer,
      compression: options.compression,
      ...(options.keyring === undefined ? {} : { encryption: options.keyring }),
    })
    this.encrypted = options.keyring !== undefined
    this.cache = new BoundedCache(options.cacheEntries)
  }

  /** Encrypts a record's data. Throws `VALKIT_VALUE_TOO_LARGE` past `maxBytes`. */
  encode(handle: string, meta: RecordMeta, data: Readonly<Record<string, unknown>>): Buffer {
    const bytes = this.codec.encode([{ u: meta.userId, d: meta.device }, data], {
      context: contextOf(handle),
    })
    if (bytes.length > this.options.maxBytes) {
      throw new ValkitError(
        'VALKIT_VALUE_TOO_LARGE',
        `The session data encodes to ${bytes.length} bytes, more than maxBytes (${this.options.maxBytes}). Store less in the session.`,
        { details: { bytes: bytes.length, limit: this.options.maxBytes } },
      )
    }
    return bytes
  }

  /** The version of `handle` whose data is cached (for the touch script to leave it out), or `''`. */
  known(handle: string): string {
    const cached = this.cache.get(handle)
    return cached === undefined ? '' : String(cached.version)
  }

  /** The cached data of `version` of `handle`, or `undefined` when the cache no longer holds it. */
  cached(handle: string, version: number, owned: boolean): DecodedData | undefined {
    const cached = this.cache.get(handle)
    return cached !== undefined && cached.version === version ? this.owner(cached.decoded, owned) : undefined
  }

  /**
   * Decrypts and authenticates a record's data read under `handle` (at `version`, for the cache).
   * Throws {@link CorruptRecord} when it fails to decrypt, is bound to another record, or does not
   * match the record's owner flag.
   */
  decode(handle: string, bytes: Buffer, owned: boolean, version = 0): DecodedData {
    const cached = this.cache.get(handle)
    if (cached !== undefined && cached.bytes.equals(bytes)) {
      cached.version = version
      return this.owner(cached.decoded, owned)
    }
    let value: unknown
    try {
      value = this.codec.decode(bytes, { context: contextOf(handle) })
    } catch (err) {
      this.cache.delete(handle)
      const reason = isValkitError(err, 'VALKIT_CORRUPT_VALUE')
        ? ((err.details?.reason as CorruptRecordReason | undefined) ?? 'format')
        : 'format'
      throw new CorruptRecord(reason)
    }
    if (!Array.isArray(value) || value.length !== 2) throw new CorruptRecord('foreign')
    const m = value[0] as { u?: unknown; d?: unknown } | null
    const data = value[1] as unknown
    if (
      typeof m !== 'object' ||
      m === null ||
      typeof data !== 'object' ||
      data === null ||
      Array.isArray(data)
    ) {
      throw new CorruptRecord('foreign')
    }
    const decoded: DecodedData = {
      meta: { userId: typeof m.u === 'string' ? m.u : null, device: typeof m.d === 'string' ? m.d : null },
      data: deepFreeze(data) as Readonly<Record<string, unknown>>,
    }
    this.cache.set(handle, { bytes: Buffer.from(bytes), version, decoded })
    return this.owner(decoded, owned)
  }

  /** A record's owner flag and the owner inside its data must agree. */
  private owner(decoded: DecodedData, owned: boolean): DecodedData {
    if (owned !== (decoded.meta.userId !== null)) throw new CorruptRecord('foreign')
    return decoded
  }

  /** Whether the bytes are encrypted with an older key than the keyring's primary. */
  needsReencrypt(bytes: Buffer): boolean {
    return this.encrypted && this.codec.needsReencrypt(bytes)
  }

  /** Forgets what was cached for a record (destroyed, quarantined). */
  forget(handle: string): void {
    this.cache.delete(handle)
  }

  /** Forgets every cached record (after a reconnection: a failover may have lost writes, so a version may repeat). */
  clear(): void {
    this.cache.clear()
  }
}
