/**
 * The invalidation messages instances of one agent context exchange on its channel: JSON,
 * versioned (`v`), with the sender's origin so an instance ignores its own. `n` is the version
 * of the change: copies older than it are dropped. A `probe` (`p: 1`) is an instance checking
 * that its own subscription delivers: only its sender acts on it (to others it reads as a clear
 * of the empty scope, which holds nothing: scopes are never empty).
 *
 * @internal
 */
export type ContextEvent =
  | {
      readonly kind: 'entry'
      readonly origin: string
      readonly scope: string
      readonly key: string
      readonly version: number
    }
  | { readonly kind: 'clear'; readonly origin: string; readonly scope: string; readonly version: number }
  | { readonly kind: 'probe'; readonly origin: string }

/** Version of the message format; messages of another version are ignored. */
const EVENT_VERSION = 1

interface Wire {
  v: number
  o: string
  s: string
  n: number
  k?: string
  p?: 1
}

/** @internal */
export function encodeContextEvent(event: ContextEvent): string {
  if (event.kind === 'probe') return JSON.stringify({ v: EVENT_VERSION, o: event.origin, s: '', n: 0, p: 1 })
  const wire: Wire = { v: EVENT_VERSION, o: event.origin, s: event.scope, n: event.version }
  if (event.kind === 'entry') wire.k = event.key
  return JSON.stringify(wire)
}

/** `undefined` for anything malformed or of another version. @internal */
export function decodeContextEvent(message: Buffer | string): ContextEvent | undefined {
  let wire: unknown
  try {
    wire = JSON.parse(typeof message === 'string' ? message : message.toString('utf8'))
  } catch {
    return undefined
  }
  if (typeof wire !== 'object' || wire === null) return undefined
  const { v, o, s, n, k, p } = wire as Partial<Wire>
  if (v !== EVENT_VERSION || typeof o !== 'string' || typeof s !== 'string' || typeof n !== 'number')
    return undefined
  if (p === 1) return { kind: 'probe', origin: o }
  if (k === undefined) return { kind: 'clear', origin: o, scope: s, version: n }
  return typeof k === 'string' ? { kind: 'entry', origin: o, scope: s, key: k, version: n } : undefined
}
