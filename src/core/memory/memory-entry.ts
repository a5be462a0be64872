/**
 * One entry of a memory store. Internal: every field lives on the object so all entries share
 * one hidden class and the eviction lists and the deadline heap need no side allocations.
 *
 * @internal
 */
export class MemoryEntry<V> {
  /** Previous entry in the eviction list (more recently used), or null at the head. */
  prev: MemoryEntry<V> | null = null
  /** Next entry in the eviction list (less recently used), or null at the tail. */
  next: MemoryEntry<V> | null = null
  /** Access frequency (LFU only). */
  freq = 0
  /** The LFU frequency bucket holding this entry, or null. */
  bucket: unknown = null
  /** Position in the deadline heap, -1 when the entry has no TTL. */
  heapIndex = -1

  constructor(
    readonly key: string,
    public value: V,
    /** Accounted size in bytes. */
    public size: number,
    /** Absolute expiry time in ms of the store's clock; 0 means no expiry. */
    public expiresAt: number,
  ) {}
}
