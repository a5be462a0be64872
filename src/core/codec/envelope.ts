import { ValkitError } from '../errors.js'

/**
 * The codec's binary envelope (documented in `docs/codec.md`):
 *
 * ```
 * byte 0      0xA1  magic (high nibble 0xA) and format version (low nibble 1)
 * byte 1      flags: bits 0-1 serializer (0 json, 1 msgpack, 2 raw bytes)
 *                    bit 2 compressed, bit 3 brotli (else raw deflate; only with bit 2)
 *                    bit 4 encrypted, bits 5-7 reserved (0)
 * unencrypted: payload from byte 2
 * encrypted:   byte 2 key id length n (1-16), bytes 3..3+n key id (ASCII),
 *              12-byte IV, ciphertext, 16-byte GCM tag; AAD = bytes 0..3+n
 * ```
 */
export const ENVELOPE_MAGIC = 0xa1

export const FLAG_SERIALIZER_MASK = 0b0000_0011
export const SERIALIZER_JSON = 0
export const SERIALIZER_MSGPACK = 1
export const SERIALIZER_BYTES = 2
export const FLAG_COMPRESSED = 0b0000_0100
export const FLAG_BROTLI = 0b0000_1000
export const FLAG_ENCRYPTED = 0b0001_0000
export const FLAG_RESERVED = 0b1110_0000

export const IV_BYTES = 12
export const TAG_BYTES = 16

/** Why a value could not be decoded (`details.reason` of a `VALKIT_CORRUPT_VALUE` error). */
export type CorruptReason =
  'format' | 'truncated' | 'unknown-key' | 'not-encrypted' | 'authentication' | 'decompress' | 'deserialize'

/** What the header of an encoded value says, as returned by {@link readEnvelopeHeader}. */
export interface EnvelopeHeader {
  readonly serializer: 'json' | 'msgpack' | 'bytes'
  readonly compressed: false | 'deflate' | 'brotli'
  /** Id of the key the value was encrypted with, `undefined` when it is not encrypted. */
  readonly keyId: string | undefined
  /** Offset of the payload (the IV when encrypted). */
  readonly payloadOffset: number
}

/** Internal: a `VALKIT_CORRUPT_VALUE` error with a machine-readable reason. */
export function corruptValue(
  reason: CorruptReason,
  message: string,
  extra?: Record<string, unknown>,
  cause?: unknown,
) {
  return new ValkitError('VALKIT_CORRUPT_VALUE', `Cannot decode the value: ${message}.`, {
    details: { reason, ...extra },
    cause,
  })
}

const KEY_ID_CHARS = /^[A-Za-z0-9._-]+$/
const SERIALIZER_NAMES = ['json', 'msgpack', 'bytes'] as const

/**
 * Reads the envelope header of an encoded value without decrypting or decoding it (for tooling:
 * which key wrote this value, is it compressed). Throws `VALKIT_CORRUPT_VALUE` on a malformed header.
 */
export function readEnvelopeHeader(bytes: Uint8Array): EnvelopeHeader {
  if (bytes.length < 2) throw corruptValue('truncated', `${bytes.length} bytes is shorter than a header`)
  if (bytes[0] !== ENVELOPE_MAGIC)
    throw corruptValue('format', 'not a valkit value or an unknown format version')
  const flags = bytes[1]!
  const serializer = SERIALIZER_NAMES[flags & FLAG_SERIALIZER_MASK]
  if (serializer === undefined || (flags & FLAG_RESERVED) !== 0) throw corruptValue('format', 'unknown flags')
  if ((flags & FLAG_BROTLI) !== 0 && (flags & FLAG_COMPRESSED) === 0)
    throw corruptValue('format', 'unknown flags')
  const compressed =
    (flags & FLAG_COMPRESSED) === 0 ? false : (flags & FLAG_BROTLI) === 0 ? 'deflate' : 'brotli'
  if ((flags & FLAG_ENCRYPTED) === 0) return { serializer, compressed, keyId: undefined, payloadOffset: 2 }
  const idLength = bytes[2] ?? 0
  if (idLength === 0 || idLength > 16) throw corruptValue('format', 'bad key id length')
  const payloadOffset = 3 + idLength
  if (bytes.length < payloadOffset + IV_BYTES + TAG_BYTES) {
    throw corruptValue('truncated', `${bytes.length} bytes is shorter than an encrypted value`)
  }
  const keyId = Buffer.from(bytes.buffer, bytes.byteOffset + 3, idLength).toString('latin1')
  if (!KEY_ID_CHARS.test(keyId)) throw corruptValue('format', 'bad key id')
  return { serializer, compressed, keyId, payloadOffset }
}
