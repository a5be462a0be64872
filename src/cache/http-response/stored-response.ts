import type { HeaderEntry } from './response-cache-types.js'

/**
 * How a response lives in the cache: one Buffer, so the cache's codec stores it as raw bytes
 * (no JSON, no base64: the body round-trips byte for byte and costs no encoding).
 *
 * ```
 * byte 0      0xC5 (marker)
 * byte 1      kind: 1 response, 2 vary marker
 * bytes 2-5   uint32 BE length M of the metadata
 * M bytes     metadata, UTF-8 JSON ({ s, h, e, l, t, v } / { v })
 * rest        the body (responses only)
 * ```
 *
 * A vary marker sits at the key of the route's `vary` headers when the handler's `Vary` names
 * more headers: it lists them, and the response lives at the key of all of them.
 */

const MARKER = 0xc5
const KIND_RESPONSE = 1
const KIND_VARY = 2
const HEADER_BYTES = 6

/** A stored response. */
export interface StoredResponse {
  readonly kind: 'response'
  readonly status: number
  /** Headers to replay (lowercase names), `etag` and `vary` included. */
  readonly headers: readonly HeaderEntry[]
  /** The entity tag, for `If-None-Match`. */
  readonly etag: string | undefined
  /** `Last-Modified`, for `If-Modified-Since`. */
  readonly lastModified: string | undefined
  /** When it was stored (ms since the epoch, the storing instance's clock), for `Age`. */
  readonly storedAt: number
  /** The request headers the response varies on (lowercase, sorted). */
  readonly vary: readonly string[]
  readonly body: Buffer
}

/** Says the response of this key varies on more headers than the route's `vary`. */
export interface VaryMarker {
  readonly kind: 'vary'
  readonly vary: readonly string[]
}

interface ResponseMeta {
  s: number
  h: HeaderEntry[]
  e?: string
  l?: string
  t: number
  v: string[]
}

function pack(kind: number, meta: unknown, body: Buffer | null): Buffer {
  const json = JSON.stringify(meta)
  const metaBytes = Buffer.byteLength(json)
  const out = Buffer.allocUnsafe(HEADER_BYTES + metaBytes + (body?.length ?? 0))
  out[0] = MARKER
  out[1] = kind
  out.writeUInt32BE(metaBytes, 2)
  out.write(json, HEADER_BYTES, 'utf8')
  body?.copy(out, HEADER_BYTES + metaBytes)
  return out
}

/** Packs a response into the bytes the cache stores. */
export function packResponse(response: Omit<StoredResponse, 'kind'>): Buffer {
  const meta: ResponseMeta = {
    s: response.status,
    h: response.headers as HeaderEntry[],
    t: response.storedAt,
    v: response.vary as string[],
  }
  if (response.etag !== undefined) meta.e = response.etag
  if (response.lastModified !== undefined) meta.l = response.lastModified
  return pack(KIND_RESPONSE, meta, response.body)
}

/** Packs a vary marker. */
export function packVaryMarker(vary: readonly string[]): Buffer {
  return pack(KIND_VARY, { v: vary }, null)
}

/**
 * Parsed entries by the Buffer the cache returned: an L1 hit hands back the same Buffer every
 * time, so it is parsed once.
 */
const parsed = new WeakMap<Buffer, StoredResponse | VaryMarker>()

/** Reads what the cache returned; `undefined` for anything this module did not write. */
export function unpackEntry(value: unknown): StoredResponse | VaryMarker | undefined {
  if (!Buffer.isBuffer(value)) return undefined
  const known = parsed.get(value)
  if (known !== undefined) return known
  const entry = parse(value)
  if (entry !== undefined) parsed.set(value, entry)
  return entry
}

function parse(bytes: Buffer): StoredResponse | VaryMarker | undefined {
  if (bytes.length < HEADER_BYTES || bytes[0] !== MARKER) return undefined
  const metaBytes = bytes.readUInt32BE(2)
  if (HEADER_BYTES + metaBytes > bytes.length) return undefined
  let meta: unknown
  try {
    meta = JSON.parse(bytes.toString('utf8', HEADER_BYTES, HEADER_BYTES + metaBytes))
  } catch {
    return undefined
  }
  if (typeof meta !== 'object' || meta === null) return undefined
  const m = meta as Partial<ResponseMeta>
  if (!Array.isArray(m.v) || !m.v.every((v) => typeof v === 'string')) return undefined
  if (bytes[1] === KIND_VARY) return { kind: 'vary', vary: m.v }
  if (bytes[1] !== KIND_RESPONSE || typeof m.s !== 'number' || typeof m.t !== 'number') return undefined
  if (!Array.isArray(m.h) || !m.h.every(isHeaderEntry)) return undefined
  return {
    kind: 'response',
    status: m.s,
    headers: m.h,
    etag: typeof m.e === 'string' ? m.e : undefined,
    lastModified: typeof m.l === 'string' ? m.l : undefined,
    storedAt: m.t,
    vary: m.v,
    body: bytes.subarray(HEADER_BYTES + metaBytes),
  }
}

function isHeaderEntry(entry: unknown): entry is HeaderEntry {
  if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== 'string') return false
  const value: unknown = entry[1]
  return typeof value === 'string' || (Array.isArray(value) && value.every((v) => typeof v === 'string'))
}
