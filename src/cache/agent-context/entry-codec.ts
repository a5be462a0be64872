import { ValkitError, createCodec, type Codec, type ResolvedCodecOptions } from '../../core/index.js'
import type { ContextEntry } from './agent-context-types.js'
import { invalidArgument } from './context-arguments.js'
import type { L1Item } from './context-l1.js'

/**
 * Values to bytes and back for the agent context: the core codec (serializer, compression,
 * encryption) plus the `maxValueBytes` bound.
 *
 * @internal
 */
export class EntryCodec {
  private readonly codec: Codec

  constructor(
    options: ResolvedCodecOptions,
    private readonly maxValueBytes: number,
  ) {
    this.codec = createCodec({
      serializer: options.serializer,
      compression: options.compression,
      compressThresholdBytes: options.compressThresholdBytes,
      maxDecompressedBytes: options.maxDecompressedBytes,
      ...(options.keyring === undefined ? {} : { encryption: options.keyring }),
    })
  }

  /**
   * @throws ValkitError `VALKIT_INVALID_ARGUMENT` (undefined, or a value the serializer cannot
   *   represent), `VALKIT_VALUE_TOO_LARGE` above `maxValueBytes`.
   */
  encode(value: unknown, key: string): Buffer {
    if (value === undefined) throw invalidArgument('The agent context cannot store undefined; use delete().')
    const bytes = this.codec.encode(value)
    if (bytes.length > this.maxValueBytes) {
      throw new ValkitError(
        'VALKIT_VALUE_TOO_LARGE',
        `The value of agent-context entry "${key.slice(0, 100)}" takes ${bytes.length} bytes, more than maxValueBytes (${this.maxValueBytes}).`,
        { details: { sizeBytes: bytes.length, maxValueBytes: this.maxValueBytes } },
      )
    }
    return bytes
  }

  /** A fresh decoded copy of an entry. @throws ValkitError `VALKIT_CORRUPT_VALUE` */
  decode<T>(key: string, item: L1Item): ContextEntry<T> {
    const value =
      item.kind === 'value' ? this.codec.decode(item.value!) : item.items!.map((b) => this.codec.decode(b))
    return { key, kind: item.kind, value: value as T, version: item.version }
  }
}
