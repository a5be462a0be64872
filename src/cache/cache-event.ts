/**
 * The invalidation messages instances of one namespace exchange on its pub/sub channel.
 * JSON, versioned (`v`), carrying the sender's origin id so an instance ignores its own.
 *
 * @internal
 */
export type CacheEvent =
  /** These keys were written or deleted: drop them from L1. */
  | { readonly kind: 'keys'; readonly origin: string; readonly keys: readonly string[] }
  /** Every value with one of these tags was deleted. */
  | { readonly kind: 'tags'; readonly origin: string; readonly tags: readonly string[] }
  /** The namespace (and its sub-namespaces) was cleared. */
  | { readonly kind: 'clear'; readonly origin: string }
  /** Every key matching this glob (in the namespace) was deleted. */
  | { readonly kind: 'pattern'; readonly origin: string; readonly pattern: string }
  /** The getOrSet leases of these keys were given up without a value: waiters may load. */
  | { readonly kind: 'released'; readonly origin: string; readonly keys: readonly string[] }

/** Version of the message format; messages of another version are ignored. */
export const CACHE_EVENT_VERSION = 1

interface Wire {
  v: number
  o: string
  k?: string[]
  t?: string[]
  c?: 1
  p?: string
  r?: string[]
}

/** Encodes an event for PUBLISH. */
export function encodeCacheEvent(event: CacheEvent): string {
  const wire: Wire = { v: CACHE_EVENT_VERSION, o: event.origin }
  if (event.kind === 'keys') wire.k = [...event.keys]
  else if (event.kind === 'tags') wire.t = [...event.tags]
  else if (event.kind === 'pattern') wire.p = event.pattern
  else if (event.kind === 'released') wire.r = [...event.keys]
  else wire.c = 1
  return JSON.stringify(wire)
}

function isStringArray(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((item) => typeof item === 'string')
}

/** Decodes a message; `undefined` for anything malformed or of another version. */
export function decodeCacheEvent(message: Buffer | string): CacheEvent | undefined {
  let wire: unknown
  try {
    wire = JSON.parse(typeof message === 'string' ? message : message.toString('utf8'))
  } catch {
    return undefined
  }
  if (typeof wire !== 'object' || wire === null) return undefined
  const { v, o, k, t, c, p, r } = wire as Partial<Wire>
  if (v !== CACHE_EVENT_VERSION || typeof o !== 'string') return undefined
  if (isStringArray(k)) return { kind: 'keys', origin: o, keys: k }
  if (isStringArray(t)) return { kind: 'tags', origin: o, tags: t }
  if (typeof p === 'string') return { kind: 'pattern', origin: o, pattern: p }
  if (isStringArray(r)) return { kind: 'released', origin: o, keys: r }
  if (c === 1) return { kind: 'clear', origin: o }
  return undefined
}
