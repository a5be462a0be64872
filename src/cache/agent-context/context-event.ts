/**
 * The invalidation messages instances of one agent context exchange on its channel: JSON,
 * versioned (`v`), with the sender's origin so an instance ignores its own. `n` is the version
 * of the change: copies older than it are dropped.
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

/** Version of the message format; messages of another version are ignored. */
const EVENT_VERSION = 1

interface Wire {
  v: number
  o: string
  s: string
  n: number
  k?: string
}

/** @internal */
export function encodeContextEvent(event: ContextEvent): string {
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
  const { v, o, s, n, k } = wire as Partial<Wire>
  if (v !== EVENT_VERSION || typeof o !== 'string' || typeof s !== 'string' || typeof n !== 'number')
    return undefined
  if (k === undefined) return { kind: 'clear', origin: o, scope: s, version: n }
  return typeof k === 'string' ? { kind: 'entry', origin: o, scope: s, key: k, version: n } : undefined
}
