import { parseTags } from './l2-frame.js'

/**
 * The text layout of a cache value in L2, used when the codec is plain JSON without encryption:
 * the value reads back as a string, which the driver hands over faster than a Buffer, and a
 * JSON value is stored as its JSON text, with no envelope.
 *
 * ```
 * char 0      '~' (text frame marker; a binary frame starts with byte 0xCA)
 * char 1      flags, one hex digit: 1 = negative entry (no body), 2 = tags follow,
 *                                   4 = a stale window follows, 8 = the body is base64
 * chars 2-10  fresh-until, Unix ms, 9 base-36 digits
 * [stale]     ms kept after that, base 36, then '.'
 * [tags]      length of the tags' JSON in UTF-16 units, base 36, then '.', then the JSON array
 * rest        the value's JSON text, or (flag 8) the codec envelope in base64 (compressed values,
 *             raw bytes)
 * ```
 *
 * The begin-load script reads chars 0-10 to tell a fresh value from a stale one: keep that layout.
 *
 * @internal
 */
export const TEXT_MARKER = '~'
/** The marker as a byte, to recognise a text frame read as a Buffer. */
export const TEXT_MARKER_BYTE = 0x7e
/** Characters before the optional fields. */
export const TEXT_HEADER_CHARS = 11

const NEGATIVE = 1
const TAGS = 2
const STALE = 4
const BASE64 = 8
const MAX_FRESH = 36 ** 9 - 1

/** A decoded text frame. */
export interface TextFrame {
  readonly negative: boolean
  readonly expiresAt: number
  readonly staleMs: number
  readonly tags: readonly string[] | null
  /** JSON text, or base64 of a codec envelope when `base64`. Empty for a negative entry. */
  readonly body: string
  readonly base64: boolean
}

/** Builds a text frame. `body` is JSON text, or base64 when `base64`; `null` for a negative entry. */
export function encodeTextFrame(
  body: string | null,
  base64: boolean,
  expiresAt: number,
  tags: readonly string[] | null,
  staleMs = 0,
): string {
  const stale = body === null ? 0 : Math.max(0, Math.floor(staleMs))
  const tagText = tags === null || tags.length === 0 ? null : JSON.stringify(tags)
  const flags =
    (body === null ? NEGATIVE : 0) |
    (tagText === null ? 0 : TAGS) |
    (stale > 0 ? STALE : 0) |
    (body !== null && base64 ? BASE64 : 0)
  const fresh = Math.min(Math.max(0, Math.floor(expiresAt)), MAX_FRESH)
    .toString(36)
    .padStart(9, '0')
  let out = TEXT_MARKER + flags.toString(16) + fresh
  if (stale > 0) out += `${stale.toString(36)}.`
  if (tagText !== null) out += `${tagText.length.toString(36)}.${tagText}`
  return body === null ? out : out + body
}

/** Reads a text frame; `undefined` when the text is not one. */
export function decodeTextFrame(text: string): TextFrame | undefined {
  if (text.length < TEXT_HEADER_CHARS || text.charCodeAt(0) !== 0x7e) return undefined
  const flags = parseInt(text[1]!, 16)
  if (!(flags >= 0 && flags <= 15)) return undefined
  const expiresAt = parseInt(text.slice(2, TEXT_HEADER_CHARS), 36)
  if (!Number.isFinite(expiresAt)) return undefined
  const negative = (flags & NEGATIVE) !== 0
  let at = TEXT_HEADER_CHARS
  let staleMs = 0
  if ((flags & STALE) !== 0) {
    const dot = text.indexOf('.', at)
    if (negative || dot < 0) return undefined
    staleMs = parseInt(text.slice(at, dot), 36)
    if (!Number.isFinite(staleMs)) return undefined
    at = dot + 1
  }
  let tags: string[] | null = null
  if ((flags & TAGS) !== 0) {
    const dot = text.indexOf('.', at)
    if (dot < 0) return undefined
    const length = parseInt(text.slice(at, dot), 36)
    if (!Number.isFinite(length) || dot + 1 + length > text.length) return undefined
    const parsed = parseTags(text.slice(dot + 1, dot + 1 + length))
    if (parsed === undefined) return undefined
    tags = parsed
    at = dot + 1 + length
  }
  const body = text.slice(at)
  if (negative !== (body.length === 0)) return undefined
  return { negative, expiresAt, staleMs, tags, body, base64: (flags & BASE64) !== 0 }
}

/**
 * The negative flag and fresh-until of a text frame's first 11 characters (`has()` reads only
 * those); `undefined` when they are not a text frame's.
 */
export function readTextHead(head: string): { negative: boolean; expiresAt: number } | undefined {
  if (head.length < TEXT_HEADER_CHARS || head.charCodeAt(0) !== 0x7e) return undefined
  const flags = parseInt(head[1]!, 16)
  const expiresAt = parseInt(head.slice(2, TEXT_HEADER_CHARS), 36)
  if (!(flags >= 0) || !Number.isFinite(expiresAt)) return undefined
  return { negative: (flags & NEGATIVE) !== 0, expiresAt }
}
