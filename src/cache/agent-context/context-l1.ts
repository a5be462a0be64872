import { createMemoryStore, type MemoryStore } from '../../core/index.js'
import type { RawEntry } from './context-backend.js'

/**
 * One entry held in process: its encoded bytes, its version, and `seen`, the scope version as of
 * which it was known to be current (a read's scope counter, or the version of our own write).
 *
 * @internal
 */
export class L1Item {
  constructor(
    readonly kind: 'value' | 'list',
    readonly version: number,
    readonly seen: number,
    readonly value: Buffer | null,
    readonly items: readonly Buffer[] | null,
  ) {}

  /** A copy of an entry read from the store when the scope's counter was at `seq`. */
  static from(raw: RawEntry, seq: number): L1Item {
    const seen = Math.max(seq, raw.version)
    return raw.kind === 'value'
      ? new L1Item('value', raw.version, seen, raw.value!, null)
      : new L1Item('list', raw.version, seen, null, raw.items!)
  }

  get sizeBytes(): number {
    if (this.value !== null) return this.value.length + 48
    let n = 48
    for (const item of this.items ?? []) n += item.length + 16
    return n
  }
}

/** Most per-entry / per-scope version floors remembered (oldest forgotten first). */
const MAX_FLOORS = 10_000

function raise(map: Map<string, number>, name: string, version: number): void {
  const current = map.get(name)
  if (current !== undefined && current >= version) return
  map.delete(name)
  map.set(name, version)
  if (map.size > MAX_FLOORS) map.delete(map.keys().next().value!)
}

/** The in-process key of an entry: scopes cannot hold `\0`. @internal */
export function l1Key(scope: string, key: string): string {
  return `${scope}\u0000${key}`
}

/**
 * The agent context's in-process tier, with what makes read-your-writes hold:
 *
 * - **floors**: the highest version this process wrote (or deleted, or cleared at) per entry and
 *   per scope; an L1 copy older than the floor is never served, and never stored.
 * - **read guards**: a read from Redis that overlaps a change of its scope (local write or remote
 *   message) and observed the scope before that change returns its answer but does not fill L1,
 *   so a late reply cannot put an old copy back.
 * - **versions**: a copy never replaces a newer one.
 *
 * @internal
 */
export class ContextL1 {
  private readonly store: MemoryStore<L1Item> | null
  private readonly byScope = new Map<string, Set<string>>()
  private readonly floors = new Map<string, number>()
  private readonly scopeFloors = new Map<string, number>()
  private readonly reads = new Map<string, { count: number; changedAt: number }>()
  private readonly ttlMs: number

  constructor(
    options: false | { readonly maxEntries: number; readonly maxBytes: number; readonly ttlMs: number },
  ) {
    this.ttlMs = options === false ? 0 : options.ttlMs
    this.store =
      options === false
        ? null
        : createMemoryStore<L1Item>({ maxEntries: options.maxEntries, maxBytes: options.maxBytes })
    this.store?.onEvict((key) => this.unindex(key))
  }

  get size(): number {
    return this.store?.size ?? 0
  }

  get bytes(): number {
    return this.store?.bytes ?? 0
  }

  /** The lowest version a read of this entry may return in this process. */
  floor(scope: string, key: string): number {
    return Math.max(this.floors.get(l1Key(scope, key)) ?? 0, this.scopeFloors.get(scope) ?? 0)
  }

  raiseFloor(scope: string, key: string, version: number): void {
    raise(this.floors, l1Key(scope, key), version)
  }

  raiseScopeFloor(scope: string, version: number): void {
    raise(this.scopeFloors, scope, version)
  }

  /** A copy current as of at least `need`, or `undefined`. */
  get(scope: string, key: string, need: number): L1Item | undefined {
    const item = this.store?.get(l1Key(scope, key))
    return item !== undefined && item.seen >= need ? item : undefined
  }

  peek(scope: string, key: string): L1Item | undefined {
    return this.store?.peek(l1Key(scope, key))
  }

  /**
   * Stores a copy unless a newer one is held or it is older than this process's floor.
   * `ttlMs` of the scope (`-1`: none) shortens the L1 lifetime.
   */
  put(scope: string, key: string, item: L1Item, scopeTtlMs: number): void {
    const store = this.store
    if (store === null || item.seen < this.floor(scope, key)) return
    const name = l1Key(scope, key)
    const held = store.peek(name)
    if (held !== undefined && held.version > item.version) return
    const ttlMs = scopeTtlMs >= 0 ? Math.min(this.ttlMs, scopeTtlMs) : this.ttlMs
    if (ttlMs <= 0) {
      store.delete(name)
      return
    }
    if (!store.set(name, item, { ttlMs, sizeBytes: item.sizeBytes + name.length })) return
    let keys = this.byScope.get(scope)
    if (keys === undefined) this.byScope.set(scope, (keys = new Set()))
    keys.add(name)
  }

  /** Drops a copy (older than `below` when given); `true` if one was dropped. */
  drop(scope: string, key: string, below = Infinity): boolean {
    const store = this.store
    if (store === null) return false
    const name = l1Key(scope, key)
    const held = store.peek(name)
    if (held === undefined || held.version >= below) return false
    return store.delete(name)
  }

  /** Drops the scope's copies older than `below`; returns how many. */
  dropScope(scope: string, below = Infinity, keep?: ReadonlySet<string>): number {
    const store = this.store
    const names = this.byScope.get(scope)
    if (store === null || names === undefined) return 0
    let dropped = 0
    for (const name of [...names]) {
      if (keep?.has(name.slice(scope.length + 1))) continue
      const held = store.peek(name)
      if (held !== undefined && held.version < below && store.delete(name)) dropped++
    }
    return dropped
  }

  /** A read of `scope` from Redis begins. */
  beginRead(scope: string): void {
    const guard = this.reads.get(scope)
    if (guard === undefined) this.reads.set(scope, { count: 1, changedAt: 0 })
    else guard.count++
  }

  /**
   * A read of `scope` ended. Returns the highest version of a change announced while it was in
   * flight: its answer may fill L1 only if it observed the scope at or after that version.
   */
  endRead(scope: string): number {
    const guard = this.reads.get(scope)
    if (guard === undefined) return Infinity
    if (--guard.count === 0) this.reads.delete(scope)
    return guard.changedAt
  }

  /** The scope changed at `version` (`Infinity`: unknown): reads in flight that saw less must not fill L1. */
  changed(scope: string, version: number): void {
    const guard = this.reads.get(scope)
    if (guard !== undefined && version > guard.changedAt) guard.changedAt = version
  }

  /** Drops every copy (after a reconnection: invalidation messages may have been missed). */
  clear(): void {
    this.store?.clear()
    this.byScope.clear()
    for (const guard of this.reads.values()) guard.changedAt = Infinity
  }

  close(): void {
    this.clear()
    this.store?.close()
  }

  private unindex(name: string): void {
    const scope = name.slice(0, name.indexOf('\u0000'))
    const keys = this.byScope.get(scope)
    if (keys === undefined) return
    keys.delete(name)
    if (keys.size === 0) this.byScope.delete(scope)
  }
}
