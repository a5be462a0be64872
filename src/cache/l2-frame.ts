/**
 * How a cache value is laid out in L2: an 8-byte header, then the codec's bytes.
 *
 * ```
 * byte 0     0xCA (frame marker)
 * byte 1     flags: bit 0 = negative entry (the loader found nothing; no codec bytes follow),
 *                   bit 1 = tags follow, bit 2 = a stale window follows
 * bytes 2-7  absolute expiry of the fresh value, Unix ms, 48-bit big-endian
 * [stale]    4-byte big-endian ms the value is kept after that expiry (stale-while-revalidate, grace)
 * [tags]     2-byte big-endian length, then the tags as a JSON array (UTF-8)
 * rest       codec envelope
 * ```
 *
 * The expiry and the tags travel with the value, so an instance that reads it from L2 keeps it
 * in L1 no longer than L2 does (no extra PTTL round trip) and can drop it when one of its tags
 * is invalidated elsewhere. The begin-load script reads bytes 0-7 to tell a fresh value from a
 * stale one: keep that layout.
 *
 * @internal
 */
export const FRAME_MARKER = 0xca
const FLAG_NEGATIVE = 1
const FLAG_TAGS = 2
const FLAG_STALE = 4
const MAX_STALE_MS = 0xffff_ffff
/** Bytes before the codec envelope. */
export const FRAME_HEADER_BYTES = 8

/** A decoded frame: `body` is a view of the codec envelope (empty for a negative entry). */
export interface L2Frame {
  readonly negative: boolean
  /** When the value stops being fresh (Unix ms). */
  readonly expiresAt: number
  /** How long after `expiresAt` it is kept to be served stale (0: not kept). */
  readonly staleMs: number
  readonly tags: readonly string[] | null
  readonly body: Buffer
}

/** Builds the stored bytes from the codec's bytes (or `null` for a negative entry). */
export function encodeFrame(
  body: Buffer | null,
  expiresAt: number,
  tags: readonly string[] | null,
  staleMs = 0,
): Buffer {
  const tagBytes = tags === null || tags.length === 0 ? null : Buffer.from(JSON.stringify(tags), 'utf8')
  if (tagBytes !== null && tagBytes.length > 0xffff) {
    throw new RangeError('The tags of one value take more than 65535 bytes.')
  }
  // A negative entry is never served stale: it has no stale window.
  const stale = body === null ? 0 : Math.min(Math.max(0, Math.floor(staleMs)), MAX_STALE_MS)
  const staleBytes = stale > 0 ? 4 : 0
  const headerLength = FRAME_HEADER_BYTES + staleBytes + (tagBytes === null ? 0 : 2 + tagBytes.length)
  const out = Buffer.allocUnsafe(headerLength + (body === null ? 0 : body.length))
  out[0] = FRAME_MARKER
  out[1] =
    (body === null ? FLAG_NEGATIVE : 0) | (tagBytes === null ? 0 : FLAG_TAGS) | (stale > 0 ? FLAG_STALE : 0)
  out.writeUIntBE(Math.min(Math.max(0, Math.floor(expiresAt)), 0xffff_ffff_ffff), 2, 6)
  if (stale > 0) out.writeUInt32BE(stale, FRAME_HEADER_BYTES)
  if (tagBytes !== null) {
    out.writeUInt16BE(tagBytes.length, FRAME_HEADER_BYTES + staleBytes)
    tagBytes.copy(out, FRAME_HEADER_BYTES + staleBytes + 2)
  }
  if (body !== null) body.copy(out, headerLength)
  return out
}

/** Parses a frame's tags (a JSON array of strings); `undefined` for anything else. @internal */
export function parseTags(text: string): string[] | undefined {
  try {
    const tags: unknown = JSON.parse(text)
    return Array.isArray(tags) && tags.every((t) => typeof t === 'string') ? tags : undefined
  } catch {
    return undefined
  }
}

/** Reads a frame; `undefined` when the bytes are not one (corrupted, or written by something else). */
export function decodeFrame(bytes: Buffer): L2Frame | undefined {
  if (bytes.length < FRAME_HEADER_BYTES || bytes[0] !== FRAME_MARKER) return undefined
  const flags = bytes[1]!
  if ((flags & ~(FLAG_NEGATIVE | FLAG_TAGS | FLAG_STALE)) !== 0) return undefined
  const negative = (flags & FLAG_NEGATIVE) !== 0
  let offset = FRAME_HEADER_BYTES
  let staleMs = 0
  if ((flags & FLAG_STALE) !== 0) {
    if (negative || bytes.length < offset + 4) return undefined
    staleMs = bytes.readUInt32BE(offset)
    offset += 4
  }
  let tags: string[] | null = null
  if ((flags & FLAG_TAGS) !== 0) {
    if (bytes.length < offset + 2) return undefined
    const length = bytes.readUInt16BE(offset)
    if (bytes.length < offset + 2 + length) return undefined
    const parsed = parseTags(bytes.toString('utf8', offset + 2, offset + 2 + length))
    if (parsed === undefined) return undefined
    tags = parsed
    offset += 2 + length
  }
  if (negative && bytes.length !== offset) return undefined
  if (!negative && bytes.length === offset) return undefined
  return { negative, expiresAt: bytes.readUIntBE(2, 6), staleMs, tags, body: bytes.subarray(offset) }
}
