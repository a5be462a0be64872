import type {
  AppendLimits,
  ContextBackend,
  DeleteReply,
  RawEntry,
  ReadReply,
  ScopeReply,
  WriteReply,
} from './context-backend.js'

interface MemoryEntry {
  version: number
  value: Buffer | undefined
  items: Buffer[] | undefined
  bytes: number
}

interface MemoryScope {
  seq: number
  entries: Map<string, MemoryEntry>
  /** Unix ms when the scope expires; `Infinity` when it does not. */
  expiresAt: number
}

/**
 * The in-process backend, for a valkit on the memory topology (no Redis configured): the same
 * semantics as the scripts, for one process. Not used as a fallback while Redis is down (versions
 * assigned here could collide with the ones Redis assigns).
 *
 * @internal
 */
export class MemoryContextBackend implements ContextBackend {
  private readonly scopes = new Map<string, MemoryScope>()
  /** The highest version this backend assigned, in any scope. */
  private highest = 0

  /**
   * A scope, created when `create` (a change). With a ttl a scope may expire and be created
   * again: its counter then starts from the clock in microseconds (as the scripts do with the
   * server's) and above every version assigned before, so a version is never reused.
   */
  private scope(name: string, create: boolean, ttlMs = 0): MemoryScope | undefined {
    let scope = this.scopes.get(name)
    if (scope !== undefined && scope.expiresAt <= Date.now()) {
      this.scopes.delete(name)
      scope = undefined
    }
    if (scope === undefined && create) {
      const seq = ttlMs > 0 ? Math.max(Date.now() * 1000, this.highest) : 0
      scope = { seq, entries: new Map(), expiresAt: Infinity }
      this.scopes.set(name, scope)
    }
    return scope
  }

  /** The scope's next version. */
  private next(scope: MemoryScope): number {
    const version = ++scope.seq
    if (version > this.highest) this.highest = version
    return version
  }

  private touch(scope: MemoryScope, ttlMs: number): void {
    if (ttlMs > 0) scope.expiresAt = Date.now() + ttlMs
  }

  private ttlOf(scope: MemoryScope | undefined): number {
    if (scope === undefined || scope.expiresAt === Infinity) return -1
    return Math.max(0, scope.expiresAt - Date.now())
  }

  private raw(entry: MemoryEntry): RawEntry {
    return entry.items === undefined
      ? { version: entry.version, kind: 'value', value: entry.value! }
      : { version: entry.version, kind: 'list', items: [...entry.items] }
  }

  async read(scope: string, key: string): Promise<ReadReply> {
    const s = this.scope(scope, false)
    const entry = s?.entries.get(key)
    return {
      seq: s?.seq ?? 0,
      ttlMs: this.ttlOf(s),
      entry: entry === undefined ? undefined : this.raw(entry),
    }
  }

  async readScope(scope: string): Promise<ScopeReply> {
    const s = this.scope(scope, false)
    const entries = new Map<string, RawEntry>()
    for (const [key, entry] of s?.entries ?? []) entries.set(key, this.raw(entry))
    return { seq: s?.seq ?? 0, ttlMs: this.ttlOf(s), entries }
  }

  async write(
    scope: string,
    key: string,
    value: Buffer,
    ifVersion: number | undefined,
    ttlMs: number,
  ): Promise<WriteReply> {
    const s = this.scope(scope, true, ttlMs)!
    const current = s.entries.get(key)?.version ?? 0
    if (ifVersion !== undefined && ifVersion !== current) return { ok: false, current }
    const version = this.next(s)
    s.entries.set(key, { version, value, items: undefined, bytes: value.length })
    this.touch(s, ttlMs)
    return { ok: true, version, previous: current, trimmed: 0 }
  }

  async append(
    scope: string,
    key: string,
    item: Buffer,
    ifVersion: number | undefined,
    ttlMs: number,
    limits: AppendLimits,
  ): Promise<WriteReply> {
    const s = this.scope(scope, true, ttlMs)!
    const entry = s.entries.get(key)
    const current = entry?.version ?? 0
    if (ifVersion !== undefined && ifVersion !== current) return { ok: false, current }
    if (entry !== undefined && entry.items === undefined) return { ok: false, current, wrongKind: true }
    const items = entry?.items ?? []
    let bytes = (entry?.bytes ?? 0) + item.length
    items.push(item)
    let trimmed = 0
    while (items.length > limits.maxItems || (bytes > limits.maxBytes && items.length > 1)) {
      bytes -= items.shift()!.length
      trimmed++
    }
    const version = this.next(s)
    s.entries.set(key, { version, value: undefined, items, bytes })
    this.touch(s, ttlMs)
    return { ok: true, version, previous: current, trimmed }
  }

  async delete(
    scope: string,
    key: string,
    ifVersion: number | undefined,
    ttlMs: number,
  ): Promise<DeleteReply> {
    const s = this.scope(scope, false)
    const current = s?.entries.get(key)?.version ?? 0
    if (ifVersion !== undefined && ifVersion !== current) return { ok: false, current }
    if (s === undefined || current === 0) return { ok: true, deleted: false, version: s?.seq ?? 0 }
    s.entries.delete(key)
    this.touch(s, ttlMs)
    return { ok: true, deleted: true, version: this.next(s) }
  }

  async clear(scope: string, ttlMs: number): Promise<{ deleted: number; version: number }> {
    const s = this.scope(scope, true, ttlMs)!
    const deleted = s.entries.size
    s.entries.clear()
    this.touch(s, ttlMs)
    return { deleted, version: this.next(s) }
  }
}
