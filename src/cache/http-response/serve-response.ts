import { createHash } from 'node:crypto'
import { headerText, ifNoneMatchMatches, notModifiedSince, type HeaderValue } from './cache-control.js'
import type {
  HeaderEntry,
  ResponseCacheRequest,
  ResponseHeaders,
  ServedResponse,
} from './response-cache-types.js'
import type { StoredResponse } from './stored-response.js'

/** Response headers never stored: hop-by-hop ones, and those that belong to one transmission. */
const NEVER_STORED: ReadonlySet<string> = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'content-length',
  'date',
  'age',
  'set-cookie',
])

/** Headers a 304 carries (RFC 9110 §15.4.5), besides `age` and the status header. */
const NOT_MODIFIED_HEADERS: ReadonlySet<string> = new Set([
  'cache-control',
  'content-location',
  'etag',
  'expires',
  'vary',
  'last-modified',
])

/**
 * A strong entity tag for a body: a quoted SHA-1 (base64url) of its bytes.
 *
 * @example
 * ```ts
 * etagOf(Buffer.from('hello')) // '"qvTGHdzF6KLavt4PO0gs2a6pQ00"'
 * ```
 */
export function etagOf(body: Buffer): string {
  return `"${createHash('sha1').update(body).digest('base64url')}"`
}

function entryValue(value: HeaderValue): string | readonly string[] | undefined {
  if (value === undefined) return undefined
  if (typeof value === 'number') return String(value)
  if (typeof value === 'string') return value
  return value.length === 0 ? undefined : [...value]
}

function sameValue(a: HeaderValue, b: HeaderValue): boolean {
  return a !== undefined && b !== undefined && headerText(a) === headerText(b)
}

/**
 * The headers a response is stored with: its own minus those never stored, the `excluded` ones
 * and those `initial` already had with the same value; plus the merged `vary` and an `etag`.
 */
export function storableHeaders(
  headers: ResponseHeaders,
  initial: ResponseHeaders | undefined,
  excluded: ReadonlySet<string>,
  vary: readonly string[],
  etag: string | undefined,
): HeaderEntry[] {
  const out: HeaderEntry[] = []
  for (const rawName of Object.keys(headers)) {
    const name = rawName.toLowerCase()
    if (NEVER_STORED.has(name) || excluded.has(name) || name === 'vary' || name === 'etag') continue
    const value = entryValue(headers[rawName])
    if (value === undefined) continue
    if (initial !== undefined && sameValue(initial[rawName] ?? initial[name], value)) continue
    out.push([name, value])
  }
  if (vary.length > 0) out.push(['vary', vary.join(', ')])
  if (etag !== undefined) out.push(['etag', etag])
  return out
}

/** Whether the request's conditional headers say the client's copy is still this entry. */
function clientHasIt(entry: StoredResponse, request: ResponseCacheRequest): boolean {
  const ifNoneMatch = request.header('if-none-match')
  if (ifNoneMatch !== undefined)
    return entry.etag !== undefined && ifNoneMatchMatches(ifNoneMatch, entry.etag)
  const ifModifiedSince = request.header('if-modified-since')
  return (
    ifModifiedSince !== undefined &&
    entry.lastModified !== undefined &&
    notModifiedSince(ifModifiedSince, entry.lastModified)
  )
}

/**
 * The response answering a request from a stored entry: `304` (no body, RFC 9110's short list of
 * headers) when `If-None-Match` (or, without it, `If-Modified-Since`) matches; otherwise the stored
 * status, headers and body, with `age` and `content-length`. For `HEAD` the body is given too: the
 * server drops it (Node, Fastify's HEAD routes and Hono all do) after taking its length.
 */
export function serveStored(
  entry: StoredResponse,
  request: ResponseCacheRequest,
  statusHeader: string | null,
  now = Date.now(),
): { response: ServedResponse; notModified: boolean } {
  const notModified = clientHasIt(entry, request)
  const headers: HeaderEntry[] = notModified
    ? entry.headers.filter(([name]) => NOT_MODIFIED_HEADERS.has(name))
    : [...entry.headers]
  headers.push(['age', String(Math.max(0, Math.floor((now - entry.storedAt) / 1000)))])
  if (statusHeader !== null) headers.push([statusHeader, 'HIT'])
  if (!notModified && entry.status !== 204) headers.push(['content-length', String(entry.body.length)])
  return {
    response: { status: notModified ? 304 : entry.status, headers, body: notModified ? null : entry.body },
    notModified,
  }
}
