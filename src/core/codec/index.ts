export { createCodec, type Codec, type CodecStats, type SealOptions } from './codec.js'
export {
  CODEC_DEFAULTS,
  resolveCodecOptions,
  type CodecCompression,
  type CodecOptions,
  type CodecSerializer,
  type ResolvedCodecOptions,
} from './codec-options.js'
export { readEnvelopeHeader, type CorruptReason, type EnvelopeHeader } from './envelope.js'
export {
  KEY_BYTES,
  MAX_KEY_ID_LENGTH,
  createKeyring,
  isKeyring,
  type Keyring,
  type KeyringEntry,
  type KeyringKey,
  type KeyringOptions,
} from './keyring.js'
