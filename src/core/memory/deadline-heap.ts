import type { MemoryEntry } from './memory-entry.js'

/**
 * A binary min-heap of entries ordered by `expiresAt`. Each entry knows its index, so changing
 * or removing a deadline is O(log n) and the heap never holds stale items.
 *
 * @internal
 */
export class DeadlineHeap<V> {
  private readonly items: MemoryEntry<V>[] = []

  get size(): number {
    return this.items.length
  }

  /** The entry with the earliest deadline. */
  peek(): MemoryEntry<V> | undefined {
    return this.items[0]
  }

  /** Inserts the entry, or repositions it if its `expiresAt` changed. */
  upsert(entry: MemoryEntry<V>): void {
    if (entry.heapIndex === -1) {
      entry.heapIndex = this.items.length
      this.items.push(entry)
      this.up(entry.heapIndex)
    } else {
      this.up(entry.heapIndex)
      this.down(entry.heapIndex)
    }
  }

  remove(entry: MemoryEntry<V>): void {
    const index = entry.heapIndex
    if (index === -1) return
    entry.heapIndex = -1
    const last = this.items.pop() as MemoryEntry<V>
    if (last === entry) return
    this.items[index] = last
    last.heapIndex = index
    this.up(index)
    this.down(index)
  }

  clear(): void {
    for (const item of this.items) item.heapIndex = -1
    this.items.length = 0
  }

  private up(index: number): void {
    const items = this.items
    const item = items[index] as MemoryEntry<V>
    while (index > 0) {
      const parentIndex = (index - 1) >> 1
      const parent = items[parentIndex] as MemoryEntry<V>
      if (parent.expiresAt <= item.expiresAt) break
      items[index] = parent
      parent.heapIndex = index
      index = parentIndex
    }
    items[index] = item
    item.heapIndex = index
  }

  private down(index: number): void {
    const items = this.items
    const length = items.length
    const item = items[index] as MemoryEntry<V>
    for (;;) {
      let child = 2 * index + 1
      if (child >= length) break
      const right = child + 1
      if (
        right < length &&
        (items[right] as MemoryEntry<V>).expiresAt < (items[child] as MemoryEntry<V>).expiresAt
      ) {
        child = right
      }
      const smaller = items[child] as MemoryEntry<V>
      if (smaller.expiresAt >= item.expiresAt) break
      items[index] = smaller
      smaller.heapIndex = index
      index = child
    }
    items[index] = item
    item.heapIndex = index
  }
}
