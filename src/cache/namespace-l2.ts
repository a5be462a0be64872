import { ValkitError, estimateSize, type RedisReply } from '../core/index.js'
import { encodeCacheEvent, type CacheEvent } from './cache-event.js'
import type { CacheRuntime, ReplayTarget } from './cache-runtime.js'
import { L1Entry } from './l1-entry.js'
import type { LoadState } from './load-state.js'
import {
  BEGIN_LOAD,
  EXTEND_LEASE,
  INVALIDATE_TAGS,
  RELEASE_LEASE,
  SET_TAGGED,
  STORE_LOADED,
  withKeys,
} from './cache-scripts.js'
import { decodeFrame, encodeFrame, type L2Frame } from './l2-frame.js'
import { TEXT_MARKER_BYTE, decodeTextFrame, encodeTextFrame, type TextFrame } from './text-frame.js'
import { INVALID, planTags, planTtl, validate, type LoadPlan } from './load-plan.js'
import type { BeginReply, Lease, LoadHost } from './load-run.js'
import type { NamespaceKeys } from './namespace-keys.js'

/** Tag-set members handled per invalidation script call. */
const INVALIDATE_BATCH = 1000
/** Keys per UNLINK when replaying deletions. */
const UNLINK_BATCH = 500

/** Decodes a value read back as text (text frames) or bytes (either layout). */
function readFrame(reply: RedisReply): TextFrame | L2Frame | undefined {
  if (typeof reply === 'string') return decodeTextFrame(reply)
  if (!Buffer.isBuffer(reply)) return undefined
  return reply[0] === TEXT_MARKER_BYTE ? decodeTextFrame(reply.toString('utf8')) : decodeFrame(reply)
}

/** An invalidation message before the sender's origin is added. @internal */
export type CacheEventBody = CacheEvent extends infer E
  ? E extends CacheEvent
    ? Omit<E, 'origin'>
    : never
  : never

/**
 * One namespace's side of the tiers: reading, decoding and writing values (L1 + L2), the
 * getOrSet lease and store scripts, tag deletion, invalidation messages and the replay of
 * deletions after an outage. {@link NamespaceCache} is the public API on top of it.
 *
 * @internal
 */
export class NamespaceL2 implements LoadHost, ReplayTarget {
  /** The invalidation channel is subscribed (or there is no L2): L1 may be filled. */
  live: boolean

  constructor(
    readonly rt: CacheRuntime,
    readonly keys: NamespaceKeys,
  ) {
    this.live = !rt.l2
  }

  /**
   * Whether L1 may take an entry now. Not before the channel is subscribed: an entry could miss
   * an invalidation sent meanwhile. While L2 is unusable L1 is all there is (and what it holds
   * then is suspect after recovery).
   */
  mayFill(): boolean {
    return this.live || !this.rt.l2Usable()
  }

  /** Reads a key from L2 (filling L1): the entry, `null` for a miss, `undefined` when L2 did not answer. */
  async fetch(full: string, plan: LoadPlan | undefined): Promise<L1Entry | null | undefined> {
    const rt = this.rt
    if (!rt.l2Usable()) return undefined
    const seq = rt.seq
    let reply: RedisReply
    try {
      reply = await rt.reads.get(full)
    } catch (err) {
      rt.l2Failed(err)
      return undefined
    }
    return reply === null ? null : this.accept(full, reply, seq, plan)
  }

  async beginLoad(full: string, leaseTtlMs: number): Promise<BeginReply> {
    const key = full.slice(this.keys.value.length)
    const reply = await this.rt.valkit.connection.script(
      BEGIN_LOAD,
      [full, this.keys.lease + key, this.keys.fence],
      [leaseTtlMs],
      this.rt.readOptions,
    )
    const list = reply as RedisReply[]
    const kind = Number(list[0])
    if (kind === 1) return { kind: 'value', frame: list[1] as Buffer | string }
    if (kind === 2) return { kind: 'granted', now: Number(list[1]), token: String(Number(list[2])) }
    return { kind: 'held', now: Number(list[1]), leftMs: Number(list[2]) }
  }

  acceptFrame(full: string, frame: Buffer | string, plan: LoadPlan, seq: number): L1Entry | null {
    return this.accept(full, frame, seq, plan)
  }

  async storeLoaded(
    key: string,
    state: LoadState,
    value: unknown,
    plan: LoadPlan,
    lease: Lease,
  ): Promise<boolean> {
    const rt = this.rt
    const full = state.full
    const release = (): false => {
      if (lease.token !== '0') void this.releaseLease(full, lease.token)
      return false
    }
    let ttlMs: number
    let tags: string[] | null
    let keepMs = plan.keepMs
    if (value === undefined) {
      if (rt.options.negativeTtlMs === 0) return release()
      ttlMs = rt.options.negativeTtlMs
      tags = null
      keepMs = 0
    } else {
      try {
        ttlMs = planTtl(plan, value)
        tags = planTags(plan, value)
      } catch (err) {
        release()
        throw err
      }
    }
    if (state.tainted) {
      rt.discarded++
      return release()
    }
    ttlMs = rt.jittered(ttlMs)
    const framed = this.encode(key, value, ttlMs, tags, keepMs, true)
    if (framed === null) return release()
    const entry = this.entry(value, value === undefined, tags, ttlMs, keepMs)
    if (framed.bytes === null || !rt.l2Usable()) {
      if (framed.bytes !== null) rt.remember(this, 'keys', key)
      return this.putLoaded(state, entry, ttlMs + keepMs, framed.size)
    }
    const tagList = tags ?? []
    if (tagList.length > 0 && lease.began === 0) {
      // The load's start time is unknown (begin-load failed): the tag guard cannot run, so the
      // value stays out of L2 (L1 keeps it, guarded by this process's own invalidations).
      release()
      return this.putLoaded(state, entry, ttlMs + keepMs, framed.size)
    }
    const keys = [
      full,
      this.keys.lease + key,
      ...tagList.map((t) => this.keys.tag + t),
      ...tagList.map((t) => this.keys.tagEpoch + t),
    ]
    const origin = rt.origin
    // L2's TTL starts when the script runs; L1's is cut by the time the call took (see below).
    const sentAt = Date.now()
    let stored: number
    try {
      stored = Number(
        await rt.valkit.connection.script(withKeys(STORE_LOADED, keys.length), keys, [
          framed.bytes,
          ttlMs + keepMs,
          lease.token,
          tagList.length === 0 ? 0 : lease.began,
          tagList.length,
          this.keys.channel,
          encodeCacheEvent({ kind: 'keys', keys: [key], origin }),
          encodeCacheEvent({ kind: 'released', keys: [key], origin }),
          rt.tagEpochKeepMs,
        ]),
      )
    } catch (err) {
      rt.l2Failed(err)
      release()
      rt.remember(this, 'keys', key)
      return this.putLoaded(state, entry, ttlMs + keepMs, framed.size)
    }
    if (stored === 1) return this.putLoaded(state, entry, ttlMs + keepMs - (Date.now() - sentAt), framed.size)
    rt.discarded++
    return false
  }

  async extendLease(full: string, token: string, ttlMs: number): Promise<boolean> {
    const key = full.slice(this.keys.value.length)
    const reply = await this.rt.valkit.connection.script(
      EXTEND_LEASE,
      [this.keys.lease + key],
      [token, ttlMs],
    )
    return Number(reply) === 1
  }

  dropSuspect(full: string, entry: L1Entry): void {
    const l1 = this.rt.l1
    if (entry.epoch !== this.rt.epoch && l1?.peek(full) === entry) l1.delete(full)
  }

  async releaseLease(full: string, token: string): Promise<void> {
    const key = full.slice(this.keys.value.length)
    try {
      await this.rt.valkit.connection.script(
        RELEASE_LEASE,
        [this.keys.lease + key],
        [
          token,
          this.keys.channel,
          encodeCacheEvent({ kind: 'released', keys: [key], origin: this.rt.origin }),
        ],
      )
    } catch (err) {
      // The lease expires by itself; waiters then try again.
      this.rt.l2Failed(err)
    }
  }

  putLoaded(state: LoadState, entry: L1Entry, ttlMs: number, size: number): boolean {
    if (state.tainted) {
      this.rt.discarded++
      return false
    }
    const rt = this.rt
    rt.seq++
    rt.sets++
    if (ttlMs > 0 && this.mayFill()) rt.l1Put(state.full, entry, ttlMs, size)
    return true
  }

  entry(value: unknown, negative: boolean, tags: string[] | null, ttlMs: number, keepMs: number): L1Entry {
    return new L1Entry(
      value,
      negative,
      tags === null ? null : this.keys.tagIndexKeys(tags),
      keepMs > 0 && !negative ? Date.now() + ttlMs : 0,
      this.rt.epoch,
    )
  }

  /**
   * Decodes an L2 reply; fills L1 unless a write or invalidation happened since `seq`. `null`
   * for a corrupted, expired or invalid (schema) value. A value past its TTL but inside its
   * stale window comes back with `freshUntil` in the past.
   */
  accept(full: string, reply: RedisReply, seq: number, plan: LoadPlan | undefined): L1Entry | null {
    const rt = this.rt
    const frame = readFrame(reply)
    if (frame === undefined) {
      rt.corrupted()
      return null
    }
    const now = Date.now()
    const keepUntil = frame.expiresAt + frame.staleMs
    if (keepUntil <= now) return null
    let value: unknown
    if (!frame.negative) {
      try {
        const body = frame.body
        value =
          typeof body !== 'string'
            ? rt.codec.decode(body)
            : (frame as TextFrame).base64
              ? rt.codec.decode(Buffer.from(body, 'base64'))
              : JSON.parse(body)
      } catch {
        rt.corrupted()
        return null
      }
      const schema = plan?.schema
      if (schema !== undefined) {
        value = validate(schema, value)
        if (value === INVALID) {
          rt.invalid++
          return null
        }
      }
    }
    const entry = new L1Entry(
      value,
      frame.negative,
      frame.tags === null ? null : this.keys.tagIndexKeys(frame.tags),
      frame.staleMs > 0 ? frame.expiresAt : 0,
      rt.epoch,
    )
    // The clock again: decoding and validation take time, and L1 keeps the value no longer than L2 does.
    const left = keepUntil - Date.now()
    if (rt.seq === seq && this.live && left > 0)
      rt.l1Put(full, entry, left, (reply as Buffer | string).length)
    if (frame.staleMs === 0 || frame.expiresAt > now) rt.hitL2()
    return entry
  }

  /**
   * A text frame for a value: its JSON text, or the codec's envelope in base64 when the codec
   * would compress it (above the threshold) or the value is raw bytes.
   */
  private textBody(value: unknown, expiresAt: number, tags: string[] | null, keepMs: number): string {
    const codec = this.rt.options.codec
    if (!(value instanceof Uint8Array)) {
      let json: string | undefined
      try {
        json = JSON.stringify(value)
      } catch {
        json = undefined
      }
      const small =
        codec.compression === 'none' ||
        (json !== undefined &&
          (json.length * 3 < codec.compressThresholdBytes ||
            Buffer.byteLength(json) < codec.compressThresholdBytes))
      // A value JSON cannot represent goes through the codec, which throws the typed error.
      if (json !== undefined && small) return encodeTextFrame(json, false, expiresAt, tags, keepMs)
    }
    return encodeTextFrame(this.rt.codec.encode(value).toString('base64'), true, expiresAt, tags, keepMs)
  }

  /**
   * The L2 bytes of a value (`bytes` null without L2) and its size. `lenient` (getOrSet): a
   * value above `maxEntryBytes` is counted and `null` returned instead of thrown.
   */
  encode(
    key: string,
    value: unknown,
    ttlMs: number,
    tags: string[] | null,
    keepMs: number,
    lenient: boolean,
  ): { bytes: Buffer | string | null; size: number } | null {
    const rt = this.rt
    const negative = value === undefined
    let bytes: Buffer | string | null = null
    let size: number
    const expiresAt = Date.now() + ttlMs
    if (!rt.l2) size = negative ? 8 : estimateSize(value)
    else if (!rt.textFrames) {
      bytes = encodeFrame(negative ? null : rt.codec.encode(value), expiresAt, tags, keepMs)
      size = bytes.length
    } else {
      bytes = negative
        ? encodeTextFrame(null, false, expiresAt, tags)
        : this.textBody(value, expiresAt, tags, keepMs)
      size = Buffer.byteLength(bytes)
    }
    const max = rt.options.maxEntryBytes
    if (size <= max) return { bytes, size }
    if (!lenient) {
      throw new ValkitError(
        'VALKIT_VALUE_TOO_LARGE',
        `The value of cache key "${key.slice(0, 100)}" takes ${size} bytes, more than maxEntryBytes (${max}).`,
        { details: { namespace: this.keys.name, sizeBytes: size, maxEntryBytes: max } },
      )
    }
    rt.oversize++
    rt.valkit.logger.warn('cache: loaded value larger than maxEntryBytes served without caching', {
      namespace: this.keys.name,
      sizeBytes: size,
      maxEntryBytes: max,
    })
    return null
  }

  /** Writes a value given to `set` to L1 and L2 (one round trip, tags included). */
  async write(
    key: string,
    value: unknown,
    ttlMs: number,
    tags: string[] | null,
    lenient: boolean,
  ): Promise<void> {
    const rt = this.rt
    const full = this.keys.value + key
    const ttl = rt.jittered(ttlMs)
    const keepMs = rt.plan.keepMs
    const framed = this.encode(key, value, ttl, tags, keepMs, lenient)
    if (framed === null) return
    rt.seq++
    rt.sets++
    rt.taintKey(full)
    if (this.mayFill()) rt.l1Put(full, this.entry(value, false, tags, ttl, keepMs), ttl + keepMs, framed.size)
    else rt.l1?.delete(full)
    if (framed.bytes === null) return
    if (!rt.l2Usable()) return rt.remember(this, 'keys', key)
    const connection = rt.valkit.connection
    try {
      if (tags === null) {
        // Same connection, same node: the message is delivered after the write is applied.
        await Promise.all([
          connection.command(['SET', full, framed.bytes, 'PX', ttl + keepMs]),
          this.publish({ kind: 'keys', keys: [key] }),
        ])
      } else {
        // A script may be re-sent as EVAL after NOSCRIPT: publish only once it has run.
        await connection.script(
          withKeys(SET_TAGGED, 1 + tags.length),
          [full, ...tags.map((t) => this.keys.tag + t)],
          [framed.bytes, ttl + keepMs],
        )
        await this.publish({ kind: 'keys', keys: [key] })
      }
    } catch (err) {
      rt.l2Failed(err)
      rt.remember(this, 'keys', key)
    }
  }

  async deleteTagged(tags: readonly string[]): Promise<void> {
    const script = withKeys(INVALIDATE_TAGS, tags.length * 2)
    const keys = [...tags.map((t) => this.keys.tag + t), ...tags.map((t) => this.keys.tagEpoch + t)]
    for (;;) {
      const reply = await this.rt.valkit.connection.script(script, keys, [
        INVALIDATE_BATCH,
        this.rt.tagEpochKeepMs,
      ])
      const left = Array.isArray(reply) ? Number(reply[1]) : 0
      if (!(left > 0)) return
    }
  }

  publish(event: CacheEventBody): Promise<RedisReply> {
    const message = encodeCacheEvent({ ...event, origin: this.rt.origin })
    // Routed by the channel, which carries the namespace's hash tag: the node of its keys.
    return this.rt.valkit.connection.command(['PUBLISH', this.keys.channel, message], {
      key: this.keys.channel,
    })
  }

  /** Sends L2 deletions remembered during an outage (called by the runtime on recovery). */
  async replay(keys: readonly string[], tags: readonly string[]): Promise<void> {
    const connection = this.rt.valkit.connection
    for (let i = 0; i < keys.length; i += UNLINK_BATCH) {
      const batch = keys.slice(i, i + UNLINK_BATCH)
      await connection.command(['UNLINK', ...batch.map((k) => this.keys.value + k)])
      await this.publish({ kind: 'keys', keys: batch })
    }
    if (tags.length > 0) {
      await this.deleteTagged(tags)
      await this.publish({ kind: 'tags', tags })
    }
  }
}
