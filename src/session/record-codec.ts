import { createCodec, isValkitError, ValkitError, type Codec } from '../core/index.js'
import { fieldKey } from './session-id.js'
import type { ResolvedSessionStoreOptions } from './session-options.js'

/**
 * How a session record is laid out (a Redis hash; the memory backend keeps the same fields):
 *
 * | field      | holds                                                                    |
 * | ---------- | ------------------------------------------------------------------------ |
 * | `v`        | version, +1 on every write                                               |
 * | `c`        | when the session began (server ms; kept across renewal)                   |
 * | `n`        | when this ID was issued (server ms; renewal is due from `n + renewAfter`) |
 * | `a`        | absolute deadline (server ms)                                            |
 * | `i`        | idle timeout (ms)                                                        |
 * | `s`        | last seen (server ms)                                                    |
 * | `r`        | 0, or the end of the overlap window once the ID was rotated              |
 * | `o`        | 1 when the session belongs to a user (listed in the user's index)         |
 * | `p`        | handle of the ID this one replaced (same user), if any                   |
 * | `m`        | encrypted: `{ u: userId, d: device }`                                     |
 * | `f:<hash>` | encrypted: one data field                                                |
 *
 * Every encrypted value is the codec's envelope (AES-256-GCM) of `[binding, name, value]`,
 * where `binding` is `fieldKey(handle, name)` and `handle` is the SHA-256 of the session ID the
 * record's key is named after. The codec has no associated-data parameter, so the binding
 * travels inside the ciphertext, which GCM authenticates: a value copied under another session's
 * key decrypts but fails the binding check, and the record is treated as foreign. The Redis field
 * of a data field is `f:` + `fieldKey(id, name)`: hashed with the secret ID, so field names do
 * not show in Redis either. A field name seen twice (a value copied to another field) is foreign too.
 *
 * @internal
 */
export const META_FIELD = 'm'
const META_NAME = '\u0000meta'
const FIELD_PREFIX = 'f:'

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

/** The owner and device of a session, as stored encrypted in its `m` field. @internal */
export interface RecordMeta {
  readonly userId: string | null
  readonly device: string | null
}

/** A decoded session record. @internal */
export interface DecodedRecord {
  readonly version: number
  readonly createdAt: number
  readonly issuedAt: number
  readonly absoluteDeadline: number
  readonly idleMs: number
  readonly lastSeenAt: number
  readonly rotatedUntil: number
  readonly owned: boolean
  readonly meta: RecordMeta
  /** Field name -> value. */
  readonly data: Map<string, unknown>
  /** Redis fields (including `m`) whose value is encrypted with an older key. */
  readonly stale: string[]
  /** The `m` field's bytes. */
  readonly metaBytes: Buffer
}

const NUMERIC = ['v', 'c', 'n', 'a', 'i', 's', 'r', 'o'] as const

function numberField(fields: Map<string, Buffer>, name: string): number {
  const bytes = fields.get(name)
  if (bytes === undefined) throw new CorruptRecord('malformed')
  const value = Number(bytes.toString('latin1'))
  if (!Number.isSafeInteger(value) || value < 0) throw new CorruptRecord('malformed')
  return value
}

/** Encrypts and decrypts session records, binding every value to its session ID. @internal */
export class RecordCodec {
  readonly codec: Codec
  readonly encrypted: boolean

  constructor(private readonly options: ResolvedSessionStoreOptions) {
    this.codec = createCodec({
      serializer: options.serializer,
      compression: options.compression,
      ...(options.keyring === undefined ? {} : { encryption: options.keyring }),
    })
    this.encrypted = options.keyring !== undefined
  }

  /** `[redis field, bytes]` of one data field. Throws `VALKIT_VALUE_TOO_LARGE` past `maxFieldBytes`. */
  encodeField(id: string, handle: string, name: string, value: unknown): [string, Buffer] {
    const bytes = this.codec.encode([fieldKey(handle, name), name, value])
    if (bytes.length > this.options.maxFieldBytes) {
      throw new ValkitError(
        'VALKIT_VALUE_TOO_LARGE',
        `The session field "${name.slice(0, 40)}" encodes to ${bytes.length} bytes, more than maxFieldBytes (${this.options.maxFieldBytes}). Store less in the session.`,
        { details: { field: name.slice(0, 40), bytes: bytes.length, limit: this.options.maxFieldBytes } },
      )
    }
    return [FIELD_PREFIX + fieldKey(id, name), bytes]
  }

  /** The Redis field of a data field's name. */
  fieldOf(id: string, name: string): string {
    return FIELD_PREFIX + fieldKey(id, name)
  }

  encodeMeta(handle: string, meta: RecordMeta): Buffer {
    return this.codec.encode([fieldKey(handle, META_NAME), META_NAME, { u: meta.userId, d: meta.device }])
  }

  /**
   * Decodes and authenticates a record read under `handle`. Throws {@link CorruptRecord} when any
   * value fails to decrypt or is bound to another session, or the plain fields are malformed.
   */
  decode(handle: string, fields: Map<string, Buffer>): DecodedRecord {
    for (const name of NUMERIC) numberField(fields, name)
    const metaBytes = fields.get(META_FIELD)
    if (metaBytes === undefined) throw new CorruptRecord('malformed')
    const stale: string[] = []
    const metaValue = this.open(handle, META_FIELD, metaBytes, stale)
    if (metaValue[1] !== META_NAME || typeof metaValue[2] !== 'object' || metaValue[2] === null) {
      throw new CorruptRecord('foreign')
    }
    const m = metaValue[2] as { u?: unknown; d?: unknown }
    const meta: RecordMeta = {
      userId: typeof m.u === 'string' ? m.u : null,
      device: typeof m.d === 'string' ? m.d : null,
    }
    const data = new Map<string, unknown>()
    for (const [field, bytes] of fields) {
      if (!field.startsWith(FIELD_PREFIX)) continue
      const [, name, value] = this.open(handle, field, bytes, stale)
      if (name === META_NAME || data.has(name)) throw new CorruptRecord('foreign')
      data.set(name, value)
    }
    const owned = numberField(fields, 'o') === 1
    if (owned !== (meta.userId !== null)) throw new CorruptRecord('foreign')
    return {
      version: numberField(fields, 'v'),
      createdAt: numberField(fields, 'c'),
      issuedAt: numberField(fields, 'n'),
      absoluteDeadline: numberField(fields, 'a'),
      idleMs: numberField(fields, 'i'),
      lastSeenAt: numberField(fields, 's'),
      rotatedUntil: numberField(fields, 'r'),
      owned,
      meta,
      data,
      stale,
      metaBytes,
    }
  }

  /** Decodes only the `m` field (owner and device), for listings made without the session ID. */
  decodeMeta(handle: string, bytes: Buffer): RecordMeta {
    const value = this.open(handle, META_FIELD, bytes, [])
    const m = value[2] as { u?: unknown; d?: unknown } | null
    if (typeof m !== 'object' || m === null) throw new CorruptRecord('foreign')
    return { userId: typeof m.u === 'string' ? m.u : null, device: typeof m.d === 'string' ? m.d : null }
  }

  /** Whether the bytes are encrypted with an older key than the keyring's primary. */
  needsReencrypt(bytes: Buffer): boolean {
    return this.encrypted && this.codec.needsReencrypt(bytes)
  }

  /** Re-encrypts bytes with the primary key (same plaintext). */
  reencrypt(bytes: Buffer): Buffer {
    return this.codec.reencrypt(bytes)
  }

  /** Decrypts one value and checks it is bound to this session (and the meta value to `m`). */
  private open(handle: string, field: string, bytes: Buffer, stale: string[]): [string, string, unknown] {
    let value: unknown
    try {
      value = this.codec.decode(bytes)
    } catch (err) {
      const reason = isValkitError(err, 'VALKIT_CORRUPT_VALUE')
        ? ((err.details?.reason as CorruptRecordReason | undefined) ?? 'format')
        : 'format'
      throw new CorruptRecord(reason)
    }
    if (
      !Array.isArray(value) ||
      value.length !== 3 ||
      typeof value[0] !== 'string' ||
      typeof value[1] !== 'string'
    ) {
      throw new CorruptRecord('foreign')
    }
    const [binding, name] = value as [string, string]
    if ((field === META_FIELD) !== (name === META_NAME)) throw new CorruptRecord('foreign')
    if (binding !== fieldKey(handle, name)) throw new CorruptRecord('foreign')
    if (this.encrypted && this.codec.needsReencrypt(bytes)) stale.push(field)
    return value as [string, string, unknown]
  }
}
