import type { EvictionPolicy } from './eviction-policy.js'
import type { MemoryEntry } from './memory-entry.js'

/**
 * Least-recently-used eviction: one intrusive doubly linked list, most recent at the head.
 * `touch` relinks two pointers and allocates nothing.
 *
 * @internal
 */
export class LruPolicy<V> implements EvictionPolicy<V> {
  readonly reason = 'lru' as const
  private head: MemoryEntry<V> | null = null
  private tail: MemoryEntry<V> | null = null

  add(entry: MemoryEntry<V>): void {
    entry.prev = null
    entry.next = this.head
    if (this.head !== null) this.head.prev = entry
    else this.tail = entry
    this.head = entry
  }

  touch(entry: MemoryEntry<V>): void {
    if (this.head === entry) return
    this.remove(entry)
    this.add(entry)
  }

  remove(entry: MemoryEntry<V>): void {
    const { prev, next } = entry
    if (prev !== null) prev.next = next
    else this.head = next
    if (next !== null) next.prev = prev
    else this.tail = prev
    entry.prev = null
    entry.next = null
  }

  victim(exclude?: MemoryEntry<V>): MemoryEntry<V> | undefined {
    const tail = this.tail
    if (tail === null) return undefined
    return (tail === exclude ? tail.prev : tail) ?? undefined
  }

  clear(): void {
    this.head = null
    this.tail = null
  }
}
