import {
  ValkitError,
  escapeGlob,
  estimateSize,
  type MessageListener,
  type RedisReply,
} from '../core/index.js'
import { checkTags, closedError, invalidArgument, keyError } from './cache-arguments.js'
import { checkNamespace, parseTtl } from './cache-options.js'
import { decodeCacheEvent, encodeCacheEvent, type CacheEvent } from './cache-event.js'
import { L1Entry, type CacheRuntime, type ReplayTarget } from './cache-runtime.js'
import { INVALIDATE_TAGS, SET_TAGGED, withKeys } from './cache-scripts.js'
import type { Cache, CacheSetOptions, CacheStats, ClearOptions } from './cache-types.js'
import { clearKeys } from './clear-keys.js'
import { FRAME_HEADER_BYTES, decodeFrame, encodeFrame } from './l2-frame.js'

const BUFFERS = Object.freeze({ buffers: true })
/** Tag-set members handled per invalidation script call. */
const INVALIDATE_BATCH = 1000
/** Keys per UNLINK when replaying deletions. */
const UNLINK_BATCH = 500

type Event = CacheEvent extends infer E ? (E extends CacheEvent ? Omit<E, 'origin'> : never) : never

/**
 * A {@link Cache} bound to one namespace. Every namespace of a `createCache` shares one
 * {@link CacheRuntime}; each has its own keys, tag sets and invalidation channel.
 *
 * @internal
 */
export class NamespaceCache implements Cache, ReplayTarget {
  private readonly valuePrefix: string
  private readonly tagPrefix: string
  private readonly channel: string
  /** L1 key prefixes of this namespace and its sub-namespaces (for `clear`). */
  private readonly clearPrefixes: readonly string[]
  private readonly scanPattern: string
  private readonly children = new Map<string, NamespaceCache>()
  private readonly listener: MessageListener
  private readonly subscribed: Promise<void>
  private closed = false

  constructor(
    private readonly rt: CacheRuntime,
    readonly name: string,
    private readonly parent: NamespaceCache | null,
  ) {
    const keys = rt.valkit.keys
    this.valuePrefix = `${keys.key('cache', name, 'v')}:`
    this.tagPrefix = `${keys.key('cache', name, 't')}:`
    this.channel = keys.key('cache', name, 'events')
    const base = keys.key('cache', name).slice(0, -1) // '...:cache:{name'
    this.clearPrefixes = [`${base}}`, `${base}:`]
    this.scanPattern = `${escapeGlob(base)}[}:]*`
    this.listener = (message) => this.onMessage(message)
    this.subscribed = rt.l2 ? this.subscribe() : Promise.resolve()
  }

  get<T = unknown>(key: string): Promise<T | undefined> {
    if (typeof key !== 'string' || this.closed) return Promise.reject(this.badCall(key))
    const full = this.valuePrefix + key
    const l1 = this.rt.l1
    if (l1 !== null) {
      const entry = l1.get(full)
      if (entry !== undefined) {
        this.rt.hitL1()
        return Promise.resolve(entry.value as T)
      }
    }
    return this.readL2<T>(full)
  }

  async set(key: string, value: unknown, options?: CacheSetOptions): Promise<void> {
    if (typeof key !== 'string' || this.closed) throw this.badCall(key)
    if (value === undefined) throw invalidArgument('cache.set() cannot store undefined; use delete().')
    const ttlMs = options?.ttl === undefined ? this.rt.options.ttlMs : parseTtl(options.ttl, 'ttl')
    const tags = checkTags(options?.tags, 'tags')
    await this.write(key, value, ttlMs, tags, false)
  }

  getOrSet<T>(key: string, loader: () => T | Promise<T>, options?: CacheSetOptions): Promise<T> {
    if (typeof key !== 'string' || this.closed) return Promise.reject(this.badCall(key))
    const rt = this.rt
    const full = this.valuePrefix + key
    const l1 = rt.l1
    if (l1 !== null) {
      const entry = l1.get(full)
      if (entry !== undefined) {
        rt.hitL1()
        return Promise.resolve(entry.value as T)
      }
    }
    const flight = rt.flights.get(full)
    if (flight !== undefined) {
      rt.coalesced++
      return flight as Promise<T>
    }
    let ttlMs: number
    let tags: string[] | null
    try {
      if (typeof loader !== 'function') throw invalidArgument('getOrSet() needs a loader function.')
      ttlMs = options?.ttl === undefined ? rt.options.ttlMs : parseTtl(options.ttl, 'ttl')
      tags = checkTags(options?.tags, 'tags')
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)))
    }
    const run = this.load(full, key, loader, ttlMs, tags)
    rt.flights.set(full, run)
    const done = (): void => {
      if (rt.flights.get(full) === run) rt.flights.delete(full)
    }
    run.then(done, done)
    return run
  }

  async getMany<T = unknown>(keys: readonly string[]): Promise<(T | undefined)[]> {
    if (this.closed) throw closedError()
    if (!Array.isArray(keys)) throw invalidArgument('getMany() needs an array of keys.')
    const rt = this.rt
    const out = new Array<T | undefined>(keys.length).fill(undefined)
    const missing: number[] = []
    const fulls: string[] = []
    for (let i = 0; i < keys.length; i++) {
      const key: unknown = keys[i]
      if (typeof key !== 'string') throw keyError(key)
      const full = this.valuePrefix + key
      const entry = rt.l1?.get(full)
      if (entry !== undefined) {
        rt.hitL1()
        out[i] = entry.value as T
      } else {
        missing.push(i)
        fulls.push(full)
      }
    }
    if (missing.length === 0) return out
    if (!rt.l2Usable()) {
      rt.missed(missing.length)
      return out
    }
    const seq = rt.seq
    let replies: RedisReply
    try {
      // One namespace shares one hash tag: one MGET is one slot, also on a Cluster.
      replies = await rt.valkit.connection.command(['MGET', ...fulls], BUFFERS)
    } catch (err) {
      rt.l2Failed(err)
      rt.missed(missing.length)
      return out
    }
    const list = Array.isArray(replies) ? replies : []
    for (let j = 0; j < missing.length; j++) {
      const reply = list[j]
      const entry = reply === null || reply === undefined ? undefined : this.accept(fulls[j]!, reply, seq)
      if (entry === undefined) rt.missed()
      else out[missing[j]!] = entry.value as T
    }
    return out
  }

  async delete(key: string): Promise<void> {
    if (typeof key !== 'string' || this.closed) throw this.badCall(key)
    const rt = this.rt
    const full = this.valuePrefix + key
    rt.invalidated()
    rt.l1?.delete(full)
    if (!rt.l2) return
    if (!rt.l2Usable()) return rt.remember(this, 'keys', key)
    try {
      await Promise.all([
        rt.valkit.connection.command(['UNLINK', full]),
        this.publish({ kind: 'keys', keys: [key] }),
      ])
    } catch (err) {
      rt.l2Failed(err)
      rt.remember(this, 'keys', key)
    }
  }

  async has(key: string): Promise<boolean> {
    if (typeof key !== 'string' || this.closed) throw this.badCall(key)
    const rt = this.rt
    const full = this.valuePrefix + key
    const entry = rt.l1?.peek(full)
    if (entry !== undefined) return !entry.negative
    if (!rt.l2Usable()) return false
    try {
      // A negative entry is exactly the frame header; a value is longer.
      return Number(await rt.valkit.connection.command(['STRLEN', full])) > FRAME_HEADER_BYTES
    } catch (err) {
      rt.l2Failed(err)
      return false
    }
  }

  async invalidateTags(tags: readonly string[]): Promise<void> {
    if (this.closed) throw closedError()
    const list = checkTags(tags, 'invalidateTags() tags')
    if (list === null) return
    const rt = this.rt
    rt.invalidated()
    rt.dropTagKeys(this.tagIndexKeys(list))
    if (!rt.l2) return
    if (!rt.l2Usable()) {
      for (const tag of list) rt.remember(this, 'tags', tag)
      return
    }
    try {
      await this.deleteTagged(list)
      await this.publish({ kind: 'tags', tags: list })
    } catch (err) {
      rt.l2Failed(err)
      for (const tag of list) rt.remember(this, 'tags', tag)
    }
  }

  async clear(options: ClearOptions = {}): Promise<{ deleted: number }> {
    if (this.closed) throw closedError()
    const rt = this.rt
    rt.invalidated()
    rt.dropPrefixes(this.clearPrefixes)
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
    const deleted = await clearKeys(masters, this.scanPattern, timeoutMs, options.onProgress)
    await this.publish({ kind: 'clear' })
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
    this.rt.forget(this)
    if (this.parent === null) this.rt.close()
    if (this.rt.l2) await this.rt.valkit.connection.unsubscribe(this.channel, this.listener).catch(() => {})
  }

  /** Sends L2 deletions remembered during an outage (called by the runtime on recovery). */
  async replay(keys: readonly string[], tags: readonly string[]): Promise<void> {
    const connection = this.rt.valkit.connection
    for (let i = 0; i < keys.length; i += UNLINK_BATCH) {
      const batch = keys.slice(i, i + UNLINK_BATCH)
      await connection.command(['UNLINK', ...batch.map((k) => this.valuePrefix + k)])
      await this.publish({ kind: 'keys', keys: batch })
    }
    if (tags.length > 0) {
      await this.deleteTagged(tags)
      await this.publish({ kind: 'tags', tags })
    }
  }

  private badCall(key: unknown): ValkitError {
    return this.closed ? closedError() : keyError(key)
  }

  private async readL2<T>(full: string): Promise<T | undefined> {
    const entry = await this.fetch(full)
    if (entry === undefined) {
      this.rt.missed()
      return undefined
    }
    return entry.value as T
  }

  /** Reads a key from L2 (filling L1); `undefined` on a miss, a corrupt value or an L2 failure. */
  private async fetch(full: string): Promise<L1Entry | undefined> {
    const rt = this.rt
    if (!rt.l2Usable()) return undefined
    const seq = rt.seq
    let reply: RedisReply
    try {
      reply = await rt.valkit.connection.command(['GET', full], BUFFERS)
    } catch (err) {
      rt.l2Failed(err)
      return undefined
    }
    return reply === null ? undefined : this.accept(full, reply, seq)
  }

  /** Decodes an L2 reply; fills L1 unless a write or invalidation happened since `seq`. */
  private accept(full: string, reply: RedisReply, seq: number): L1Entry | undefined {
    const rt = this.rt
    const frame = Buffer.isBuffer(reply) ? decodeFrame(reply) : undefined
    if (frame === undefined) {
      rt.corrupted()
      return undefined
    }
    const ttlMs = frame.expiresAt - Date.now()
    if (ttlMs <= 0) return undefined
    let value: unknown
    if (!frame.negative) {
      try {
        value = rt.codec.decode(frame.body)
      } catch {
        rt.corrupted()
        return undefined
      }
    }
    const entry = new L1Entry(
      value,
      frame.negative,
      frame.tags === null ? null : this.tagIndexKeys(frame.tags),
    )
    if (rt.seq === seq) rt.l1Put(full, entry, ttlMs, (reply as Buffer).length)
    rt.hitL2()
    return entry
  }

  private async load<T>(
    full: string,
    key: string,
    loader: () => T | Promise<T>,
    ttlMs: number,
    tags: string[] | null,
  ): Promise<T> {
    const rt = this.rt
    const found = await this.fetch(full)
    if (found !== undefined) return found.value as T
    rt.missed()
    rt.loaderRan()
    const value = await loader()
    if (value !== undefined) await this.write(key, value, ttlMs, tags, true)
    else if (rt.options.negativeTtlMs > 0)
      await this.write(key, undefined, rt.options.negativeTtlMs, null, true)
    return value
  }

  /**
   * Writes a value (or a negative entry when `value` is undefined) to L1 and L2. `lenient`
   * (getOrSet): a value above `maxEntryBytes` is counted and not cached instead of thrown.
   */
  private async write(
    key: string,
    value: unknown,
    ttlMs: number,
    tags: string[] | null,
    lenient: boolean,
  ): Promise<void> {
    const rt = this.rt
    const full = this.valuePrefix + key
    const ttl = rt.jittered(ttlMs)
    const negative = value === undefined
    let framed: Buffer | null = null
    let size: number
    if (rt.l2) {
      framed = encodeFrame(negative ? null : rt.codec.encode(value), Date.now() + ttl, tags)
      size = framed.length
    } else size = negative ? 8 : estimateSize(value)
    const max = rt.options.maxEntryBytes
    if (size > max) {
      if (!lenient) {
        throw new ValkitError(
          'VALKIT_VALUE_TOO_LARGE',
          `The value of cache key "${key.slice(0, 100)}" takes ${size} bytes, more than maxEntryBytes (${max}).`,
          { details: { namespace: this.name, sizeBytes: size, maxEntryBytes: max } },
        )
      }
      rt.oversize++
      rt.valkit.logger.warn('cache: loaded value larger than maxEntryBytes served without caching', {
        namespace: this.name,
        sizeBytes: size,
        maxEntryBytes: max,
      })
      return
    }
    rt.seq++
    rt.sets++
    rt.l1Put(full, new L1Entry(value, negative, tags === null ? null : this.tagIndexKeys(tags)), ttl, size)
    if (framed === null) return
    if (!rt.l2Usable()) return rt.remember(this, 'keys', key)
    const connection = rt.valkit.connection
    try {
      if (tags === null) {
        // Same connection, same node: the message is delivered after the write is applied.
        await Promise.all([
          connection.command(['SET', full, framed, 'PX', ttl]),
          this.publish({ kind: 'keys', keys: [key] }),
        ])
      } else {
        // A script may be re-sent as EVAL after NOSCRIPT: publish only once it has run.
        await connection.script(
          withKeys(SET_TAGGED, 1 + tags.length),
          [full, ...tags.map((t) => this.tagPrefix + t)],
          [framed, ttl],
        )
        await this.publish({ kind: 'keys', keys: [key] })
      }
    } catch (err) {
      rt.l2Failed(err)
      rt.remember(this, 'keys', key)
    }
  }

  private async deleteTagged(tags: readonly string[]): Promise<void> {
    const script = withKeys(INVALIDATE_TAGS, tags.length)
    const setKeys = tags.map((t) => this.tagPrefix + t)
    for (;;) {
      const reply = await this.rt.valkit.connection.script(script, setKeys, [INVALIDATE_BATCH])
      const left = Array.isArray(reply) ? Number(reply[1]) : 0
      if (!(left > 0)) return
    }
  }

  private tagIndexKeys(tags: readonly string[]): string[] {
    return tags.map((t) => `${this.name}\u0000${t}`)
  }

  private publish(event: Event): Promise<RedisReply> {
    const message = encodeCacheEvent({ ...event, origin: this.rt.origin })
    // Routed by the channel, which carries the namespace's hash tag: the node of its keys.
    return this.rt.valkit.connection.command(['PUBLISH', this.channel, message], { key: this.channel })
  }

  private onMessage(message: Buffer): void {
    const rt = this.rt
    const event = decodeCacheEvent(message)
    if (event === undefined || event.origin === rt.origin || rt.closed) return
    rt.seq++
    let dropped = 0
    if (event.kind === 'keys') {
      for (const key of event.keys) if (rt.l1?.delete(this.valuePrefix + key)) dropped++
    } else if (event.kind === 'tags') dropped = rt.dropTagKeys(this.tagIndexKeys(event.tags))
    else dropped = rt.dropPrefixes(this.clearPrefixes)
    rt.remoteInvalidations += dropped
  }

  private async subscribe(): Promise<void> {
    const { valkit } = this.rt
    try {
      await valkit.connection.subscribe(this.channel, this.listener)
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
