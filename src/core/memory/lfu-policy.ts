import type { EvictionPolicy } from './eviction-policy.js'
import type { MemoryEntry } from './memory-entry.js'

/** A group of entries with the same access count; entries most recent first. @internal */
class FrequencyBucket<V> {
  prev: FrequencyBucket<V> | null = null
  next: FrequencyBucket<V> | null = null
  head: MemoryEntry<V> | null = null
  tail: MemoryEntry<V> | null = null
  constructor(public freq: number) {}
}

/**
 * Least-frequently-used eviction in O(1) (Shah, Mitra & Matani's frequency-bucket LFU) with
 * periodic aging so that entries that were popular once do not stay forever.
 *
 * - Buckets of equal access count form an ascending linked list; an entry moves to the next
 *   bucket on each access. The victim is the least recently used entry of the lowest bucket, so
 *   ties are broken by recency and a stream of one-hit keys only churns among itself.
 * - Aging: after `max(1024, 10 × entries)` accesses every count is halved (rounded down, at
 *   least 1). That is an O(entries) pass paid once per that many accesses, O(1) amortized,
 *   like TinyLFU's reset.
 *
 * @internal
 */
export class LfuPolicy<V> implements EvictionPolicy<V> {
  readonly reason = 'lfu' as const
  private lowest: FrequencyBucket<V> | null = null
  private count = 0
  private touches = 0

  add(entry: MemoryEntry<V>): void {
    let bucket = this.lowest
    if (bucket === null || bucket.freq !== 1) {
      const created = new FrequencyBucket<V>(1)
      created.next = bucket
      if (bucket !== null) bucket.prev = created
      this.lowest = bucket = created
    }
    entry.freq = 1
    pushHead(bucket, entry)
    this.count++
  }

  touch(entry: MemoryEntry<V>): void {
    const bucket = entry.bucket as FrequencyBucket<V>
    const freq = bucket.freq + 1
    let target = bucket.next
    if (target === null || target.freq !== freq) {
      if (bucket.head === entry && bucket.tail === entry) {
        // Alone in its bucket: bump the bucket itself, nothing to relink.
        bucket.freq = freq
        entry.freq = freq
        this.countTouch()
        return
      }
      const created = new FrequencyBucket<V>(freq)
      created.prev = bucket
      created.next = target
      if (target !== null) target.prev = created
      bucket.next = created
      target = created
    }
    this.unlink(entry)
    entry.freq = freq
    pushHead(target, entry)
    this.countTouch()
  }

  remove(entry: MemoryEntry<V>): void {
    this.unlink(entry)
    entry.freq = 0
    this.count--
  }

  victim(exclude?: MemoryEntry<V>): MemoryEntry<V> | undefined {
    const lowest = this.lowest
    if (lowest === null) return undefined
    const tail = lowest.tail
    if (tail !== exclude) return tail ?? undefined
    return tail.prev ?? lowest.next?.tail ?? undefined
  }

  clear(): void {
    this.lowest = null
    this.count = 0
    this.touches = 0
  }

  private countTouch(): void {
    if (++this.touches >= Math.max(1024, this.count * 10)) this.age()
  }

  /** Halves every access count, merging buckets that end up equal. */
  private age(): void {
    this.touches = 0
    let bucket = this.lowest
    let last: FrequencyBucket<V> | null = null
    this.lowest = null
    while (bucket !== null) {
      const following: FrequencyBucket<V> | null = bucket.next
      const freq = Math.max(1, bucket.freq >>> 1)
      if (last !== null && last.freq === freq) {
        // Merge: the more frequent group goes in front (more protected).
        if (bucket.tail !== null && bucket.head !== null) {
          for (let e: MemoryEntry<V> | null = bucket.head; e !== null; e = e.next) e.bucket = last
          bucket.tail.next = last.head
          if (last.head !== null) last.head.prev = bucket.tail
          else last.tail = bucket.tail
          last.head = bucket.head
        }
      } else {
        bucket.freq = freq
        bucket.prev = last
        bucket.next = null
        if (last !== null) last.next = bucket
        else this.lowest = bucket
        last = bucket
      }
      bucket = following
    }
    for (let b = this.lowest; b !== null; b = b.next) {
      for (let e = b.head; e !== null; e = e.next) e.freq = b.freq
    }
  }

  private unlink(entry: MemoryEntry<V>): void {
    const bucket = entry.bucket as FrequencyBucket<V>
    const { prev, next } = entry
    if (prev !== null) prev.next = next
    else bucket.head = next
    if (next !== null) next.prev = prev
    else bucket.tail = prev
    entry.prev = null
    entry.next = null
    entry.bucket = null
    if (bucket.head === null) {
      if (bucket.prev !== null) bucket.prev.next = bucket.next
      else this.lowest = bucket.next
      if (bucket.next !== null) bucket.next.prev = bucket.prev
    }
  }
}

function pushHead<V>(bucket: FrequencyBucket<V>, entry: MemoryEntry<V>): void {
  entry.bucket = bucket
  entry.prev = null
  entry.next = bucket.head
  if (bucket.head !== null) bucket.head.prev = entry
  else bucket.tail = entry
  bucket.head = entry
}
