import { ValkitError, escapeGlob, type MessageListener, type RedisReply } from '../core/index.js'
import { checkTags, closedError, invalidArgument, keyError } from './cache-arguments.js'
import { checkNamespace, parseTtl } from './cache-options.js'
import type { CacheRuntime } from './cache-runtime.js'
import type { L1Entry } from './l1-entry.js'
import { LoadState } from './load-state.js'
import type {
  Cache,
  CacheGetOptions,
  CacheSetManyEntry,
  CacheSetOptions,
  CacheStats,
  ClearOptions,
  GetOrSetOptions,
  LoaderContext,
} from './cache-types.js'
import { clearKeys } from './clear-keys.js'
import { FRAME_MARKER } from './l2-frame.js'
import { TEXT_HEADER_CHARS, readTextHead } from './text-frame.js'
import { checkSchema, resolvePlan, type LoadPlan } from './load-plan.js'
import { NOTHING_STORED, revalidatable, runLoad, softly, usableStale } from './load-run.js'
import { NamespaceKeys } from './namespace-keys.js'
import { NamespaceL2 } from './namespace-l2.js'
import { applyCacheMessage, dropPattern } from './namespace-messages.js'
import { writeMany } from './write-many.js'

const BUFFERS = Object.freeze({ buffers: true })

/**
 * A {@link Cache} bound to one namespace. Every namespace of a `createCache` shares one
 * {@link CacheRuntime}; each has its own keys, tag sets and invalidation channel. The tiers'
 * reads and writes are in {@link NamespaceL2}; the getOrSet load in `load-run.ts`.
 *
 * @internal
 */
export class NamespaceCache implements Cache {
  private readonly keys: NamespaceKeys
  private readonly l2: NamespaceL2
  private readonly valuePrefix: string
  private readonly children = new Map<string, NamespaceCache>()
  private readonly listener: MessageListener
  private readonly subscribed: Promise<void>
  private closed = false

  constructor(
    private readonly rt: CacheRuntime,
    readonly name: string,
    private readonly parent: NamespaceCache | null,
  ) {
    this.keys = new NamespaceKeys(rt.valkit.keys, name)
    this.l2 = new NamespaceL2(rt, this.keys)
    this.valuePrefix = this.keys.value
    this.listener = (message) => this.onMessage(message)
    this.subscribed = rt.l2 ? this.subscribe() : Promise.resolve()
  }

  get<T = unknown>(key: string, options?: CacheGetOptions<T>): Promise<T | undefined> {
    if (typeof key !== 'string' || this.closed) return Promise.reject(this.badCall(key))
    const full = this.valuePrefix + key
    const rt = this.rt
    const l1 = rt.l1
    if (l1 !== null) {
      const entry = l1.get(full)
      if (entry !== undefined) {
        if (rt.trusted(entry)) {
          rt.hitL1()
          return Promise.resolve(entry.value as T)
        }
        return this.revalidate<T>(full, entry, this.readPlan(options))
      }
    }
    return this.readL2<T>(full, this.readPlan(options))
  }

  async set(key: string, value: unknown, options?: CacheSetOptions): Promise<void> {
    if (typeof key !== 'string' || this.closed) throw this.badCall(key)
    if (value === undefined) throw invalidArgument('cache.set() cannot store undefined; use delete().')
    const ttlMs = options?.ttl === undefined ? this.rt.options.ttlMs : parseTtl(options.ttl, 'ttl')
    const tags = checkTags(options?.tags, 'tags')
    await this.l2.write(key, value, ttlMs, tags, false)
  }

  getOrSet<T>(
    key: string,
    loader: (context: LoaderContext<T>) => T | Promise<T>,
    options?: GetOrSetOptions<T>,
  ): Promise<T> {
    if (typeof key !== 'string' || this.closed) return Promise.reject(this.badCall(key))
    const rt = this.rt
    const full = this.valuePrefix + key
    let kept: L1Entry | undefined
    const l1 = rt.l1
    if (l1 !== null) {
      const entry = l1.get(full)
      if (entry !== undefined) {
        if (rt.trusted(entry)) {
          rt.hitL1()
          return Promise.resolve(entry.value as T)
        }
        kept = entry
      }
    }
    let plan: LoadPlan
    try {
      if (typeof loader !== 'function') throw invalidArgument('getOrSet() needs a loader function.')
      plan = options === undefined ? rt.plan : resolvePlan(rt.plan, options, rt.options.lease !== false)
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)))
    }
    if (kept !== undefined && kept.epoch === rt.epoch && revalidatable(kept, plan)) {
      // Stale-while-revalidate: the stale value now, one refresh in the background.
      rt.servedStale()
      if (!rt.loads.has(full)) {
        rt.refreshes++
        this.startLoad(full, key, loader as (c: LoaderContext<unknown>) => unknown, plan, kept, true)
      }
      return Promise.resolve(kept.value as T)
    }
    const running = rt.loads.get(full)
    if (running !== undefined && !running.settled) {
      rt.coalesced++
      return this.answer<T>(running, plan)
    }
    if (running !== undefined && running.refreshing && !running.tainted) {
      // A refresh already answered its callers with the stale value, which this caller may not
      // have (no L1, or past its window): wait for what the refresh stores, else load anew.
      rt.coalesced++
      return running.final.then((value) =>
        value === NOTHING_STORED ? this.getOrSet(key, loader, options) : (value as T),
      )
    }
    const state = this.startLoad(
      full,
      key,
      loader as (c: LoaderContext<unknown>) => unknown,
      plan,
      usableStale(kept, plan.keepMs) ? kept : undefined,
      false,
    )
    return this.answer<T>(state, plan)
  }

  async getMany<T = unknown>(
    keys: readonly string[],
    options?: CacheGetOptions<T>,
  ): Promise<(T | undefined)[]> {
    if (this.closed) throw closedError()
    if (!Array.isArray(keys)) throw invalidArgument('getMany() needs an array of keys.')
    const rt = this.rt
    const plan = this.readPlan(options)
    const out = new Array<T | undefined>(keys.length).fill(undefined)
    const missing: number[] = []
    const fulls: string[] = []
    const kept: (L1Entry | undefined)[] = []
    for (let i = 0; i < keys.length; i++) {
      const key: unknown = keys[i]
      if (typeof key !== 'string') throw keyError(key)
      const full = this.valuePrefix + key
      const entry = rt.l1?.get(full)
      if (entry !== undefined && rt.trusted(entry)) {
        rt.hitL1()
        out[i] = entry.value as T
      } else {
        missing.push(i)
        fulls.push(full)
        kept.push(entry)
      }
    }
    if (missing.length === 0) return out
    let list: RedisReply[] | undefined
    if (rt.l2Usable()) {
      const seq = rt.seq
      try {
        // One namespace shares one hash tag: one MGET is one slot, also on a Cluster.
        const replies = await rt.valkit.connection.command(['MGET', ...fulls], rt.readOptions)
        list = Array.isArray(replies) ? replies : []
        for (let j = 0; j < missing.length; j++) {
          const reply = list[j]
          const entry = reply == null ? null : this.l2.accept(fulls[j]!, reply, seq, plan)
          const old = kept[j]
          if (entry === null && old !== undefined) this.l2.dropSuspect(fulls[j]!, old)
          if (entry !== null && rt.trusted(entry)) out[missing[j]!] = entry.value as T
          else rt.missed()
        }
        return out
      } catch (err) {
        rt.l2Failed(err)
      }
    }
    // L2 did not answer: suspect L1 entries are the best answer there is.
    for (let j = 0; j < missing.length; j++) {
      const entry = kept[j]
      if (entry !== undefined && !entry.negative && rt.timeFresh(entry)) {
        rt.hitL1()
        out[missing[j]!] = entry.value as T
      } else rt.missed()
    }
    return out
  }

  async setMany(entries: readonly CacheSetManyEntry[]): Promise<void> {
    if (this.closed) throw closedError()
    if (!Array.isArray(entries)) throw invalidArgument('setMany() needs an array of { key, value } entries.')
    const rt = this.rt
    const prepared = entries.map((entry: unknown, i) => {
      if (typeof entry !== 'object' || entry === null)
        throw invalidArgument(`setMany() entry ${i} must be an object.`)
      const { key, value, ttl, tags } = entry as CacheSetManyEntry
      if (typeof key !== 'string') throw keyError(key)
      if (value === undefined)
        throw invalidArgument(`setMany() entry ${i} ("${key}") has no value; use delete().`)
      const ttlMs = rt.jittered(ttl === undefined ? rt.options.ttlMs : parseTtl(ttl, `setMany() [${i}].ttl`))
      return { key, value, ttlMs, tags: checkTags(tags, `setMany() [${i}].tags`) }
    })
    if (prepared.length > 0) await writeMany(this.l2, prepared)
  }

  async delete(key: string): Promise<void> {
    if (typeof key !== 'string' || this.closed) throw this.badCall(key)
    const rt = this.rt
    const full = this.valuePrefix + key
    rt.invalidated()
    rt.taintKey(full)
    rt.l1?.delete(full)
    if (!rt.l2) return
    if (!rt.l2Usable()) return rt.remember(this.l2, 'keys', key)
    try {
      await Promise.all([
        rt.valkit.connection.command(['UNLINK', full]),
        this.l2.publish({ kind: 'keys', keys: [key] }),
      ])
    } catch (err) {
      rt.l2Failed(err)
      rt.remember(this.l2, 'keys', key)
    }
  }

  async has(key: string): Promise<boolean> {
    if (typeof key !== 'string' || this.closed) throw this.badCall(key)
    const rt = this.rt
    const full = this.valuePrefix + key
    const entry = rt.l1?.peek(full)
    if (entry !== undefined && rt.trusted(entry)) return !entry.negative
    const suspect = entry !== undefined && !entry.negative && rt.timeFresh(entry)
    if (!rt.l2Usable()) return suspect
    try {
      // The frame header says whether the value is negative and until when it is fresh.
      const head = await rt.valkit.connection.command(['GETRANGE', full, 0, TEXT_HEADER_CHARS - 1], BUFFERS)
      if (!Buffer.isBuffer(head) || head.length < 8) return false
      if (head[0] === FRAME_MARKER) return (head[1]! & 1) === 0 && head.readUIntBE(2, 6) > Date.now()
      const text = readTextHead(head.toString('latin1'))
      return text !== undefined && !text.negative && text.expiresAt > Date.now()
    } catch (err) {
      rt.l2Failed(err)
      return suspect
    }
  }

  async invalidateTags(tags: readonly string[]): Promise<void> {
    if (this.closed) throw closedError()
    const list = checkTags(tags, 'invalidateTags() tags')
    if (list === null) return
    const rt = this.rt
    rt.invalidated()
    const tagKeys = this.keys.tagIndexKeys(list)
    rt.taintTags(tagKeys)
    rt.dropTagKeys(tagKeys)
    if (!rt.l2) return
    if (!rt.l2Usable()) {
      for (const tag of list) rt.remember(this.l2, 'tags', tag)
      return
    }
    try {
      await this.l2.deleteTagged(list)
      await this.l2.publish({ kind: 'tags', tags: list })
    } catch (err) {
      rt.l2Failed(err)
      for (const tag of list) rt.remember(this.l2, 'tags', tag)
    }
  }

  async invalidatePattern(pattern: string, options: ClearOptions = {}): Promise<{ deleted: number }> {
    if (this.closed) throw closedError()
    if (typeof pattern !== 'string' || pattern.length === 0) {
      throw invalidArgument('invalidatePattern() needs a non-empty glob pattern, e.g. "user:42:*".')
    }
    const rt = this.rt
    rt.invalidated()
    const dropped = dropPattern(this.rt, this.keys, pattern)
    if (!rt.l2) return { deleted: dropped }
    const { valkit } = rt
    if (!rt.l2Usable() || !valkit.connection.isReady) {
      throw new ValkitError(
        'VALKIT_UNAVAILABLE',
        `cache.invalidatePattern(): matching L1 entries of namespace "${this.name}" were dropped, but Redis/Valkey is not reachable to delete them from L2; call it again once it is.`,
      )
    }
    const masters = await valkit.driver.masters()
    const timeoutMs = Math.max(valkit.config.commandTimeoutMs, 1000)
    const deleted = await clearKeys(
      masters,
      escapeGlob(this.valuePrefix) + pattern,
      timeoutMs,
      options.onProgress,
    )
    await this.l2.publish({ kind: 'pattern', pattern })
    return { deleted }
  }

  async clear(options: ClearOptions = {}): Promise<{ deleted: number }> {
    if (this.closed) throw closedError()
    const rt = this.rt
    rt.invalidated()
    rt.taintWhere((full) => this.keys.inScope(full))
    rt.dropPrefixes(this.keys.clearPrefixes)
    if (!rt.l2) return { deleted: 0 }
    const { valkit } = rt
    if (!valkit.connection.isReady) {
      throw new ValkitError(
        'VALKIT_UNAVAILABLE',
        `cache.clear(): L1 of namespace "${this.name}" was cleared, but Redis/Valkey is not reachable to clear L2.`,
      )
    }
    const masters = await valkit.driver.masters()
    const timeoutMs = Math.max(valkit.config.commandTimeoutMs, 1000)
    const deleted = await clearKeys(masters, this.keys.scanPattern, timeoutMs, options.onProgress)
    await this.l2.publish({ kind: 'clear' })
    return { deleted }
  }

  namespace(name: string): Cache {
    if (this.closed) throw closedError()
    checkNamespace(name, 'namespace')
    let child = this.children.get(name)
    if (child === undefined) {
      child = new NamespaceCache(this.rt, `${this.name}:${name}`, this)
      this.children.set(name, child)
    }
    return child
  }

  ready(): Promise<void> {
    return this.subscribed
  }

  stats(): CacheStats {
    return this.rt.stats()
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    await Promise.all([...this.children.values()].map((child) => child.close()))
    this.parent?.children.delete(this.name.slice(this.name.lastIndexOf(':') + 1))
    this.rt.forget(this.l2)
    if (this.parent === null) this.rt.close()
    if (this.rt.l2)
      await this.rt.valkit.connection.unsubscribe(this.keys.channel, this.listener).catch(() => {})
  }

  // --- internals ------------------------------------------------------------------------

  private badCall(key: unknown): ValkitError {
    return this.closed ? closedError() : keyError(key)
  }

  private readPlan<T>(options: CacheGetOptions<T> | undefined): LoadPlan | undefined {
    if (options?.schema === undefined) return undefined
    checkSchema(options.schema, 'schema')
    return { ...this.rt.plan, schema: options.schema as LoadPlan['schema'] }
  }

  private startLoad(
    full: string,
    key: string,
    loader: (context: LoaderContext<unknown>) => unknown,
    plan: LoadPlan,
    stale: L1Entry | undefined,
    refresh: boolean,
  ): LoadState {
    const rt = this.rt
    const tags = plan.tags
    const state = new LoadState(
      full,
      tags === null ? null : typeof tags === 'function' ? 'derived' : this.keys.tagIndexKeys(tags),
      stale,
    )
    rt.loads.set(full, state)
    // `final` resolves after the load left the map, so whoever waits on it and loads anew starts
    // a load of its own.
    state.final = runLoad(this.l2, state, key, loader, plan, refresh).finally(() => {
      if (rt.loads.get(full) === state) rt.loads.delete(full)
    })
    // A refresh's failure is counted where it happened; nobody awaits it.
    if (refresh) state.promise.catch(() => {})
    return state
  }

  private answer<T>(state: LoadState, plan: LoadPlan): Promise<T> {
    if (plan.softTimeoutMs === 0) return state.promise as Promise<T>
    return softly(state, plan.softTimeoutMs, () => this.rt.servedStale()) as Promise<T>
  }

  private async revalidate<T>(
    full: string,
    kept: L1Entry,
    plan: LoadPlan | undefined,
  ): Promise<T | undefined> {
    const rt = this.rt
    const found = await this.l2.fetch(full, plan)
    if (found === undefined) {
      // L2 did not answer: a suspect entry (fresh by its TTL) is the best answer there is.
      if (kept.epoch !== rt.epoch && rt.timeFresh(kept)) {
        rt.hitL1()
        return kept.value as T
      }
    } else if (found !== null && rt.trusted(found)) return found.value as T
    if (found === null) this.l2.dropSuspect(full, kept)
    rt.missed()
    return undefined
  }

  /** A plain read from L2: one promise on the command's, no async frames (the L2-hit hot path). */
  private readL2<T>(full: string, plan: LoadPlan | undefined): Promise<T | undefined> {
    const rt = this.rt
    if (!rt.l2Usable()) {
      rt.missed()
      return Promise.resolve(undefined)
    }
    const seq = rt.seq
    return rt.reads.get(full).then(
      (reply) => {
        const entry = reply === null ? null : this.l2.accept(full, reply, seq, plan)
        if (entry === null || !rt.trusted(entry)) {
          rt.missed()
          return undefined
        }
        return entry.value as T
      },
      (err: unknown) => {
        rt.l2Failed(err)
        rt.missed()
        return undefined
      },
    )
  }

  private onMessage(message: Buffer): void {
    applyCacheMessage(this.rt, this.keys, message)
  }

  private async subscribe(): Promise<void> {
    await this.subscribeChannel()
    this.l2.live = true
  }

  private async subscribeChannel(): Promise<void> {
    const { valkit } = this.rt
    try {
      await valkit.connection.subscribe(this.keys.channel, this.listener)
    } catch {
      // The driver keeps the channel and subscribes it again when its subscriber connection is back.
      await new Promise<void>((resolve) => {
        const off = valkit.supervisor.onChange((change) => {
          if (change.to !== 'ready') return
          off()
          resolve()
        })
      })
    }
  }
}
