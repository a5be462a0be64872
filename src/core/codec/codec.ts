import { createCipheriv, createDecipheriv, randomFillSync } from 'node:crypto'
import {
  brotliCompressSync,
  brotliDecompressSync,
  constants,
  deflateRawSync,
  inflateRawSync,
} from 'node:zlib'
import { Decoder, Encoder } from '@msgpack/msgpack'
import { ValkitError, isValkitError } from '../errors.js'
import { resolveCodecOptions, type CodecOptions, type ResolvedCodecOptions } from './codec-options.js'
import {
  ENVELOPE_MAGIC,
  FLAG_BROTLI,
  FLAG_COMPRESSED,
  FLAG_ENCRYPTED,
  IV_BYTES,
  SERIALIZER_BYTES,
  SERIALIZER_JSON,
  SERIALIZER_MSGPACK,
  TAG_BYTES,
  corruptValue,
  readEnvelopeHeader,
  type EnvelopeHeader,
} from './envelope.js'
import type { Keyring } from './keyring.js'

/** Counters of a codec since it was created. */
export interface CodecStats {
  /** Values encoded. */
  readonly encoded: number
  /** Values decoded successfully. */
  readonly decoded: number
  /** Values that failed to decode (corrupted, tampered, truncated, unknown key). */
  readonly corrupt: number
  /** Encoded values stored compressed. */
  readonly compressed: number
}

/**
 * Options of one encode or decode.
 *
 * @example
 * ```ts
 * const bytes = codec.encode(profile, { context: `user:${id}` })
 * codec.decode(bytes, { context: `user:${otherId}` }) // throws VALKIT_CORRUPT_VALUE (authentication)
 * ```
 */
export interface SealOptions {
  /**
   * Associated data authenticated with the value but not stored in it (AES-GCM's AAD): the same
   * context must be given to decode it, so a value copied under another record (another id,
   * another key name) fails authentication. Only encrypted values carry it; without a keyring it
   * is ignored.
   */
  readonly context?: string | Uint8Array
}

/** Turns values into bytes and back: serialization, compression, encryption. */
export interface Codec {
  /** The options in force. */
  readonly options: ResolvedCodecOptions
  /**
   * Encodes a value. A top-level `Buffer`/`Uint8Array` is stored as raw bytes and decodes to a `Buffer`.
   * Throws `VALKIT_INVALID_ARGUMENT` for a value the serializer cannot represent (a JSON
   * `undefined`, a `BigInt`, a cycle).
   */
  encode(value: unknown, options?: SealOptions): Buffer
  /**
   * Decodes bytes made by {@link Codec.encode} (with any serializer, compression or key of the
   * keyring). Throws `VALKIT_CORRUPT_VALUE` (with `details.reason`) for anything corrupted,
   * tampered with, truncated, encrypted with a key the keyring does not hold, or encrypted with
   * another `context` than the one given (`reason: 'authentication'`).
   */
  decode<T = unknown>(bytes: Uint8Array, options?: SealOptions): T
  /** `true` when the value is not encrypted with the keyring's primary key. */
  needsReencrypt(bytes: Uint8Array): boolean
  /**
   * Re-encrypts a value with the primary key without deserializing it (key rotation); returns the
   * input when it already uses the primary. Also encrypts a value written without encryption.
   * Throws `VALKIT_CORRUPT_VALUE` like `decode`.
   */
  reencrypt(bytes: Uint8Array, options?: SealOptions): Buffer
  /** Counters since creation. */
  stats(): CodecStats
}

// Created once; bin values decode as Buffers (views on the input), like the raw-bytes path.
const MSGPACK_ENCODER = new Encoder({ ignoreUndefined: false })
const MSGPACK_DECODER = new Decoder()
const toBuffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
const MSGPACK = {
  pack: (value: unknown): Buffer => toBuffer(MSGPACK_ENCODER.encode(value)),
  unpack: (bytes: Uint8Array): unknown => reviveBuffers(MSGPACK_DECODER.decode(bytes)),
}

/** msgpack `bin` decodes to Uint8Array; valkit hands Buffers back, as it stores them. */
function reviveBuffers(value: unknown): unknown {
  if (value instanceof Uint8Array) return toBuffer(value)
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = reviveBuffers(value[i])
    return value
  }
  if (value !== null && typeof value === 'object') {
    const record = value as Record<string, unknown>
    for (const key of Object.keys(record)) record[key] = reviveBuffers(record[key])
  }
  return value
}
const DEFLATE_OPTIONS = { level: 1 }
const BROTLI_OPTIONS = { params: { [constants.BROTLI_PARAM_QUALITY]: 4 } }

function serializeError(err: unknown): ValkitError {
  const reason = err instanceof Error ? err.message : String(err)
  return new ValkitError('VALKIT_INVALID_ARGUMENT', `The value cannot be serialized: ${reason}`, {
    cause: err,
  })
}

/**
 * Creates a codec. Options are validated once here (`VALKIT_INVALID_OPTION` naming the path);
 * `encode`/`decode` then do only the work the value needs.
 *
 * @example
 * ```ts
 * const codec = createCodec({
 *   serializer: 'msgpack',
 *   encryption: { keys: [{ id: 1, key: process.env.VALKIT_KEY_1! }], primary: 1 },
 * })
 * const bytes = codec.encode({ user: 42, roles: ['admin'] })
 * const value = codec.decode<{ user: number }>(bytes)
 * ```
 */
export function createCodec(options: CodecOptions = {}): Codec {
  const resolved = resolveCodecOptions(options)
  const { compressThresholdBytes, maxDecompressedBytes } = resolved
  const keyring: Keyring | undefined = resolved.keyring
  const useMsgpack = resolved.serializer === 'msgpack'
  const compression = resolved.compression
  const inflateOptions = { maxOutputLength: maxDecompressedBytes }
  let encoded = 0
  let decoded = 0
  let corrupt = 0
  let compressed = 0

  function compress(body: Buffer, flags: number): [Buffer, number] {
    if (compression === 'none' || body.length < compressThresholdBytes) return [body, flags]
    const packed =
      compression === 'deflate'
        ? deflateRawSync(body, DEFLATE_OPTIONS)
        : brotliCompressSync(body, BROTLI_OPTIONS)
    if (packed.length >= body.length) return [body, flags]
    compressed++
    return [packed, flags | FLAG_COMPRESSED | (compression === 'brotli' ? FLAG_BROTLI : 0)]
  }

  function checkContext(options: SealOptions | undefined): void {
    const given: unknown = options?.context
    if (given !== undefined && typeof given !== 'string' && !(given instanceof Uint8Array)) {
      throw new ValkitError(
        'VALKIT_INVALID_ARGUMENT',
        `The codec's context must be a string or bytes (got ${typeof given}): pass the record's id or key name.`,
      )
    }
  }

  /** What GCM authenticates besides the ciphertext: the envelope header, then the context. */
  function associated(header: Buffer, context: string | Uint8Array | undefined): Buffer {
    if (context === undefined) return header
    const extra = typeof context === 'string' ? Buffer.from(context, 'utf8') : context
    return extra.length === 0 ? header : Buffer.concat([header, extra])
  }

  function seal(body: Uint8Array, flags: number, ring: Keyring, context?: string | Uint8Array): Buffer {
    const { idBytes, key } = ring.primary
    const headerLength = 3 + idBytes.length
    const out = Buffer.allocUnsafe(headerLength + IV_BYTES + body.length + TAG_BYTES)
    out[0] = ENVELOPE_MAGIC
    out[1] = flags | FLAG_ENCRYPTED
    out[2] = idBytes.length
    idBytes.copy(out, 3)
    const iv = out.subarray(headerLength, headerLength + IV_BYTES)
    randomFillSync(iv)
    const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES })
    cipher.setAAD(associated(out.subarray(0, headerLength), context))
    const ciphertext = cipher.update(body)
    cipher.final()
    ciphertext.copy(out, headerLength + IV_BYTES)
    cipher.getAuthTag().copy(out, headerLength + IV_BYTES + body.length)
    return out
  }

  function frame(body: Uint8Array, flags: number, context: string | Uint8Array | undefined): Buffer {
    if (keyring !== undefined) return seal(body, flags, keyring, context)
    const out = Buffer.allocUnsafe(2 + body.length)
    out[0] = ENVELOPE_MAGIC
    out[1] = flags
    out.set(body, 2)
    return out
  }

  function encode(value: unknown, options?: SealOptions): Buffer {
    checkContext(options)
    let body: Buffer
    let flags: number
    if (value instanceof Uint8Array) {
      body = Buffer.from(value.buffer, value.byteOffset, value.byteLength)
      flags = SERIALIZER_BYTES
    } else if (useMsgpack) {
      try {
        body = MSGPACK.pack(value)
      } catch (err) {
        throw serializeError(err)
      }
      flags = SERIALIZER_MSGPACK
    } else {
      let json: string | undefined
      try {
        json = JSON.stringify(value)
      } catch (err) {
        throw serializeError(err)
      }
      if (json === undefined) throw serializeError(new TypeError(`JSON cannot represent ${typeof value}`))
      flags = SERIALIZER_JSON
      if (keyring === undefined && (compression === 'none' || json.length * 3 < compressThresholdBytes)) {
        // Fast path: certainly below the threshold, write the JSON straight into the envelope.
        const out = Buffer.allocUnsafe(2 + Buffer.byteLength(json))
        out[0] = ENVELOPE_MAGIC
        out[1] = flags
        out.write(json, 2, 'utf8')
        encoded++
        return out
      }
      body = Buffer.from(json, 'utf8')
    }
    ;[body, flags] = compress(body, flags)
    const out = frame(body, flags, options?.context)
    encoded++
    return out
  }

  /** Returns the plaintext payload (still compressed if it was) of a value. */
  function open(bytes: Uint8Array, header: EnvelopeHeader, context?: string | Uint8Array): Buffer {
    const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    if (header.keyId === undefined) {
      if (keyring !== undefined)
        throw corruptValue('not-encrypted', 'the value is not encrypted but the codec requires encryption')
      return view.subarray(header.payloadOffset)
    }
    const entry = keyring?.get(header.keyId)
    if (entry === undefined) {
      throw corruptValue(
        'unknown-key',
        `it was encrypted with key "${header.keyId}", which the keyring does not hold`,
        {
          keyId: header.keyId,
        },
      )
    }
    const ivEnd = header.payloadOffset + IV_BYTES
    const tagStart = view.length - TAG_BYTES
    try {
      const decipher = createDecipheriv(
        'aes-256-gcm',
        entry.key,
        view.subarray(header.payloadOffset, ivEnd),
        {
          authTagLength: TAG_BYTES,
        },
      )
      decipher.setAAD(associated(view.subarray(0, header.payloadOffset), context))
      decipher.setAuthTag(view.subarray(tagStart))
      const plain = decipher.update(view.subarray(ivEnd, tagStart))
      decipher.final()
      return plain
    } catch (err) {
      throw corruptValue(
        'authentication',
        'authentication failed (corrupted or tampered with)',
        { keyId: header.keyId },
        err,
      )
    }
  }

  function inflate(body: Buffer, header: EnvelopeHeader): Buffer {
    if (header.compressed === false) return body
    try {
      return header.compressed === 'deflate'
        ? inflateRawSync(body, inflateOptions)
        : brotliDecompressSync(body, inflateOptions)
    } catch (err) {
      throw corruptValue('decompress', 'the compressed payload is invalid or too large', undefined, err)
    }
  }

  function deserialize(body: Buffer, header: EnvelopeHeader): unknown {
    try {
      if (header.serializer === 'json') return JSON.parse(body.toString('utf8'))
      if (header.serializer === 'msgpack') return MSGPACK.unpack(body)
    } catch (err) {
      throw corruptValue('deserialize', `the ${header.serializer} payload is invalid`, undefined, err)
    }
    return Buffer.from(body) // raw bytes: a copy, so mutating it cannot touch the caller's buffer
  }

  function failed(err: unknown): ValkitError {
    corrupt++
    return isValkitError(err) ? err : corruptValue('format', 'unexpected failure', undefined, err)
  }

  function checkBytes(bytes: unknown): asserts bytes is Uint8Array {
    if (!(bytes instanceof Uint8Array)) {
      throw new ValkitError('VALKIT_INVALID_ARGUMENT', `Codec input must be a Buffer (got ${typeof bytes}).`)
    }
  }

  return {
    options: resolved,
    encode,
    decode<T>(bytes: Uint8Array, options?: SealOptions): T {
      checkBytes(bytes)
      checkContext(options)
      let value: unknown
      // The common case, plain JSON (flags 0) with no keyring, without the general path's views.
      if (keyring === undefined && bytes[0] === ENVELOPE_MAGIC && bytes[1] === 0 && Buffer.isBuffer(bytes)) {
        try {
          value = JSON.parse(bytes.toString('utf8', 2))
        } catch (err) {
          throw failed(corruptValue('deserialize', 'the json payload is invalid', undefined, err))
        }
        decoded++
        return value as T
      }
      try {
        const header = readEnvelopeHeader(bytes)
        value = deserialize(inflate(open(bytes, header, options?.context), header), header)
      } catch (err) {
        throw failed(err)
      }
      decoded++
      return value as T
    },
    needsReencrypt(bytes: Uint8Array): boolean {
      checkBytes(bytes)
      try {
        return keyring !== undefined && readEnvelopeHeader(bytes).keyId !== keyring.primary.id
      } catch (err) {
        throw failed(err)
      }
    },
    reencrypt(bytes: Uint8Array, options?: SealOptions): Buffer {
      checkBytes(bytes)
      checkContext(options)
      if (keyring === undefined) {
        throw new ValkitError(
          'VALKIT_INVALID_ARGUMENT',
          'reencrypt() needs a codec with `encryption` configured.',
        )
      }
      try {
        const header = readEnvelopeHeader(bytes)
        if (header.keyId === keyring.primary.id) {
          open(bytes, header, options?.context) // authenticate before vouching for it
          return Buffer.isBuffer(bytes)
            ? bytes
            : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
        }
        const plain =
          header.keyId === undefined
            ? Buffer.from(
                bytes.buffer,
                bytes.byteOffset + header.payloadOffset,
                bytes.byteLength - header.payloadOffset,
              )
            : open(bytes, header, options?.context)
        return seal(plain, bytes[1]! & ~FLAG_ENCRYPTED, keyring, options?.context)
      } catch (err) {
        throw failed(err)
      }
    },
    stats: () => ({ encoded, decoded, corrupt, compressed }),
  }
}
