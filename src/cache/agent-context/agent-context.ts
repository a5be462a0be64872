import { ValkitError, type Valkit } from '../../core/index.js'
import {
  AGENT_CONTEXT_MAX_LIST_ITEMS,
  boundedInteger,
  type ResolvedAgentContextOptions,
} from './agent-context-options.js'
import type {
  AgentContext,
  AgentContextStats,
  ContextAppended,
  ContextAppendOptions,
  ContextAppendResult,
  ContextDeleted,
  ContextWritten,
  ContextUnconditional,
  ContextClearResult,
  ContextConflict,
  ContextDeleteResult,
  ContextEntry,
  ContextReadOptions,
  ContextScope,
  ContextWriteOptions,
  ContextWriteResult,
} from './agent-context-types.js'
import {
  checkKey,
  checkScope,
  checkVersion,
  closedError,
  invalidArgument,
  unavailable,
} from './context-arguments.js'
import type { ContextBackend } from './context-backend.js'
import { ContextChannel, type ContextChange, type RemoteChange } from './context-channel.js'
import { ContextL1, L1Item } from './context-l1.js'
import { registerContextMetrics, type ContextMetrics } from './context-metrics.js'
import { EntryCodec } from './entry-codec.js'
import { FillGate } from './fill-gate.js'
import { MemoryContextBackend } from './memory-backend.js'
import { RedisContextBackend } from './redis-backend.js'

type Counter =
  | 'reads'
  | 'l1Hits'
  | 'redisReads'
  | 'misses'
  | 'writes'
  | 'appends'
  | 'trimmed'
  | 'deletes'
  | 'clears'
  | 'conflicts'
  | 'remoteInvalidations'
  | 'unavailable'

function conflict(currentVersion: number): ContextConflict {
  return { ok: false, reason: 'conflict', currentVersion }
}

/**
 * The agent context store. See {@link AgentContext} for the contract.
 *
 * @internal
 */
export class AgentContextImpl implements AgentContext {
  readonly namespace: string
  private readonly codec: EntryCodec
  private readonly backend: ContextBackend
  /** Redis/Valkey is the store (not the memory topology): other instances share it. */
  private readonly shared: boolean
  private readonly l1: ContextL1
  private readonly metrics: ContextMetrics
  /** The invalidation channel; `null` on the memory topology (one process, nothing to tell). */
  private readonly channel: ContextChannel | null
  private readonly unhooks: (() => void)[] = []
  private readonly gate: FillGate
  private readonly counts: Record<Counter, number> = {
    reads: 0,
    l1Hits: 0,
    redisReads: 0,
    misses: 0,
    writes: 0,
    appends: 0,
    trimmed: 0,
    deletes: 0,
    clears: 0,
    conflicts: 0,
    remoteInvalidations: 0,
    unavailable: 0,
  }
  private closed = false

  constructor(
    private readonly valkit: Valkit,
    private readonly o: ResolvedAgentContextOptions,
  ) {
    this.namespace = o.namespace
    this.codec = new EntryCodec(o.codec, o.maxValueBytes)
    this.shared = valkit.config.topology.kind !== 'memory'
    this.backend = this.shared ? new RedisContextBackend(valkit, o.namespace) : new MemoryContextBackend()
    // On the memory topology the backend is process memory already: no second copy.
    this.l1 = new ContextL1(this.shared ? o.l1 : false)
    this.metrics = registerContextMetrics(valkit.metrics, o.namespace, () =>
      this.closed ? undefined : this.l1.size,
    )
    this.channel = this.shared
      ? new ContextChannel(
          valkit,
          valkit.keys.key('cache', `${o.namespace}@`, 'events'),
          (event) => this.onChange(event),
          () => this.missedMessages(),
        )
      : null
    const channel = this.channel
    this.gate = new FillGate(() => channel === null || channel.live)
    // Messages sent while this instance was disconnected are lost: every copy may be stale.
    if (this.shared) this.unhooks.push(valkit.supervisor.onRecover(async () => this.missedMessages()))
  }

  async read<T = unknown>(
    scope: string,
    key: string,
    options?: ContextReadOptions,
  ): Promise<ContextEntry<T> | undefined> {
    this.open()
    checkScope(scope)
    checkKey(key)
    const need = Math.max(checkVersion(options?.minVersion, 'minVersion') ?? 0, this.l1.floor(scope, key))
    this.count('reads')
    const held = this.l1.get(scope, key, need)
    if (held !== undefined) {
      this.count('l1Hits')
      this.metrics.readL1.inc()
      return this.codec.decode<T>(key, held)
    }
    if (!this.usable()) throw this.refuse('read')
    const fill = this.gate.ticket()
    this.l1.beginRead(scope)
    let reply
    const sentAt = performance.now()
    try {
      reply = await this.backend.read(scope, key)
    } catch (err) {
      this.l1.endRead(scope)
      throw this.failed(err)
    }
    const changedAt = this.l1.endRead(scope)
    this.count('redisReads')
    this.metrics.readRedis.inc()
    if (reply.entry === undefined) {
      this.count('misses')
      this.l1.drop(scope, key, reply.seq + 1) // a copy newer than this answer stays
      return undefined
    }
    const item = L1Item.from(reply.entry, reply.seq)
    const entry = this.codec.decode<T>(key, item)
    if (item.seen >= changedAt && this.gate.allows(fill))
      this.l1.put(scope, key, item, remaining(reply.ttlMs, sentAt))
    return entry
  }

  write(
    scope: string,
    key: string,
    value: unknown,
    options?: ContextUnconditional<ContextWriteOptions>,
  ): Promise<ContextWritten>
  write(scope: string, key: string, value: unknown, options: ContextWriteOptions): Promise<ContextWriteResult>
  async write(
    scope: string,
    key: string,
    value: unknown,
    options?: ContextWriteOptions,
  ): Promise<ContextWriteResult> {
    this.open()
    checkScope(scope)
    checkKey(key)
    const ifVersion = checkVersion(options?.ifVersion, 'ifVersion')
    const bytes = this.codec.encode(value, key)
    if (!this.usable()) throw this.refuse('write')
    const fill = this.gate.ticket()
    let reply
    try {
      reply = await this.backend.write(scope, key, bytes, ifVersion, this.o.ttlMs)
    } catch (err) {
      this.unknownOutcome(scope, key)
      throw this.failed(err)
    }
    if (!reply.ok) return this.conflicted(scope, key, reply.current)
    this.l1.changed(scope, reply.version)
    this.count('writes')
    this.metrics.write.inc()
    this.l1.raiseFloor(scope, key, reply.version)
    if (!this.gate.allows(fill)) this.l1.drop(scope, key)
    else {
      this.l1.put(
        scope,
        key,
        new L1Item('value', reply.version, reply.version, bytes, null),
        this.o.ttlMs > 0 ? this.o.ttlMs : -1,
      )
    }
    this.publish({ kind: 'entry', scope, key, version: reply.version })
    return { ok: true, version: reply.version }
  }

  append(
    scope: string,
    key: string,
    item: unknown,
    options?: ContextUnconditional<ContextAppendOptions>,
  ): Promise<ContextAppended>
  append(
    scope: string,
    key: string,
    item: unknown,
    options: ContextAppendOptions,
  ): Promise<ContextAppendResult>
  async append(
    scope: string,
    key: string,
    item: unknown,
    options?: ContextAppendOptions,
  ): Promise<ContextAppendResult> {
    this.open()
    checkScope(scope)
    checkKey(key)
    const ifVersion = checkVersion(options?.ifVersion, 'ifVersion')
    const limits = {
      maxItems: this.limit(
        options?.maxItems,
        'maxItems',
        this.o.lists.maxItems,
        AGENT_CONTEXT_MAX_LIST_ITEMS,
      ),
      maxBytes: this.limit(options?.maxBytes, 'maxBytes', this.o.lists.maxBytes),
    }
    const bytes = this.codec.encode(item, key)
    if (!this.usable()) throw this.refuse('append')
    const fill = this.gate.ticket()
    let reply
    try {
      reply = await this.backend.append(scope, key, bytes, ifVersion, this.o.ttlMs, limits)
    } catch (err) {
      this.unknownOutcome(scope, key)
      throw this.failed(err)
    }
    if (!reply.ok) {
      if (reply.wrongKind === true) {
        throw invalidArgument(
          `append(): entry "${key.slice(0, 100)}" holds a value (made by write), not a list; delete it first or use write().`,
        )
      }
      return this.conflicted(scope, key, reply.current)
    }
    this.l1.changed(scope, reply.version)
    this.count('appends')
    this.counts.trimmed += reply.trimmed
    this.metrics.append.inc()
    // Keep the copy in step when it was the list this append extended; otherwise drop it.
    const held = this.l1.peek(scope, key)
    const base =
      reply.previous === 0 ? [] : held?.kind === 'list' && held.version === reply.previous ? held.items : null
    this.l1.raiseFloor(scope, key, reply.version)
    if (base === null || !this.gate.allows(fill)) this.l1.drop(scope, key)
    else {
      const items = [...base, bytes].slice(reply.trimmed)
      this.l1.put(
        scope,
        key,
        new L1Item('list', reply.version, reply.version, null, items),
        this.o.ttlMs > 0 ? this.o.ttlMs : -1,
      )
    }
    this.publish({ kind: 'entry', scope, key, version: reply.version })
    return { ok: true, version: reply.version, trimmed: reply.trimmed }
  }

  async entries(scope: string): Promise<ContextEntry[]> {
    this.open()
    checkScope(scope)
    if (!this.usable()) throw this.refuse('entries')
    const fill = this.gate.ticket()
    this.l1.beginRead(scope)
    let reply
    const sentAt = performance.now()
    try {
      reply = await this.backend.readScope(scope)
    } catch (err) {
      this.l1.endRead(scope)
      throw this.failed(err)
    }
    const fresh = reply.seq >= this.l1.endRead(scope) && this.gate.allows(fill)
    this.count('redisReads')
    this.metrics.readRedis.inc()
    const out: ContextEntry[] = []
    const present = new Set<string>()
    const scopeTtlMs = remaining(reply.ttlMs, sentAt)
    for (const [key, raw] of reply.entries) {
      const item = L1Item.from(raw, reply.seq)
      out.push(this.codec.decode(key, item))
      present.add(key)
      if (fresh) this.l1.put(scope, key, item, scopeTtlMs)
    }
    this.l1.dropScope(scope, reply.seq + 1, present) // copies of entries gone as of this answer
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
  }

  delete(
    scope: string,
    key: string,
    options?: ContextUnconditional<ContextWriteOptions>,
  ): Promise<ContextDeleted>
  delete(scope: string, key: string, options: ContextWriteOptions): Promise<ContextDeleteResult>
  async delete(scope: string, key: string, options?: ContextWriteOptions): Promise<ContextDeleteResult> {
    this.open()
    checkScope(scope)
    checkKey(key)
    const ifVersion = checkVersion(options?.ifVersion, 'ifVersion')
    if (!this.usable()) throw this.refuse('delete')
    let reply
    try {
      reply = await this.backend.delete(scope, key, ifVersion, this.o.ttlMs)
    } catch (err) {
      this.unknownOutcome(scope, key)
      throw this.failed(err)
    }
    if (!reply.ok) return this.conflicted(scope, key, reply.current)
    this.l1.drop(scope, key)
    if (reply.deleted) {
      this.l1.changed(scope, reply.version)
      this.count('deletes')
      this.metrics.delete.inc()
      this.l1.raiseFloor(scope, key, reply.version)
      this.publish({ kind: 'entry', scope, key, version: reply.version })
    }
    return { ok: true, deleted: reply.deleted, version: reply.version }
  }

  async clear(scope: string): Promise<ContextClearResult> {
    this.open()
    checkScope(scope)
    if (!this.usable()) throw this.refuse('clear')
    let reply
    try {
      reply = await this.backend.clear(scope, this.o.ttlMs)
    } catch (err) {
      this.l1.changed(scope, Infinity)
      this.l1.dropScope(scope)
      throw this.failed(err)
    }
    this.l1.changed(scope, reply.version)
    this.l1.dropScope(scope)
    this.count('clears')
    this.metrics.clear.inc()
    this.l1.raiseScopeFloor(scope, reply.version)
    this.publish({ kind: 'clear', scope, version: reply.version })
    return { deleted: reply.deleted, version: reply.version }
  }

  scope(name: string): ContextScope {
    checkScope(name)
    return {
      name,
      read: (key, options) => this.read(name, key, options),
      write: ((key: string, value: unknown, options?: ContextWriteOptions) =>
        this.write(name, key, value, options ?? {})) as ContextScope['write'],
      append: ((key: string, item: unknown, options?: ContextAppendOptions) =>
        this.append(name, key, item, options ?? {})) as ContextScope['append'],
      entries: () => this.entries(name),
      delete: ((key: string, options?: ContextWriteOptions) =>
        this.delete(name, key, options ?? {})) as ContextScope['delete'],
      clear: () => this.clear(name),
    }
  }

  ready(): Promise<void> {
    return this.channel?.subscribed ?? Promise.resolve()
  }

  stats(): AgentContextStats {
    return { ...this.counts, l1Entries: this.l1.size, l1Bytes: this.l1.bytes }
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    for (const unhook of this.unhooks) unhook()
    this.l1.close()
    await this.channel?.close()
  }

  private open(): void {
    if (this.closed) throw closedError()
  }

  /**
   * Invalidation messages may have been lost (a reconnection, or the subscriber connection alone
   * came back): every copy is dropped and operations in flight keep none.
   */
  private missedMessages(): void {
    this.gate.missed()
    this.l1.clear()
  }

  /** Commands go to Redis/Valkey now (always true on the memory topology). */
  private usable(): boolean {
    return !this.shared || this.valkit.supervisor.backend === 'redis'
  }

  private refuse(op: string): ValkitError {
    this.count('unavailable')
    this.metrics.unavailable.inc()
    return unavailable(op)
  }

  /** A change failed in transit (timeout, reset): it may or may not have been applied. */
  private unknownOutcome(scope: string, key: string): void {
    this.l1.changed(scope, Infinity)
    this.l1.drop(scope, key)
  }

  /** Counts a transport failure of Redis/Valkey; returns the error to rethrow. */
  private failed(err: unknown): unknown {
    if (err instanceof ValkitError && err.code === 'VALKIT_UNAVAILABLE') {
      this.count('unavailable')
      this.metrics.unavailable.inc()
    }
    return err
  }

  private count(name: Counter): void {
    this.counts[name]++
  }

  private limit(value: unknown, name: string, fallback: number, max?: number): number {
    try {
      return boundedInteger(value, name, fallback, max)
    } catch {
      throw invalidArgument(
        `append(): ${name} must be an integer from 1 to ${max ?? Number.MAX_SAFE_INTEGER}, got ${String(value)}.`,
      )
    }
  }

  private publish(change: ContextChange): void {
    this.channel?.publish(change)
  }

  private onChange(event: RemoteChange): void {
    if (this.closed) return
    this.l1.changed(event.scope, event.version)
    const dropped =
      event.kind === 'entry'
        ? Number(this.l1.drop(event.scope, event.key, event.version))
        : this.l1.dropScope(event.scope, event.version)
    this.counts.remoteInvalidations += dropped
  }

  private conflicted(scope: string, key: string, current: number): ContextConflict {
    this.count('conflicts')
    this.metrics.conflict.inc()
    const held = this.l1.peek(scope, key)
    if (held !== undefined && held.version !== current) this.l1.drop(scope, key)
    return conflict(current)
  }
}

/**
 * A scope's TTL as the server reported it (`< 0`: none), less the time since the call was sent:
 * the copy in L1 then ends no later than the scope does, however long the reply took.
 */
function remaining(ttlMs: number, sentAt: number): number {
  return ttlMs < 0 ? ttlMs : Math.max(0, ttlMs - (performance.now() - sentAt))
}
