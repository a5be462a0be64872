import { invalidOption } from '../errors.js'
import { createKeyring, isKeyring, type Keyring, type KeyringOptions } from './keyring.js'

/** How values are turned into bytes. */
export type CodecSerializer = 'json' | 'msgpack'

/** How large values are compressed. */
export type CodecCompression = 'deflate' | 'brotli' | 'none'

/** Options of {@link createCodec}. */
export interface CodecOptions {
  /**
   * `'json'` (readable with any tool) or `'msgpack'` (faster and smaller; keeps nested `Buffer`s,
   * `Date`s, `Map`s and `Set`s). A top-level `Buffer`/`Uint8Array` is always stored as raw bytes.
   * Values written with either serializer stay readable after switching: the envelope records it.
   * @defaultValue `'json'`
   */
  readonly serializer?: CodecSerializer
  /**
   * Algorithm for serialized values of at least `compressThresholdBytes`. `'deflate'` (raw
   * deflate, level 1) decompresses fastest; `'brotli'` (quality 4) is ~20% smaller and ~2x slower
   * to compress. The compressed form is kept only if it is smaller.
   * @defaultValue `'deflate'`
   */
  readonly compression?: CodecCompression
  /**
   * Serialized size in bytes from which compression is tried.
   * @defaultValue `1024`
   */
  readonly compressThresholdBytes?: number
  /**
   * Largest decompressed size accepted when decoding; a larger one is treated as corrupt
   * (protects against decompression bombs).
   * @defaultValue `67108864` (64 MiB)
   */
  readonly maxDecompressedBytes?: number
  /**
   * AES-256-GCM encryption of every value with a keyring of versioned keys: keyring options or a
   * keyring made by `createKeyring`. Omitted: values are not encrypted (nor authenticated).
   * @defaultValue `undefined`
   */
  readonly encryption?: KeyringOptions | Keyring
}

/** {@link CodecOptions} after validation, with defaults applied. */
export interface ResolvedCodecOptions {
  readonly serializer: CodecSerializer
  readonly compression: CodecCompression
  readonly compressThresholdBytes: number
  readonly maxDecompressedBytes: number
  readonly keyring: Keyring | undefined
}

/** Defaults of {@link CodecOptions}. */
export const CODEC_DEFAULTS = Object.freeze({
  serializer: 'json',
  compression: 'deflate',
  compressThresholdBytes: 1024,
  maxDecompressedBytes: 64 * 1024 * 1024,
} as const)

const SERIALIZERS: readonly string[] = ['json', 'msgpack']
const COMPRESSIONS: readonly string[] = ['deflate', 'brotli', 'none']

function nonNegativeInteger(value: unknown, path: string, fallback: number, min = 0): number {
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

/**
 * Validates codec options and applies defaults; throws `VALKIT_INVALID_OPTION` naming the
 * option's path (`codec.encryption.keys[1].key`). Error messages never contain key material.
 *
 * @param path - Prefix of option paths in error messages (default `'codec'`).
 */
export function resolveCodecOptions(options: CodecOptions = {}, path = 'codec'): ResolvedCodecOptions {
  if (typeof options !== 'object' || options === null) {
    throw invalidOption(path, `got ${options === null ? 'null' : typeof options}`, 'an object')
  }
  const serializer = options.serializer ?? CODEC_DEFAULTS.serializer
  if (!SERIALIZERS.includes(serializer)) {
    throw invalidOption(`${path}.serializer`, `got ${JSON.stringify(serializer)}`, `'json' or 'msgpack'`)
  }
  const compression = options.compression ?? CODEC_DEFAULTS.compression
  if (!COMPRESSIONS.includes(compression)) {
    throw invalidOption(
      `${path}.compression`,
      `got ${JSON.stringify(compression)}`,
      `'deflate', 'brotli' or 'none'`,
    )
  }
  const compressThresholdBytes = nonNegativeInteger(
    options.compressThresholdBytes,
    `${path}.compressThresholdBytes`,
    CODEC_DEFAULTS.compressThresholdBytes,
  )
  const maxDecompressedBytes = nonNegativeInteger(
    options.maxDecompressedBytes,
    `${path}.maxDecompressedBytes`,
    CODEC_DEFAULTS.maxDecompressedBytes,
    1,
  )
  const encryption = options.encryption
  let keyring: Keyring | undefined
  if (encryption !== undefined) {
    keyring = isKeyring(encryption) ? encryption : createKeyring(encryption, `${path}.encryption`)
  }
  return Object.freeze({ serializer, compression, compressThresholdBytes, maxDecompressedBytes, keyring })
}
