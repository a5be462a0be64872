import { randomBytes } from 'node:crypto'
import {
  ValkitError,
  createCodec,
  createGetBatcher,
  createMemoryStore,
  type Codec,
  type GetBatcher,
  type MemoryStore,
  type Valkit,
} from '../core/index.js'
import type { ResolvedCacheOptions } from './cache-options.js'
import type { L1Entry } from './l1-entry.js'
import type { LoadState } from './load-state.js'
import { Watch } from './watch.js'
import { defaultPlan, type LoadPlan } from './load-plan.js'
import { L2SizeCounter } from './l2-size.js'
import { registerCacheMetrics, type CacheMetrics } from './cache-metrics.js'
import type { CacheStats } from './cache-types.js'

/** What the runtime needs from a namespace to replay L2 deletions after an outage. @internal */
export interface ReplayTarget {
  replay(keys: readonly string[], tags: readonly string[]): Promise<void>
}

const BUFFERS = Object.freeze({ buffers: true as const })
/** The shortest time a tag's invalidation time is kept. */
const TAG_EPOCH_KEEP_MIN_MS = 10 * 60_000
/** How often the L2 count advances (10 SCAN pages of 1000). */
const L2_COUNT_INTERVAL_MS = 5000

/** Most L2 deletions remembered while Redis is away; beyond it they are counted as errors and dropped. */
const MAX_PENDING = 10_000

/**
 * The state every namespace of one `createCache` shares: options, codec, L1 and its tag index,
 * counters and metrics, the in-flight loader runs, and the supervisor hooks.
 *
 * @internal
 */
export class CacheRuntime {
  readonly origin = randomBytes(8).toString('hex')
  readonly codec: Codec
  readonly l1: MemoryStore<L1Entry> | null
  readonly l2: boolean
  readonly metrics: CacheMetrics
  /** How `getOrSet` calls without options load. */
  readonly plan: LoadPlan
  /**
   * Values are stored as text frames and read back as strings (the codec is plain JSON without
   * encryption); otherwise as binary frames read back as Buffers.
   */
  readonly textFrames: boolean
  /** Counts the namespace's values in L2, a few SCAN pages at a time. */
  readonly l2Size: L2SizeCounter | null
  /**
   * How long a tag's invalidation time is kept (the `te:` keys), and so the longest a load with
   * tags may run and still store its result: 10 minutes, or the lease's TTL or hard loader
   * timeout if longer.
   */
  readonly tagEpochKeepMs: number
  /** The call options of L2 reads: Buffers for binary frames. */
  readonly readOptions: { readonly buffers: true } | undefined
  /** L2 reads: the GETs of one turn of the event loop go as one MGET (per Cluster slot). */
  readonly reads: GetBatcher
  /** Bumped by every write and invalidation (local or remote): an L2 read that spans one does not fill L1. */
  seq = 0
  /** Bumped when the connection comes back: older L1 entries are suspect (see {@link L1Entry}). */
  epoch = 0
  /** `getOrSet` loads in flight, by full key. */
  readonly loads = new Map<string, LoadState>()
  /** Waits for another instance's loader, by full key. */
  private readonly watches = new Map<string, Set<Watch>>()
  closed = false
  hitsL1 = 0
  hitsL2 = 0
  misses = 0
  loaderRuns = 0
  coalesced = 0
  sets = 0
  invalidations = 0
  remoteInvalidations = 0
  corrupt = 0
  oversize = 0
  l2Errors = 0
  replayed = 0
  staleServed = 0
  refreshes = 0
  invalid = 0
  discarded = 0
  leaseWaits = 0
  loaderTimeouts = 0
  evictions = 0
  private readonly tagIndex = new Map<string, Set<string>>()
  private readonly pending = new Map<ReplayTarget, { keys: Set<string>; tags: Set<string> }>()
  private pendingCount = 0
  private readonly unhooks: (() => void)[] = []

  constructor(
    readonly valkit: Valkit,
    readonly options: ResolvedCacheOptions,
  ) {
    const { codec, l1 } = options
    this.codec = createCodec({
      serializer: codec.serializer,
      compression: codec.compression,
      compressThresholdBytes: codec.compressThresholdBytes,
      maxDecompressedBytes: codec.maxDecompressedBytes,
      ...(codec.keyring === undefined ? {} : { encryption: codec.keyring }),
    })
    // The memory backend has no shared tier: the cache is its L1 (with L1 turned off, every read misses).
    this.l2 = options.l2 && valkit.config.topology.kind !== 'memory'
    this.plan = defaultPlan(options)
    this.tagEpochKeepMs = Math.max(
      TAG_EPOCH_KEEP_MIN_MS,
      options.lease === false ? 0 : options.lease.ttlMs,
      options.hardTimeoutMs,
    )
    this.textFrames = codec.serializer === 'json' && codec.keyring === undefined
    this.readOptions = this.textFrames ? undefined : BUFFERS
    this.reads = createGetBatcher(valkit.connection, {
      bySlot: valkit.config.topology.kind === 'cluster',
      buffers: !this.textFrames,
    })
    this.l1 =
      l1 === false
        ? null
        : createMemoryStore<L1Entry>({ maxEntries: l1.maxEntries, maxBytes: l1.maxBytes, policy: l1.policy })
    this.l1?.onEvict((key, entry, reason) => {
      if (entry.tagKeys !== null) this.unindex(key, entry.tagKeys)
      if (reason === 'lru' || reason === 'lfu' || reason === 'size') {
        this.evictions++
        this.metrics.eviction.inc()
      }
    })
    this.l2Size = this.l2 ? new L2SizeCounter(valkit, options.namespace, L2_COUNT_INTERVAL_MS) : null
    this.metrics = registerCacheMetrics(
      valkit.metrics,
      options.namespace,
      () => (this.closed || this.l1 === null ? undefined : { entries: this.l1.size, bytes: this.l1.bytes }),
      () => this.l2Size?.entries,
    )
    if (this.l2) {
      // Every L1 entry may have missed invalidations while disconnected: drop them all on recovery,
      // then send the L2 deletions that could not be sent during the outage.
      this.unhooks.push(valkit.supervisor.onRecover(() => this.recover()))
      // The subscriber alone can drop and come back (Redis closes a slow pub/sub client) while
      // commands go on: messages were lost, so L1 entries are suspect as after an outage.
      this.unhooks.push(
        valkit.driver.onEvent((event) => {
          if (event.type === 'resubscribed') this.missedMessages()
        }),
      )
      this.unhooks.push(
        valkit.supervisor.onChange((change) => {
          if (change.to === 'ready' && this.pendingCount > 0) void this.replay()
        }),
      )
    }
  }

  /** L2 is configured and the supervisor says commands go to Redis/Valkey now. */
  l2Usable(): boolean {
    return this.l2 && this.valkit.supervisor.backend === 'redis'
  }

  /** Whether an L1 entry can be served as it is: fresh, and not from before the last outage. */
  trusted(entry: L1Entry): boolean {
    return entry.epoch === this.epoch && (entry.freshUntil === 0 || entry.freshUntil > Date.now())
  }

  /** Whether an entry is within its TTL, trusted or not. */
  timeFresh(entry: L1Entry): boolean {
    return entry.freshUntil === 0 || entry.freshUntil > Date.now()
  }

  /** Starts watching a key for another instance's write or lease release. */
  watch(full: string): Watch {
    let set = this.watches.get(full)
    if (set === undefined) this.watches.set(full, (set = new Set()))
    const watch = new Watch((w) => {
      const current = this.watches.get(full)
      if (current === undefined) return
      current.delete(w)
      if (current.size === 0) this.watches.delete(full)
    })
    set.add(watch)
    return watch
  }

  /** A message announced a write or a release of this key: wake whoever waits for it. */
  wake(full: string): void {
    const set = this.watches.get(full)
    if (set === undefined) return
    for (const watch of set) watch.fire()
  }

  /** Taints the load of this key, if one runs. */
  taintKey(full: string): void {
    const load = this.loads.get(full)
    if (load !== undefined) load.tainted = true
  }

  /** Taints the loads carrying one of these tag index keys (and those whose tags are derived). */
  taintTags(tagKeys: readonly string[]): void {
    if (this.loads.size === 0) return
    for (const load of this.loads.values()) {
      const own = load.tagKeys
      if (own === 'derived' || (own !== null && own.some((t) => tagKeys.includes(t)))) load.tainted = true
    }
  }

  /** Taints the loads whose key passes `match` (a clear, a pattern). */
  taintWhere(match: (full: string) => boolean): void {
    for (const load of this.loads.values()) if (match(load.full)) load.tainted = true
  }

  /** `ttlMs` shortened by up to `jitter` of itself, at least 1 ms. */
  jittered(ttlMs: number): number {
    const jitter = this.options.jitter
    if (jitter === 0) return ttlMs
    return Math.max(1, ttlMs - Math.floor(ttlMs * jitter * Math.random()))
  }

  hitL1(): void {
    this.hitsL1++
    this.metrics.hitL1.inc()
  }

  hitL2(): void {
    this.hitsL2++
    this.metrics.hitL2.inc()
  }

  servedStale(): void {
    this.staleServed++
    this.metrics.staleServed.inc()
  }

  leaseWaited(): void {
    this.leaseWaits++
    this.metrics.leaseWait.inc()
  }

  loaderTimedOut(): void {
    this.loaderTimeouts++
  }

  missed(n = 1): void {
    this.misses += n
    this.metrics.miss.inc(n)
  }

  loaderRan(): void {
    this.loaderRuns++
    this.metrics.loaderRun.inc()
  }

  invalidated(): void {
    this.seq++
    this.invalidations++
    this.metrics.invalidation.inc()
  }

  corrupted(): void {
    this.corrupt++
    this.metrics.corrupt.inc()
  }

  l2Failed(err: unknown): void {
    this.l2Errors++
    this.metrics.l2Error.inc()
    this.valkit.logger.debug('cache: L2 operation failed; going on without L2', {
      namespace: this.options.namespace,
      error: err instanceof Error ? err.message : String(err),
    })
  }

  /** Stores an entry in L1 (no-op without L1), keeping the tag index in step. */
  l1Put(fullKey: string, entry: L1Entry, ttlMs: number, sizeBytes: number): void {
    const l1 = this.l1
    if (l1 === null) return
    const previous = l1.peek(fullKey)
    if (previous?.tagKeys != null) this.unindex(fullKey, previous.tagKeys)
    if (!l1.set(fullKey, entry, { ttlMs, sizeBytes })) return
    if (entry.tagKeys !== null) {
      for (const tagKey of entry.tagKeys) {
        let keys = this.tagIndex.get(tagKey)
        if (keys === undefined) this.tagIndex.set(tagKey, (keys = new Set()))
        keys.add(fullKey)
      }
    }
  }

  /** Drops every L1 entry carrying one of these tag index keys; returns how many. */
  dropTagKeys(tagKeys: readonly string[]): number {
    const l1 = this.l1
    if (l1 === null) return 0
    let dropped = 0
    for (const tagKey of tagKeys) {
      const keys = this.tagIndex.get(tagKey)
      if (keys === undefined) continue
      for (const key of [...keys]) if (l1.delete(key)) dropped++
      this.tagIndex.delete(tagKey)
    }
    return dropped
  }

  /** Drops every L1 entry whose key starts with one of `prefixes`; returns how many. */
  dropPrefixes(prefixes: readonly string[]): number {
    const l1 = this.l1
    if (l1 === null) return 0
    const doomed: string[] = []
    for (const key of l1.keys()) if (prefixes.some((p) => key.startsWith(p))) doomed.push(key)
    for (const key of doomed) l1.delete(key)
    return doomed.length
  }

  /** Remembers an L2 deletion that could not be sent, to replay after recovery. */
  remember(target: ReplayTarget, kind: 'keys' | 'tags', name: string): void {
    if (this.pendingCount >= MAX_PENDING) {
      this.l2Errors++
      return
    }
    let entry = this.pending.get(target)
    if (entry === undefined) this.pending.set(target, (entry = { keys: new Set(), tags: new Set() }))
    const set = entry[kind]
    if (set.has(name)) return
    set.add(name)
    this.pendingCount++
  }

  /** Forgets a namespace's pending deletions (it was closed). */
  forget(target: ReplayTarget): void {
    const entry = this.pending.get(target)
    if (entry === undefined) return
    this.pendingCount -= entry.keys.size + entry.tags.size
    this.pending.delete(target)
  }

  stats(): CacheStats {
    return {
      hitsL1: this.hitsL1,
      hitsL2: this.hitsL2,
      misses: this.misses,
      loaderRuns: this.loaderRuns,
      coalesced: this.coalesced,
      sets: this.sets,
      invalidations: this.invalidations,
      remoteInvalidations: this.remoteInvalidations,
      corrupt: this.corrupt,
      oversize: this.oversize,
      l2Errors: this.l2Errors,
      replayed: this.replayed,
      staleServed: this.staleServed,
      refreshes: this.refreshes,
      invalid: this.invalid,
      discarded: this.discarded,
      leaseWaits: this.leaseWaits,
      loaderTimeouts: this.loaderTimeouts,
      evictions: this.evictions,
      l1Entries: this.l1?.size ?? 0,
      l2Entries: this.l2Size?.entries ?? null,
      l1Bytes: this.l1?.bytes ?? 0,
    }
  }

  close(): void {
    if (this.closed) return
    this.closed = true
    for (const load of this.loads.values()) {
      load.tainted = true
      load.controller?.abort(new ValkitError('VALKIT_CLOSED', 'The cache was closed while this loader ran.'))
    }
    this.metrics.detach()
    this.l2Size?.close()
    for (const unhook of this.unhooks) unhook()
    this.l1?.clear()
    this.l1?.close()
    this.tagIndex.clear()
    for (const set of this.watches.values()) for (const watch of set) watch.fire()
    this.watches.clear()
    this.pending.clear()
    this.pendingCount = 0
  }

  private async recover(): Promise<void> {
    if (this.closed) return
    this.missedMessages()
    await this.replay()
  }

  /**
   * Invalidation messages may have been missed (an outage, or the subscriber connection alone
   * came back): every L1 entry made before now is suspect (revalidated against L2 on its next
   * read, served as it is only while L2 cannot answer), and no load in flight stores its result.
   */
  missedMessages(): void {
    if (this.closed) return
    this.seq++
    this.epoch++
    this.taintWhere(() => true)
  }

  private async replay(): Promise<void> {
    if (this.closed || this.pendingCount === 0) return
    const work = [...this.pending]
    this.pending.clear()
    this.pendingCount = 0
    await Promise.all(
      work.map(async ([target, { keys, tags }]) => {
        try {
          await target.replay([...keys], [...tags])
          this.replayed += keys.size + tags.size
        } catch (err) {
          this.l2Failed(err)
          for (const key of keys) this.remember(target, 'keys', key)
          for (const tag of tags) this.remember(target, 'tags', tag)
        }
      }),
    )
  }

  private unindex(fullKey: string, tagKeys: readonly string[]): void {
    for (const tagKey of tagKeys) {
      const keys = this.tagIndex.get(tagKey)
      if (keys === undefined) continue
      keys.delete(fullKey)
      if (keys.size === 0) this.tagIndex.delete(tagKey)
    }
  }
}
