import {
  TRIM_LIMIT,
  type CreateReply,
  type CreateSpec,
  type GoneStatus,
  type FetchedRecord,
  type RawRecord,
  type RemoveUserSpec,
  type RetireReply,
  type SessionBackend,
  type TouchOptions,
  type TouchReply,
  type UpdateReply,
  type UpdateSpec,
  type UserListing,
} from './session-backend.js'
import type { RecordRef, UserRef } from './session-keys.js'

interface Entry<T> {
  value: T
  /** Unix ms; `Infinity` for none. */
  expiresAt: number
}

type Fields = Map<string, Buffer>
type SortedSet = Map<string, number>

const SWEEP_INTERVAL_MS = 1000
/** A record outlives its deadline this long (as in the scripts), so a late read reports it expired. */
const LINGER_MS = 60_000
const SWEEP_BATCH = 1000

/**
 * The session store's backend inside one process: the same rules as the Redis scripts (one
 * synchronous step per operation, so each is atomic), on this process's clock. Used when valkit
 * runs without Redis (`topology.kind === 'memory'`); sessions are then only shared by the stores
 * of this process.
 *
 * @internal
 */
export class MemorySessionBackend implements SessionBackend {
  readonly kind = 'memory'
  private readonly hashes = new Map<string, Entry<Fields>>()
  private readonly sets = new Map<string, Entry<SortedSet>>()
  private readonly timer: NodeJS.Timeout
  private records = 0
  private sweepHashes: Iterator<[string, Entry<Fields>]> | undefined
  private sweepSets: Iterator<[string, Entry<SortedSet>]> | undefined

  constructor(private readonly now: () => number = Date.now) {
    this.timer = setInterval(() => this.sweep(), SWEEP_INTERVAL_MS)
    this.timer.unref()
  }

  private hash(key: string, now: number): Fields | undefined {
    const entry = this.hashes.get(key)
    if (entry === undefined) return undefined
    if (entry.expiresAt <= now) {
      this.deleteHash(key)
      return undefined
    }
    return entry.value
  }

  private deleteHash(key: string): boolean {
    const existed = this.hashes.delete(key)
    if (existed && key.includes(':s:')) this.records--
    return existed
  }

  private setHash(key: string, value: Fields, expiresAt: number): void {
    if (!this.hashes.has(key) && key.includes(':s:')) this.records++
    this.hashes.set(key, { value, expiresAt })
  }

  private zset(key: string, now: number, create = false): SortedSet | undefined {
    const entry = this.sets.get(key)
    if (entry !== undefined && entry.expiresAt > now) return entry.value
    if (entry !== undefined) this.sets.delete(key)
    if (!create) return undefined
    const value: SortedSet = new Map()
    this.sets.set(key, { value, expiresAt: Infinity })
    return value
  }

  /** Removes up to {@link TRIM_LIMIT} members whose score is <= now. */
  private trim(set: SortedSet | undefined, now: number): void {
    if (set === undefined) return
    let removed = 0
    for (const [member, score] of set) {
      if (score > now) continue
      set.delete(member)
      if (++removed >= TRIM_LIMIT) break
    }
  }

  /** Like `if PTTL < ttl then PEXPIRE`: an index lives at least `ttlMs` more. */
  private extendSet(key: string, ttlMs: number, now: number): void {
    const entry = this.sets.get(key)
    if (entry !== undefined && (entry.expiresAt === Infinity || entry.expiresAt - now < ttlMs)) {
      entry.expiresAt = now + ttlMs
    }
  }

  /** The live meta of a record, or why it cannot be used (deleting what the scripts delete). */
  private check(
    ref: RecordRef,
    now: number,
    allowAlias: boolean,
  ):
    | {
        fields: Fields
        v: number
        a: number
        i: number
        s: number
        r: number
        o: number
        n: number
        c: number
      }
    | GoneStatus {
    const fields = this.hash(ref.record, now)
    if (fields === undefined) return 'none'
    const num = (name: string): number | undefined => {
      const bytes = fields.get(name)
      if (bytes === undefined) return undefined
      const value = Number(bytes.toString('latin1'))
      return Number.isFinite(value) ? value : undefined
    }
    const [v, a, i, s, r, o, n, c] = ['v', 'a', 'i', 's', 'r', 'o', 'n', 'c'].map(num)
    if (
      fields.get('d') === undefined ||
      c === undefined ||
      v === undefined ||
      a === undefined ||
      i === undefined ||
      s === undefined ||
      r === undefined ||
      o === undefined ||
      n === undefined
    ) {
      return 'malformed'
    }
    const drop = (status: GoneStatus): GoneStatus => {
      this.deleteHash(ref.record)
      if (o === 1) this.zset(ref.index, now)?.delete(ref.handle)
      return status
    }
    if (r > 0) {
      if (!allowAlias) return 'rotated'
      if (now >= r) return drop('rotated')
    }
    if (now >= a || now >= s + i) return drop('expired')
    if (o === 1) {
      const index = this.zset(ref.index, now)
      this.trim(index, now)
      if (index?.has(ref.handle) !== true) {
        this.deleteHash(ref.record)
        return 'revoked'
      }
    }
    return { fields, v, a, i, s, r, o, n, c }
  }

  /** The record's plain fields and data, as the scripts return them. */
  private raw(fields: Fields): RawRecord {
    const num = (name: string): number => Number(fields.get(name)!.toString('latin1'))
    return {
      version: num('v'),
      createdAt: num('c'),
      absoluteDeadline: num('a'),
      lastSeenAt: num('s'),
      rotatedUntil: num('r'),
      owned: num('o') === 1,
      data: fields.get('d')!,
    }
  }

  async touch(ref: RecordRef, options: TouchOptions, _knownVersion: string): Promise<TouchReply> {
    const now = this.now()
    const state = this.check(ref, now, true)
    if (typeof state === 'string') return state
    const { fields, a, i, s, r, o, n } = state
    if (r > 0) return { kind: 'alias', now, expiresAt: r, renewDue: false, record: this.raw(fields) }
    let expiresAt = Math.min(s + i, a)
    let renewDue = false
    if (options.touch) {
      if (now - s >= Number(options.touchIntervalMs)) {
        expiresAt = Math.min(now + i, a)
        fields.set('s', Buffer.from(String(now)))
        this.hashes.get(ref.record)!.expiresAt = expiresAt + LINGER_MS
        if (o === 1) this.zset(ref.index, now, true)!.set(ref.handle, expiresAt)
      }
      const renewAfterMs = Number(options.renewAfterMs)
      renewDue = renewAfterMs > 0 && now - n >= renewAfterMs
    }
    return { kind: 'live', now, expiresAt, renewDue, record: this.raw(fields) }
  }

  async create(ref: RecordRef, spec: CreateSpec): Promise<CreateReply> {
    const now = this.now()
    if (this.hash(ref.record, now) !== undefined) return 'exists'
    const a = spec.absoluteDeadline === 0 ? now + spec.absoluteMs : spec.absoluteDeadline
    if (a <= now) return 'expired'
    const c = spec.createdAt === 0 ? now : spec.createdAt
    let index: SortedSet | undefined
    if (spec.owned) {
      index = this.zset(ref.index, now)
      this.trim(index, now)
      if (spec.previous !== null && index?.has(spec.previous) !== true) return 'revoked'
    }
    const expiresAt = Math.min(now + spec.idleMs, a)
    const fields: Fields = new Map()
    const put = (name: string, value: number | string): void =>
      void fields.set(name, Buffer.from(String(value)))
    put('v', 1)
    put('c', c)
    put('n', now)
    put('a', a)
    put('i', spec.idleMs)
    put('s', now)
    put('r', 0)
    put('o', spec.owned ? 1 : 0)
    if (spec.previous !== null) put('p', spec.previous)
    fields.set('d', spec.data)
    this.setHash(ref.record, fields, expiresAt + LINGER_MS)
    let evicted = 0
    if (spec.owned) {
      index = this.zset(ref.index, now, true)!
      let over = index.size - spec.maxPerUser + 1
      if (over > 0) {
        const soonest = [...index].sort((x, y) => x[1] - y[1] || (x[0] < y[0] ? -1 : 1))
        for (const [member] of soonest) {
          if (over-- <= 0) break
          index.delete(member)
          evicted++
        }
      }
      index.set(ref.handle, expiresAt)
      this.extendSet(ref.index, spec.indexTtlMs, now)
    }
    return { now, expiresAt, evicted, absoluteDeadline: a, createdAt: c }
  }

  async update(ref: RecordRef, spec: UpdateSpec): Promise<UpdateReply> {
    const now = this.now()
    const state = this.check(ref, now, false)
    if (typeof state === 'string') return state
    const { fields, v } = state
    if (spec.version !== v) return { conflict: v, data: fields.get('d')! }
    fields.set('d', spec.data)
    fields.set('v', Buffer.from(String(v + 1)))
    return { version: v + 1 }
  }

  async destroy(ref: RecordRef): Promise<boolean> {
    const now = this.now()
    const fields = this.hash(ref.record, now)
    const index = this.zset(ref.index, now)
    const listed = index?.delete(ref.handle) === true
    const previous = fields?.get('p')
    if (previous !== undefined) index?.delete(previous.toString('latin1'))
    return this.deleteHash(ref.record) || listed
  }

  async retire(ref: RecordRef, overlapMs: number, expectedVersion: number | null): Promise<RetireReply> {
    const now = this.now()
    const state = this.check(ref, now, false)
    if (typeof state === 'string') return state
    const { fields, v, a, i, s, o } = state
    if (expectedVersion !== null && expectedVersion !== v) return { conflict: v }
    const snapshot = this.raw(fields)
    const until = Math.min(now + overlapMs, a, s + i)
    if (overlapMs <= 0 || until <= now) {
      this.deleteHash(ref.record)
      // Listed one more second, so the second step of regenerate can prove no revoke came between.
      const index = o === 1 ? this.zset(ref.index, now) : undefined
      if (index?.has(ref.handle) === true) index.set(ref.handle, now + 1000)
    } else {
      fields.set('r', Buffer.from(String(until)))
      fields.set('v', Buffer.from(String(v + 1)))
      this.hashes.get(ref.record)!.expiresAt = until + LINGER_MS
      const index = o === 1 ? this.zset(ref.index, now) : undefined
      if (index?.has(ref.handle) === true) index.set(ref.handle, until)
    }
    return { now, record: snapshot }
  }

  async quarantine(ref: RecordRef, ttlMs: number): Promise<boolean> {
    const now = this.now()
    this.zset(ref.index, now)?.delete(ref.handle)
    const fields = this.hashes.get(ref.record)
    if (fields === undefined || fields.expiresAt <= now) {
      if (fields !== undefined) this.deleteHash(ref.record)
      return false
    }
    this.deleteHash(ref.record)
    this.hashes.set(ref.quarantine, { value: fields.value, expiresAt: now + ttlMs })
    const qindex = this.zset(ref.quarantineIndex, now, true)!
    this.trim(qindex, now)
    qindex.set(ref.handle, now + ttlMs)
    this.extendSet(ref.quarantineIndex, ttlMs, now)
    return true
  }

  async list(user: UserRef): Promise<UserListing> {
    const now = this.now()
    const index = this.zset(user.index, now)
    const qindex = this.zset(user.quarantineIndex, now)
    this.trim(index, now)
    this.trim(qindex, now)
    const live = [...(index ?? [])].sort((x, y) => x[1] - y[1] || (x[0] < y[0] ? -1 : 1))
    return { now, live, quarantined: [...(qindex?.keys() ?? [])] }
  }

  async fetch(user: UserRef, handles: readonly string[]): Promise<(FetchedRecord | undefined)[]> {
    const now = this.now()
    return handles.map((h) => {
      const fields = this.hash(user.record(h), now)
      if (fields === undefined || ['v', 'c', 'a', 's', 'r', 'o', 'd', 'i'].some((f) => !fields.has(f)))
        return undefined
      return { ...this.raw(fields), idleMs: Number(fields.get('i')!.toString('latin1')) }
    })
  }

  async removeUser(user: UserRef, spec: RemoveUserSpec): Promise<number | 'retry'> {
    const now = this.now()
    const index = this.zset(user.index, now)
    const qindex = this.zset(user.quarantineIndex, now)
    const keep = spec.keep ?? ''
    if (spec.strict) {
      const known = new Set([...spec.sessions, ...spec.quarantined])
      const lists = spec.mode === 'erase' ? [index, qindex] : [index]
      for (const list of lists) {
        for (const member of list?.keys() ?? []) if (member !== keep && !known.has(member)) return 'retry'
      }
    }
    let deleted = 0
    for (const h of spec.sessions) if (h !== keep && this.deleteHash(user.record(h))) deleted++
    for (const h of spec.quarantined) if (h !== keep && this.hashes.delete(user.quarantine(h))) deleted++
    const kept = keep === '' ? undefined : index?.get(keep)
    const ttlEntry = this.sets.get(user.index)
    this.sets.delete(user.index)
    if (kept !== undefined) {
      this.sets.set(user.index, {
        value: new Map([[keep, kept]]),
        expiresAt: ttlEntry?.expiresAt ?? Infinity,
      })
    }
    if (spec.mode === 'erase') this.sets.delete(user.quarantineIndex)
    return deleted
  }

  count(): number {
    return this.records
  }

  close(): void {
    clearInterval(this.timer)
  }

  /** Removes expired records and indexes, a bounded number per tick, going on where the last tick stopped. */
  private sweep(): void {
    const now = this.now()
    for (let budget = SWEEP_BATCH; budget > 0; budget--) {
      this.sweepHashes ??= this.hashes.entries()
      const next = this.sweepHashes.next()
      if (next.done === true) {
        this.sweepHashes = undefined
        break
      }
      if (next.value[1].expiresAt <= now) this.deleteHash(next.value[0])
    }
    for (let budget = SWEEP_BATCH; budget > 0; budget--) {
      this.sweepSets ??= this.sets.entries()
      const next = this.sweepSets.next()
      if (next.done === true) {
        this.sweepSets = undefined
        break
      }
      if (next.value[1].expiresAt <= now) this.sets.delete(next.value[0])
    }
  }
}
