import { escapeGlob, type KeySpace } from '../core/index.js'

/**
 * The names of one cache namespace in Redis/Valkey, all under the namespace's hash tag:
 *
 * ```
 * {prefix}:v1:cache:{ns}:v:<key>     a value                 {prefix}:v1:cache:{ns}:t:<tag>   a tag's set of value keys
 * {prefix}:v1:cache:{ns}:te:<tag>    a tag's last invalidation (server µs)
 * {prefix}:v1:cache:{ns}:l:<key>     a getOrSet lease        {prefix}:v1:cache:{ns}:fence      the leases' fencing counter
 * {prefix}:v1:cache:{ns}:events      the invalidation channel
 * ```
 *
 * @internal
 */
export class NamespaceKeys {
  readonly value: string
  readonly tag: string
  readonly tagEpoch: string
  readonly lease: string
  readonly fence: string
  readonly channel: string
  /** L1 key prefixes of this namespace and its sub-namespaces (for `clear`). */
  readonly clearPrefixes: readonly string[]
  /** SCAN pattern of every key of this namespace and its sub-namespaces. */
  readonly scanPattern: string

  constructor(
    keys: KeySpace,
    readonly name: string,
  ) {
    this.value = `${keys.key('cache', name, 'v')}:`
    this.tag = `${keys.key('cache', name, 't')}:`
    this.tagEpoch = `${keys.key('cache', name, 'te')}:`
    this.lease = `${keys.key('cache', name, 'l')}:`
    this.fence = keys.key('cache', name, 'fence')
    this.channel = keys.key('cache', name, 'events')
    const base = keys.key('cache', name).slice(0, -1) // '...:cache:{name'
    this.clearPrefixes = [`${base}}`, `${base}:`]
    this.scanPattern = `${escapeGlob(base)}[}:]*`
  }

  /** Whether a full L1 key belongs to this namespace or one of its sub-namespaces. */
  inScope(full: string): boolean {
    return full.startsWith(this.clearPrefixes[0]!) || full.startsWith(this.clearPrefixes[1]!)
  }

  /** L1 tag index keys (`namespace \0 tag`): tags are per namespace. */
  tagIndexKeys(tags: readonly string[]): string[] {
    return tags.map((t) => `${this.name}\u0000${t}`)
  }
}
