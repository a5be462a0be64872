import { createMemoryStore, type MemoryStore } from '../core/index.js'
import type { RawRecord } from './session-backend.js'

/** A session as last read from Redis, kept to be served while Redis is unreachable. @internal */
export interface LocalSnapshot {
  readonly id: string
  readonly tag: string
  readonly record: RawRecord
  readonly kind: 'live' | 'alias'
  /**
   * Server time of the read, and this process's monotonic time (`performance.now()`) when the
   * read was sent — before the server's reading, so estimates of the server's clock err early.
   */
  readonly serverNow: number
  readonly localAt: number
  readonly expiresAt: number
}

/**
 * The per-instance copy of sessions (option `localCopy`): filled by every successful read,
 * served only while Redis/Valkey cannot be reached, never older than `maxStale`, never past the
 * session's deadline as last known, dropped by invalidation messages (destroy, revoke,
 * regenerate of any instance) and emptied when the connection comes back.
 *
 * @internal
 */
export class LocalCopies {
  private readonly store: MemoryStore<LocalSnapshot>
  private readonly byTag = new Map<string, Set<string>>()

  constructor(
    maxEntries: number,
    private readonly maxStaleMs: number,
  ) {
    this.store = createMemoryStore<LocalSnapshot>({ maxEntries, maxBytes: Infinity, sizeOf: () => 1 })
    this.store.onEvict((handle, snapshot) => {
      const handles = this.byTag.get(snapshot.tag)
      if (handles === undefined) return
      handles.delete(handle)
      if (handles.size === 0) this.byTag.delete(snapshot.tag)
    })
  }

  remember(handle: string, snapshot: LocalSnapshot): void {
    this.store.set(handle, snapshot, { ttlMs: this.maxStaleMs })
    let handles = this.byTag.get(snapshot.tag)
    if (handles === undefined) this.byTag.set(snapshot.tag, (handles = new Set()))
    handles.add(handle)
  }

  /** The copy of a session, if it is recent enough and within its last known deadline. */
  get(handle: string, id: string): LocalSnapshot | undefined {
    const snapshot = this.store.get(handle)
    if (snapshot === undefined || snapshot.id !== id) return undefined
    // Both on the monotonic clock from the moment the read was sent: a slow reply, a GC pause or
    // a wall-clock step cannot stretch the copy's age or the session's deadline.
    const elapsed = performance.now() - snapshot.localAt
    if (elapsed >= this.maxStaleMs) return undefined
    return snapshot.serverNow + elapsed < snapshot.expiresAt ? snapshot : undefined
  }

  dropHandle(handle: string): void {
    this.store.delete(handle)
  }

  dropTag(tag: string): void {
    const handles = this.byTag.get(tag)
    if (handles === undefined) return
    for (const handle of [...handles]) this.store.delete(handle)
  }

  clear(): void {
    this.store.clear()
    this.byTag.clear()
  }

  get size(): number {
    return this.store.size
  }

  close(): void {
    this.clear()
    this.store.close()
  }
}
