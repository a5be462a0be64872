import type { MemoryEntry } from './memory-entry.js'

/**
 * What a memory store needs from an eviction policy. Every operation is O(1).
 *
 * @internal
 */
export interface EvictionPolicy<V> {
  /** Reason reported to `onEvict` listeners for entries this policy evicts to respect `maxEntries`. */
  readonly reason: 'lru' | 'lfu'
  /** Adds an entry that is not tracked yet (a new key, or an updated one after `remove`). */
  add(entry: MemoryEntry<V>): void
  /** Records an access (a `get` hit). */
  touch(entry: MemoryEntry<V>): void
  /** Stops tracking an entry. */
  remove(entry: MemoryEntry<V>): void
  /** The entry to evict next (never `exclude`), without removing it. */
  victim(exclude?: MemoryEntry<V>): MemoryEntry<V> | undefined
  /** Forgets every entry. */
  clear(): void
}
