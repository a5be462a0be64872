import { ValkitError } from '../errors.js'
import { DeadlineHeap } from './deadline-heap.js'
import type { EvictionPolicy } from './eviction-policy.js'
import { compileGlob } from './glob.js'
import { LfuPolicy } from './lfu-policy.js'
import { LruPolicy } from './lru-policy.js'
import { MemoryEntry } from './memory-entry.js'
import { resolveMemoryStoreOptions } from './memory-store-options.js'
import type { MemoryStoreOptions, ResolvedMemoryStoreOptions } from './memory-store-options.js'
import type {
  EvictionReason,
  EvictListener,
  MemorySetOptions,
  MemoryStore,
  MemoryStoreStats,
} from './memory-store-types.js'

/**
 * Creates an in-process store bounded by `maxEntries` and `maxBytes`, with TTLs and an LRU or
 * LFU eviction policy. `get`, `set` and eviction are O(1); TTL changes O(log n) (a deadline heap).
 *
 * @example
 * ```ts
 * const store = createMemoryStore<string>({ maxEntries: 50_000, maxBytes: 32 * 1024 * 1024 })
 * store.set('user:1', 'Ada', { ttlMs: 60_000 })
 * store.get('user:1') // 'Ada'
 * store.incrBy('hits:user:1', 1, 1_000) // a counter in a 1 s window
 * store.close() // stops the sweeper timer
 * ```
 * @throws ValkitError `VALKIT_INVALID_OPTION` for invalid options.
 */
export function createMemoryStore<V = unknown>(options: MemoryStoreOptions = {}): MemoryStore<V> {
  return new InProcessStore<V>(resolveMemoryStoreOptions(options))
}

class InProcessStore<V> implements MemoryStore<V> {
  private readonly map = new Map<string, MemoryEntry<V>>()
  private readonly heap = new DeadlineHeap<V>()
  private readonly policy: EvictionPolicy<V>
  private readonly now: () => number
  private readonly maxEntries: number
  private readonly maxBytes: number
  private readonly sizeOf: (value: unknown) => number
  private readonly sweepBatch: number
  private listeners: EvictListener<V>[] = []
  private timer: NodeJS.Timeout | undefined
  private totalBytes = 0
  private hits = 0
  private misses = 0
  private sets = 0
  private evictions = 0
  private expirations = 0
  private rejected = 0

  constructor(options: ResolvedMemoryStoreOptions) {
    this.policy = options.policy === 'lfu' ? new LfuPolicy<V>() : new LruPolicy<V>()
    this.now = options.now
    this.maxEntries = options.maxEntries
    this.maxBytes = options.maxBytes
    this.sizeOf = options.sizeOf
    this.sweepBatch = options.sweepBatch
    if (options.sweepIntervalMs > 0) {
      // The timer holds the store weakly, so a store dropped without close() can still be collected.
      const ref = new WeakRef<InProcessStore<V>>(this)
      const timer: NodeJS.Timeout = setInterval(() => {
        const store = ref.deref()
        if (store === undefined) clearInterval(timer)
        else store.sweep()
      }, options.sweepIntervalMs)
      timer.unref()
      this.timer = timer
    }
  }

  get size(): number {
    return this.map.size
  }

  get bytes(): number {
    return this.totalBytes
  }

  get(key: string): V | undefined {
    const entry = this.map.get(key)
    if (entry === undefined) {
      this.misses++
      return undefined
    }
    if (entry.expiresAt !== 0 && entry.expiresAt <= this.now()) {
      this.expireEntry(entry)
      this.misses++
      return undefined
    }
    this.policy.touch(entry)
    this.hits++
    return entry.value
  }

  peek(key: string): V | undefined {
    return this.live(key)?.value
  }

  has(key: string): boolean {
    return this.live(key) !== undefined
  }

  set(key: string, value: V, options?: MemorySetOptions): boolean {
    if (typeof key !== 'string') throw argumentError('key', key, 'a string')
    const expiresAt = this.deadline(options?.ttlMs)
    const sizeBytes = options?.sizeBytes
    let size: number
    if (sizeBytes === undefined) {
      size = this.sizeOf(value)
    } else {
      if (!Number.isFinite(sizeBytes) || sizeBytes < 0)
        throw argumentError('sizeBytes', sizeBytes, 'a number >= 0')
      size = sizeBytes
    }
    const existing = this.live(key)
    if (size > this.maxBytes) {
      this.rejected++
      if (existing !== undefined) this.removeEntry(existing, 'size')
      return false
    }
    this.sets++
    if (existing !== undefined) {
      this.policy.touch(existing)
      this.totalBytes += size - existing.size
      existing.value = value
      existing.size = size
      this.setDeadline(existing, expiresAt)
      while (this.map.size > this.maxEntries || this.totalBytes > this.maxBytes) {
        if (!this.evictOne(existing, 0)) break
      }
      return true
    }
    while (this.map.size >= this.maxEntries || this.totalBytes + size > this.maxBytes) {
      if (!this.evictOne(undefined, 1)) break
    }
    const entry = new MemoryEntry<V>(key, value, size, expiresAt)
    this.map.set(key, entry)
    this.policy.add(entry)
    if (expiresAt !== 0) this.heap.upsert(entry)
    this.totalBytes += size
    return true
  }

  delete(key: string): boolean {
    const entry = this.live(key)
    if (entry === undefined) return false
    this.removeEntry(entry, 'deleted')
    return true
  }

  ttl(key: string): number {
    const entry = this.live(key)
    if (entry === undefined) return -2
    if (entry.expiresAt === 0) return -1
    return entry.expiresAt - this.now()
  }

  expire(key: string, ttlMs: number): boolean {
    if (typeof ttlMs !== 'number' || Number.isNaN(ttlMs)) throw argumentError('ttlMs', ttlMs, 'a number')
    const entry = this.live(key)
    if (entry === undefined) return false
    if (ttlMs <= 0) this.expireEntry(entry)
    else this.setDeadline(entry, ttlMs === Infinity ? 0 : this.now() + ttlMs)
    return true
  }

  persist(key: string): boolean {
    const entry = this.live(key)
    if (entry === undefined || entry.expiresAt === 0) return false
    this.setDeadline(entry, 0)
    return true
  }

  incrBy(key: string, n: number, ttlMs?: number): number {
    if (typeof n !== 'number' || !Number.isFinite(n)) throw argumentError('n', n, 'a finite number')
    const entry = this.live(key)
    if (entry === undefined) {
      this.set(key, n as V, ttlMs === undefined ? undefined : { ttlMs })
      return n
    }
    if (typeof entry.value !== 'number') {
      throw new ValkitError('VALKIT_INVALID_ARGUMENT', `incrBy: key "${key}" does not hold a number.`, {
        details: { key },
      })
    }
    const expiresAt = entry.expiresAt === 0 ? this.deadline(ttlMs) : entry.expiresAt
    const next = entry.value + n
    entry.value = next as V
    this.policy.touch(entry)
    this.setDeadline(entry, expiresAt)
    this.sets++
    return next
  }

  *keys(pattern?: string): IterableIterator<string> {
    for (const [key] of this.entries(pattern)) yield key
  }

  *entries(pattern?: string): IterableIterator<[string, V]> {
    const match = pattern === undefined ? undefined : compileGlob(pattern)
    for (const entry of this.map.values()) {
      if (entry.expiresAt !== 0 && entry.expiresAt <= this.now()) continue
      if (match === undefined || match(entry.key)) yield [entry.key, entry.value]
    }
  }

  [Symbol.iterator](): IterableIterator<[string, V]> {
    return this.entries()
  }

  clear(): void {
    const removed = this.listeners.length > 0 ? [...this.map.values()] : []
    this.map.clear()
    this.policy.clear()
    this.heap.clear()
    this.totalBytes = 0
    for (const entry of removed) this.notify(entry, 'deleted')
  }

  sweep(limit = this.sweepBatch): number {
    const now = this.now()
    let removed = 0
    while (removed < limit) {
      const top = this.heap.peek()
      if (top === undefined || top.expiresAt > now) break
      this.expireEntry(top)
      removed++
    }
    return removed
  }

  onEvict(listener: EvictListener<V>): () => void {
    this.listeners = [...this.listeners, listener]
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener)
    }
  }

  stats(): MemoryStoreStats {
    return {
      hits: this.hits,
      misses: this.misses,
      sets: this.sets,
      evictions: this.evictions,
      expirations: this.expirations,
      rejected: this.rejected,
      entries: this.map.size,
      bytes: this.totalBytes,
    }
  }

  close(): void {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
  }

  /** The entry if present and not expired; an expired one is removed on the way. */
  private live(key: string): MemoryEntry<V> | undefined {
    const entry = this.map.get(key)
    if (entry === undefined) return undefined
    if (entry.expiresAt !== 0 && entry.expiresAt <= this.now()) {
      this.expireEntry(entry)
      return undefined
    }
    return entry
  }

  private deadline(ttlMs: number | undefined): number {
    if (ttlMs === undefined || ttlMs === Infinity) return 0
    if (typeof ttlMs !== 'number' || !(ttlMs > 0)) throw argumentError('ttlMs', ttlMs, 'a number > 0')
    return this.now() + ttlMs
  }

  private setDeadline(entry: MemoryEntry<V>, expiresAt: number): void {
    entry.expiresAt = expiresAt
    if (expiresAt === 0) this.heap.remove(entry)
    else this.heap.upsert(entry)
  }

  /**
   * Evicts one entry other than `keep`, preferring one already expired. `adding` is 1 when room is
   * made for a new entry: then the reason is the policy's if the entry count is what binds.
   */
  private evictOne(keep: MemoryEntry<V> | undefined, adding: 0 | 1): boolean {
    const soonest = this.heap.peek()
    if (soonest !== undefined && soonest !== keep && soonest.expiresAt <= this.now()) {
      this.expireEntry(soonest)
      return true
    }
    const victim = this.policy.victim(keep)
    if (victim === undefined) return false
    const reason = this.map.size + adding > this.maxEntries ? this.policy.reason : 'size'
    this.evictions++
    this.removeEntry(victim, reason)
    return true
  }

  private expireEntry(entry: MemoryEntry<V>): void {
    this.expirations++
    this.removeEntry(entry, 'expired')
  }

  private removeEntry(entry: MemoryEntry<V>, reason: EvictionReason): void {
    this.map.delete(entry.key)
    this.policy.remove(entry)
    this.heap.remove(entry)
    this.totalBytes -= entry.size
    if (this.listeners.length > 0) this.notify(entry, reason)
  }

  private notify(entry: MemoryEntry<V>, reason: EvictionReason): void {
    for (const listener of this.listeners) {
      try {
        listener(entry.key, entry.value, reason)
      } catch (err) {
        process.emitWarning(err instanceof Error ? err : new Error(String(err)), {
          code: 'VALKIT_EVICT_LISTENER',
          detail: 'An onEvict listener of a valkit memory store threw; the store is unaffected.',
        })
      }
    }
  }
}

function argumentError(name: string, value: unknown, expected: string): ValkitError {
  return new ValkitError(
    'VALKIT_INVALID_ARGUMENT',
    `Invalid \`${name}\`: got ${String(value)}. Expected ${expected}.`,
    {
      details: { argument: name, expected },
    },
  )
}
